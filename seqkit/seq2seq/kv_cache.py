"""The decoder's self-attention keys and values for incremental decoding, reordered by reference.

A Transformer decoding one position per step keeps every layer's keys and values of the positions so
far (a *KV cache*), so a step costs O(t) instead of recomputing the prefix. Beam search reorders its
hypotheses at every step (each new one continues a parent) and drops finished sentences; moving the
keys and values with them copied rows x t x layers x 2 x d floats a step (11% of an int8 decode of
the Multi30k test set). :class:`KVCache` moves none of them:

* ``data`` (slots, capacity, layers, 2, H, dh): at step t, live row j writes its keys and values of
  every layer to slot j, position t; nothing written is moved or overwritten afterwards.
* ``origin`` (rows, capacity) int32: for each live row and earlier position, the slot holding that
  position's keys and values. A reorder gathers these ints (:meth:`KVCache.select`): one number where
  the keys and values are layers x 2 x d (1,536 for the base model). NVIDIA FasterTransformer calls this
  cache indirection.

Attention reads the keys through ``origin``. On a CPU, :mod:`seqkit.seq2seq.attention_kernel` does a
layer's whole step in one C call: write the new keys and values, scores, softmax, weighted sum (3-5x
less time than the reorder plus SDPA per layer). Elsewhere (another device or dtype, autograd on, no
compiler, or ``SEQKIT_ATTENTION_KERNEL=0``) one gather per step puts every layer's earlier keys and
values in row order and SDPA attends over them; the two differ only by float rounding
(``tests/seq2seq/test_kv_cache.py``).

``in_place`` (after ``state.reserve``, which the searches call): one buffer sized for the whole search;
a step writes into it and :meth:`KVCache.select` gathers ``origin`` into a spare, so only the newest state
is valid. Otherwise every step first copies the filled part, in row order, into a new buffer: states a
caller keeps never see later writes, and it may branch from any of them.
"""

from __future__ import annotations

import ctypes
import math

import torch
import torch.nn.functional as F
from torch import Tensor

from seqkit.seq2seq import attention_kernel


