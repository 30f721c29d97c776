"""The n-gram model's closed vocabulary and the packed token-id stream it counts and scores.

Ids follow KenLM's layout: ``0 <unk>``, ``1 <s>``, ``2 </s>``, then the words, most frequent first
(ties keep first occurrence). A word outside the vocabulary (fewer than ``min_freq`` occurrences,
absent from a vocab file, or unseen in training) is scored as ``<unk>``, so a perplexity is never
infinite because of an unknown word (the trap of NLTK's issues #3065/#3211). A literal ``<unk>`` in
the training text (Penn Treebank has 45k of them) is an ordinary, counted word.

A corpus becomes one packed ``int32`` array: every sentence is ``<s> w1 ... wn </s>`` and the
sentences follow each other, so every order of n-grams is a window over one array (no Python tuples).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import chain

import numpy as np

from seqkit.errors import SeqkitError
from seqkit.io import iter_lines

UNK, BOS, EOS = "<unk>", "<s>", "</s>"
UNK_ID, BOS_ID, EOS_ID = 0, 1, 2
SPECIALS = (UNK, BOS, EOS)


class NGramVocab:
    """Token <-> id mapping with ``<unk>``=0, ``<s>``=1, ``</s>``=2.

    >>> v = NGramVocab(["<unk>", "<s>", "</s>", "the", "cat"])
    >>> v["cat"], v["dog"], len(v)
    (4, 0, 5)
    """

    def __init__(self, tokens: Sequence[str]) -> None:
        if tuple(tokens[:3]) != SPECIALS:
            raise ValueError(f"the vocabulary must start with {SPECIALS}")
        self.tokens: list[str] = list(tokens)
        self.index: dict[str, int] = {tok: i for i, tok in enumerate(self.tokens)}
        if len(self.index) != len(self.tokens):
            raise ValueError("duplicate tokens in the vocabulary")
        self._sep_index: dict[str, int] | None = None
        #: (len,) rank of each word's first occurrence in the training text (specials 0, 1, 2), the
        #: word ids KenLM's lmplz would use; set by :func:`build_vocab`, used to mimic its discounts.
        self.first_seen: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.tokens)

    def __getitem__(self, token: str) -> int:
        return self.index.get(token, UNK_ID)

    def __contains__(self, token: str) -> bool:
        return token in self.index

    @property
    def separator_index(self) -> dict[str, int]:
        """The token index plus the line separator of :func:`pack` (-2); unknown tokens give -1."""
        if self._sep_index is None:
            self._sep_index = _IdsOrMinusOne({**self.index, _SEP: -2})
        return self._sep_index

    @property
    def n_predictable(self) -> int:
        """Tokens a model can predict: everything but ``<s>`` (KenLM's uniform ``1/|V|`` uses this)."""
        return len(self.tokens) - 1


@dataclass
class Packed:
    """A corpus as one id stream.

    Attributes:
        ids: (T,) int32 token ids; each sentence is ``<s> ... </s>``.
        remaining: (T,) int32 tokens from this position to the end of its sentence, inclusive
            (the ``</s>`` has 1): an n-gram of order k may start at p iff ``remaining[p] >= k``.
        oov: (T,) bool, True where the original token was outside the vocabulary (mapped to <unk>).
        n_sentences: number of sentences.
    """

    ids: np.ndarray
    remaining: np.ndarray
    oov: np.ndarray
    n_sentences: int

    @property
    def pos_in_sentence(self) -> np.ndarray:
        """(T,) int32 offset from the sentence's ``<s>`` (0 at ``<s>``)."""
        starts = np.flatnonzero(self.ids == BOS_ID)
        lengths = np.diff(np.append(starts, len(self.ids)))
        return (np.arange(len(self.ids)) - np.repeat(starts, lengths)).astype(np.int32)


def tokenize_lines(lines: Iterable[str]) -> list[list[str]]:
    """Whitespace tokens of every line (blank lines give empty sentences, as in KenLM)."""
    return [line.split() for line in lines]


# Marks the end of a line in a flat token list; cannot be a whitespace token of a line of text
# unless the text holds NUL bytes, which :func:`_flatten` checks for.
_SEP = "\x00"


def _flatten(lines: Sequence[str] | Sequence[Sequence[str]]) -> list[str]:
    """Every token of every line in one list, with ``_SEP`` between lines.

    Text lines are joined and split once (``str.split`` over the whole corpus beats one split per
    line); token lists are chained.
    """
    if lines and isinstance(lines[0], str):
        joined = f" {_SEP} ".join(lines)
        if joined.count(_SEP) == len(lines) - 1:
            return joined.split()
    out: list[str] = []
    for i, sent in enumerate(lines):
        if i:
            out.append(_SEP)
        # a lone NUL token in the text must not read as a line end
        out.extend(t if t != _SEP else "\\x00" for t in (sent.split() if isinstance(sent, str) else sent))
    return out


def _layout(flat_ids: np.ndarray, n_lines: int) -> Packed:
    """Turn word ids with -2 at line ends (-1 = out of vocabulary) into the ``<s> w... </s>`` stream."""
    if n_lines == 0:
        empty = np.zeros(0, dtype=np.int32)
        return Packed(empty, empty, np.zeros(0, dtype=bool), 0)
    seps = np.flatnonzero(flat_ids == -2)
    words = np.delete(flat_ids, seps)
    n_words = np.diff(np.concatenate([[-1], seps, [len(flat_ids)]])) - 1
    lengths = n_words + 2
    total = int(lengths.sum())
    ends = np.cumsum(lengths)
    starts = ends - lengths
    ids = np.empty(total, dtype=np.int32)
    is_word = np.ones(total, dtype=bool)
    is_word[starts] = False
    is_word[ends - 1] = False
    ids[starts] = BOS_ID
    ids[ends - 1] = EOS_ID
    oov = np.zeros(total, dtype=bool)
    oov[is_word] = words < 0
    ids[is_word] = np.where(words < 0, UNK_ID, words)
    remaining = (np.repeat(ends, lengths) - np.arange(total)).astype(np.int32)
    return Packed(ids, remaining, oov, n_lines)


class _IdsOrMinusOne(dict):
    """A token -> id dict whose unknown tokens give -1: ``map(d.__getitem__, tokens)`` then runs in C,
    a quarter faster than ``map(d.get, tokens, repeat(-1))``."""

    def __missing__(self, token: str) -> int:
        return -1


def pack(lines: Sequence[str] | Sequence[Sequence[str]], vocab: NGramVocab) -> Packed:
    """Map text lines (or token lists) to ids and lay them out as ``<s> w... </s>`` in one array."""
    tokens = _flatten(lines)
    flat = np.fromiter(map(vocab.separator_index.__getitem__, tokens), dtype=np.int64, count=len(tokens))
    return _layout(flat, len(lines))


def read_vocab_file(path: str | os.PathLike) -> list[str]:
    """Words of a vocab file: the first whitespace field of every non-blank line."""
    words = [line.split()[0] for line in iter_lines(path) if line.strip()]
    if not words:
        raise SeqkitError("empty vocabulary file", path=path, fix="give one word per line")
    return words


def build_vocab(sentences: Sequence[str] | Sequence[Sequence[str]], *, min_freq: int = 1,
                vocab_words: Iterable[str] | None = None) -> tuple[NGramVocab, Packed]:
    """The closed vocabulary of a training corpus, and the corpus packed with it.

    Args:
        sentences: tokenized training sentences.
        min_freq: words seen fewer times become ``<unk>``.
        vocab_words: if given, exactly these words (plus the specials) form the vocabulary, seen or not.

    Words are ordered by descending training frequency, ties by first occurrence. The tokens are
    mapped to ids once (a C-level ``map`` over a dict); the final order is a permutation in numpy.
    """
    if min_freq < 1:
        raise SeqkitError(f"min_freq must be >= 1, got {min_freq}", fix="use --min-freq 1 or more")
    tokens = _flatten(sentences)
    first_seen = {tok: i for i, tok in enumerate(dict.fromkeys(chain(SPECIALS, (_SEP,), tokens)))}
    provisional = np.fromiter(map(first_seen.__getitem__, tokens), dtype=np.int64, count=len(tokens))
    counts = np.bincount(provisional, minlength=len(first_seen))
    counts[3] = 0  # the line separator
    for special in (BOS_ID, EOS_ID):
        if counts[special]:
            raise SeqkitError(f"the training text contains the reserved token {SPECIALS[special]} "
                              f"{counts[special]} times",
                              fix="remove it: sentence boundaries are added for every line")
    words = list(first_seen)
    if vocab_words is not None:
        vocab_words = list(dict.fromkeys(vocab_words))
        keep_set = set(vocab_words) - set(SPECIALS)
        keep = [i for i in range(4, len(words)) if words[i] in keep_set]
        unseen = [w for w in vocab_words if w not in first_seen]
    else:
        keep = [i for i in range(4, len(words)) if counts[i] >= min_freq]
        unseen = []
    keep_arr = np.asarray(keep, dtype=np.int64)
    keep_arr = keep_arr[keep_arr != 3]
    # A stable sort on -count keeps first-occurrence order among equal counts.
    keep_arr = keep_arr[np.argsort(-counts[keep_arr], kind="stable")]
    vocab = NGramVocab([*SPECIALS, *(words[i] for i in keep_arr), *unseen])
    # provisional id -> final id; dropped words -> -1 (out of vocabulary, packed as <unk>).
    remap = np.full(len(words), -1, dtype=np.int64)
    remap[:3] = np.arange(3)
    remap[3] = -2
    remap[keep_arr] = np.arange(3, 3 + len(keep_arr))
    first = np.arange(len(vocab), dtype=np.int64)  # unseen vocab-file words rank last
    first[3 : 3 + len(keep_arr)] = keep_arr - 1  # provisional ids, less the separator's slot 3
    first[3 + len(keep_arr):] = len(words) + np.arange(len(unseen))
    vocab.first_seen = first
    return vocab, _layout(remap[provisional], len(sentences))
