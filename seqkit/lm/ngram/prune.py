"""Count pruning (lmplz's ``--prune``): drop rare n-grams, then re-balance the backoff weights.

``prune(model, counts, thresholds)`` drops every n-gram of order k >= 2 seen at most ``thresholds[k-1]``
times (``0 0 1``: singleton trigrams and above; the last value repeats for higher orders; unigrams
stay). An n-gram that is the context of a kept longer one stays too, since an ARPA file must hold
the context of every entry. Kept n-grams keep their probabilities; what the dropped ones had now
reaches their words through the backoff, so each context's backoff weight is solved again so that its
distribution still sums to one::

    bo(h) = (1 - sum over kept hw of p(w | h)) / (1 - sum over kept hw of p(w | h'))

with ``p(w | h')`` the pruned model's probability given ``h`` without its first word (computed order by
order, lowest first). Counts are the raw counts of each order (lmplz uses Kneser-Ney's adjusted counts
below the top order, so the two keep somewhat different sets for the same thresholds).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from seqkit.errors import SeqkitError
from seqkit.lm.ngram.model import NGramLM

#: smoothings whose distributions sum to one (stupid backoff's scores do not: nothing to re-balance)
NORMALIZED = ("mkn", "kn", "absolute", "wb", "addk", "mle")


def thresholds_for(values: Sequence[int], order: int) -> list[int]:
    """Per-order thresholds from lmplz's list: the last value repeats; unigrams must be 0; non-decreasing."""
    values = [int(v) for v in values]
    if not values or values[0] != 0 or any(v < 0 for v in values):
        raise SeqkitError(f"prune thresholds {values}: the first (unigrams) must be 0 and none negative",
                          fix="e.g. --prune 0 0 1 to drop singleton trigrams and above")
    if any(b < a for a, b in zip(values, values[1:])):
        raise SeqkitError(f"prune thresholds {values} must not decrease with the order", fix="e.g. --prune 0 1 1")
    return (values + [values[-1]] * order)[:order]


def _gram_ids(lm: NGramLM, seq: np.ndarray, start: int, end: int) -> np.ndarray:
    """(n,) id in ``lm`` of the n-gram of columns ``start..end`` of ``seq`` (-1 if absent)."""
    idx = seq[:, start].astype(np.int64)
    for j in range(start + 1, end + 1):
        idx = lm._lookup(j - start + 1, idx, seq[:, j].astype(np.int64))
    return idx


def conditional_log10(lm: NGramLM, context: np.ndarray, words: np.ndarray) -> np.ndarray:
    """(n,) log10 p(words | context) under ``lm``; ``context`` (n, m) word ids, m <= order - 1."""
    m = context.shape[1]
    seq = np.concatenate([context, words[:, None]], axis=1)
    none = np.full(len(words), -1, dtype=np.int64)
    found = [_gram_ids(lm, seq, m - j + 1, m) if j <= m + 1 else none for j in range(1, lm.order + 1)]
    contexts = [_gram_ids(lm, seq, m - c, m - 1) if c <= m else none for c in range(1, lm.order)]
    return lm._combine(found, contexts)[0]


def prune(model: NGramLM, counts: Sequence[np.ndarray], thresholds: Sequence[int]) -> NGramLM:
    """``model`` without its rare n-grams (see the module docstring); ``counts[k-1]`` aligns with
    ``model.keys[k-1]``."""
    from seqkit.lm.ngram.arpa import ngram_words

    smoothing = model.info.get("smoothing")
    if smoothing not in NORMALIZED:
        raise SeqkitError(f"pruning re-balances backoff weights, which {smoothing!r} does not have",
                          fix=f"prune a model of one of {', '.join(NORMALIZED)}")
    order, n_vocab = model.order, len(model.vocab)
    limits = thresholds_for(thresholds, order)
    keep = [np.ones(len(model.keys[0]), dtype=bool)]
    keep += [np.asarray(counts[k - 1]) > limits[k - 1] for k in range(2, order + 1)]
    for k in range(order, 2, -1):  # the context of a kept n-gram stays
        keep[k - 2][model.keys[k - 1][keep[k - 1]] // n_vocab] = True
    new_id = [np.cumsum(kp) - 1 for kp in keep]
    words = ngram_words(model)
    keys, logp = [model.keys[0]], [model.logp[0]]
    for k in range(2, order + 1):
        old = model.keys[k - 1][keep[k - 1]]
        keys.append(new_id[k - 2][old // n_vocab] * n_vocab + old % n_vocab)  # still sorted: ids keep their order
        logp.append(model.logp[k - 1][keep[k - 1]])
    logbo = [np.zeros(int(kp.sum())) for kp in keep[:-1]] + [np.zeros(0)]
    pruned = NGramLM(model.vocab, keys, logp, logbo, {**model.info, "pruned": limits})
    # backoff weights of the contexts of order k-1, from their kept children of order k, lowest first
    for k in range(2, order + 1):
        grams = words[k - 1][keep[k - 1]]
        context = keys[k - 1] // n_vocab
        p_high = 10.0 ** logp[k - 1]
        lower = NGramLM(model.vocab, keys[:k - 1], logp[:k - 1], logbo[:k - 1], model.info)
        p_low = 10.0 ** conditional_log10(lower, grams[:, 1:-1], grams[:, -1].astype(np.int64))
        n_ctx = len(keys[k - 2])
        s_high = np.bincount(context, weights=p_high, minlength=n_ctx)
        s_low = np.bincount(context, weights=p_low, minlength=n_ctx)
        with np.errstate(divide="ignore", invalid="ignore"):
            bo = np.log10(np.maximum(1.0 - s_high, 1e-12) / np.maximum(1.0 - s_low, 1e-12))
        bo[s_high == 0] = 0.0  # no kept child: the context passes everything to the shorter one
        logbo[k - 2] = bo
    pruned.logbo = logbo
    return pruned
