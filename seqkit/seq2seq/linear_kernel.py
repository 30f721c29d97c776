"""Linear layers for calls of a few rows, in int8 and in float32 (``linear_kernel.c``, built by
:mod:`seqkit.native` at first use).

A beam step of one sentence multiplies five rows by each weight of the model. torch's kernels pay fixed
costs there (fbgemm's int8 call 15-20 us whatever the size) or fetch the weights slowly (oneDNN's float32),
so the step's products cost 2-3x their arithmetic. :class:`SmallRows` (int8 weights, each row of ``x``
quantized on its own) and :class:`SmallRowsF32` hold a layer's weights packed for the C loops, which keep a
tile of sums in registers while the weights stream past once. :class:`~seqkit.seq2seq.int8.Int8Linear`
and :class:`~seqkit.seq2seq.packed.PackedLinear` hold them where :func:`vectorized` (the loops are built with
AVX512-VNNI or with AVX2 and FMA, as on most laptops of the last ten years; their plain C versions are there
for the tests) and run them where :func:`takes`; ``SEQKIT_LINEAR_KERNEL=0`` (read when a layer is made)
turns them off. The int8 sums are exact in both builds, so they give the same numbers.
"""

from __future__ import annotations

import ctypes
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor

from seqkit.native import kernel
from seqkit.seq2seq.attention_kernel import may_run

#: with two torch threads, calls of at most this many rows run these kernels (a beam step of up to six
#: sentences); above, torch's kernels run, on both cores. With one thread every call runs them (see :func:`takes`)
SMALL_ROWS = 32

#: the most rows a call runs the AVX2 build's kernels, at any thread count (above, torch's are the faster; 2-core
#: AMD EPYC, Zen 3, the base model's five shapes summed, one thread): int8 one tile of 6 rows -- its exact int16
#: pair products take twice the multiplies of fbgemm's u8 x s8 pairs: 0.65x fbgemm's time at 5 rows, 1.2x at 8,
#: 1.5x at 16 --, float32 SMALL_ROWS (0.5-0.7x oneDNN's time up to 16 rows, 0.9-1.0x at 24-48, 1.1-1.3x from 64)
AVX2_ROWS = {"int8_linear": 6, "f32_linear": SMALL_ROWS}

_SOURCE = Path(__file__).with_name("linear_kernel.c")
_P, _I64 = ctypes.c_void_p, ctypes.c_int64
_PRODUCT = (ctypes.c_int, [_I64, _I64, _I64, _P, _I64, _P, _P, _P, _P, ctypes.c_int, _P, _I64])
_SIGNATURES = {"int8_linear": _PRODUCT, "f32_linear": _PRODUCT, "linear_kernel_simd": (ctypes.c_int, []),
               "linear_kernel_int8_block": (ctypes.c_int, [])}


def load() -> ctypes.CDLL | None:
    """The compiled kernels, or None (no compiler, or ``SEQKIT_LINEAR_KERNEL=0``)."""
    return kernel(_SOURCE, "SEQKIT_LINEAR_KERNEL", _SIGNATURES)


def takes(rows: int, x: Tensor, max_rows: int | None = None) -> bool:
    """Whether a call of ``rows`` rows of ``x`` runs these kernels (rather than torch's): where
    :func:`~seqkit.seq2seq.attention_kernel.may_run` (CPU float32, autograd off, at most two torch threads),
    with two threads at most :data:`SMALL_ROWS` rows, and at most ``max_rows`` (a layer's
    :attr:`_Packed.max_rows`: the AVX2 build's :data:`AVX2_ROWS`).

    Measured on the Multi30k base model, beam 5, 400 test sentences in one call, row limits switched in
    one process in turns (2-core AMD EPYC with AVX512-VNNI). One thread: every call against calls of at
    most 256 rows 1.13x in int8, 1.06x in float32, and 256 against 32 rows 1.05x and 1.04x (the output
    projection alone, every call against none: 1.04x and 1.01x). Two threads, where torch's kernels use both
    cores: every call against at most 32 rows 0.84x and 0.70x, while one sentence at a time (every call
    small) the kernels gain 2.0x and 1.7x over torch's."""
    return (may_run(x) and (rows <= SMALL_ROWS or torch.get_num_threads() == 1)
            and (max_rows is None or rows <= max_rows))


def vectorized() -> bool:
    """Whether layers made now run their small calls through these kernels: they are built with their
    AVX512-VNNI or AVX2 loops."""
    lib = load()
    return lib is not None and lib.linear_kernel_simd() > 0


def _built() -> ctypes.CDLL:
    """The compiled kernels; ``RuntimeError`` where they are not built."""
    lib = load()
    if lib is None:
        raise RuntimeError("seqkit's linear kernels are not built here")
    return lib


