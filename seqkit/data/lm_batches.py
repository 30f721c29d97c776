"""Language-model minibatches over one long stream of token ids: d2l's random and sequential sampling.

Both cut the stream into windows of ``num_steps`` tokens; ``Y`` is ``X`` shifted by one token. Each
epoch starts at a random offset, so different epochs see different window boundaries.

**sequential** (d2l's ``seq_data_iter_sequential``, "adjacent" sampling): the stream after the offset
is split into ``batch_size`` equal rows, and batch ``i`` takes columns ``[i*T, (i+1)*T)``. Row ``b`` of
batch ``i+1`` continues row ``b`` of batch ``i`` exactly, so **the hidden state should be carried from
one batch to the next (detached, to cut the gradient) and reset only at the start of an epoch.**

**random** (d2l's ``seq_data_iter_random``): windows start at ``offset + k*T`` and are shuffled, so
consecutive batches are unrelated: **the hidden state must be reset (zeros) before every batch.**
d2l drops the windows that do not fill a last batch, and the tokens before the offset, so the tail of
the corpus is never seen. With ``full_coverage=True`` every epoch also uses a window aligned to the
start and one aligned to the end of the stream, and the last batch is filled with extra random
windows instead of being dropped: every token position is in some ``X`` (and every position after the
first in some ``Y``) in every epoch.

Both draw from ``random.Random`` in d2l's order (``randint`` for the offset, then ``shuffle`` for
random sampling), seeded from ``(seed, epoch)``: the batches are a pure function of the ids, the
settings, the seed and the epoch, which makes mid-epoch resume exact (``epoch(e, start=k)``).
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence

import torch

from seqkit.errors import SeqkitError


class LMBatches:
    """Minibatches ``(X, Y)``, each a LongTensor of shape ``(batch_size, num_steps)``.

    Args:
        ids: the corpus as one sequence of token ids (list, numpy array or 1-D tensor).
        batch_size: rows per batch (B).
        num_steps: tokens per row (T).
        sampling: ``"sequential"`` (carry the hidden state) or ``"random"`` (reset it every batch).
        full_coverage: random sampling only: reach every position every epoch (see module docs).
        seed: with the epoch number, fixes the offset and the order.
        offset: a fixed offset for every epoch instead of a random one (to compare with d2l, or to
            make evaluation deterministic); sequential allows ``0..T``, random ``0..T-1``.
    """

    def __init__(self, ids: Sequence[int] | torch.Tensor, batch_size: int, num_steps: int,
                 sampling: str = "sequential", full_coverage: bool = False, seed: int = 0,
                 offset: int | None = None) -> None:
        if sampling not in ("sequential", "random"):
            raise SeqkitError(f"unknown sampling {sampling!r}", fix="use 'sequential' or 'random'")
        if full_coverage and sampling != "random":
            raise SeqkitError("full_coverage applies to random sampling only",
                              fix="set sampling='random' or full_coverage=False")
        if batch_size < 1 or num_steps < 1:
            raise SeqkitError("batch_size and num_steps must be at least 1", fix="give positive sizes")
        self.ids = torch.as_tensor(ids, dtype=torch.long).reshape(-1)
        self.batch_size, self.num_steps = batch_size, num_steps
        self.sampling, self.full_coverage, self.seed, self.offset = sampling, full_coverage, seed, offset
        max_offset = num_steps if sampling == "sequential" else num_steps - 1
        if offset is not None and not 0 <= offset <= max_offset:
            raise SeqkitError(f"offset {offset} out of range", fix=f"use 0..{max_offset} for {sampling} sampling")
        # enough tokens for one batch even at the largest offset
        need = max_offset + batch_size * num_steps + 1 if not full_coverage else num_steps + 1
        if len(self.ids) < need:
            raise SeqkitError(f"corpus of {len(self.ids)} tokens is too short for batch_size={batch_size}, "
                              f"num_steps={num_steps}", fix=f"give at least {need} tokens or smaller sizes")

    # -- the plan of one epoch: offset and window starts, in batch order --------------------------
    def _rng(self, epoch: int) -> random.Random:
        return random.Random(f"seqkit.LMBatches:{self.seed}:{epoch}")

    def _offset(self, rng: random.Random) -> int:
        hi = self.num_steps if self.sampling == "sequential" else self.num_steps - 1
        drawn = rng.randint(0, hi)  # drawn even when fixed, so the shuffle below stays d2l's
        return drawn if self.offset is None else self.offset

    def random_starts(self, epoch: int) -> tuple[int, list[int]]:
        """Random sampling: (offset, window start positions in batch order) for ``epoch``."""
        rng = self._rng(epoch)
        offset = self._offset(rng)
        n, T, B = len(self.ids), self.num_steps, self.batch_size
        num_windows = (n - offset - 1) // T
        starts = [offset + k * T for k in range(num_windows)]
        if not self.full_coverage:
            rng.shuffle(starts)
            return offset, starts[: (num_windows // B) * B]
        if offset > 0:
            starts.append(0)  # covers the head before the offset
        if offset + num_windows * T < n - 1:
            starts.append(n - 1 - T)  # the last window: its target ends at the last token
        rng.shuffle(starts)
        short = -len(starts) % B
        starts += [rng.choice(starts) for _ in range(short)]  # fill the last batch instead of dropping it
        return offset, starts

    def sequential_plan(self, epoch: int) -> tuple[int, int]:
        """Sequential sampling: (offset, number of batches) for ``epoch``."""
        offset = self._offset(self._rng(epoch))
        n, T, B = len(self.ids), self.num_steps, self.batch_size
        per_row = (n - offset - 1) // B
        return offset, per_row // T

    def num_batches(self, epoch: int = 0) -> int:
        if self.sampling == "sequential":
            return self.sequential_plan(epoch)[1]
        return len(self.random_starts(epoch)[1]) // self.batch_size

    def __len__(self) -> int:
        """Batches in epoch 0 (other epochs may have one less or more: the offset changes)."""
        return self.num_batches(0)

    # -- batches --------------------------------------------------------------------------------------
    def epoch(self, epoch: int, start: int = 0) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """Yield ``(X, Y)`` of ``epoch``, skipping the first ``start`` batches (mid-epoch resume)."""
        T, B = self.num_steps, self.batch_size
        if self.sampling == "sequential":
            offset, n_batches = self.sequential_plan(epoch)
            n_tokens = ((len(self.ids) - offset - 1) // B) * B
            xs = self.ids[offset: offset + n_tokens].reshape(B, -1)
            ys = self.ids[offset + 1: offset + 1 + n_tokens].reshape(B, -1)
            for i in range(start, n_batches):
                yield xs[:, i * T:(i + 1) * T], ys[:, i * T:(i + 1) * T]
            return
        _, starts = self.random_starts(epoch)
        steps = torch.arange(T)
        for i in range(start, len(starts) // B):
            index = torch.tensor(starts[i * B:(i + 1) * B]).unsqueeze(1) + steps  # (B, T)
            yield self.ids[index], self.ids[index + 1]

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        return self.epoch(0)
