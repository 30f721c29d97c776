"""A whole decoder step in one C call, for the Translator's int8 and float32 Transformer copies
(``decoder_kernel.c``, built by :mod:`seqkit.native` at first use).

At one sentence's beam a step of the base model (3 layers) is some 700 torch operations, and dispatching
them from Python costs more than their arithmetic: CTranslate2 decodes one sentence at a time 2.5x faster
than seqkit's Python step. :class:`StepKernel` runs the decoder stack of such a step -- the layer norms,
the products (:mod:`~seqkit.seq2seq.linear_kernel`'s int8 or float32 kernel), the self-attention over the cache
(:meth:`~seqkit.seq2seq.kv_cache.KVCache.attend`'s kernel), the cross-attention
(:func:`~seqkit.seq2seq.attention_kernel.memory_attention`'s), the residuals -- in one call, through the
same kernels, so its numbers are the Python path's up to the layer norms' float rounding
(``tests/seq2seq/test_decoder_kernel.py``). Where the model's embedding is a plain float32 table or
:class:`~seqkit.seq2seq.int8.Int8Embedding`'s int8 rows and its output projection a kernel's Linear,
:meth:`StepKernel.log_probs` also runs the step's two ends in the same call: the embedding and positions
before the stack, the output projection (or a vocabulary shortlist's, of the same kind) and the log-softmax
after it.

:func:`~seqkit.seq2seq.int8.int8_layers` and :func:`~seqkit.seq2seq.packed.float32_layers` give a pre-norm,
ReLU Transformer its :class:`StepKernel` (``model.step_kernel``). A step runs it where every kernel it strings together would run on the Python
path too: the linear kernels where :func:`~seqkit.seq2seq.linear_kernel.takes` (CPU float32, autograd off,
one torch thread, or two and at most :data:`~seqkit.seq2seq.linear_kernel.SMALL_ROWS` rows), the cache's
attention kernel built. ``SEQKIT_DECODER_KERNEL=0`` turns it off. A copy of the model (``copy.deepcopy``, pickle) gets none:
the plan holds raw pointers to its own model's tensors.
"""

from __future__ import annotations

import ctypes
import math
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from seqkit.native import kernel
from seqkit.seq2seq import attention_kernel, linear_kernel

_SOURCE = Path(__file__).with_name("decoder_kernel.c")
_P, _I64 = ctypes.c_void_p, ctypes.c_int64


class _Linear(ctypes.Structure):
    _fields_ = [("fn", _P), ("packed", _P), ("rowsum", _P), ("scales", _P), ("bias", _P), ("out_features", _I64),
                ("in_features", _I64), ("relu", _I64)]


class _Layer(ctypes.Structure):
    _fields_ = [("norm_weight", _P * 3), ("norm_bias", _P * 3), ("qkv", _Linear), ("self_out", _Linear),
                ("cross_q", _Linear), ("cross_out", _Linear), ("ff1", _Linear), ("ff2", _Linear),
                ("memory_k", _P), ("memory_v", _P), ("memory_strides", _I64 * 3)]


class _Decoder(ctypes.Structure):
    _fields_ = [("self_attention", _P), ("cross_attention", _P), ("layers", _I64), ("d", _I64),
                ("heads", _I64), ("ff", _I64), ("eps", ctypes.c_float), ("layer", ctypes.POINTER(_Layer)),
                ("final_weight", _P), ("final_bias", _P), ("embed_rows", _P), ("embed_scales", _P),
                ("vocab", _I64), ("embed_multiplier", ctypes.c_float), ("positions", _P), ("max_positions", _I64),
                ("projection", _Linear)]


_STEP = [ctypes.POINTER(_Decoder), _I64, _I64, _P, _I64, _P, _I64, _I64, _I64, _I64, _P, _I64, _P, _P]
_SIGNATURES = {"decoder_step": (ctypes.c_int, _STEP), "decoder_log_probs": (ctypes.c_int, _STEP)}


