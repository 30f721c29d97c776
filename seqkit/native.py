"""Small C kernels, compiled with the system C compiler at first use and loaded through ctypes.

Where numpy's whole-array operations cannot express a loop without many passes over memory (the
word2vec update, the n-gram backoff walk), seqkit ships the loop as a short C file beside the Python
module that calls it. :func:`load_library` compiles it once into ``$SEQKIT_CACHE/kernels`` (default
``~/.cache/seqkit``), keyed by the source, the compiler flags and the CPU, so a source change or
another machine recompiles. ctypes releases the GIL during a call, so several Python threads can run
kernels at once. When no compiler works it returns ``None`` and the caller uses its numpy or torch
path, which the tests prove equal.
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

from seqkit.io import cache_dir

# -ffast-math lets gcc vectorise reductions; -march=native uses the CPU's widest SIMD. The second set
# is for compilers or CPUs that refuse the first.
FLAG_SETS = (
    ("-O3", "-march=native", "-ffast-math", "-fPIC", "-shared"),
    ("-O3", "-ffast-math", "-fPIC", "-shared"),
)


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


def _compile(source: Path, flags: tuple[str, ...]) -> Path | None:
    compiler = os.environ.get("CC") or shutil.which("gcc") or shutil.which("cc")
    if compiler is None:
        return None
    text = source.read_bytes()
    key = hashlib.sha256(text + " ".join(flags).encode() + _cpu_id().encode() + platform.machine().encode())
    target = kernel_dir() / f"{source.stem}_{key.hexdigest()[:16]}.so"
    if target.exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    # compile to a temporary name, then rename: concurrent first uses never load a half-written library
    fd, tmp = tempfile.mkstemp(suffix=".so", dir=target.parent)
    os.close(fd)
    try:
        result = subprocess.run([compiler, *flags, "-o", tmp, str(source), "-lm"],
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


def load_library(source: Path, flag_sets: tuple[tuple[str, ...], ...] = FLAG_SETS) -> ctypes.CDLL | None:
    """``source`` (a C file) compiled and loaded, or ``None`` when no compiler can build it here; the first
    of ``flag_sets`` that works is used (the tests build a kernel's plain and narrower SIMD variants)."""
    for flags in flag_sets:
        try:
            path = _compile(source, flags)
        except OSError:  # an unwritable cache folder
            return None
        if path is None:
            continue
        try:
            return ctypes.CDLL(str(path))
        except OSError:
            continue
    return None


_LOADED: dict[Path, ctypes.CDLL | None] = {}


def kernel(source: Path, switch: str, signatures: dict[str, tuple[object, list]]) -> ctypes.CDLL | None:
    """``source`` compiled and loaded once per process, its functions typed by ``signatures``
    (``name -> (restype, argtypes)``); ``None`` when no compiler can build it, or when the environment
    variable ``switch`` is ``0`` (the caller's numpy or torch path runs instead)."""
    if os.environ.get(switch, "1") == "0":
        return None
    if source not in _LOADED:
        lib = load_library(source)
        if lib is not None:
            for name, (restype, argtypes) in signatures.items():
                fn = getattr(lib, name)
                fn.restype, fn.argtypes = restype, argtypes
        _LOADED[source] = lib
    return _LOADED[source]
