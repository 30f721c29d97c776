"""Intrinsic evaluation of word vectors, scored exactly as gensim scores them.

* :func:`word_analogies`: Google-style analogy questions ``a b c d`` ("a is to b as c is to d"),
  answered by 3CosAdd (the nearest key to ``b - a + c`` by cosine of unit vectors, the three query
  words excluded). Only the first ``restrict_vocab`` keys are searched; a question with any word
  outside them is skipped. Case-insensitive matching maps each upper-cased word to its most frequent
  (first) row. The questions are answered in blocks with one matrix product each, instead of gensim's
  one query at a time: same answers, far faster.
* :func:`word_pairs`: Pearson and Spearman correlation between human similarity scores and cosine
  similarities, plus the percentage of pairs skipped as out of vocabulary.
"""

from __future__ import annotations

import os

import numpy as np

from seqkit.errors import SeqkitError
from seqkit.io import iter_lines

PathLike = str | os.PathLike


def _restricted_lookup(kv, restrict_vocab: int, case_insensitive: bool) -> dict[str, int]:
    keys = [kv.index_to_key[i] for i in range(min(restrict_vocab, len(kv)))]
    lookup: dict[str, int] = {}
    for i, key in enumerate(keys):
        lookup.setdefault(key.upper() if case_insensitive else key, i)
    return lookup


def word_analogies(kv, path: PathLike, restrict_vocab: int = 300_000, case_insensitive: bool = True):
    """Returns ``(accuracy, sections)``; each section is ``{"section", "correct", "incorrect"}`` with
    lists of ``(a, b, c, expected)``, and the last one is ``"Total accuracy"`` (gensim's layout)."""
    lookup = _restricted_lookup(kv, restrict_vocab, case_insensitive)
    end = min(restrict_vocab, len(kv))
    # the canonical row of each searchable key's (upper-cased) form: excludes all case variants of a query
    canon = np.array([lookup[(kv.index_to_key[i].upper() if case_insensitive else kv.index_to_key[i])]
                      for i in range(end)], dtype=np.int64)
    unit = np.asarray(kv.vectors[:end], dtype=np.float32) / kv.norms[:end, None]

    sections: list[dict] = []
    questions: list[tuple[int, tuple[str, str, str, str]]] = []  # (section index, words)
    for lineno, line in enumerate(iter_lines(path), 1):
        if line.startswith(": "):
            sections.append({"section": line[2:].strip(), "correct": [], "incorrect": []})
            continue
        words = line.split()
        if len(words) != 4:
            continue
        if not sections:
            raise SeqkitError("analogy line before any ': section' header", path=path, line=lineno,
                              fix="start the file with a line such as ': capital-common-countries'")
        if case_insensitive:
            words = [w.upper() for w in words]
        if all(w in lookup for w in words):
            questions.append((len(sections) - 1, tuple(words)))

    for start in range(0, len(questions), 512):
        block = questions[start:start + 512]
        idx = np.array([[lookup[w] for w in q] for _, q in block], dtype=np.int64)  # (Q, 4)
        query = unit[idx[:, 1]] - unit[idx[:, 0]] + unit[idx[:, 2]]  # (Q, d)
        query /= np.maximum(np.linalg.norm(query, axis=1, keepdims=True), 1e-12)
        sims = query @ unit.T  # (Q, end)
        banned = (canon[None, :] == idx[:, 0:1]) | (canon[None, :] == idx[:, 1:2]) | (canon[None, :] == idx[:, 2:3])
        sims[banned] = -np.inf
        predicted = canon[np.argmax(sims, axis=1)]
        for (section, words), guess, answer in zip(block, predicted, idx[:, 3]):
            sections[section]["correct" if guess == answer else "incorrect"].append(words)

    total = {"section": "Total accuracy",
             "correct": [q for s in sections for q in s["correct"]],
             "incorrect": [q for s in sections for q in s["incorrect"]]}
    sections.append(total)
    answered = len(total["correct"]) + len(total["incorrect"])
    return (len(total["correct"]) / answered if answered else 0.0), sections


def word_pairs(kv, path: PathLike, delimiter: str = "\t", restrict_vocab: int = 300_000,
               case_insensitive: bool = True):
    """Returns ``((pearson_r, p), (spearman_rho, p), oov_percent)`` like gensim's evaluate_word_pairs."""
    from scipy import stats

    lookup = _restricted_lookup(kv, restrict_vocab, case_insensitive)
    gold, model, oov = [], [], 0
    for line in iter_lines(path):
        if not line or line.startswith("#"):
            continue
        fields = line.split(delimiter)
        try:
            a, b, sim = fields
            sim = float(sim)
        except ValueError:
            continue
        if case_insensitive:
            a, b = a.upper(), b.upper()
        if a not in lookup or b not in lookup:
            oov += 1
            continue
        va, vb = kv.vectors[lookup[a]], kv.vectors[lookup[b]]
        gold.append(sim)
        model.append(float(np.dot(va, vb) / (kv.norms[lookup[a]] * kv.norms[lookup[b]])))
    if not gold:
        raise SeqkitError("no word pair with both words in the vocabulary", path=path,
                          fix="check the file format (word<TAB>word<TAB>score) and the vectors")
    spearman = stats.spearmanr(gold, model)
    pearson = stats.pearsonr(gold, model)
    return ((float(pearson[0]), float(pearson[1])), (float(spearman[0]), float(spearman[1])),
            100.0 * oov / (len(gold) + oov))
