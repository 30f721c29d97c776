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
with ~20 bytes per pair (int32 lengths, an int64 index, a 16-bit sort key) and no Python object per
sentence; a batch reads only its own rows (``pread``, nothing of the ids mapped into memory).
The greedy token-budget planning runs as a small C loop (``chunk_kernel.c``, through
:mod:`seqkit.native`; the Python loop is the fallback and the reference), so planning 5 million pairs
takes about a second. Under ``torchrun``, ``epoch(e, start, rank=r, world_size=w)`` builds only the
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


def _flatten(seqs: Sequence[Sequence[int]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Ragged id lists -> (flat int64 ids, start of each list, length of each list)."""
    lengths = np.fromiter((len(s) for s in seqs), dtype=np.int64, count=len(seqs))
    starts = np.zeros(len(seqs), dtype=np.int64)
    if len(seqs):
        np.cumsum(lengths[:-1], out=starts[1:])
    flat = np.fromiter((t for s in seqs for t in s), dtype=np.int64, count=int(lengths.sum()))
    return flat, starts, lengths


def _lengths(offsets: np.ndarray, block: int = 1 << 20) -> np.ndarray:
    """(n,) int32 ``offsets[i + 1] - offsets[i]``, a block at a time: no int64 array of n is made
    (at 5M pairs an int64 difference is 40 MB a side that the peak memory would carry)."""
    n = len(offsets) - 1
    out = np.empty(max(n, 0), dtype=np.int32)
    for begin in range(0, n, block):
        diff = np.diff(offsets[begin:begin + block + 1])
        if len(diff) and (diff.min() < 0 or diff.max() >= np.iinfo(np.int32).max):
            raise SeqkitError(f"offsets {begin:,}..{begin + len(diff):,} are not ascending, or a sentence has "
                              "2**31 tokens or more", fix="offsets must be the n + 1 ascending starts of the pairs")
        out[begin:begin + len(diff)] = diff
    return out


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
        pad_id, bos_id, eos_id: special ids (defaults: the Vocab's 1, 2, 3).
    """

    def __init__(self, src_ids: Sequence[Sequence[int]], tgt_ids: Sequence[Sequence[int]], *,
                 max_tokens: int | None = None, batch_size: int | None = None, bucket: bool = True,
                 shuffle: bool = True, seed: int = 0, max_src_len: int | None = None,
                 max_tgt_len: int | None = None, min_len: int = 1, max_len: int | None = None,
                 max_ratio: float | None = None, count: str = "src+tgt", pad_id: int = PAD_ID,
                 bos_id: int = BOS_ID, eos_id: int = EOS_ID) -> None:
        if len(src_ids) != len(tgt_ids):
            raise SeqkitError(f"{len(src_ids)} source but {len(tgt_ids)} target sequences",
                              fix="give one target per source")
        src_flat, src_start, src_n = _flatten(src_ids)
        tgt_flat, tgt_start, tgt_n = _flatten(tgt_ids)
        self._build(src_flat, src_start, src_n, tgt_flat, tgt_start, tgt_n, max_tokens=max_tokens,
                    batch_size=batch_size, bucket=bucket, shuffle=shuffle, seed=seed, max_src_len=max_src_len,
                    max_tgt_len=max_tgt_len, min_len=min_len, max_len=max_len, max_ratio=max_ratio, count=count,
                    pad_id=pad_id, bos_id=bos_id, eos_id=eos_id)

    @classmethod
    def from_flat(cls, src_flat: np.ndarray, src_offsets: np.ndarray, tgt_flat: np.ndarray,
                  tgt_offsets: np.ndarray, **options: Any) -> ParallelBatches:
        """Batches of pairs stored flat: pair i's source is ``src_flat[src_offsets[i]:src_offsets[i + 1]]``.

        ``src_flat``/``tgt_flat`` may be memory maps of any integer dtype, or objects with
        ``read_rows(starts, counts)`` (:class:`seqkit.data.prepared.IdsFile`); a batch reads only its
        own rows. ``*_offsets`` are (n + 1,) ascending. ``options`` are the constructor's keywords. The
        batches equal those of the constructor given the same pairs as lists.
        """
        src_offsets = np.asarray(src_offsets, dtype=np.int64)
        tgt_offsets = np.asarray(tgt_offsets, dtype=np.int64)
        if len(src_offsets) != len(tgt_offsets) or len(src_offsets) == 0:
            raise SeqkitError(f"{len(src_offsets) - 1} source but {len(tgt_offsets) - 1} target sequences",
                              fix="give one target per source (offsets have n + 1 entries)")
        self = cls.__new__(cls)
        self._build(src_flat, src_offsets[:-1], _lengths(src_offsets), tgt_flat, tgt_offsets[:-1],
                    _lengths(tgt_offsets), **options)
        return self

    @classmethod
    def from_prepared(cls, corpus: Any, **options: Any) -> ParallelBatches:
        """Batches from a :class:`seqkit.data.prepared.PreparedCorpus` (its memory map); see :meth:`from_flat`."""
        return cls.from_flat(corpus.reader("src"), corpus.src_offsets, corpus.reader("tgt"), corpus.tgt_offsets,
                             **options)

    def _build(self, src_flat: np.ndarray, src_start: np.ndarray, src_n: np.ndarray, tgt_flat: np.ndarray,
               tgt_start: np.ndarray, tgt_n: np.ndarray, *, max_tokens: int | None = None,
               batch_size: int | None = None, bucket: bool = True, shuffle: bool = True, seed: int = 0,
               max_src_len: int | None = None, max_tgt_len: int | None = None, min_len: int = 1,
               max_len: int | None = None, max_ratio: float | None = None, count: str = "src+tgt",
               pad_id: int = PAD_ID, bos_id: int = BOS_ID, eos_id: int = EOS_ID) -> None:
        if (max_tokens is None) == (batch_size is None):
            raise SeqkitError("give exactly one of max_tokens and batch_size",
                              fix="e.g. max_tokens=4096 (token budget) or batch_size=64 (sentences)")
        if count not in ("src+tgt", "tgt"):
            raise SeqkitError(f"unknown count {count!r}", fix="use 'src+tgt' or 'tgt'")
        for name, limit in (("max_src_len", max_src_len), ("max_tgt_len", max_tgt_len)):
            if limit is not None and limit < 2:
                raise SeqkitError(f"{name}={limit} leaves no room for a token and <eos>", fix=f"use {name} >= 2")
        self.max_tokens, self.batch_size, self.bucket, self.shuffle = max_tokens, batch_size, bucket, shuffle
        self.seed, self.count = seed, count
        self.pad_id, self.bos_id, self.eos_id = pad_id, bos_id, eos_id
        self.n_input = len(src_n)
        keep = np.ones(len(src_n), dtype=bool)
        self.dropped: dict[str, int] = {}
        self.truncated = 0

        def drop(reason: str, mask: np.ndarray) -> None:
            newly = mask & keep
            if newly.any():
                self.dropped[reason] = int(newly.sum())
                keep[newly] = False

        drop(f"shorter than {min_len} token(s)", (src_n < min_len) | (tgt_n < min_len))
        if max_len is not None:
            drop(f"longer than {max_len} tokens", (src_n > max_len) | (tgt_n > max_len))
        if max_ratio is not None:
            lo, hi = np.minimum(src_n, tgt_n), np.maximum(src_n, tgt_n)
            drop(f"length ratio above {max_ratio:g}", hi > max_ratio * np.maximum(lo, 1))
        self.indices = np.flatnonzero(keep)  # positions of the kept pairs in the input
        if len(self.indices) == 0:
            raise SeqkitError(f"all {self.n_input} pairs were filtered out ({self.report()})",
                              fix="relax min_len/max_len/max_ratio or check the data")

        # Lengths with <eos> (source) and with the <bos>/<eos> shift (target rows have n + 1 tokens), as
        # int32: with the index and the sort key below, ~20 bytes are kept a pair (5M pairs: 0.1 GB).
        # The starts stay those of the whole input (a memory map's offsets are not copied); rows find
        # theirs through self.indices.
        lengths = []
        for n_tokens, limit in ((src_n, max_src_len), (tgt_n, max_tgt_len)):
            if n_tokens.max(initial=0) >= np.iinfo(np.int32).max:
                raise SeqkitError("a sentence has 2**31 tokens or more", fix="split the corpus into sentences")
            full = n_tokens[keep].astype(np.int32, copy=False) + np.int32(1)
            if limit is not None:
                self.truncated += int((full > limit).sum())
                np.minimum(full, limit, out=full)
            lengths.append(full)
        self.src_len, self.tgt_len = lengths
        del lengths
        self._src = (src_flat, src_start)
        self._tgt = (tgt_flat, tgt_start)
        # one sort key (source length, then target length) in the smallest dtype: a stable argsort of
        # it orders as np.lexsort((tgt_len, src_len)) does, and of 16-bit keys numpy radix-sorts
        key = self.src_len.astype(np.int64) * (int(self.tgt_len.max(initial=0)) + 1) + self.tgt_len
        top = int(key.max(initial=0))
        self._bucket_key = key.astype(np.uint16 if top < 1 << 16 else np.uint32 if top < 1 << 32 else np.uint64)
        del key
        if self.max_tokens is not None:
            widest = int(self._cost(self.src_len, self.tgt_len).max())
            if widest > self.max_tokens:
                raise SeqkitError(f"max_tokens={self.max_tokens} is smaller than the longest pair ({widest} tokens)",
                                  fix=f"raise max_tokens to at least {widest}, or set max_src_len/max_tgt_len or max_len")
        self._plans: dict[int, list[np.ndarray]] = {}

    # -- reporting ----------------------------------------------------------------------------------
    def report(self) -> str:
        """One line: pairs kept, dropped by reason, truncated sides."""
        kept = len(self.indices)
        parts = [f"kept {kept} of {self.n_input} pairs"]
        parts += [f"dropped {n} {reason}" for reason, n in self.dropped.items()]
        if self.truncated:
            parts.append(f"truncated {self.truncated} side(s)")
        return ", ".join(parts)

    # -- planning -------------------------------------------------------------------------------------
    def _cost(self, src_len: np.ndarray, tgt_len: np.ndarray) -> np.ndarray:
        return tgt_len if self.count == "tgt" else src_len + tgt_len

    def _rng(self, epoch: int) -> np.random.Generator:
        return np.random.default_rng([self.seed, epoch, 0x5EC])

    def plan(self, epoch: int) -> list[np.ndarray]:
        """The batches of ``epoch`` as arrays of row numbers (into the kept pairs), in order."""
        if epoch in self._plans:
            return self._plans[epoch]
        rng = self._rng(epoch)
        n = len(self.indices)
        order = rng.permutation(n) if self.shuffle else np.arange(n)
        if self.bucket:  # stable sort by length keeps the shuffled order among equal lengths
            order = order[np.argsort(self._bucket_key[order], kind="stable")]
        batches = self._chunk(order)
        if self.shuffle:
            batches = [batches[i] for i in rng.permutation(len(batches))]
        if len(self._plans) > 4:
            self._plans.clear()
        self._plans[epoch] = batches
        return batches

    def _chunk(self, order: np.ndarray) -> list[np.ndarray]:
        if self.batch_size is not None:
            return [order[i:i + self.batch_size] for i in range(0, len(order), self.batch_size)]
        # token budget: a batch of rows r0..rk costs (k+1) * (max src + max tgt); greedy in order
        src = np.ascontiguousarray(self.src_len[order], dtype=np.int32)  # (n,), as the kernel reads them
        tgt = np.ascontiguousarray(self.tgt_len[order], dtype=np.int32)
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
        return len(self.plan(0))

    def num_batches(self, epoch: int = 0) -> int:
        return len(self.plan(epoch))

    # -- tensors ----------------------------------------------------------------------------------------
    def _pad(self, data: tuple[np.ndarray, np.ndarray], rows: np.ndarray, lengths: np.ndarray,
             width: int, shift: int) -> np.ndarray:
        """Rows of ``lengths`` ids each (``shift``: leading positions left for ``<bos>``), padded."""
        flat, starts = data
        cols = np.arange(width)[None, :] - shift  # (B, width)
        n_copy = lengths[:, None] - 1  # content tokens per row: the length minus <eos> (or <bos>)
        inside = (cols >= 0) & (cols < n_copy)
        row_starts = starts[self.indices[rows]]
        if hasattr(flat, "read_rows"):  # a file read row by row (seqkit.data.prepared.IdsFile)
            content = flat.read_rows(row_starts, n_copy[:, 0])  # (B, max n_copy), zero-padded
            at = np.clip(cols, 0, max(content.shape[1] - 1, 0))
            values = content[np.arange(len(rows))[:, None], at] if content.shape[1] else np.zeros(inside.shape, np.int64)
        else:
            pos = np.where(inside, row_starts[:, None] + cols, 0)
            # uint16/uint32 ids (a memory map): gather only this batch's, then widen to int64
            values = flat[pos].astype(np.int64, copy=False) if len(flat) else np.zeros(pos.shape, dtype=np.int64)
        return np.where(inside, values, np.int64(self.pad_id))

    def make_batch(self, rows: np.ndarray) -> Batch:
        """The :class:`Batch` of kept pairs number ``rows``."""
        src_len, tgt_len = self.src_len[rows].astype(np.int64), self.tgt_len[rows].astype(np.int64)
        S, T = int(src_len.max()), int(tgt_len.max())
        B = len(rows)
        src = self._pad(self._src, rows, src_len, S, shift=0)
        src[np.arange(B), src_len - 1] = self.eos_id
        tgt_out = self._pad(self._tgt, rows, tgt_len, T, shift=0)
        tgt_out[np.arange(B), tgt_len - 1] = self.eos_id
        tgt_in = self._pad(self._tgt, rows, tgt_len, T, shift=1)
        tgt_in[:, 0] = self.bos_id
        return Batch(torch.from_numpy(src), torch.from_numpy(src_len), torch.from_numpy(tgt_in),
                     torch.from_numpy(tgt_out), torch.from_numpy(tgt_len), int(tgt_len.sum()),
                     torch.from_numpy(self.indices[rows]), self.pad_id)

    def epoch(self, epoch: int, start: int = 0, *, rank: int = 0, world_size: int = 1) -> Iterator[Batch | None]:
        """Yield the batches of ``epoch``, skipping the first ``start`` (mid-epoch resume).

        With ``world_size > 1`` only batch numbers ``i`` (counted from the epoch's start) with
        ``i % world_size == rank`` are built -- the ones :class:`seqkit.train.Trainer` gives rank
        ``rank`` -- and ``None`` stands in the other places, so every rank sees the same sequence
        length and the same global batches as one process.
        """
        if not 0 <= rank < world_size:
            raise SeqkitError(f"rank {rank} of world size {world_size}", fix="use 0 <= rank < world_size")
        for i, rows in enumerate(self.plan(epoch)[start:], start):
            yield self.make_batch(rows) if i % world_size == rank else None

    def __iter__(self) -> Iterator[Batch]:
        return self.epoch(0)
