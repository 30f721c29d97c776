"""Minibatches of sentence pairs for sequence-to-sequence training.

Each pair of id lists becomes three padded rows (``<pad>`` = 1, ``<bos>`` = 2, ``<eos>`` = 3, the
:class:`seqkit.text.Vocab` indices)::

    src      x1 x2 ... xm <eos> <pad> ...        the encoder input
    tgt_in   <bos> y1 ... yn <pad> ...           the decoder input (teacher forcing)
    tgt_out  y1 ... yn <eos> <pad> ...           what the decoder must predict

Batches are formed either by sentence count (``batch_size``) or by a token budget (``max_tokens``):
the padded size of the batch, ``B * (S + T)`` source plus target tokens by default (``count="src+tgt"``,
which bounds memory), or ``B * T`` target tokens (``count="tgt"``). With ``bucket=True`` pairs of similar
length go together (sorted by source then target length, ties shuffled per epoch), so little of a
batch is padding; the order of the batches is shuffled. Everything random is a function of
``(seed, epoch)``, and ``epoch(e, start=k)`` skips the first ``k`` batches, so a resumed run sees exactly
the batches an uninterrupted one would.

Before batching, pairs can be filtered (empty sides, too long, length ratio) -- the counts of what was
dropped are in :attr:`ParallelBatches.dropped` and :meth:`ParallelBatches.report` -- and the kept
ones truncated to ``max_src_len``/``max_tgt_len`` tokens **including** ``<eos>``, which is kept.

For corpora larger than memory, :meth:`ParallelBatches.from_prepared` (or :meth:`~ParallelBatches.from_flat`)
batches straight from flat id arrays -- a :class:`seqkit.data.prepared.PreparedCorpus` on disk --
with ~44 bytes per pair (int32 lengths, int64 index and starts, a 16-bit sort key, the plan) and no
Python object per sentence; a batch reads only its own rows (``pread``, nothing of the ids mapped into
memory). With ``pool_pairs=N`` that state exists for one pool of N pairs at a time (built
from the offsets when an epoch reaches it), so memory stays flat whatever the corpus size.
The greedy token-budget planning runs as a small C loop (``chunk_kernel.c``, through
:mod:`seqkit.native`; the Python loop is the fallback and the reference), so planning 5 million pairs
takes about a second.

With ``resample`` (subword regularization, :class:`seqkit.text.sampling.SubwordSampler`), the pairs of
a pool are re-segmented when an epoch reaches it: ``resample(epoch, pool, src_rows, tgt_rows)`` gets the
pool's kept pairs as stored (the deterministic ids) and returns new id rows, and that epoch's batches are
planned from the new lengths, so they keep the token budget. Which pairs are kept is decided once, on
the stored ids; a sampled pair with a side longer than ``max_len``, or over the budget, keeps its stored
segmentation. ``resample`` must be a function of its arguments (seeded by the epoch and the pool) for
a resumed run to see the same batches. Under ``torchrun``, ``epoch(e, start, rank=r, world_size=w)`` builds only the
batches rank ``r`` trains on (every ``w``-th, as :class:`seqkit.train.Trainer` deals them out) and
yields ``None`` in the other ranks' places, so the global batches stay those of one process.
"""

from __future__ import annotations

import ctypes
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from seqkit.errors import SeqkitError
from seqkit.text.vocab import BOS_ID, EOS_ID, PAD_ID


