"""int8 inference on x86 CPUs: the layers ``--quantize int8`` (:func:`~seqkit.seq2seq.translator.quantize_model`)
puts in a model.

* :class:`Int8Linear`: ``x W^T + b`` with ``W`` int8, one scale per output row (symmetric, ``max |row| / 127``),
  and ``x`` quantized to uint8 on the fly, per call (per tensor: torch's dynamic quantization,
  ``torch.ops.quantized.linear_dynamic``; int32 accumulation, float output). The weight is packed for
  torch's fbgemm kernels and -- the output projection over the vocabulary, on CPUs with VNNI (``avx512_vnni``
  / ``avx_vnni``) -- also for oneDNN's: a call whose output holds at least :data:`WIDE_OUTPUTS` numbers
  (rows x vocabulary: 33 beams of an 8,000-piece vocabulary) runs oneDNN's, a smaller one fbgemm's --
  the two give the same numbers (same integers, float rounding aside), and each is the faster on its
  side (busy-machine measurements in :func:`~seqkit.seq2seq.translator.quantize_model`'s docstring).
  With VNNI the activations use the full 0..255 range (``reduce_range=False``: half the rounding
  error of 0..127); without it fbgemm's u8 x s8 pairs could saturate int16, so the range is halved
  (``reduce_range=True``, what ``torch.ao.quantization.quantize_dynamic`` always does) and fbgemm runs alone.
  Only the output projection gets the second packing: for the other layers (256-1024 wide) neither
  kernel is clearly ahead, and one packed copy is half the memory.
* :meth:`Int8Linear.select`: the layer of some output rows only (a vocabulary shortlist's candidates):
  the int8 rows and scales are gathered and packed again, so each logit is the one the full layer
  computes (and gathering is a little cheaper than quantizing the float rows again: most of either is the
  packing).
* :class:`Int8Embedding`: an embedding table kept as those int8 rows and scales, dequantized on lookup
  (``q[ids] * scale[ids]``). With tied embeddings the Transformer's lookup reads the output projection's
  own int8 rows, so the float table is not kept at all (8,000 x 256: 8 MB of float32 become 2 MB). It
  is not for speed: a lookup costs about what the float one does (a beam step's 160 ids: 13 us against
  7 us; torch's ``torch.ao.nn.quantized.Embedding`` 20 us, and it needs its own asymmetric uint8 copy of the
  table; busy machine), nothing next to the step's matmuls.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import warnings
from collections.abc import Iterator
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from seqkit.native import kernel
from seqkit.seq2seq.attention_kernel import may_run
from seqkit.seq2seq.packed import projecting_models, replace_linears

#: calls whose output has at least this many numbers (rows x out_features) run oneDNN's kernel where there is
#: one: below it fbgemm's is the faster, above it oneDNN's; measured on 256 x 1,085-32,000 weights, busy machine
WIDE_OUTPUTS = 2**18

#: calls of at most this many rows run seqkit's own kernel (``int8_kernel.c``) where it is built with
#: AVX512-VNNI: a beam step of up to six sentences (see :class:`SmallRows`)
SMALL_ROWS = 32

_SOURCE = Path(__file__).with_name("int8_kernel.c")
_P, _I64 = ctypes.c_void_p, ctypes.c_int64
_SIGNATURES = {"int8_linear": (ctypes.c_int, [_I64, _I64, _I64, _P, _I64, _P, _P, _P, _P, ctypes.c_int, _P, _I64]),
               "int8_kernel_vnni": (ctypes.c_int, [])}


def small_kernel() -> ctypes.CDLL | None:
    """The compiled small-rows kernel, or None (no compiler, or ``SEQKIT_INT8_KERNEL=0``)."""
    return kernel(_SOURCE, "SEQKIT_INT8_KERNEL", _SIGNATURES)


def small_kernel_pays() -> bool:
    """Whether :class:`Int8Linear` layers made now run their small calls through :class:`SmallRows`: the
    kernel is built with its AVX512-VNNI loop (its plain C loop is there for the tests, not for speed)."""
    lib = small_kernel()
    return lib is not None and bool(lib.int8_kernel_vnni())


class SmallRows:
    """An int8 layer for calls of a few rows, in ``int8_kernel.c`` (whose header says the arithmetic: each
    row of ``x`` quantized on its own, to 0..255 with a zero point): ``x (M, K) float32 -> (M, N)``, plus
    ``bias``, then ReLU when ``relu``. ``rows`` (N, K) int8 and ``scales`` (N,) as :func:`quantize_rows`
    makes them; the rows are packed here in the kernel's layout (N padded to a multiple of 16, K to one
    of 4, as blocks of 16 outputs ``[K / 4][16][4]``) with each padded row's sum. Raises ``RuntimeError``
    where the kernel is not built."""

    def __init__(self, rows: Tensor, scales: Tensor, bias: Tensor | None = None, relu: bool = False) -> None:
        lib = small_kernel()
        if lib is None:
            raise RuntimeError("the int8 kernel is not built here")
        n, k = rows.shape
        padded = F.pad(rows, (0, -k % 4, 0, -n % 16))
        self.packed = padded.view(padded.shape[0] // 16, 16, -1, 4).permute(0, 2, 1, 3).contiguous()
        self.rowsum = padded.sum(1, dtype=torch.int32)
        self.scales = scales.float().contiguous()
        self.bias = None if bias is None else bias.float().contiguous()
        self.in_features, self.out_features, self.relu = k, n, relu
        self._bind(lib)

    def _bind(self, lib: ctypes.CDLL) -> None:
        self._call = lib.int8_linear
        self._weights = (self.packed.data_ptr(), self.rowsum.data_ptr(), self.scales.data_ptr(),
                         None if self.bias is None else self.bias.data_ptr(), int(self.relu))

    def __getstate__(self) -> dict:  # copies and pickles hold the tensors, not the pointers into them
        return {k: v for k, v in self.__dict__.items() if k not in ("_call", "_weights")}

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        lib = small_kernel()
        if lib is None:
            raise RuntimeError("the int8 kernel is not built here")
        self._bind(lib)

    def __call__(self, x: Tensor) -> Tensor:
        if x.dim() != 2 or x.shape[1] != self.in_features or x.dtype != torch.float32:
            raise ValueError(f"the int8 kernel takes (M, {self.in_features}) float32, not {tuple(x.shape)} {x.dtype}")
        x = x.contiguous()
        m, n = x.shape[0], self.out_features
        out = x.new_empty((m, n))
        if self._call(m, n, self.in_features, x.data_ptr(), self.in_features, *self._weights, out.data_ptr(), n):
            raise MemoryError("out of memory in the int8 kernel")
        return out


@functools.cache
def has_vnni() -> bool:
    """Whether this CPU has int8 dot-product instructions (AVX512-VNNI or AVX-VNNI), which add u8 x s8
    products into int32 without saturating (Linux's ``/proc/cpuinfo``; elsewhere: assume not)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as fh:
            for line in fh:
                if line.startswith("flags"):
                    flags = set(line.split(":", 1)[1].split())
                    return bool(flags & {"avx512_vnni", "avx_vnni"})
    except OSError:
        pass
    return False


@contextlib.contextmanager
def _engine(name: str) -> Iterator[None]:
    """torch's quantized engine set to ``name`` while weights are packed (a packed weight keeps its
    engine's kernel, whatever the setting is when it runs), then put back."""
    old = torch.backends.quantized.engine
    torch.backends.quantized.engine = name
    try:
        yield
    finally:
        torch.backends.quantized.engine = old


def _engines(vnni: bool) -> tuple[str, str | None]:
    """(the engine of narrow calls, that of wide calls or None): fbgemm and, with VNNI, oneDNN where
    this torch has them; else whatever engine torch runs by default (qnnpack on ARM)."""
    supported = torch.backends.quantized.supported_engines
    narrow = "fbgemm" if "fbgemm" in supported else torch.backends.quantized.engine
    wide = "onednn" if vnni and "onednn" in supported and narrow == "fbgemm" else None
    return narrow, wide


def quantize_rows(weight: Tensor) -> tuple[Tensor, Tensor]:
    """weight (N, K) float -> (int8 rows (N, K) in -127..127, float32 scales (N,)): symmetric, one scale
    per row, ``max |row| / 127`` (a zero row gets scale 1 and stays zero)."""
    w = weight.detach().float()
    scales = w.abs().amax(dim=1) / 127
    scales = torch.where(scales > 0, scales, torch.ones_like(scales))
    return torch.round(w / scales[:, None]).clamp_(-127, 127).to(torch.int8), scales


class Int8Linear(nn.Module):
    """``nn.Linear`` for inference with int8 weights (see the module docstring): x (..., K) -> (..., N)
    float32. ``rows`` (N, K) int8 and ``scales`` (N,) as :func:`quantize_rows` makes them; ``bias`` (N,)
    float or None; ``vnni`` (default: this CPU's) picks the activation range; ``wide``: also pack the weight
    for oneDNN's kernel, run for outputs of :data:`WIDE_OUTPUTS` numbers on (with VNNI; what pays for the
    output projection);
    ``keep_rows``: keep ``rows`` as given (an :class:`Int8Embedding` shares them; else :attr:`rows`
    unpacks them when asked); ``relu``: ``max(0, x W^T + b)``, the ReLU in the same call (a feed-forward
    layer's first Linear).

    Calls of at most :data:`SMALL_ROWS` rows run :class:`SmallRows` (with ``vnni``, where
    :func:`small_kernel_pays`, and where :func:`~seqkit.seq2seq.attention_kernel.may_run`: autograd off, at
    most two torch threads): the same int8 weights, the activations
    quantized per row rather than per call (so finer, and a row's numbers do not depend on the rows beside
    it), 1.5-3x less time than fbgemm at one to ten rows (``benchmarks/int8.py``). It keeps its own copy of
    the int8 rows (a few MB for a base model)."""

    def __init__(self, rows: Tensor, scales: Tensor, bias: Tensor | None = None, vnni: bool | None = None,
                 wide: bool = False, keep_rows: bool = False, relu: bool = False) -> None:
        super().__init__()
        self.vnni = has_vnni() if vnni is None else vnni
        self.in_features, self.out_features = rows.shape[1], rows.shape[0]
        self.scales = scales.float().contiguous()
        self._rows = rows if keep_rows else None
        self.bias = None if bias is None else bias.detach().float().clone().contiguous()
        self.relu = relu
        self.small = SmallRows(rows, self.scales, self.bias, relu) if self.vnni and small_kernel_pays() else None
        self.reduce_range = not self.vnni
        narrow, other = _engines(self.vnni)
        with warnings.catch_warnings():  # torch announces quantized tensors' move to torchao
            warnings.simplefilter("ignore")
            weight = torch._make_per_channel_quantized_tensor(rows, self.scales.double(),
                                                              torch.zeros(len(scales), dtype=torch.long), 0)
        with _engine(narrow):
            self.narrow = torch.ops.quantized.linear_prepack(weight, self.bias)
        self.wide = None
        if wide and other is not None:
            with _engine(other):
                self.wide = torch.ops.quantized.linear_prepack(weight, self.bias)

    @classmethod
    def from_float(cls, weight: Tensor, bias: Tensor | None = None, vnni: bool | None = None, wide: bool = False,
                   keep_rows: bool = False, relu: bool = False) -> Int8Linear:
        """The int8 layer of a float weight (N, K) and bias (N,) (an ``nn.Linear``'s, or a tied embedding)."""
        return cls(*quantize_rows(weight), bias, vnni, wide, keep_rows, relu)

    @property
    def rows(self) -> Tensor:
        """The int8 weight rows (N, K)."""
        if self._rows is not None:
            return self._rows
        return torch.ops.quantized.linear_unpack(self.narrow)[0].int_repr()

    def forward(self, x: Tensor) -> Tensor:
        rows = x.numel() // self.in_features if self.in_features else 0
        if self.small is not None and rows <= SMALL_ROWS and x.shape[-1] == self.in_features and may_run():
            return self.small(x.reshape(rows, self.in_features).float()).view(*x.shape[:-1], self.out_features)
        packed = self.wide if self.wide is not None and rows * self.out_features >= WIDE_OUTPUTS else self.narrow
        if self.relu:
            return torch.ops.quantized.linear_relu_dynamic(x.float(), packed, self.reduce_range)
        return torch.ops.quantized.linear_dynamic(x.float(), packed, self.reduce_range)

    def select(self, ids: Tensor) -> Int8Linear:
        """The layer of output rows ``ids`` (C,) only: the same int8 rows and scales, packed again."""
        return Int8Linear(self.rows.index_select(0, ids), self.scales.index_select(0, ids),
                          None if self.bias is None else self.bias.index_select(0, ids), self.vnni,
                          wide=self.wide is not None, relu=self.relu)

    def extra_repr(self) -> str:
        kernels = "fbgemm" + (f", onednn from {-(-WIDE_OUTPUTS // self.out_features)} rows" if self.wide is not None
                              else "")
        if self.small is not None:
            kernels = f"seqkit's up to {SMALL_ROWS} rows, " + kernels
        return (f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}, "
                f"kernels={kernels}, reduce_range={self.reduce_range}" + (", relu" if self.relu else ""))


