"""The compiled word2vec inner loop: ``sgns_kernel.c``, built by :mod:`seqkit.native` at first use.

When no compiler works, :func:`load_kernel` returns ``None`` and word2vec falls back to the pure-torch
trainer (``SEQKIT_W2V_KERNEL=0`` forces that fallback).
"""

from __future__ import annotations

import ctypes
from pathlib import Path

import numpy as np

from seqkit.native import kernel

_SOURCE = Path(__file__).with_name("sgns_kernel.c")
_f32p = np.ctypeslib.ndpointer(np.float32, flags="C_CONTIGUOUS")
_i32p = np.ctypeslib.ndpointer(np.int32, flags="C_CONTIGUOUS")
_i64p = np.ctypeslib.ndpointer(np.int64, flags="C_CONTIGUOUS")
_f64p = np.ctypeslib.ndpointer(np.float64, flags="C_CONTIGUOUS")
_SIGNATURES = {
    "sgns_train_chunk": (ctypes.c_int, [
        _f32p, _f32p, ctypes.c_int,
        _i32p, _i64p, ctypes.c_int64, ctypes.c_int64,
        _f32p, _f32p, _i32p, ctypes.c_int64,
        ctypes.c_int, ctypes.c_int, ctypes.c_int,
        ctypes.c_float, ctypes.c_float, ctypes.c_int64, _i64p,
        ctypes.c_uint64, ctypes.c_int, _f64p,
    ]),
    "sgns_draw_noise": (None, [_f32p, _i32p, ctypes.c_int64, ctypes.c_uint64, ctypes.c_int64, _i32p]),
    "sgns_subsample": (ctypes.c_int64, [_i32p, ctypes.c_int64, _f32p, ctypes.c_uint64, _i32p]),
}


def load_kernel() -> ctypes.CDLL | None:
    """The compiled kernel, or ``None`` when it cannot be built here (then torch is used)."""
    return kernel(_SOURCE, "SEQKIT_W2V_KERNEL", _SIGNATURES)
