"""float32 inference on the CPU with weights packed once for oneDNN's matrix kernels.

``nn.Linear`` on a CPU hands the plain weight to the BLAS (MKL in torch's x86 wheels) at every call.
:class:`PackedLinear` instead keeps the weight in oneDNN's own blocked layout
(``torch.ops.mkldnn._reorder_linear_weight``, done once) and runs oneDNN's kernel on it
(``torch.ops.mkldnn._linear_pointwise``, what torch's compiler runs for frozen CPU models). At decoding
shapes -- a few to a few hundred rows per step against a fixed weight -- that is up to 4x faster on
the large layers. The numbers are float32 matrix products summed in another order (differences of
about 1e-6 relative). :class:`~seqkit.seq2seq.translator.Translator` puts these layers in its copy of
a float32 model on the CPU (:func:`float32_layers`) where :func:`packing_works`.

How it was chosen (torch 2.13, MKL 2024.2, oneDNN 3.12, 2-core AMD EPYC with AVX512, one thread, a
training run holding the other core; microseconds per call, ``nn.Linear`` against the packed layer,
the shapes of a beam-5 Transformer step):

============================  =========  ======  ===========================================
rows x in -> out              nn.Linear  packed  layer
============================  =========  ======  ===========================================
5 x 256 -> 8,000                  906      232   output projection, one sentence (base model)
60 x 256 -> 8,000               5,560    3,146   output projection, 12 sentences
750 x 256 -> 8,000             65,769   34,984   output projection, 150 sentences
5 x 128 -> 2,000                   94       71   output projection, one sentence (tiny model)
900 x 128 -> 2,000              6,820    5,761   output projection, 180 sentences
750 x 256 -> 768 / 1,024        3,585 /  2,963 / self-attention's QKV / feed-forward
                                5,189    4,354
750 x 1,024 -> 256              6,983    5,503   feed-forward, second layer
============================  =========  ======  ===========================================

Small weights are another matter: oneDNN's call costs more than MKL's at a few rows. Packed time over
``nn.Linear``'s (the best of 3 rounds each; below 1: packing wins):

==================  =====  =====  =====  =====
in -> out           5      40     160    800 rows
==================  =====  =====  =====  =====
128 -> 128          1.84   1.57   1.05   0.94
128 -> 384          1.43   1.12   0.97   1.01
128 -> 512          1.18   1.10   0.96   0.92
256 -> 256          1.21   1.15   0.89   1.24
256 -> 512          0.81   0.95   0.91   0.92
256 -> 1,024        0.60   0.85   0.93   0.96
1,024 -> 256        0.48   0.87   0.67   0.61
==================  =====  =====  =====  =====

So only layers of :data:`MIN_PACKED` weights (256 x 512) or more are packed, and the output projection
always. On whole decodes (beam 5, one thread, quiet machine; ``docs/benchmarks.md``): the Multi30k base
model (8,000 pieces) one sentence at a time 1.63x, its test set in one call 1.05x; the tiny model (d 128,
2,000 pieces) 1.12x at beam 1 and even at beam 5. Packing for one batch size
(``_reorder_linear_weight(w, rows)``) was no better than the layout packed for any rows (the one
used), and unpacked oneDNN no better than MKL. ``benchmarks/decode.py`` times both
(the ``seqkit fp32 unpacked`` row runs the model's own ``nn.Linear`` layers).

Since then every Linear of the copy is a :class:`PackedLinear` (the small ones without a oneDNN copy,
running MKL as before), which also holds seqkit's own float32 kernel
(:class:`~seqkit.seq2seq.linear_kernel.SmallRowsF32`) where it is built: it runs every call at one torch
thread, calls of up to 32 rows at two (:func:`~seqkit.seq2seq.linear_kernel.takes`); a feed-forward layer's
ReLU runs in its first Linear's call; and a Transformer's decoder stack runs each small step in one C call
(:mod:`seqkit.seq2seq.decoder_kernel`). One sentence at a time that is 1.7-2x faster than the packed
layers alone.
"""

from __future__ import annotations

import functools

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from seqkit.seq2seq import linear_kernel
from seqkit.seq2seq.linear_kernel import SmallRowsF32

#: a Linear layer is packed from this many weights on (256 x 512): below it oneDNN's call costs more than
#: MKL's at a few rows (the second table of the module docstring), above it oneDNN is the faster
MIN_PACKED = 2**17


@functools.cache
def packing_works() -> bool:
    """Whether this torch has oneDNN's packed float32 linear and it gives ``F.linear``'s numbers (a
    build without oneDNN, or an operator a later torch renamed, answers False: plain ``nn.Linear``)."""
    try:
        weight, x = torch.randn(24, 16), torch.randn(5, 16)
        with torch.inference_mode():
            y = torch.ops.mkldnn._linear_pointwise(x, torch.ops.mkldnn._reorder_linear_weight(weight), None,
                                                   "none", [], "")
        return bool(torch.allclose(y, F.linear(x, weight), rtol=1e-4, atol=1e-4))
    except (AttributeError, RuntimeError, NotImplementedError):
        return False