def _nothing() -> None:
    return None


def _readable(t: Any, dtype: torch.dtype, shape: tuple) -> bool:
    """Whether ``t`` is a contiguous CPU tensor of this dtype and shape (what the C loops may read)."""
    return (isinstance(t, Tensor) and t.dtype == dtype and t.device.type == "cpu" and tuple(t.shape) == shape
            and t.is_contiguous())


def _address(lib: ctypes.CDLL, name: str) -> int:
    return ctypes.cast(getattr(lib, name), _P).value


def _linears(layer: Any) -> tuple:
    """A decoder layer's six Linears, in the order of ``_Layer``'s fields."""
    return (layer.self_attn.qkv_proj, layer.self_attn.out_proj, layer.cross_attn.q_proj, layer.cross_attn.out_proj,
            layer.ff.w1, layer.ff.w2)


def _linear(layer: Any) -> _Linear | None:
    """The C view of a Linear with a small-rows packing (:class:`~seqkit.seq2seq.int8.Int8Linear`,
    :class:`~seqkit.seq2seq.packed.PackedLinear`), else None."""
    small = getattr(layer, "small", None)
    if small is None:
        return None
    return _Linear(ctypes.cast(small.function, _P).value, *small._weights, layer.out_features, layer.in_features,
                   int(small.relu))


