"""Keep freed host memory for reuse instead of handing it back to the OS after every training step.

Why. A training step on a CPU allocates and frees the same large buffers every time (an RNN LM's
logits, their softmax and gradient are ``batch x steps x vocab`` floats: 16 MB each for PTB's
20 x 20 x 10k). glibc's ``malloc`` serves buffers that big with fresh ``mmap``s, or trims them off the
top of the heap when they are freed, so every step pays page faults to get the same memory back:
on the PTB "small" LSTM that is ~12k faults and a fifth of the step time (measured: 121 -> 95 ms per
update at one thread). Telling glibc to keep up to ``trim_mb`` of freed memory and to serve buffers up
to 32 MB from the heap removes the faults; the peak memory of the process does not change, it is just
not returned between steps.

The setting is process-wide and lasts for the life of the process (glibc has no way back to its
adaptive defaults). :class:`seqkit.train.Trainer` applies it when it trains on a CPU, and
:class:`seqkit.seq2seq.translator.Translator` when it decodes on one (beam search: 4-6% more sentences/s); set the
environment variable ``SEQKIT_KEEP_FREED_MEMORY=0`` to leave ``malloc`` alone. Outside glibc (macOS,
Windows, musl) it does nothing. The same effect is available to any program without seqkit through
glibc's own environment variables, ``MALLOC_TRIM_THRESHOLD_`` and ``MALLOC_MMAP_THRESHOLD_``.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import platform

import torch

_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # glibc's <malloc.h>
_MMAP_THRESHOLD_MAX = 32 << 20  # the largest value glibc accepts on 64-bit
_applied = False


def keep_freed_memory(device: torch.device | str | None = None, trim_mb: int = 512) -> bool:
    """Ask glibc to keep up to ``trim_mb`` MiB of freed memory; returns whether the setting is active.

    Idempotent. Nothing is done for a ``device`` other than the CPU (its big buffers are not in host
    memory), on platforms other than glibc, or with ``SEQKIT_KEEP_FREED_MEMORY=0``.
    """
    global _applied
    if _applied:
        return True
    if device is not None and torch.device(device).type != "cpu":
        return False
    if os.environ.get("SEQKIT_KEEP_FREED_MEMORY", "1") == "0" or platform.libc_ver()[0] != "glibc":
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    _applied = bool(mallopt(_M_TRIM_THRESHOLD, trim_mb << 20)) and bool(
        mallopt(_M_MMAP_THRESHOLD, _MMAP_THRESHOLD_MAX))
    return _applied
