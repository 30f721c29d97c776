"""Vectorized n-gram counting over a packed id stream (orders 1..N), and KenLM's adjusted counts.

An n-gram of order k is identified by an int64 *key*: ``prefix_id * V + last_word``, where
``prefix_id`` is the index of its first k-1 words among the sorted unique (k-1)-grams and V the
vocabulary size (unigrams: the key is the word id). Keys stay far below 2**63 at any order, unlike
``sum(w_i * V**i)`` which overflows for 5-grams over a 10k vocabulary. The sorted keys of one order
are at once the n-gram table and the search index used by :mod:`seqkit.lm.ngram` to score.

Counting one order is a sort of the keys of every window (``np.argsort``) and a run-length pass;
for each unique n-gram one representative window gives its first word and the id of its suffix
(the (k-1)-gram without the first word), which is what Kneser-Ney's continuation counts need.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from seqkit.lm.ngram.vocab import BOS_ID, Packed


@dataclass
class OrderCounts:
    """The unique n-grams of one order k.

    Attributes:
        keys: (n,) int64 sorted keys ``prefix_id * V + word`` (k=1: the word ids 0..V-1, dense).
        counts: (n,) int64 raw counts (k=1: ``<s>`` is 0, it is never predicted).
        suffix: (n,) int64 id of the (k-1)-gram without the first word (k=1: empty).
        first: (n,) int32 first word of each n-gram.
    """

    keys: np.ndarray
    counts: np.ndarray
    suffix: np.ndarray
    first: np.ndarray

    def __len__(self) -> int:
        return len(self.keys)


@dataclass
class NGramCounts:
    """Counts of all orders 1..N; ``orders[k-1]`` holds order k."""

    orders: list[OrderCounts]
    vocab_size: int
    n_tokens: int
    n_sentences: int
    first_seen: np.ndarray | None = None  # KenLM's word ids (first occurrence), see NGramVocab

    @property
    def order(self) -> int:
        return len(self.orders)

    def context(self, k: int) -> np.ndarray:
        """(n_k,) id of each k-gram's context (its first k-1 words) among the (k-1)-grams; k >= 2."""
        return self.orders[k - 1].keys // self.vocab_size

    def word(self, k: int) -> np.ndarray:
        """(n_k,) last word of each k-gram."""
        return self.orders[k - 1].keys % self.vocab_size

    def gram_words(self, k: int, idx: np.ndarray) -> np.ndarray:
        """(len(idx), k) word ids of the k-grams ``idx``."""
        words = (self.orders[k - 1].keys[idx] % self.vocab_size)[:, None]
        if k == 1:
            return words
        return np.concatenate([self.gram_words(k - 1, self.orders[k - 1].keys[idx] // self.vocab_size), words],
                              axis=1)

    def adjusted(self) -> list[np.ndarray]:
        """KenLM's adjusted counts, per order (what (modified) Kneser-Ney discounts).

        The highest order keeps raw counts. A lower-order n-gram counts its distinct left extensions
        (the continuation count N1+(. w)), except n-grams starting with ``<s>``, which cannot be
        extended to the left and keep their raw count. The ``<s>`` unigram gets 0, like ``<unk>``
        when it does not occur.
        """
        out = [o.counts for o in self.orders]
        for k in range(self.order - 1, 0, -1):
            cont = np.bincount(self.orders[k].suffix, minlength=len(self.orders[k - 1]))
            if k >= 2:
                cont = np.where(self.orders[k - 1].first == BOS_ID, self.orders[k - 1].counts, cont)
            else:
                cont[BOS_ID] = 0
            out[k - 1] = cont.astype(np.int64)
        return out


def lookup(table: np.ndarray, vocab_size: int, prefix: np.ndarray, words: np.ndarray) -> np.ndarray:
    """Ids of n-grams (prefix id, last word) in one order's sorted ``table`` of keys; -1 if absent.

    prefix, words: (n,) int64; a negative prefix means "no such prefix" and gives -1.
    """
    out = np.full(len(words), -1, dtype=np.int64)
    live = np.flatnonzero(prefix >= 0)
    if len(table) == 0 or len(live) == 0:
        return out
    key = prefix[live] * vocab_size + words[live]
    idx = np.searchsorted(table, key)
    np.minimum(idx, len(table) - 1, out=idx)
    hit = table[idx] == key
    out[live[hit]] = idx[hit]
    return out


_GOLDEN = np.uint64(0x9E3779B97F4A7C15)  # Fibonacci hashing: multiply, keep the high bits


def table_bits(n: int, max_load: float) -> int:
    """log2 of the size of an open-addressing table that holds ``n`` keys at most ``max_load`` full."""
    return max(4, int(np.ceil(np.log2(max(n / max_load, 2)))))


class KeyIndex:
    """An open-addressing hash table (linear probing, load <= 1/2) over one order's sorted keys.

    Built and probed with whole-array numpy operations: each round places (or looks up) every
    pending key at its current probe slot, so the rounds are as many as the longest probe chain.
    A lookup costs one or two random memory reads instead of binary search's ~20, which is what
    lets scoring reach millions of tokens per second.
    """

    def __init__(self, keys: np.ndarray, max_load: float = 0.5) -> None:
        self.bits = table_bits(len(keys), max_load)
        size = 1 << self.bits
        # key and value side by side: a probe reads one 16-byte pair, one cache miss instead of two
        self.slots = np.full((size, 2), -1, dtype=np.int64)
        slot_key, slot_val = self.slots[:, 0], self.slots[:, 1]
        pending = np.arange(len(keys), dtype=np.int64)
        pos = self._home(keys)
        while len(pending):
            slot = pos[pending]
            free = slot_key[slot] < 0
            # Several keys may claim one free slot: scatter them all, the last write is the winner,
            # and everyone who did not win moves one slot on.
            claim, claimers = slot[free], pending[free]
            slot_val[claim] = claimers
            winners = claimers[slot_val[claim] == claimers]
            slot_key[pos[winners]] = keys[winners]
            lost = np.ones(len(keys), dtype=bool)
            lost[winners] = False
            pending = pending[lost[pending]]
            pos[pending] = (pos[pending] + 1) & (size - 1)

    def _home(self, keys: np.ndarray) -> np.ndarray:
        return ((keys.astype(np.uint64) * _GOLDEN) >> np.uint64(64 - self.bits)).astype(np.int64)

    def find(self, keys: np.ndarray) -> np.ndarray:
        """(n,) index of each key in the sorted key array, -1 if absent."""
        out = np.full(len(keys), -1, dtype=np.int64)
        mask = (1 << self.bits) - 1
        active = np.arange(len(keys), dtype=np.int64)
        pos = self._home(keys)
        pairs = self.slots.view(np.complex128).ravel()  # one 16-byte item per slot: numpy's fast 1-D gather
        while len(active):
            pair = np.take(pairs, pos).view(np.int64)
            slot_key = pair[0::2]
            hit = slot_key == keys
            out[active[hit]] = pair[1::2][hit]
            go_on = ~hit & (slot_key >= 0)
            active, keys, pos = active[go_on], keys[go_on], (pos[go_on] + 1) & mask
        return out


def counts_of_counts(counts: np.ndarray, upto: int = 4) -> np.ndarray:
    """``n[j]`` = number of n-grams seen exactly j times, j = 0..upto (``n[0]`` unused)."""
    return np.bincount(np.minimum(counts, upto + 1), minlength=upto + 2)[: upto + 1]


def _group(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Sort and run-length encode ``keys``.

    Returns ``(unique, inverse, counts, representative)``: unique sorted keys, for every input its
    index in ``unique``, the multiplicity of each unique key, and one input index holding it.
    """
    order = np.argsort(keys)
    sorted_keys = keys[order]
    starts = np.empty(len(keys), dtype=bool)
    starts[:1] = True
    np.not_equal(sorted_keys[1:], sorted_keys[:-1], out=starts[1:])
    group = np.cumsum(starts) - 1
    inverse = np.empty(len(keys), dtype=np.int64)
    inverse[order] = group
    boundaries = np.flatnonzero(starts)
    counts = np.diff(np.append(boundaries, len(keys)))
    return sorted_keys[boundaries], inverse, counts, order[boundaries]


def count_ngrams(packed: Packed, order: int, vocab_size: int, first_seen: np.ndarray | None = None) -> NGramCounts:
    """Count every n-gram of orders 1..``order`` in ``packed`` (windows never cross sentences).

    ``<s>`` only starts n-grams and ``</s>`` only ends them, as in KenLM, because each sentence is
    padded with a single ``<s>``: ``<s> a b`` is a trigram, ``<s> <s> a`` is not.
    """
    ids = packed.ids.astype(np.int64)
    n_total = len(ids)
    unigram_counts = np.bincount(ids, minlength=vocab_size).astype(np.int64)
    unigram_counts[BOS_ID] = 0
    vocab_ids = np.arange(vocab_size, dtype=np.int64)
    orders = [OrderCounts(vocab_ids, unigram_counts, np.zeros(0, dtype=np.int64),
                          vocab_ids.astype(np.int32))]
    # pos_id[p]: id of the (k-1)-gram starting at position p (-1 where none fits in the sentence).
    pos_id = ids
    for k in range(2, order + 1):
        starts = np.flatnonzero(packed.remaining >= k)
        keys = pos_id[starts] * vocab_size + ids[starts + k - 1]
        unique, inverse, counts, rep = _group(keys)
        rep_pos = starts[rep]
        suffix = pos_id[rep_pos + 1]
        orders.append(OrderCounts(unique, counts.astype(np.int64), suffix,
                                  packed.ids[rep_pos].astype(np.int32)))
        new_pos_id = np.full(n_total, -1, dtype=np.int64)
        new_pos_id[starts] = inverse
        pos_id = new_pos_id
    n_tokens = int(n_total - packed.n_sentences)  # words + </s>: the predicted tokens
    return NGramCounts(orders, vocab_size, n_tokens, packed.n_sentences, first_seen)
