"""seqkit's float32 kernel for calls of a few rows (:class:`~seqkit.seq2seq.linear_kernel.SmallRowsF32`)
against ``F.linear``; the int8 one is tested in ``test_int8.py``."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from seqkit.seq2seq import linear_kernel
from seqkit.seq2seq.linear_kernel import SmallRowsF32


@pytest.fixture(autouse=True)
def _built():
    if linear_kernel.load() is None:
        pytest.skip("no C compiler here: the linear kernels cannot be built")


@pytest.mark.parametrize("m,k,n", [(1, 256, 8000), (5, 256, 768), (7, 255, 1000), (13, 1024, 20), (3, 6, 3), (0, 8, 16)])
@pytest.mark.parametrize("relu", [False, True])
def test_the_float32_kernel_is_the_linear_layer(m, k, n, relu, linear_kernel_path):
    """Tiles of 1-6 rows and more, outputs not a multiple of 16 (the packing pads them), any k; each SIMD path."""
    torch.manual_seed(m + k + n)
    w, bias, x = torch.randn(n, k) * 0.05, torch.randn(n), torch.randn(m, k)
    want = F.linear(x.double(), w.double(), bias.double())
    got = SmallRowsF32(w, bias, relu)(x)
    assert got.shape == (m, n) and got.dtype == torch.float32
    torch.testing.assert_close(got.double(), want.clamp(min=0) if relu else want, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(SmallRowsF32(w)(x).double(), F.linear(x.double(), w.double()), rtol=1e-5, atol=1e-5)


def test_the_float32_kernel_refuses_what_it_cannot_read():
    layer = SmallRowsF32(torch.randn(20, 8))
    for bad in (torch.randn(3, 9), torch.randn(3, 8).double(), torch.randn(2, 3, 8)):
        with pytest.raises(ValueError, match="linear kernel takes"):
            layer(bad)
