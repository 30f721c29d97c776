"""Byte-pair encoding from scratch: the d2l "Subword Embedding" chapter, fixed.

Learning (:func:`learn_bpe`): start from the characters of every word, repeatedly merge the most
frequent adjacent pair of symbols (weighted by word frequency) into one new symbol, and record the
merges in order. Ties go to the pair that occurs first (words in input order, left to right), which
is the order d2l's ``max`` over an insertion-ordered dict picks.

Segmenting (:meth:`BPE.segment`): replay the learned merges on a new word, earliest-learned first.

What d2l got wrong, and what is done instead:

* d2l merges by ``str.replace(' '.join(pair), ''.join(pair))`` on space-joined symbols, which also
  fires across symbol boundaries (``"ab c"`` contains ``"b c"``, so the pair ``('b', 'c')`` would
  wrongly merge into ``"abc"``). Here words are tuples of symbols and only whole adjacent symbols
  merge.
* d2l segments new words by greedy longest match against the *set* of symbols, ignoring the merge
  order that defines BPE; that can produce segmentations the learner would never produce. Here the
  merges are replayed by rank.

The learner updates pair counts incrementally (only words containing the merged pair are touched),
so thousands of merges over a real corpus take seconds, not minutes.
"""

from __future__ import annotations

import os
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from functools import lru_cache

from seqkit.errors import SeqkitError
from seqkit.io import load_json, save_json
from seqkit.sentences import refuse_string
from seqkit.text.base import Tokenizer

Pair = tuple[str, str]
_FORMAT = "seqkit.bpe"


def _pairs(word: Sequence[str]) -> Iterable[Pair]:
    return zip(word, word[1:])


def _merge_word(word: tuple[str, ...], pair: Pair, new: str) -> tuple[str, ...]:
    """Merge every left-to-right, non-overlapping occurrence of ``pair`` in ``word``."""
    out: list[str] = []
    i, n = 0, len(word)
    while i < n:
        if i + 1 < n and word[i] == pair[0] and word[i + 1] == pair[1]:
            out.append(new)
            i += 2
        else:
            out.append(word[i])
            i += 1
    return tuple(out)


def learn_bpe(word_freqs: Mapping[str, int], num_merges: int, end_of_word: str | None = None) -> list[Pair]:
    """Learn up to ``num_merges`` merges from ``{word: count}`` (fewer if no pair is left).

    ``end_of_word`` (e.g. ``"_"`` or ``"</w>"``) is appended to every word as one extra symbol;
    d2l instead writes ``_`` into its words (``"fast_"``), which is the same thing for
    single-character markers.

    >>> learn_bpe({"fast_": 4, "faster_": 3, "tall_": 5, "taller_": 4}, 3)
    [('t', 'a'), ('ta', 'l'), ('tal', 'l')]
    """
    words: list[tuple[str, ...]] = [tuple(w) + ((end_of_word,) if end_of_word else ()) for w in word_freqs]
    freqs = list(word_freqs.values())
    pair_counts: dict[Pair, int] = defaultdict(int)
    where: dict[Pair, set[int]] = defaultdict(set)  # pair -> indices of the words containing it
    for wi, (word, f) in enumerate(zip(words, freqs)):
        for p in _pairs(word):
            pair_counts[p] += f
            where[p].add(wi)

    def first_position(p: Pair) -> tuple[int, int]:
        wi = min(where[p])
        return wi, next(i for i, q in enumerate(_pairs(words[wi])) if q == p)

    merges: list[Pair] = []
    for _ in range(num_merges):
        if not pair_counts:
            break
        best = max(pair_counts.values())
        if best <= 0:
            break
        tied = [p for p, c in pair_counts.items() if c == best]
        pair = tied[0] if len(tied) == 1 else min(tied, key=first_position)
        merges.append(pair)
        new = pair[0] + pair[1]
        for wi in list(where[pair]):
            old, f = words[wi], freqs[wi]
            merged = _merge_word(old, pair, new)
            for p in _pairs(old):
                pair_counts[p] -= f
                if pair_counts[p] == 0:
                    del pair_counts[p]
                where[p].discard(wi)
            for p in _pairs(merged):
                pair_counts[p] += f
                where[p].add(wi)
            words[wi] = merged
    return merges


