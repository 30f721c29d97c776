"""A C kernel built for each instruction set this CPU runs, not only its widest: what the tests of a kernel
with several SIMD paths (``linear_kernel.c``: AVX512-VNNI, AVX2, plain C) parametrize over, so that every
path is checked on a machine that has it, whatever path ``-march=native`` picks there."""

from __future__ import annotations

import ctypes
from pathlib import Path

import pytest

from seqkit import native

#: path -> the extra compiler flags that select it (besides -O3 -ffast-math -fPIC -shared), and the CPU flags it needs
PATHS = {
    "plain": (("-mno-avx512f", "-mno-avx2", "-mno-fma"), ()),
    "avx2": (("-mavx2", "-mfma", "-mno-avx512f"), ("avx2", "fma")),
    "avx512-vnni": (("-mavx2", "-mfma", "-mavx512f", "-mavx512bw", "-mavx512vnni"),
                    ("avx2", "fma", "avx512f", "avx512bw", "avx512_vnni")),
}


def _cpu_flags() -> set[str]:
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as fh:
            for line in fh:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def build(source: Path, path: str, signatures: dict) -> ctypes.CDLL:
    """``source`` compiled for ``path`` (one of :data:`PATHS`), its functions typed; skips the test where this
    CPU cannot run that path or no compiler builds it."""
    extra, needs = PATHS[path]
    missing = set(needs) - _cpu_flags()
    if missing:
        pytest.skip(f"this CPU has no {', '.join(sorted(missing))}: the kernel's {path} path cannot run here")
    lib = native.load_library(source, (("-O3", *extra, "-ffast-math", "-fPIC", "-shared"),))
    if lib is None:
        pytest.skip("no C compiler here: the kernels cannot be built")
    for name, (restype, argtypes) in signatures.items():
        fn = getattr(lib, name)
        fn.restype, fn.argtypes = restype, argtypes
    return lib
