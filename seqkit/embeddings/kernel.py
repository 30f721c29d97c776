"""The compiled word2vec inner loop: build ``sgns_kernel.c`` with the system C compiler at first use.

The shared library is cached under ``$SEQKIT_CACHE/kernels`` (default ``~/.cache/seqkit``), keyed by
the source, the compiler flags and the CPU, so a source change or another machine recompiles. ctypes
releases the GIL during the call, which is what lets several Python threads train at once.
When no compiler works, :func:`load_kernel` returns ``None`` and word2vec falls back to the pure-torch
trainer (``SEQKIT_W2V_KERNEL=0`` forces that fallback).
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import platform
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from seqkit.io import cache_dir

_SOURCE = Path(__file__).with_name("sgns_kernel.c")
# -ffast-math lets gcc vectorise the dot-product reduction; -march=native uses the CPU's widest SIMD.
_FLAG_SETS = (
    ["-O3", "-march=native", "-ffast-math", "-fPIC", "-shared"],
    ["-O3", "-ffast-math", "-fPIC", "-shared"],
)
_kernel: ctypes.CDLL | None = None
_tried = False

_f32p = np.ctypeslib.ndpointer(np.float32, flags="C_CONTIGUOUS")
_i32p = np.ctypeslib.ndpointer(np.int32, flags="C_CONTIGUOUS")
_i64p = np.ctypeslib.ndpointer(np.int64, flags="C_CONTIGUOUS")
_f64p = np.ctypeslib.ndpointer(np.float64, flags="C_CONTIGUOUS")


def kernel_dir() -> Path:
    return cache_dir() / "kernels"


def _cpu_id() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as fh:
            for line in fh:
                if line.startswith(("model name", "flags")):
                    return line
    except OSError:
        pass
    return platform.processor()


def _compile(flags: list[str]) -> Path | None:
    compiler = os.environ.get("CC") or shutil.which("gcc") or shutil.which("cc")
    if compiler is None:
        return None
    source = _SOURCE.read_bytes()
    key = hashlib.sha256(source + " ".join(flags).encode() + _cpu_id().encode() + platform.machine().encode())
    target = kernel_dir() / f"sgns_{key.hexdigest()[:16]}.so"
    if target.exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    # compile to a temporary name, then rename: concurrent first uses never load a half-written library
    fd, tmp = tempfile.mkstemp(suffix=".so", dir=target.parent)
    os.close(fd)
    try:
        result = subprocess.run([compiler, *flags, "-o", tmp, str(_SOURCE), "-lm"],
                                capture_output=True, text=True, timeout=120)
        if result.returncode != 0:
            return None
        os.replace(tmp, target)
        return target
    except (OSError, subprocess.SubprocessError):
        return None
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def load_kernel() -> ctypes.CDLL | None:
    """The compiled kernel, or ``None`` when it cannot be built here (then torch is used)."""
    global _kernel, _tried
    if _tried:
        return _kernel
    _tried = True
    if os.environ.get("SEQKIT_W2V_KERNEL", "1") == "0":
        return None
    for flags in _FLAG_SETS:
        path = _compile(flags)
        if path is None:
            continue
        try:
            lib = ctypes.CDLL(str(path))
        except OSError:
            continue
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
    return None