@dataclass
class Batch:
    """One padded batch of B pairs.

    Attributes:
        src: (B, S) source ids ending with ``<eos>``, right-padded with ``<pad>``.
        src_len: (B,) valid source lengths (``<eos>`` included).
        tgt_in: (B, T) decoder input: ``<bos>`` then the target ids.
        tgt_out: (B, T) decoder output: the target ids then ``<eos>``.
        tgt_len: (B,) valid target lengths (= tokens of ``tgt_out`` that count in the loss).
        n_tgt_tokens: ``tgt_len.sum()``, the number of predicted tokens (for per-token loss and tokens/s).
        indices: (B,) positions of these pairs in the original (unfiltered) input.
    """

    src: torch.Tensor
    src_len: torch.Tensor
    tgt_in: torch.Tensor
    tgt_out: torch.Tensor
    tgt_len: torch.Tensor
    n_tgt_tokens: int
    indices: torch.Tensor
    pad_id: int = PAD_ID

    @property
    def src_mask(self) -> torch.Tensor:
        """(B, S) bool, True on real source tokens."""
        return self.src != self.pad_id

    @property
    def tgt_mask(self) -> torch.Tensor:
        """(B, T) bool, True on target positions that count in the loss."""
        return self.tgt_out != self.pad_id

    def __len__(self) -> int:
        return self.src.shape[0]

    def to(self, device: str | torch.device, non_blocking: bool = False) -> Batch:
        move = lambda t: t.to(device, non_blocking=non_blocking)  # noqa: E731
        return Batch(move(self.src), move(self.src_len), move(self.tgt_in), move(self.tgt_out),
                     move(self.tgt_len), self.n_tgt_tokens, self.indices, self.pad_id)