class PackedLinear(nn.Module):
    """``x W^T + b`` for inference, ``W`` (N, K) packed once for oneDNN: x (..., K) -> (..., N) float32.
    ``keep_weight``: keep the plain weight too (the output projection: a shortlist slices its rows,
    :meth:`select`); else only the packed copy is held. ``relu``: ``max(0, x W^T + b)`` in the same call (a
    feed-forward layer's first Linear). ``onednn=False``: no oneDNN copy (a weight below :data:`MIN_PACKED`,
    where MKL's call is the cheaper): calls of many rows run ``F.linear`` on the plain weight.

    Calls run :class:`~seqkit.seq2seq.linear_kernel.SmallRowsF32` (its own packed copy) where it is built
    (:func:`~seqkit.seq2seq.linear_kernel.vectorized`) and :func:`~seqkit.seq2seq.linear_kernel.takes`
    (one torch thread: all of them)."""

    def __init__(self, weight: Tensor, bias: Tensor | None = None, keep_weight: bool = False, relu: bool = False,
                 onednn: bool = True) -> None:
        super().__init__()
        weight = weight.detach().float()
        self.out_features, self.in_features = weight.shape
        self.weight = weight if keep_weight or not onednn else None
        self.bias = None if bias is None else bias.detach().float().clone()
        self.relu = relu
        self.packed = torch.ops.mkldnn._reorder_linear_weight(weight.contiguous()) if onednn else None
        self.small = SmallRowsF32(weight, self.bias, relu) if linear_kernel.vectorized() else None

    def forward(self, x: Tensor) -> Tensor:
        if x.dtype != torch.float32:  # under a caller's autocast: the packed weight is float32
            x = x.float()
        out = None if self.small is None else self.small.apply(x)
        if out is not None:
            return out
        if self.packed is None:
            y = F.linear(x, self.weight, self.bias)
            return torch.relu_(y) if self.relu else y
        return torch.ops.mkldnn._linear_pointwise(x, self.packed, self.bias, "relu" if self.relu else "none", [], "")

    def select(self, ids: Tensor) -> PackedLinear:
        """The layer of output rows ``ids`` (C,) only (needs ``keep_weight``), packed again."""
        if self.weight is None:
            raise ValueError("select() needs a PackedLinear made with keep_weight=True")
        return PackedLinear(self.weight.index_select(0, ids),
                            None if self.bias is None else self.bias.index_select(0, ids), relu=self.relu)

    def extra_repr(self) -> str:
        kernels = "oneDNN packed" if self.packed is not None else "MKL"
        if self.small is not None:
            kernels = "seqkit's, " + kernels
        return (f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}, "
                f"{kernels}" + (", relu" if self.relu else ""))


def replace_linears(model: nn.Module, make) -> nn.Module:
    """Replace, in place, every ``nn.Linear`` of ``model`` by ``make(layer)``; returns ``model``."""
    for name, child in list(model.named_children()):
        if isinstance(child, nn.Linear):
            setattr(model, name, make(child))
        else:
            replace_linears(child, make)
    return model


def projecting_models(model: nn.Module) -> list[nn.Module]:
    """The modules of ``model`` (itself, or an ensemble's members) with an ``embed`` table and an
    ``out_proj`` slot (a Transformer: ``out_proj`` None means tied to the embedding)."""
    return [m for m in model.modules() if isinstance(getattr(m, "embed", None), nn.Embedding) and hasattr(m, "out_proj")]


def float32_layers(model: nn.Module) -> nn.Module:
    """Every ``nn.Linear`` of ``model`` a :class:`PackedLinear`, in place -- packed for oneDNN from
    :data:`MIN_PACKED` weights on -- and a Transformer's output projection (the tied embedding's rows when
    ``out_proj`` is None; the lookup keeps reading the table); a feed-forward layer's ReLU in its first
    Linear's call; a Transformer's :class:`~seqkit.seq2seq.decoder_kernel.StepKernel` where it can have one
    (:func:`fast_steps`). Returns ``model``."""
    transformers = projecting_models(model)
    for m in transformers:
        layer = m.out_proj
        m.out_proj = PackedLinear(m.embed.weight if layer is None else layer.weight,
                                  None if layer is None else layer.bias, keep_weight=True)
    fuse_relu(model, lambda layer: PackedLinear(layer.weight, layer.bias, relu=True,
                                                onednn=layer.weight.numel() >= MIN_PACKED))
    replace_linears(model, lambda layer: PackedLinear(layer.weight, layer.bias, onednn=layer.weight.numel() >= MIN_PACKED))
    return fast_steps(model, transformers)


def _identity(x: Tensor) -> Tensor:
    return x


def fuse_relu(model: nn.Module, make) -> None:
    """Each Transformer feed-forward layer of ``model`` with ReLU: its first Linear ``make(layer)`` (a layer
    that applies the ReLU itself), its activation the identity. In place."""
    from seqkit.seq2seq.transformer import FeedForward

    for ff in model.modules():
        if isinstance(ff, FeedForward) and ff.act is F.relu and isinstance(ff.w1, nn.Linear):
            ff.w1, ff.act = make(ff.w1), _identity


def fast_steps(model: nn.Module, transformers: list[nn.Module]) -> nn.Module:
    """Give each of ``transformers`` (after its layers were replaced) its
    :class:`~seqkit.seq2seq.decoder_kernel.StepKernel`, or None where it cannot have one. Returns ``model``."""
    from seqkit.seq2seq.decoder_kernel import StepKernel

    for m in transformers:
        if hasattr(m, "step_kernel"):
            m.step_kernel = StepKernel.build(m)
    return model