class BPE(Tokenizer):
    """A BPE segmenter from learned merges; text is split on whitespace, each word segmented.

    ``end_of_word`` is appended to each word before segmenting so ``decode`` can restore spaces;
    it defaults to ``"</w>"`` (set ``"_"`` for d2l's convention, or ``None`` to segment words
    without a marker, in which case ``decode`` joins pieces with no spaces).

    >>> bpe = BPE.learn({"fast_": 4, "faster_": 3, "tall_": 5, "taller_": 4}, 10, end_of_word=None)
    >>> bpe.segment("tallest_"), bpe.segment("fatter_")
    (['tall', 'e', 's', 't', '_'], ['fa', 't', 't', 'er_'])
    """

    name = "bpe"

    def __init__(self, merges: Sequence[Sequence[str]], end_of_word: str | None = "</w>") -> None:
        self.merges: list[Pair] = [(a, b) for a, b in merges]
        self.end_of_word = end_of_word
        self._ranks = {p: i for i, p in enumerate(self.merges)}
        self._segment_cached = lru_cache(maxsize=2**16)(self._segment_uncached)

    # -- learning --------------------------------------------------------------------------------

    @classmethod
    def learn(cls, word_freqs: Mapping[str, int], num_merges: int, end_of_word: str | None = "</w>") -> BPE:
        """Learn merges from ``{word: count}``; see :func:`learn_bpe`."""
        return cls(learn_bpe(word_freqs, num_merges, end_of_word), end_of_word)

    @classmethod
    def train(cls, texts: Iterable[str], num_merges: int, end_of_word: str | None = "</w>") -> BPE:
        """Count whitespace-separated words in ``texts`` (sentences; a bare string is refused, see
        :mod:`seqkit.sentences`) and learn ``num_merges`` merges."""
        refuse_string(texts, "BPE.train", "give the sentences, e.g. seqkit.io.read_lines(path) for a file")
        counts: Counter = Counter()
        for text in texts:
            counts.update(text.split())
        if not counts:
            raise SeqkitError("empty corpus: no words to learn BPE merges from", fix="give text")
        return cls.learn(counts, num_merges, end_of_word)

    @property
    def symbols(self) -> list[str]:
        """The merged symbols in the order they were learned."""
        return [a + b for a, b in self.merges]

    # -- segmenting ------------------------------------------------------------------------------

    def _segment_uncached(self, word: str) -> tuple[str, ...]:
        symbols = list(word)
        if self.end_of_word:
            symbols.append(self.end_of_word)
        ranks = self._ranks
        while len(symbols) > 1:
            # The earliest-learned merge among the adjacent pairs goes first.
            rank, i = min((ranks.get(p, len(ranks)), i) for i, p in enumerate(_pairs(symbols)))
            if rank == len(ranks):
                break
            pair = self.merges[rank]
            symbols = list(_merge_word(tuple(symbols), pair, pair[0] + pair[1]))
        return tuple(symbols)

    def segment(self, word: str) -> list[str]:
        """Subword symbols of one word (``end_of_word`` appended when set)."""
        return list(self._segment_cached(word))

    def encode(self, text: str) -> list[str]:
        seg = self._segment_cached
        return [s for word in text.split() for s in seg(word)]

    def decode(self, tokens: Sequence[str]) -> str:
        text = "".join(tokens)
        if not self.end_of_word:
            return text
        return text.replace(self.end_of_word, " ").strip()

    # -- files -----------------------------------------------------------------------------------

    def save(self, path: str | os.PathLike) -> None:
        """Write the merges as JSON (atomically)."""
        save_json(path, {"format": _FORMAT, "version": 1, "end_of_word": self.end_of_word,
                         "merges": [list(p) for p in self.merges]})

    @classmethod
    def load(cls, path: str | os.PathLike) -> BPE:
        data = load_json(path)
        if not isinstance(data, dict) or data.get("format") != _FORMAT:
            raise SeqkitError("not a seqkit BPE merges file", path=path, fix="write one with BPE.save")
        merges = data.get("merges")
        if not isinstance(merges, list) or any(not isinstance(p, list) or len(p) != 2 for p in merges):
            raise SeqkitError("merges must be a list of [left, right] pairs", path=path, fix="re-create it")
        return cls(merges, data.get("end_of_word"))

    def __repr__(self) -> str:
        return f"BPE(merges={len(self.merges)}, end_of_word={self.end_of_word!r})"
