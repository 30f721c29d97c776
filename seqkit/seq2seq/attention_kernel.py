"""The decoder's attention at inference in C (``attention_kernel.c``, built by :mod:`seqkit.native` at first use).

At decoding shapes -- one new position per hypothesis, a few dozen keys -- ``F.scaled_dot_product_attention``'s
fused CPU kernel costs about 1 us per row and head whatever the work, and beam search used to copy every
layer's cached keys and values at each reorder. Two loops replace them, one call per layer and step:

* ``decode_attention`` (:class:`~seqkit.seq2seq.kv_cache.KVCache`): self-attention over the cache read
  by reference, the new keys and values written on the way.
* :func:`memory_attention`: cross-attention of a sentence's hypotheses over its encoder memory, each key
  read once for the group.

Measured on the 2-core AMD EPYC, one thread (microbenchmarks, float32): self-attention with its reorder
3-5x less time (750 rows, 4 heads of 64, 3 layers, positions 1-35); cross-attention 1.6-2x (150-300
sentences x 5 hypotheses over 20-25 positions). The numbers equal SDPA's up to float rounding (about 1e-6).
They run on CPU float32 tensors with autograd off, on one thread, when torch has at most
:data:`KERNEL_THREADS` threads; everything else, and ``SEQKIT_ATTENTION_KERNEL=0``, or a machine without a
C compiler, takes the torch path (``tests/seq2seq/test_kv_cache.py`` holds both to attention written out
by hand). Why the thread limit: splitting a call's rows among Python threads (ctypes lets go of the GIL)
gained nothing at 2 threads (1.00x int8, 1.02x float32), because torch's OpenMP workers spin between
operators and hold the other core (with ``OMP_WAIT_POLICY=PASSIVE`` the split gained 1.13x, but
everything else lost more); and at many threads SDPA and the gather run in parallel while one kernel
thread would not. At 2 threads the kernels are still ahead: 400 Multi30k test sentences in one process,
the kernels against the torch path in turns, int8 1.21x and float32 1.26x (1.46x int8 on one thread);
more cores could not be measured here.
"""

from __future__ import annotations

import ctypes
import math
from pathlib import Path

import torch
from torch import Tensor

from seqkit.native import kernel

_SOURCE = Path(__file__).with_name("attention_kernel.c")
_P, _I64, _F = ctypes.c_void_p, ctypes.c_int64, ctypes.c_float
_SIGNATURES = {
    "decode_attention": (ctypes.c_int, [_I64, _I64, _I64, _I64, _P, _I64, _P, _I64, _I64, _I64, _P, _I64, _P, _I64, _F]),
    "memory_attention": (ctypes.c_int, [_I64, _I64, _I64, _I64, _P, _I64, _P, _P, _I64, _I64, _I64, _P, _P, _I64, _F]),
}


def load() -> ctypes.CDLL | None:
    """The compiled kernels, or None (no compiler, or ``SEQKIT_ATTENTION_KERNEL=0``)."""
    return kernel(_SOURCE, "SEQKIT_ATTENTION_KERNEL", _SIGNATURES)


#: the kernels run while torch has at most this many threads (see the module docstring)
KERNEL_THREADS = 2


def may_run(*tensors: Tensor) -> bool:
    """Whether seqkit's one-thread C kernels (these, beam search's and int8's) may run on ``tensors``: CPU
    float32, autograd off, at most :data:`KERNEL_THREADS` torch threads."""
    return not (torch.is_grad_enabled() or torch.get_num_threads() > KERNEL_THREADS
                or any(t.device.type != "cpu" or t.dtype != torch.float32 for t in tensors))


def usable(*tensors: Tensor) -> ctypes.CDLL | None:
    """The kernels, if they :func:`may_run` on ``tensors``, else None."""
    return load() if may_run(*tensors) else None


def check(code: int) -> None:
    if code:
        raise MemoryError("out of memory in the decoder's attention kernel")


def memory_attention(q: Tensor, k: Tensor, v: Tensor, lengths: Tensor, heads: int) -> Tensor | None:
    """Cross-attention: ``q`` (B, L, d) projected queries, the L rows of sentence b attending over
    ``k``, ``v`` (B, H, S, dh) at positions ``[:lengths[b]]`` -> (B, L, d); None where the kernel cannot
    run (the caller takes SDPA)."""
    lib = usable(q, k, v)
    b, rows, d = q.shape
    if (lib is None or k.shape != v.shape or k.stride() != v.stride() or k.stride(3) != 1 or lengths.shape != (b,)
            or k.shape[:2] != (b, heads) or k.shape[3] * heads != d):
        return None
    q = q.contiguous()
    lengths = lengths.to(torch.int64).clamp(0, k.shape[2]).contiguous()  # never past the memory's end
    out = q.new_empty((b, rows, d))
    head_dim = d // heads
    check(lib.memory_attention(b, rows, heads, head_dim, q.data_ptr(), d, k.data_ptr(), v.data_ptr(), k.stride(0),
                               k.stride(1), k.stride(2), lengths.data_ptr(), out.data_ptr(), d,
                               1.0 / math.sqrt(head_dim)))
    return out
