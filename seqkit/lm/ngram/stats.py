"""The n-gram statistics of d2l's language-model chapter: most frequent n-grams and Zipf's law.

>>> top_ngrams(["a b a b c"], orders=(1, 2), top=2)
{1: [(('a',), 2), (('b',), 2)], 2: [(('a', 'b'), 2), (('b', 'a'), 1)]}

d2l counts over the whole book as one token stream (n-grams may span lines), with its time-machine
cleaning (letters only, lower case); ``across_lines=True`` and ``tokenizer="timemachine"`` reproduce
its tables. Counting reuses :func:`seqkit.lm.ngram.counts.count_ngrams`.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np

from seqkit.lm.ngram.counts import NGramCounts, count_ngrams
from seqkit.lm.ngram.vocab import BOS_ID, EOS_ID, NGramVocab, build_vocab


def _tokenized(lines: Sequence[str], tokenizer: str | None) -> list[list[str]]:
    if tokenizer is None:
        return [line.split() for line in lines]
    from seqkit.text import get_tokenizer

    tok = get_tokenizer(tokenizer, level="word") if tokenizer == "timemachine" else get_tokenizer(tokenizer)
    return [tok.encode(line) for line in lines]


def count_corpus(lines: Sequence[str], order: int = 3, *, tokenizer: str | None = None,
                 across_lines: bool = True) -> tuple[NGramVocab, NGramCounts]:
    """Counts of orders 1..``order``; ``across_lines`` joins all lines into one sequence (d2l)."""
    sentences = _tokenized(lines, tokenizer)
    if across_lines:
        sentences = [[tok for sent in sentences for tok in sent]]
    vocab, packed = build_vocab(sentences)
    return vocab, count_ngrams(packed, order, len(vocab))


def _words(counts: NGramCounts, k: int) -> np.ndarray:
    """(n_k, k) word ids of every k-gram."""
    words = counts.orders[0].keys[:, None]
    for j in range(2, k + 1):
        words = np.concatenate([words[counts.context(j)], counts.word(j)[:, None]], axis=1)
    return words


def _real(words: np.ndarray) -> np.ndarray:
    """(n,) True for n-grams without the sentence markers ``<s>``/``</s>``."""
    return ((words != BOS_ID) & (words != EOS_ID)).all(axis=1)


def top_ngrams(lines: Sequence[str], orders: Sequence[int] = (1, 2, 3), top: int = 10, *,
               tokenizer: str | None = None, across_lines: bool = True) -> dict[int, list[tuple[tuple[str, ...], int]]]:
    """The ``top`` most frequent n-grams of each order (sentence markers left out), ties by first
    occurrence of the words' vocabulary order."""
    vocab, counts = count_corpus(lines, max(orders), tokenizer=tokenizer, across_lines=across_lines)
    out = {}
    for k in orders:
        words = _words(counts, k)
        c = counts.orders[k - 1].counts
        idx = np.flatnonzero(_real(words) & (c > 0))
        idx = idx[np.lexsort((idx, -c[idx]))][:top]
        out[k] = [(tuple(vocab.tokens[w] for w in words[i]), int(c[i])) for i in idx]
    return out


def frequencies(lines: Sequence[str], order: int = 1, *, tokenizer: str | None = None,
                across_lines: bool = True) -> np.ndarray:
    """Counts of every n-gram of ``order``, most frequent first (the y of a Zipf plot)."""
    vocab, counts = count_corpus(lines, order, tokenizer=tokenizer, across_lines=across_lines)
    words = _words(counts, order)
    c = counts.orders[order - 1].counts[_real(words)]
    return np.sort(c[c > 0])[::-1]


def zipf_exponent(freqs: np.ndarray, skip: int = 10) -> float:
    """Slope alpha of log n_i = -alpha log i + c, fitted past the first ``skip`` ranks (d2l)."""
    ranks = np.arange(1, len(freqs) + 1)
    x, y = np.log(ranks[skip:]), np.log(freqs[skip:])
    return float(-np.polyfit(x, y, 1)[0])


def zipf_plot(lines: Sequence[str], path: str | os.PathLike, orders: Sequence[int] = (1, 2, 3), *,
              tokenizer: str | None = None, across_lines: bool = True) -> dict[int, float]:
    """Write d2l's log-log plot of n-gram frequency against rank as PNG; returns Zipf exponents."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from seqkit.io import atomic_write

    fig, ax = plt.subplots(figsize=(5, 3.5))
    exponents = {}
    for k in orders:
        f = frequencies(lines, k, tokenizer=tokenizer, across_lines=across_lines)
        exponents[k] = zipf_exponent(f) if len(f) > 20 else float("nan")
        ax.loglog(np.arange(1, len(f) + 1), f, label=f"{k}-grams (alpha={exponents[k]:.2f})")
    ax.set_xlabel("rank")
    ax.set_ylabel("frequency")
    ax.legend()
    fig.tight_layout()
    with atomic_write(path, "wb") as fh:
        fig.savefig(fh, format="png", dpi=100)
    plt.close(fig)
    return exponents
