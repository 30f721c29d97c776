"""The compiled word2vec inner loop: ``sgns_kernel.c``, built by :mod:`seqkit.native` at first use.

When no compiler works, :func:`load_kernel` returns ``None`` and word2vec falls back to the pure-torch
trainer (``SEQKIT_W2V_KERNEL=0`` forces that fallback).
"""

from __future__ import annotations

import ctypes
import os
from pathlib import Path

import numpy as np

from seqkit.native import load_library

_SOURCE = Path(__file__).with_name("sgns_kernel.c")
_kernel: ctypes.CDLL | None = None
_tried = False

_f32p = np.ctypeslib.ndpointer(np.float32, flags="C_CONTIGUOUS")
_i32p = np.ctypeslib.ndpointer(np.int32, flags="C_CONTIGUOUS")
_i64p = np.ctypeslib.ndpointer(np.int64, flags="C_CONTIGUOUS")
_f64p = np.ctypeslib.ndpointer(np.float64, flags="C_CONTIGUOUS")


def load_kernel() -> ctypes.CDLL | None:
    """The compiled kernel, or ``None`` when it cannot be built here (then torch is used)."""
    global _kernel, _tried
    if _tried:
        return _kernel
    _tried = True
    if os.environ.get("SEQKIT_W2V_KERNEL", "1") == "0":
        return None
    lib = load_library(_SOURCE)
    if lib is None:
        return None
    lib.sgns_train_chunk.restype = ctypes.c_int
    lib.sgns_train_chunk.argtypes = [
        _f32p, _f32p, ctypes.c_int,
        _i32p, _i64p, ctypes.c_int64, ctypes.c_int64,
        _f32p, _f32p, _i32p, ctypes.c_int64,
        ctypes.c_int, ctypes.c_int, ctypes.c_int,
        ctypes.c_float, ctypes.c_float, ctypes.c_int64, _i64p,
        ctypes.c_uint64, ctypes.c_int, _f64p,
    ]
    lib.sgns_draw_noise.restype = None
    lib.sgns_draw_noise.argtypes = [_f32p, _i32p, ctypes.c_int64, ctypes.c_uint64, ctypes.c_int64, _i32p]
    lib.sgns_subsample.restype = ctypes.c_int64
    lib.sgns_subsample.argtypes = [_i32p, ctypes.c_int64, _f32p, ctypes.c_uint64, _i32p]
    _kernel = lib
    return lib