class StepKernel:
    """The decoder stack of a :class:`~seqkit.seq2seq.transformer.Transformer` as one C call (module
    docstring); :meth:`build` says whether a model can have one."""

    def __init__(self, lib: ctypes.CDLL, model: Any, layers: list[_Layer]) -> None:
        from seqkit.seq2seq.int8 import Int8Embedding

        self._lib, self._model = lib, model
        # every object the pointers point into, held here too: a layer the model drops stays alive for them
        self._keep = [(n.weight, n.bias) for layer in model.decoder for n in layer.norms] + [
            (model.dec_norm.weight, model.dec_norm.bias)] + [m.small for layer in model.decoder for m in _linears(layer)]
        self._layers = (_Layer * len(layers))(*layers)
        caps = [m.small.max_rows for layer in model.decoder for m in _linears(layer) if m.small.max_rows is not None]
        norm = model.dec_norm
        first = model.decoder[0].self_attn
        self._decoder = _Decoder(
            _address(attention_kernel.load(), "decode_attention"),
            _address(attention_kernel.load(), "memory_attention"), len(layers), model.d_model, first.n_heads,
            model.decoder[0].ff.w1.out_features, norm.eps, self._layers, norm.weight.data_ptr(), norm.bias.data_ptr())
        # the ends (log_probs), where the embedding and the projection are tables the C loops read
        embed, table, projection = model.embed, model.positions.table, _linear(model.out_proj)
        rows, scales = (embed.rows, embed.scales) if isinstance(embed, Int8Embedding) else (getattr(embed, "weight", None), None)
        #: whether :meth:`log_probs` runs the whole step (else it says None and the caller embeds and projects)
        self.ends = (projection is not None and projection.in_features == model.d_model
                     and _readable(table, torch.float32, (len(table), model.d_model))
                     and _readable(rows, torch.float32 if scales is None else torch.int8, (len(rows), model.d_model))
                     and (scales is None or _readable(scales, torch.float32, (len(rows),))))
        if self.ends:
            self._keep += [rows, scales, table, model.out_proj.small]
            d = self._decoder
            d.embed_rows, d.embed_scales, d.vocab = rows.data_ptr(), None if scales is None else scales.data_ptr(), len(rows)
            d.embed_multiplier, d.positions, d.max_positions = math.sqrt(model.d_model), table.data_ptr(), len(table)
            d.projection = projection
            caps += [model.out_proj.small.max_rows] if model.out_proj.small.max_rows is not None else []
        self._max_rows = min(caps) if caps else None  # the AVX2 build's row limit (linear_kernel.AVX2_ROWS)

    @classmethod
    def build(cls, model: Any) -> StepKernel | None:
        """The kernel of ``model`` (a Transformer after :func:`~seqkit.seq2seq.int8.int8_layers` or
        :func:`~seqkit.seq2seq.packed.float32_layers`), or None: post-norm, another activation, Linears
        without the kernels' packing or of other shapes, norms without weights or of other sizes, or no
        kernel built here."""
        lib = kernel(_SOURCE, "SEQKIT_DECODER_KERNEL", _SIGNATURES)
        if lib is None or attention_kernel.load() is None or not model.pre_norm:
            return None
        norms = [n for layer in model.decoder for n in layer.norms] + [model.dec_norm]
        if any(not isinstance(n, torch.nn.LayerNorm) or n.weight is None or n.bias is None
               or tuple(n.normalized_shape) != (model.d_model,) or n.eps != model.dec_norm.eps
               or any(p.dtype != torch.float32 or not p.is_contiguous() or p.device.type != "cpu" for p in (n.weight, n.bias))
               for n in norms):
            return None
        layers, d, ff = [], model.d_model, model.decoder[0].ff.w1.out_features
        shapes = [(3 * d, d), (d, d), (d, d), (d, d), (ff, d), (d, ff)]  # (out, in): the C step's buffers
        for layer in model.decoder:
            linears = [_linear(m) for m in _linears(layer)]
            if (any(lin is None for lin in linears) or not linears[4].relu or layer.ff.act(torch.tensor(-1.0)) != -1.0
                    or [(lin.out_features, lin.in_features) for lin in linears] != shapes
                    or layer.self_attn.n_heads != model.decoder[0].self_attn.n_heads
                    or layer.cross_attn.n_heads != layer.self_attn.n_heads):
                return None
            c = _Layer()
            for i, n in enumerate(layer.norms):
                c.norm_weight[i], c.norm_bias[i] = n.weight.data_ptr(), n.bias.data_ptr()
            c.qkv, c.self_out, c.cross_q, c.cross_out, c.ff1, c.ff2 = linears
            layers.append(c)
        return cls(lib, model, layers)

    def __reduce__(self):  # its pointers are into this model's tensors: a copy (or pickle) decodes through Python
        return _nothing, ()

    def runs(self, n: int, like: Tensor, state: Any, cache: Any, need_attn: bool) -> bool:
        """Whether a step of ``n`` rows (one new position each; ``like`` a tensor of the step, for its dtype and
        device) can run here (module docstring)."""
        return (n > 0 and not need_attn and cache is not None and cache._lib is not None
                and n % state.group == 0 and linear_kernel.takes(n, like, self._max_rows)
                and all(layer.cross_attn.use_sdpa and not layer.training for layer in self._model.decoder)
                and kernel(_SOURCE, "SEQKIT_DECODER_KERNEL", _SIGNATURES) is not None)

    def __call__(self, x: Tensor, state: Any, cache: Any, src_len: Tensor) -> Tensor:
        """The decoder stack over ``x`` (n, 1, d), then the final norm: (n, 1, d). Call :meth:`runs` first."""
        n, d = x.shape[0], x.shape[2]
        if x.shape[1] != 1 or d != self._decoder.d:
            raise ValueError(f"a step of {tuple(x.shape)} does not fit a decoder of width {self._decoder.d}")
        x = x.reshape(n, d).clone(memory_format=torch.contiguous_format)  # the residual stream, updated in place
        out = torch.empty_like(x)
        self._run(self._lib.decoder_step, n, x.data_ptr(), state, cache, src_len, out)
        return out.view(n, 1, d)

    def log_probs(self, tokens: Tensor, state: Any, cache: Any, src_len: Tensor, project: Any = None) -> Tensor | None:
        """The step from the previous ``tokens`` (n, 1) to the next token's log-probabilities (n, 1, V): the
        embedding, the stack and the projection in one call, where this model has its :attr:`ends` and the
        position is in its table; else None (the caller embeds and projects). ``project``: a vocabulary
        shortlist's projection (:meth:`~seqkit.seq2seq.transformer.Transformer.shortlist_projection`), run
        in the call where it is a kernel's Linear (the log-softmax then over its pieces). Call :meth:`runs` first."""
        n, d = tokens.shape[0], self._decoder.d
        projection = self._decoder.projection if project is None else _linear(project)
        if (not self.ends or projection is None or projection.in_features != d or tokens.shape[1:] != (1,)
                or not 0 <= state.step < self._decoder.max_positions
                or (project is not None and project.small.max_rows is not None and n > project.small.max_rows)):
            return None
        ids = tokens.reshape(n).to(torch.int64).contiguous()  # C checks them before it reads a row
        out = torch.empty((n, projection.out_features))
        self._run(self._lib.decoder_log_probs, n, ids.data_ptr(), state, cache, src_len, out, projection)
        return out.view(n, 1, -1)

    def _run(self, function: Any, n: int, first: int, state: Any, cache: Any, src_len: Tensor, out: Tensor,
             projection: _Linear | None = None) -> None:
        """Call ``function`` (``decoder_step``, ``first`` the residual stream's address, or ``decoder_log_probs``,
        the tokens', with this call's ``projection``) for a step of ``n`` rows, after checking the cache and
        memory it reads."""
        d, heads, layers = self._decoder.d, self._decoder.heads, len(self._layers)
        data, origin = cache.data, cache.origin
        if (data.dtype != torch.float32 or data.dim() != 6 or data.shape[2:] != (layers, 2, heads, d // heads)
                or data.stride(5) != 1 or data.stride(4) != d // heads or not n <= min(data.shape[0], origin.shape[0])
                or not 0 <= state.step < min(data.shape[1], origin.shape[1]) or origin.dtype != torch.int32
                or origin.stride(1) != 1 or len(state.memory_kv) != layers):
            raise ValueError(f"a step of {n} rows at position {state.step} does not fit this cache {tuple(data.shape)}")
        # this call's own copy of the plan (a server's threads decode at once; each step has its own memory)
        layers_now = type(self._layers).from_buffer_copy(self._layers)
        decoder = _Decoder.from_buffer_copy(self._decoder)
        decoder.layer = ctypes.cast(layers_now, ctypes.POINTER(_Layer))
        if projection is not None:
            decoder.projection = projection
        for c, (k, v) in zip(layers_now, state.memory_kv):
            if (k.shape != v.shape or k.stride() != v.stride() or k.stride(3) != 1 or k.dtype != torch.float32
                    or k.shape[0] * state.group != n or k.shape[1:2] + k.shape[3:] != (heads, d // heads)):
                raise ValueError(f"memory keys {tuple(k.shape)} and values {tuple(v.shape)} the kernel cannot read")
            c.memory_k, c.memory_v = k.data_ptr(), v.data_ptr()
            c.memory_strides[0], c.memory_strides[1], c.memory_strides[2] = k.stride(0), k.stride(1), k.stride(2)
        lengths = src_len.to(torch.int64).clamp(0, state.memory_kv[0][0].shape[2]).contiguous()
        if lengths.shape[0] * state.group != n:
            raise ValueError(f"{n} rows for {lengths.shape[0]} sentences of {state.group}")
        stride = data.stride()
        code = function(ctypes.byref(decoder), n, state.group, first, state.step, data.data_ptr(), stride[0], stride[1],
                        stride[2], stride[3], origin.data_ptr(), origin.stride(0), lengths.data_ptr(), out.data_ptr())
        if code == -2:
            raise ValueError(f"token ids outside the embedding's {self._decoder.vocab} rows, or position {state.step} "
                             f"past the {self._decoder.max_positions} positions")
        attention_kernel.check(code)