def _identity(x: Tensor) -> Tensor:
    return x


class Int8Embedding(nn.Module):
    """An embedding table as int8 rows (V, d) and their scales (V,) (:func:`quantize_rows`, or an
    :class:`Int8Linear`'s, shared): ids (...) -> float32 vectors (..., d)."""

    def __init__(self, rows: Tensor, scales: Tensor) -> None:
        super().__init__()
        self.rows, self.scales = rows, scales
        self.num_embeddings, self.embedding_dim = rows.shape

    def forward(self, ids: Tensor) -> Tensor:
        flat = ids.reshape(-1)  # index_select, then scale in place: 4-7x faster than rows[ids] * scales[ids]
        vectors = self.rows.index_select(0, flat).float().mul_(self.scales.index_select(0, flat).unsqueeze(1))
        return vectors.view(*ids.shape, self.embedding_dim)

    def extra_repr(self) -> str:
        return f"{self.num_embeddings}, {self.embedding_dim}, int8 rows"


def int8_layers(model: nn.Module, vnni: bool | None = None) -> nn.Module:
    """Replace, in place, every ``nn.Linear`` of ``model`` by its :class:`Int8Linear`; a Transformer (an
    ``embed`` table and an ``out_proj`` slot, also inside an ensemble) gets its output projection int8
    too (the tied embedding's rows when ``out_proj`` is None; oneDNN's kernel for wide calls) and its
    embedding an :class:`Int8Embedding` (over the projection's int8 rows when they are tied); a
    feed-forward layer with ReLU computes it in its first Linear's call (``relu=True``); a Transformer gets
    its :class:`~seqkit.seq2seq.decoder_kernel.StepKernel` where it can have one. Returns ``model``."""
    from seqkit.seq2seq.transformer import FeedForward

    for ff in model.modules():
        if isinstance(ff, FeedForward) and ff.act is F.relu and isinstance(ff.w1, nn.Linear):
            ff.w1 = Int8Linear.from_float(ff.w1.weight, ff.w1.bias, vnni, relu=True)
            ff.act = _identity
    transformers = projecting_models(model)
    for m in transformers:
        if m.out_proj is None:  # tied: one int8 table serves the lookup and the projection
            m.out_proj = Int8Linear.from_float(m.embed.weight, None, vnni, wide=True, keep_rows=True)
            m.embed = Int8Embedding(m.out_proj.rows, m.out_proj.scales)
        else:
            m.out_proj = Int8Linear.from_float(m.out_proj.weight, m.out_proj.bias, vnni, wide=True, keep_rows=True)
            m.embed = Int8Embedding(*quantize_rows(m.embed.weight))
    replace_linears(model, lambda layer: Int8Linear.from_float(layer.weight, layer.bias, vnni))
    from seqkit.seq2seq.decoder_kernel import StepKernel

    for m in transformers:
        if hasattr(m, "step_kernel"):  # a Transformer: its small decoding steps in one C call, where it can
            m.step_kernel = StepKernel.build(m)
    return model
