"""Fixtures of the seq2seq tests."""

from __future__ import annotations

import pytest
from kernel_builds import PATHS, build

from seqkit.seq2seq import linear_kernel


@pytest.fixture(params=sorted(PATHS))
def linear_kernel_path(request, monkeypatch):
    """``linear_kernel.c`` built for each SIMD path this CPU runs (plain C, AVX2, AVX512-VNNI), in turn, as the
    library the layers made during the test use; the path's name."""
    lib = build(linear_kernel._SOURCE, request.param, linear_kernel._SIGNATURES)
    assert lib.linear_kernel_simd() == {"plain": 0, "avx2": 1, "avx512-vnni": 2}[request.param]
    monkeypatch.setattr(linear_kernel, "load", lambda: lib)
    return request.param