def _flatten(seqs: Sequence[Sequence[int]]) -> tuple[np.ndarray, np.ndarray]:
    """Ragged id lists -> (flat int64 ids, (n + 1,) offsets)."""
    lengths = np.fromiter((len(s) for s in seqs), dtype=np.int64, count=len(seqs))
    offsets = np.zeros(len(seqs) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    flat = np.fromiter((t for s in seqs for t in s), dtype=np.int64, count=int(offsets[-1]))
    return flat, offsets


def _read_offsets(offsets: Any, begins: np.ndarray, ends: np.ndarray) -> list[np.ndarray]:
    """``offsets[b:e + 1]`` as int64 for each range ``(b, e)``: of an array or memory map, or read from
    a file object with ``read_rows`` (:class:`seqkit.data.prepared.IdsFile`, one ``pread`` a range), so
    no page of a large file stays mapped."""
    counts = ends + 1 - begins
    if hasattr(offsets, "read_rows"):
        rows = offsets.read_rows(begins, counts)
        return [row[:n] for row, n in zip(rows, counts.tolist())]
    return [np.array(offsets[b:e + 1], dtype=np.int64) for b, e in zip(begins.tolist(), ends.tolist())]


def _read_rows(flat: Any, starts: np.ndarray, counts: np.ndarray) -> list[np.ndarray]:
    """Rows ``flat[starts[i]:starts[i] + counts[i]]`` as int64 arrays: of an array or memory map, or
    read from a file object with ``read_rows`` (one ``pread`` a row)."""
    if hasattr(flat, "read_rows"):
        matrix = flat.read_rows(starts, counts)
        return [row[:n].astype(np.int64) for row, n in zip(matrix, counts.tolist())]
    return [np.asarray(flat[b:b + n], dtype=np.int64) for b, n in zip(starts.tolist(), counts.tolist())]


def _lengths(offsets: np.ndarray, first: int) -> np.ndarray:
    """(n,) int32 differences of ascending offsets (``first``: the input position of offsets[0])."""
    diff = np.diff(offsets)
    if len(diff) and (diff.min() < 0 or diff.max() >= np.iinfo(np.int32).max):
        raise SeqkitError(f"offsets {first:,}..{first + len(diff):,} are not ascending, or a sentence has "
                          "2**31 tokens or more", fix="offsets must be the n + 1 ascending starts of the pairs")
    return diff.astype(np.int32)


def _pool_ranges(n: int, pool_pairs: int | None, seed: int) -> list[np.ndarray]:
    """Each pool's pairs as (k, 2) ascending ``[begin, end)`` ranges of input positions.

    One pool: ``[[0, n)]``. Pools of ``pool_pairs``: the input is cut into blocks of ``pool_pairs // 16``
    consecutive pairs (at most 1,024) and a seeded permutation deals the blocks out to the pools, so
    every pool holds pairs from all over the corpus (shards of one domain or source do not make pools
    of one domain), while a pool is still read in a few dozen ranges.
    """
    if pool_pairs is None or n <= pool_pairs:
        return [np.array([[0, n]], dtype=np.int64)]
    block = max(1, min(1024, pool_pairs // 16))
    n_blocks = -(-n // block)
    per_pool = max(1, pool_pairs // block)
    order = np.random.default_rng([seed, 0xB10C]).permutation(n_blocks)
    pools = []
    for first in range(0, n_blocks, per_pool):
        blocks = np.sort(order[first:first + per_pool])
        begins, ends = blocks * block, np.minimum((blocks + 1) * block, n)
        joined = np.flatnonzero(begins[1:] != ends[:-1]) + 1  # merge runs of adjacent blocks
        pools.append(np.stack([begins[np.r_[0, joined]], ends[np.r_[joined - 1, len(ends) - 1]]], axis=1))
    return pools


@dataclass
class _Pool:
    """The kept pairs of one pool (input positions ``indices``, ascending): what batches are planned from.

    ``indices`` (input positions), the row lengths with ``<eos>``/the ``<bos>`` shift (int32, after
    truncation), a 16-bit (when it fits) sort key, and each row's start in the flat ids: 34 bytes a
    kept pair (44 with an epoch's plan of the pool), for the pool's pairs only.
    """

    indices: np.ndarray
    src_len: np.ndarray
    tgt_len: np.ndarray
    key: np.ndarray
    src_start: np.ndarray
    tgt_start: np.ndarray
    dropped: dict[str, int]
    truncated: int
    src_n: np.ndarray | None = None  # with resample: the stored (untruncated) content lengths
    tgt_n: np.ndarray | None = None
    flats: tuple[np.ndarray, np.ndarray] | None = None  # a resampled pool's own (src, tgt) ids


_KERNEL_SOURCE = Path(__file__).with_name("chunk_kernel.c")


def _chunk_kernel() -> Any:
    """The compiled greedy batching loop, or ``None`` (no compiler, or ``SEQKIT_CHUNK_KERNEL=0``)."""
    from seqkit.native import kernel

    return kernel(_KERNEL_SOURCE, "SEQKIT_CHUNK_KERNEL", {"chunk_by_tokens": (
        ctypes.c_int64, [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64, ctypes.c_int64, ctypes.c_int,
                         ctypes.c_void_p])})


class ParallelBatches:
    """Batches of (source, target) id lists; see the module docstring.

    Args:
        src_ids, tgt_ids: per pair, the token ids without ``<bos>``/``<eos>``.
        max_tokens: token budget per batch (padded, see ``count``); or
        batch_size: sentences per batch (exactly one of the two).
        bucket: group pairs of similar length (recommended with ``max_tokens``).
        shuffle: shuffle (within equal lengths when bucketing) and shuffle the batch order per epoch;
            False gives the input order (or the sorted order with ``bucket``), e.g. for evaluation.
        seed: with the epoch number, fixes every random choice.
        max_src_len, max_tgt_len: truncate longer sides to this many tokens, ``<eos>`` included.
        min_len: drop pairs with fewer tokens than this on either side (default 1: drop empty sides).
        max_len: drop pairs longer than this (tokens, before truncation) on either side.
        max_ratio: drop pairs whose length ratio (longer / shorter side) exceeds it.
        count: ``"src+tgt"`` or ``"tgt"``: what ``max_tokens`` counts.
        pool_pairs: ``None`` (default): bucket and shuffle over the whole input, holding ~44 bytes a
            pair. ``N``: over pools of ``N`` pairs (blocks of consecutive pairs from all over the input,
            dealt out by ``seed``) -- an epoch visits the pools in a shuffled
            order and each pool's batches in a shuffled order -- so memory is that of one pool whatever
            the corpus size (a pool is built when it is reached; nothing is kept per pair).
        resample: ``resample(epoch, pool, src_rows, tgt_rows) -> (src_rows, tgt_rows)``, new id rows of
            a pool's kept pairs for that epoch (subword regularization; see the module docstring).
        pad_id, bos_id, eos_id: special ids (defaults: the Vocab's 1, 2, 3).
    """

    def __init__(self, src_ids: Sequence[Sequence[int]], tgt_ids: Sequence[Sequence[int]], **options: Any) -> None:
        if len(src_ids) != len(tgt_ids):
            raise SeqkitError(f"{len(src_ids)} source but {len(tgt_ids)} target sequences",
                              fix="give one target per source")
        self._build(*_flatten(src_ids), *_flatten(tgt_ids), **options)

    @classmethod
    def from_flat(cls, src_flat: Any, src_offsets: Any, tgt_flat: Any, tgt_offsets: Any,
                  **options: Any) -> ParallelBatches:
        """Batches of pairs stored flat: pair i's source is ``src_flat[src_offsets[i]:src_offsets[i + 1]]``.

        ``src_flat``/``tgt_flat`` may be memory maps of any integer dtype, or objects with
        ``read_rows(starts, counts)`` (:class:`seqkit.data.prepared.IdsFile`); a batch reads only its
        own rows. ``*_offsets`` are (n + 1,) ascending: arrays, memory maps or such file objects (read a
        pool at a time). ``options`` are the constructor's keywords. The batches equal those of the
        constructor given the same pairs as lists.
        """
        if len(src_offsets) != len(tgt_offsets) or len(src_offsets) == 0:
            raise SeqkitError(f"{len(src_offsets) - 1} source but {len(tgt_offsets) - 1} target sequences",
                              fix="give one target per source (offsets have n + 1 entries)")
        self = cls.__new__(cls)
        self._build(src_flat, src_offsets, tgt_flat, tgt_offsets, **options)
        return self

    @classmethod
    def from_prepared(cls, corpus: Any, **options: Any) -> ParallelBatches:
        """Batches from a :class:`seqkit.data.prepared.PreparedCorpus` (ids and offsets read from its
        files, never mapped); see :meth:`from_flat`."""
        return cls.from_flat(corpus.reader("src"), corpus.reader("src", "offsets"), corpus.reader("tgt"),
                             corpus.reader("tgt", "offsets"), **options)

    def _build(self, src_flat: Any, src_offsets: Any, tgt_flat: Any, tgt_offsets: Any, *,
               max_tokens: int | None = None, batch_size: int | None = None, bucket: bool = True,
               shuffle: bool = True, seed: int = 0, max_src_len: int | None = None,
               max_tgt_len: int | None = None, min_len: int = 1, max_len: int | None = None,
               max_ratio: float | None = None, count: str = "src+tgt", pool_pairs: int | None = None,
               resample: Any = None, pad_id: int = PAD_ID, bos_id: int = BOS_ID, eos_id: int = EOS_ID) -> None:
        if (max_tokens is None) == (batch_size is None):
            raise SeqkitError("give exactly one of max_tokens and batch_size",
                              fix="e.g. max_tokens=4096 (token budget) or batch_size=64 (sentences)")
        if count not in ("src+tgt", "tgt"):
            raise SeqkitError(f"unknown count {count!r}", fix="use 'src+tgt' or 'tgt'")
        for name, limit in (("max_src_len", max_src_len), ("max_tgt_len", max_tgt_len)):
            if limit is not None and limit < 2:
                raise SeqkitError(f"{name}={limit} leaves no room for a token and <eos>", fix=f"use {name} >= 2")
        if pool_pairs is not None and pool_pairs < 1:
            raise SeqkitError(f"pool_pairs={pool_pairs}", fix="use a positive number of pairs, or None (one pool)")
        self.max_tokens, self.batch_size, self.bucket, self.shuffle = max_tokens, batch_size, bucket, shuffle
        self.seed, self.count = seed, count
        self.pad_id, self.bos_id, self.eos_id = pad_id, bos_id, eos_id
        self._data = (src_flat, src_offsets, tgt_flat, tgt_offsets)
        self._limits = (min_len, max_len, max_ratio, max_src_len, max_tgt_len)
        self.n_input = len(src_offsets) - 1
        self.pool_pairs = pool_pairs
        self.resample = resample
        self._sampled: tuple[int, int, _Pool] | None = None  # (epoch, pool, its resampled pairs)
        self._pools = _pool_ranges(self.n_input, pool_pairs, seed)  # each pool's ranges of input positions

        # one pass over the pools: what is dropped and truncated, and the widest pair; a single pool is
        # kept (it is all there is), more are rebuilt when an epoch reaches them
        reasons = [f"shorter than {min_len} token(s)", f"longer than {max_len} tokens",
                   f"length ratio above {max_ratio:g}" if max_ratio is not None else ""]
        dropped = dict.fromkeys(reasons, 0)
        self.truncated, widest = 0, 0
        kept = np.zeros(len(self._pools), dtype=np.int64)
        self._cached: tuple[int, _Pool] | None = None
        self._last_plan: tuple[int, int, list[np.ndarray]] | None = None  # (epoch, pool, its batches)
        for p in range(len(self._pools)):
            pool = self._make_pool(p)
            for reason, n in pool.dropped.items():
                dropped[reason] += n
            self.truncated += pool.truncated
            kept[p] = len(pool.indices)
            if self.max_tokens is not None and len(pool.indices):
                widest = max(widest, int(self._cost(pool.src_len, pool.tgt_len).max()))
            if len(self._pools) == 1:
                self._cached = (0, pool)
        self.dropped = {reason: n for reason, n in dropped.items() if n}
        self._row_starts = np.concatenate([[0], np.cumsum(kept)])  # kept rows before each pool
        self.n_kept = int(self._row_starts[-1])
        if self.n_kept == 0:
            raise SeqkitError(f"all {self.n_input} pairs were filtered out ({self.report()})",
                              fix="relax min_len/max_len/max_ratio or check the data")
        if widest > (self.max_tokens or widest):
            raise SeqkitError(f"max_tokens={self.max_tokens} is smaller than the longest pair ({widest} tokens)",
                              fix=f"raise max_tokens to at least {widest}, or set max_src_len/max_tgt_len or max_len")
        self._plans: dict[int, list[np.ndarray]] = {}
        self._counts: dict[int, list[int]] = {}

    def _make_pool(self, p: int) -> _Pool:
        """Pool ``p``: its pairs' lengths read from the offsets, filtered, truncated, keyed."""
        if self._cached is not None and self._cached[0] == p:
            return self._cached[1]
        min_len, max_len, max_ratio, max_src_len, max_tgt_len = self._limits
        begins, ends = self._pools[p][:, 0], self._pools[p][:, 1]
        sides = []
        for offsets in (self._data[1], self._data[3]):
            ranges = _read_offsets(offsets, begins, ends)
            sides.append((np.concatenate([r[:-1] for r in ranges]),
                          np.concatenate([_lengths(r, b) for r, b in zip(ranges, begins.tolist())])))
        (src_off, src_n), (tgt_off, tgt_n) = sides
        keep = np.ones(len(src_n), dtype=bool)
        dropped = {}

        def drop(reason: str, mask: np.ndarray) -> None:
            newly = mask & keep
            dropped[reason] = int(newly.sum())
            keep[newly] = False

        drop(f"shorter than {min_len} token(s)", (src_n < min_len) | (tgt_n < min_len))
        if max_len is not None:
            drop(f"longer than {max_len} tokens", (src_n > max_len) | (tgt_n > max_len))
        if max_ratio is not None:
            lo, hi = np.minimum(src_n, tgt_n), np.maximum(src_n, tgt_n)
            drop(f"length ratio above {max_ratio:g}", hi > max_ratio * np.maximum(lo, 1))
        local = np.flatnonzero(keep)
        # lengths with <eos> (source) and with the <bos>/<eos> shift (target rows have n + 1 tokens)
        lengths, truncated = [], 0
        for n_tokens, limit in ((src_n, max_src_len), (tgt_n, max_tgt_len)):
            full = n_tokens[local] + np.int32(1)
            if limit is not None:
                truncated += int((full > limit).sum())
                np.minimum(full, limit, out=full)
            lengths.append(full)
        src_len, tgt_len = lengths
        key = self._keyed(src_len, tgt_len)
        if len(begins) == 1:  # one range (the single pool): no array of every position is made
            indices = local + int(begins[0])
        else:
            indices = np.concatenate([np.arange(b, e) for b, e in zip(begins.tolist(), ends.tolist())])[local]
        pool = _Pool(indices, src_len, tgt_len, key, src_off[local], tgt_off[local], dropped, truncated)
        if self.resample is not None:
            pool.src_n, pool.tgt_n = src_n[local], tgt_n[local]
        self._cached = (p, pool)
        return pool

    def _keyed(self, src_len: np.ndarray, tgt_len: np.ndarray) -> np.ndarray:
        """One sort key (source length, then target length) in the smallest dtype: a stable argsort of
        it orders as ``np.lexsort((tgt_len, src_len))`` does, and of 16-bit keys numpy radix-sorts."""
        key = src_len.astype(np.int64) * (int(tgt_len.max(initial=0)) + 1) + tgt_len
        top = int(key.max(initial=0))
        return key.astype(np.uint16 if top < 1 << 16 else np.uint32 if top < 1 << 32 else np.uint64)

    def _epoch_pool(self, epoch: int, p: int) -> _Pool:
        """Pool ``p`` as epoch ``epoch`` sees it: the stored pairs, or with ``resample`` that epoch's
        segmentation of them (the last one made is kept)."""
        pool = self._make_pool(p)
        if self.resample is None:
            return pool
        if self._sampled is not None and self._sampled[:2] == (epoch, p):
            return self._sampled[2]
        stored = [_read_rows(flat, starts, n) for flat, starts, n in
                  ((self._data[0], pool.src_start, pool.src_n), (self._data[2], pool.tgt_start, pool.tgt_n))]
        src_rows, tgt_rows = self.resample(epoch, p, *stored)
        _, max_len, _, max_src_len, max_tgt_len = self._limits
        src_n = np.fromiter(map(len, src_rows), dtype=np.int64, count=len(src_rows))
        tgt_n = np.fromiter(map(len, tgt_rows), dtype=np.int64, count=len(tgt_rows))
        lengths = []
        for n_tokens, limit in ((src_n, max_src_len), (tgt_n, max_tgt_len)):
            lengths.append(np.minimum(n_tokens + 1, limit) if limit is not None else n_tokens + 1)
        too_long = np.zeros(len(src_n), dtype=bool) if max_len is None else (src_n > max_len) | (tgt_n > max_len)
        if self.max_tokens is not None:
            too_long |= self._cost(*lengths) > self.max_tokens
        for i in np.flatnonzero(too_long).tolist():  # keep the stored segmentation of these
            src_rows[i], tgt_rows[i] = stored[0][i], stored[1][i]
        src_len = np.where(too_long, pool.src_len, lengths[0]).astype(np.int32)
        tgt_len = np.where(too_long, pool.tgt_len, lengths[1]).astype(np.int32)
        flats, starts = [], []
        for rows in (src_rows, tgt_rows):
            flat, offsets = _flatten(rows)
            flats.append(flat)
            starts.append(offsets[:-1])
        sampled = _Pool(pool.indices, src_len, tgt_len, self._keyed(src_len, tgt_len), starts[0], starts[1],
                        pool.dropped, pool.truncated, flats=(flats[0], flats[1]))
        self._sampled = (epoch, p, sampled)
        return sampled

    @property
    def indices(self) -> np.ndarray:
        """(kept,) int64: the input positions of the kept pairs, pool by pool (ascending within each;
        built from every pool when pooled). Row ``r`` of :meth:`plan` is pair ``indices[r]``."""
        if len(self._pools) == 1:
            return self._make_pool(0).indices
        return np.concatenate([self._make_pool(p).indices for p in range(len(self._pools))])

    # -- reporting ----------------------------------------------------------------------------------
    def report(self) -> str:
        """One line: pairs kept, dropped by reason, truncated sides."""
        parts = [f"kept {self.n_kept} of {self.n_input} pairs"]
        parts += [f"dropped {n} {reason}" for reason, n in self.dropped.items()]
        if self.truncated:
            parts.append(f"truncated {self.truncated} side(s)")
        return ", ".join(parts)

    # -- planning -------------------------------------------------------------------------------------
    def _cost(self, src_len: np.ndarray, tgt_len: np.ndarray) -> np.ndarray:
        return tgt_len if self.count == "tgt" else src_len + tgt_len

    def _rng(self, epoch: int, pool: int | None = None) -> np.random.Generator:
        """Epoch ``epoch``'s generator: of the only pool, or (pooled) of pool ``pool`` / the pool order."""
        if len(self._pools) == 1:
            return np.random.default_rng([self.seed, epoch, 0x5EC])
        return np.random.default_rng([self.seed, epoch, 0x5EC, 0 if pool is None else pool + 1])

    def _pool_order(self, epoch: int) -> np.ndarray:
        n = len(self._pools)
        return self._rng(epoch).permutation(n) if self.shuffle and n > 1 else np.arange(n)

    def _plan_pool(self, epoch: int, p: int) -> list[np.ndarray]:
        """Pool ``p``'s batches in ``epoch`` as arrays of rows within the pool, in order (the last one
        planned is kept: counting an epoch's batches and then walking it plans a single pool once)."""
        if self._last_plan is not None and self._last_plan[:2] == (epoch, p):
            return self._last_plan[2]
        pool = self._epoch_pool(epoch, p)
        rng = self._rng(epoch, p)
        n = len(pool.indices)
        order = rng.permutation(n) if self.shuffle else np.arange(n)
        if self.bucket:  # stable sort by length keeps the shuffled order among equal lengths
            order = order[np.argsort(pool.key[order], kind="stable")]
        batches = self._chunk(order, pool) if n else []
        if self.shuffle:
            batches = [batches[i] for i in rng.permutation(len(batches))]
        self._last_plan = (epoch, p, batches)
        return batches

    def _walk(self, epoch: int) -> Iterator[tuple[int, np.ndarray]]:
        """``(pool, rows within it)`` of every batch of ``epoch``, in order, one pool in memory at a time."""
        for p in self._pool_order(epoch).tolist():
            for rows in self._plan_pool(epoch, p):
                yield p, rows

    def plan(self, epoch: int) -> list[np.ndarray]:
        """The batches of ``epoch`` as arrays of row numbers into :attr:`indices` (the kept pairs, pool by
        pool), in order. Pooled, this holds the whole epoch's plan: :meth:`epoch` does not."""
        if epoch in self._plans:
            return self._plans[epoch]
        batches = [rows + self._row_starts[p] for p, rows in self._walk(epoch)]
        if len(self._plans) > 4:
            self._plans.clear()
        self._plans[epoch] = batches
        return batches

    def _pool_counts(self, epoch: int) -> list[int]:
        """Batches of each pool in ``epoch``, in the epoch's pool order (pooled: planned once, kept)."""
        if epoch not in self._counts:
            if len(self._counts) > 4:
                self._counts.clear()
            self._counts[epoch] = [len(self._plan_pool(epoch, p)) for p in self._pool_order(epoch).tolist()]
        return self._counts[epoch]

    def _chunk(self, order: np.ndarray, pool: _Pool) -> list[np.ndarray]:
        if self.batch_size is not None:
            return [order[i:i + self.batch_size] for i in range(0, len(order), self.batch_size)]
        # token budget: a batch of rows r0..rk costs (k+1) * (max src + max tgt); greedy in order
        src = np.ascontiguousarray(pool.src_len[order], dtype=np.int32)  # (n,), as the kernel reads them
        tgt = np.ascontiguousarray(pool.tgt_len[order], dtype=np.int32)
        lib = _chunk_kernel()
        if lib is not None:
            starts = np.empty(len(order), dtype=np.int64)
            k = lib.chunk_by_tokens(src.ctypes.data, tgt.ctypes.data, len(order), self.max_tokens,
                                    int(self.count == "tgt"), starts.ctypes.data)
            return np.split(order, starts[1:k])
        return self._chunk_python(order, src, tgt)

    def _chunk_python(self, order: np.ndarray, src: np.ndarray, tgt: np.ndarray) -> list[np.ndarray]:
        """The greedy loop of ``chunk_kernel.c`` in Python (the fallback, and the tests' reference)."""
        batches, begin = [], 0
        max_s = max_t = 0
        for i in range(len(order)):
            s, t = max(max_s, src[i]), max(max_t, tgt[i])
            cost = (i - begin + 1) * (t if self.count == "tgt" else s + t)
            if cost > self.max_tokens and i > begin:
                batches.append(order[begin:i])
                begin, s, t = i, src[i], tgt[i]
            max_s, max_t = s, t
        batches.append(order[begin:])
        return batches

    def __len__(self) -> int:
        """Batches per epoch (the same in every epoch with ``bucket`` or ``batch_size``; else epoch 0's)."""
        return self.num_batches(0)

    def num_batches(self, epoch: int = 0) -> int:
        return sum(self._pool_counts(epoch))

    # -- tensors ----------------------------------------------------------------------------------------
    def _pad(self, flat: Any, row_starts: np.ndarray, lengths: np.ndarray, width: int, shift: int) -> np.ndarray:
        """Rows of ``lengths`` ids each (``shift``: leading positions left for ``<bos>``), padded."""
        cols = np.arange(width)[None, :] - shift  # (B, width)
        n_copy = lengths[:, None] - 1  # content tokens per row: the length minus <eos> (or <bos>)
        inside = (cols >= 0) & (cols < n_copy)
        if hasattr(flat, "read_rows"):  # a file read row by row (seqkit.data.prepared.IdsFile)
            content = flat.read_rows(row_starts, n_copy[:, 0])  # (B, max n_copy), zero-padded
            at = np.clip(cols, 0, max(content.shape[1] - 1, 0))
            values = content[np.arange(len(row_starts))[:, None], at] if content.shape[1] else np.zeros(inside.shape, np.int64)
        else:
            pos = np.where(inside, row_starts[:, None] + cols, 0)
            # uint16/uint32 ids (a memory map): gather only this batch's, then widen to int64
            values = flat[pos].astype(np.int64, copy=False) if len(flat) else np.zeros(pos.shape, dtype=np.int64)
        return np.where(inside, values, np.int64(self.pad_id))

    def _batch(self, pool: _Pool, rows: np.ndarray) -> Batch:
        src_len, tgt_len = pool.src_len[rows].astype(np.int64), pool.tgt_len[rows].astype(np.int64)
        S, T = int(src_len.max()), int(tgt_len.max())
        B = len(rows)
        src_flat, _, tgt_flat, _ = self._data
        if pool.flats is not None:  # a resampled pool holds its own ids
            src_flat, tgt_flat = pool.flats
        src = self._pad(src_flat, pool.src_start[rows], src_len, S, shift=0)
        src[np.arange(B), src_len - 1] = self.eos_id
        tgt_out = self._pad(tgt_flat, pool.tgt_start[rows], tgt_len, T, shift=0)
        tgt_out[np.arange(B), tgt_len - 1] = self.eos_id
        tgt_in = self._pad(tgt_flat, pool.tgt_start[rows], tgt_len, T, shift=1)
        tgt_in[:, 0] = self.bos_id
        return Batch(torch.from_numpy(src), torch.from_numpy(src_len), torch.from_numpy(tgt_in),
                     torch.from_numpy(tgt_out), torch.from_numpy(tgt_len), int(tgt_len.sum()),
                     torch.from_numpy(pool.indices[rows]), self.pad_id)

    def make_batch(self, rows: np.ndarray, epoch: int = 0) -> Batch:
        """The :class:`Batch` of kept pairs number ``rows`` (as :meth:`plan` gives them: one pool's), as
        epoch ``epoch`` segments them (with ``resample``; else the stored ids)."""
        rows = np.asarray(rows, dtype=np.int64)
        p = int(np.searchsorted(self._row_starts, rows[0], side="right")) - 1
        return self._batch(self._epoch_pool(epoch, p), rows - self._row_starts[p])

    def epoch(self, epoch: int, start: int = 0, *, rank: int = 0, world_size: int = 1) -> Iterator[Batch | None]:
        """Yield the batches of ``epoch``, skipping the first ``start`` (mid-epoch resume).

        With ``world_size > 1`` only batch numbers ``i`` (counted from the epoch's start) with
        ``i % world_size == rank`` are built -- the ones :class:`seqkit.train.Trainer` gives rank
        ``rank`` -- and ``None`` stands in the other places, so every rank sees the same sequence
        length and the same global batches as one process. Pools before ``start`` are skipped by their
        batch counts, not planned again.
        """
        if not 0 <= rank < world_size:
            raise SeqkitError(f"rank {rank} of world size {world_size}", fix="use 0 <= rank < world_size")
        i = 0
        counts = self._pool_counts(epoch) if start else None
        for n_pool, p in enumerate(self._pool_order(epoch).tolist()):
            if counts is not None and i + counts[n_pool] <= start:
                i += counts[n_pool]
                continue
            pool = self._epoch_pool(epoch, p)
            for rows in self._plan_pool(epoch, p):
                if i >= start:
                    yield self._batch(pool, rows) if i % world_size == rank else None
                i += 1

    def __iter__(self) -> Iterator[Batch]:
        return self.epoch(0)