class _Packed:
    """A layer's weights in a kernel's layout, and the call (see the subclasses)."""

    _function = ""

    def __init__(self, packed: Tensor, rowsum: Tensor | None, scales: Tensor | None, bias: Tensor | None,
                 shape: tuple[int, int], relu: bool, block: int = 16) -> None:
        self.packed, self.rowsum, self.scales, self.block = packed, rowsum, scales, block
        self.bias = None if bias is None else bias.detach().float().contiguous()
        (self.out_features, self.in_features), self.relu = shape, relu
        self._bind()

    def _bind(self) -> None:
        lib = _built()
        if self.block != self._block(lib):  # a pickle from a CPU whose build packs otherwise
            raise RuntimeError(f"this layer was packed in blocks of {self.block} outputs, this CPU's kernel reads "
                               f"{self._block(lib)}")
        self.function = getattr(lib, self._function)
        #: the most rows a call runs this kernel (None: any, as :func:`takes` says)
        self.max_rows = AVX2_ROWS[self._function] if lib.linear_kernel_simd() == 1 else None
        self._weights = tuple(None if t is None else t.data_ptr() for t in (self.packed, self.rowsum, self.scales, self.bias))

    @staticmethod
    def _block(lib: ctypes.CDLL) -> int:
        return 16

    def __getstate__(self) -> dict:  # copies and pickles hold the tensors, not the pointers into them
        return {k: v for k, v in self.__dict__.items() if k not in ("function", "_weights")}

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._bind()

    def apply(self, x: Tensor) -> Tensor | None:
        """x (..., K) -> (..., N) through the kernel where it :func:`takes` this call, else None (the layer
        runs torch's)."""
        rows = x.numel() // self.in_features if self.in_features else 0
        if x.shape[-1] != self.in_features or not takes(rows, x, self.max_rows):
            return None
        return self(x.reshape(rows, self.in_features)).view(*x.shape[:-1], self.out_features)

    def __call__(self, x: Tensor) -> Tensor:
        """x (M, K) float32 -> (M, N)."""
        if x.dim() != 2 or x.shape[1] != self.in_features or x.dtype != torch.float32:
            raise ValueError(f"the linear kernel takes (M, {self.in_features}) float32, not {tuple(x.shape)} {x.dtype}")
        x = x.contiguous()
        m, n = x.shape[0], self.out_features
        out = x.new_empty((m, n))
        if self.function(m, n, self.in_features, x.data_ptr(), self.in_features, *self._weights, int(self.relu),
                         out.data_ptr(), n):
            raise MemoryError("out of memory in the linear kernel")
        return out


class SmallRows(_Packed):
    """An int8 layer for calls of a few rows: ``x (M, K) float32 -> (M, N)``, plus ``bias``, then ReLU when
    ``relu``; ``linear_kernel.c``'s header says the arithmetic (each row of ``x`` quantized on its own, to
    0..255 with a zero point). ``rows`` (N, K) int8 and ``scales`` (N,) as
    :func:`~seqkit.seq2seq.int8.quantize_rows` makes them, packed here in the kernel's layout (N padded to a
    multiple of the build's block B -- 16 outputs with AVX512-VNNI, 8 with AVX2 --, K to one of 4, as blocks
    of B outputs ``[K / 4][B][4]``) with each padded row's sum. Raises ``RuntimeError`` where the kernels
    are not built."""

    _function = "int8_linear"

    def __init__(self, rows: Tensor, scales: Tensor, bias: Tensor | None = None, relu: bool = False) -> None:
        n, k, block = *rows.shape, self._block(_built())
        padded = F.pad(rows, (0, -k % 4, 0, -n % block))
        packed = padded.view(padded.shape[0] // block, block, -1, 4).permute(0, 2, 1, 3).contiguous()
        super().__init__(packed, padded.sum(1, dtype=torch.int32), scales.float().contiguous(), bias, (n, k), relu,
                         block)

    @staticmethod
    def _block(lib: ctypes.CDLL) -> int:
        return int(lib.linear_kernel_int8_block())


class SmallRowsF32(_Packed):
    """A float32 layer for calls of a few rows: ``x (M, K) -> x W^T + bias (M, N)``, then ReLU when ``relu``;
    ``weight`` (N, K) is packed here as blocks of 16 outputs ``[K][16]`` (N padded to a multiple of 16). The
    sums run in another order than torch's (differences of about 1e-6 relative)."""

    _function = "f32_linear"

    def __init__(self, weight: Tensor, bias: Tensor | None = None, relu: bool = False) -> None:
        n, k = weight.shape
        padded = F.pad(weight.detach().float(), (0, 0, 0, -n % 16))
        packed = padded.view(padded.shape[0] // 16, 16, k).transpose(1, 2).contiguous()
        super().__init__(packed, None, None, bias, (n, k), relu)
