"""int8 inference on x86 CPUs: the layers ``--quantize int8`` (:func:`~seqkit.seq2seq.translator.quantize_model`)
puts in a model.

* :class:`Int8Linear`: ``x W^T + b`` with ``W`` int8, one scale per output row (symmetric, ``max |row| / 127``),
  and ``x`` quantized to uint8 on the fly, per call (per tensor: torch's dynamic quantization,
  ``torch.ops.quantized.linear_dynamic``; int32 accumulation, float output) -- or, on CPUs with AVX512-VNNI
  or AVX2, per row in seqkit's own kernel (:mod:`seqkit.seq2seq.linear_kernel`: every call at one torch thread, calls
  of up to 32 rows at two, and in the AVX2 build calls of up to 6 rows; the class docstring says more). The weight is packed for
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
import functools
import warnings
from collections.abc import Iterator

import torch
from torch import Tensor, nn

from seqkit.seq2seq import linear_kernel
from seqkit.seq2seq.linear_kernel import SmallRows
from seqkit.seq2seq.packed import fast_steps, fuse_relu, projecting_models, replace_linears

#: calls whose output has at least this many numbers (rows x out_features) run oneDNN's kernel where there is
#: one: below it fbgemm's is the faster, above it oneDNN's; measured on 256 x 1,085-32,000 weights, busy machine
WIDE_OUTPUTS = 2**18

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

    Where :func:`~seqkit.seq2seq.linear_kernel.vectorized` (AVX512-VNNI or AVX2), calls run
    :class:`~seqkit.seq2seq.linear_kernel.SmallRows` where :func:`~seqkit.seq2seq.linear_kernel.takes` (one
    torch thread: all of them): the same int8 weights, the activations
    quantized per row rather than per call, to the full 0..255 range on either CPU (so finer, and a row's
    numbers do not depend on the rows beside it), 1.5-3x less time than fbgemm at one to ten rows with VNNI
    (AVX2: 0.65x fbgemm's time at one sentence's five rows, slower from 8, hence its limit). It keeps its own copy of
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
        self.small = SmallRows(rows, self.scales, self.bias, relu) if linear_kernel.vectorized() else None
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
        out = None if self.small is None else self.small.apply(x)
        if out is not None:
            return out
        rows = x.numel() // self.in_features if self.in_features else 0
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
            kernels = "seqkit's, " + kernels
        return (f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}, "
                f"kernels={kernels}, reduce_range={self.reduce_range}" + (", relu" if self.relu else ""))


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
    its :class:`~seqkit.seq2seq.decoder_kernel.StepKernel` where it can have one (:func:`~seqkit.seq2seq.packed.fast_steps`).
    Returns ``model``."""
    fuse_relu(model, lambda layer: Int8Linear.from_float(layer.weight, layer.bias, vnni, relu=True))
    transformers = projecting_models(model)
    for m in transformers:
        if m.out_proj is None:  # tied: one int8 table serves the lookup and the projection
            m.out_proj = Int8Linear.from_float(m.embed.weight, None, vnni, wide=True, keep_rows=True)
            m.embed = Int8Embedding(m.out_proj.rows, m.out_proj.scales)
        else:
            m.out_proj = Int8Linear.from_float(m.out_proj.weight, m.out_proj.bias, vnni, wide=True, keep_rows=True)
            m.embed = Int8Embedding(*quantize_rows(m.embed.weight))
    replace_linears(model, lambda layer: Int8Linear.from_float(layer.weight, layer.bias, vnni))
    return fast_steps(model, transformers)