class KVCache:
    """Every decoder layer's self-attention keys and values, read through ``origin`` (see the module
    docstring). The owner (:class:`~seqkit.seq2seq.transformer.TransformerState`) tracks the live rows
    ``n`` and the filled positions ``step``."""

    def __init__(self, data: Tensor, origin: Tensor, in_place: bool) -> None:
        self.data, self.origin, self.in_place = data, origin, in_place
        self._spare: Tensor | None = None  # origin's other buffer (in place)
        self._ordered: Tensor | None = None  # without the kernel: this step's keys and values in row order
        self._lib: ctypes.CDLL | None = None

    @classmethod
    def empty(cls, rows: int, capacity: int, layers: int, heads: int, head_dim: int, like: Tensor,
              in_place: bool) -> KVCache:
        """Room for ``rows`` rows and ``capacity`` positions, in ``like``'s dtype and device."""
        return cls(like.new_empty((rows, capacity, layers, 2, heads, head_dim)),
                   torch.empty((rows, capacity), dtype=torch.int32, device=like.device), in_place)

    @property
    def capacity(self) -> int:
        return self.data.shape[1]

    def ordered(self, n: int, step: int) -> Tensor:
        """Rows ``[:n]``' keys and values at positions ``[:step]``, gathered in row order:
        (n, step, layers, 2, H, dh), a new tensor."""
        slots, capacity = self.data.shape[:2]
        index = self.origin[:n, :step].long() * capacity + torch.arange(step, device=self.data.device)
        flat = self.data.view(slots * capacity, -1)
        return flat.index_select(0, index.view(-1)).view(n, step, *self.data.shape[2:])

    def copy(self, n: int, step: int, capacity: int, in_place: bool) -> KVCache:
        """A new cache of ``n`` slots and ``capacity`` positions holding rows ``[:n]``' positions
        ``[:step]`` in row order (row j in slot j)."""
        layers, _, heads, head_dim = self.data.shape[2:]
        out = KVCache.empty(n, capacity, layers, heads, head_dim, self.data, in_place)
        if step:
            out.data[:, :step] = self.ordered(n, step)
            out.origin[:, :step] = torch.arange(n, dtype=torch.int32, device=self.data.device).unsqueeze(1)
        return out

    def room(self, n: int, step: int, end: int) -> KVCache:
        """A cache in which rows ``[:n]`` can write positions ``[step:end]``: this one when it writes in
        place and has the slots and positions, else a :meth:`copy` (in place: twice the positions when
        they run out)."""
        if not self.in_place:
            return self.copy(n, step, end, False)
        if self.capacity >= end and self.data.shape[0] >= n:
            return self
        return self.copy(n, step, self.capacity if self.capacity >= end else max(end, 2 * self.capacity), True)

    def select(self, index: Tensor, step: int) -> KVCache:
        """Rows ``index`` (of the live ones), as rows ``[:len(index)]``: their ``origin`` gathered (the
        keys and values stay where they are). In place into the spare buffer (this object is returned),
        else a new cache sharing ``data``."""
        source = self.origin[:, :step]
        if not self.in_place:
            return KVCache(self.data, source.index_select(0, index), False)
        m = index.numel()
        if self._spare is None or self._spare.shape[0] < m or self._spare.shape[1] != self.origin.shape[1]:
            self._spare = self.origin.new_empty((max(m, self.origin.shape[0]), self.origin.shape[1]))
        torch.index_select(source, 0, index, out=self._spare[:m, :step])
        self.origin, self._spare = self._spare, self.origin
        return self

    def start_step(self, n: int, pos: int) -> None:
        """Before the layers of step ``pos`` (one new position for each of rows ``[:n]``): position ``pos``
        of row j will be slot j's; without the kernel, every layer's earlier keys and values are gathered
        in row order here, once for all layers."""
        self.origin[:n, pos] = torch.arange(n, dtype=torch.int32, device=self.origin.device)
        self._lib = attention_kernel.usable(self.data)
        if self._lib is None:  # position `pos` too (not written yet): each layer fills in its own
            self._ordered = self.ordered(n, pos + 1)

    def attend(self, layer: int, qkv: Tensor, pos: int, heads: int) -> Tensor:
        """Self-attention of the new position of rows ``[:n]`` over their positions ``[:pos + 1]`` in
        layer ``layer``, after writing its keys and values: ``qkv`` (n, 1, 3d) the fused projection
        ``[q | k | v]`` -> (n, 1, d). Call :meth:`start_step` first."""
        n, d = qkv.shape[0], qkv.shape[-1] // 3
        head_dim = d // heads
        slots, capacity, layers, _, cached_heads, cached_dim = self.data.shape
        if (qkv.shape[1:] != (1, 3 * d) or n > min(slots, self.origin.shape[0]) or not 0 <= pos < capacity
                or not 0 <= layer < layers or (heads, head_dim) != (cached_heads, cached_dim)):
            raise ValueError(f"a step of {tuple(qkv.shape)} at position {pos} does not fit this cache "
                             f"{tuple(self.data.shape)}")
        if self._lib is not None:
            qkv = qkv.float().contiguous()
            out = qkv.new_empty((n, 1, d))
            stride = self.data.stride()
            attention_kernel.check(self._lib.decode_attention(
                n, heads, head_dim, pos, qkv.data_ptr(), qkv.stride(0), self.data[:, :, layer].data_ptr(),
                stride[0], stride[1], stride[3], self.origin.data_ptr(), self.origin.stride(0), out.data_ptr(), d,
                1.0 / math.sqrt(head_dim)))
            return out
        new = qkv[:, 0, d:].reshape(n, 2, heads, head_dim)
        self.data[:n, pos, layer] = new
        self._ordered[:, pos, layer] = new
        q = qkv[:, :, :d].reshape(n, 1, heads, head_dim).transpose(1, 2)
        k, v = self._ordered[:, :, layer, 0].transpose(1, 2), self._ordered[:, :, layer, 1].transpose(1, 2)
        return F.scaled_dot_product_attention(q, k.to(q.dtype), v.to(q.dtype)).transpose(1, 2).reshape(n, 1, d)

    def layer(self, index: int) -> CacheLayer:
        return CacheLayer(self, index)


class CacheLayer:
    """One decoder layer's part of a :class:`KVCache`, what its self-attention is handed."""

    __slots__ = ("cache", "index")

    def __init__(self, cache: KVCache, index: int) -> None:
        self.cache, self.index = cache, index

    def attend(self, qkv: Tensor, pos: int, heads: int) -> Tensor:
        return self.cache.attend(self.index, qkv, pos, heads)
