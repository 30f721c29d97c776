"""Per-row sequences that grow one step at a time in preallocated storage, reordered by one gather.

A search keeps, for every live row of its batch (a sentence, or a beam hypothesis), what the earlier
steps produced: the output tokens, the attention weights (the Transformer's keys and values, far larger,
are reordered by reference instead: :mod:`seqkit.seq2seq.kv_cache`).
:class:`PrefixBuffer` holds them in one tensor sized for the longest output once, so a step writes its
position in place instead of concatenating (which copies everything so far), and reordering the rows
(beam search picking parents, finished rows leaving) is one ``index_select`` of the filled prefix into a
spare buffer of the same size, after which the two swap. Nothing is allocated per step.

``in_place=False`` gives the functional behaviour instead, for callers that keep earlier states and
branch from them: a step that needs room and every reorder make new tensors, so nothing an earlier
state sees is ever overwritten.
"""

from __future__ import annotations

import torch
from torch import Tensor


class PrefixBuffer:
    """``data`` (rows, ...) with the step axis ``axis``; the owner tracks how many rows (``n``) and steps
    (``length``) are filled: rows ``[:n]``, steps ``[:length]``."""

    def __init__(self, data: Tensor, axis: int, in_place: bool = True) -> None:
        self.data, self.axis, self.in_place = data, axis, in_place
        self._spare: Tensor | None = None

    @property
    def capacity(self) -> int:
        return self.data.shape[self.axis]

    def filled(self, n: int, length: int) -> Tensor:
        """The filled part: rows ``[:n]``, steps ``[:length]`` (a view)."""
        return self.data[:n].narrow(self.axis, 0, length)

    def room(self, n: int, length: int, end: int) -> PrefixBuffer:
        """A buffer with room for steps ``[:end]`` of ``n`` rows that holds this one's filled part: this
        one if it writes in place and has the room, else a new one (twice the capacity in place)."""
        if self.in_place and self.capacity >= end and self.data.shape[0] >= n:
            return self
        return self.resized(n, length, max(end, 2 * self.capacity) if self.in_place else end, self.in_place)

    def resized(self, n: int, length: int, capacity: int, in_place: bool) -> PrefixBuffer:
        """A new buffer of ``n`` rows and ``capacity`` steps holding this one's filled part."""
        shape = list(self.data.shape)
        shape[0], shape[self.axis] = n, capacity
        grown = PrefixBuffer(self.data.new_empty(shape), self.axis, in_place)
        grown.filled(n, length).copy_(self.filled(n, length))
        return grown

    def select(self, index: Tensor, length: int) -> PrefixBuffer:
        """Rows ``index`` (of the filled ones), steps ``[:length]``, as rows ``[:len(index)]``. In place:
        one gather into the spare buffer, which then becomes ``data``; this object is returned."""
        source = self.data.narrow(self.axis, 0, length)
        if not self.in_place:
            return PrefixBuffer(source.index_select(0, index), self.axis, False)
        m = index.numel()
        spare = self._spare
        if spare is None or spare.shape[0] < m or spare.shape[1:] != self.data.shape[1:]:
            shape = list(self.data.shape)
            shape[0] = max(m, shape[0])
            self._spare = self.data.new_empty(shape)
        torch.index_select(source, 0, index, out=self._spare[:m].narrow(self.axis, 0, length))
        self.data, self._spare = self._spare, self.data
        return self
