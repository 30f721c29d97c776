"""The Transformer encoder-decoder for translation (Vaswani et al. 2017), lean enough for a CPU.

Usage (the interface of :mod:`seqkit.seq2seq.interfaces`)::

    model = Transformer(vocab_size=8000)            # 3+3 layers, d_model 256, 4 heads, FFN 1024
    logits = model(src, src_len, tgt_in)             # (B, S), (B,), (B, T) -> (B, T, V)
    state = model.encode(src, src_len)               # encoder once; cross-attention K/V cached
    log_probs, state, attn = model.decode_step(prev_tokens, state)   # (B,) -> (B, V), ...
    state = state.select(index)                      # beam reordering / dropping finished rows

Design:

* One joint vocabulary: source and target share the embedding, and with ``tie_embeddings`` the
  output projection is the same matrix (Press & Wolf 2017). Embeddings are scaled by sqrt(d_model)
  and initialised with std d_model^-0.5, so the scaled embedding has unit variance.
* Pre-norm (``pre_norm=True``: ``x + f(LN(x))`` plus a final LayerNorm, stable without a long warmup)
  or post-norm (``LN(x + f(x))``, the 2017 paper).
* Speed: a cheaper dropout mask on CPU (:mod:`seqkit.seq2seq.dropout`), fused QKV projection, ``F.scaled_dot_product_attention``, padding masks built once per
  batch, the decoder's causal mask left to SDPA's ``is_causal`` (right-padded targets need no key
  mask: a real position never sees a later pad). Incremental decoding keeps a key/value cache,
  so each step costs O(t) instead of recomputing the prefix, and the encoder memory's
  cross-attention keys/values are projected once per sentence in :meth:`Transformer.encode`.
  ``forward`` goes through the very same cached cross keys/values, so training and decoding share
  one code path (``tests/seq2seq/test_transformer.py`` checks incremental == full recomputation).

The decoding cache (:class:`TransformerState`):

* Every layer's self-attention keys and values live in one :class:`~seqkit.seq2seq.kv_cache.KVCache`
  ``(slots, capacity, layers, 2, H, dh)``: step t writes row j's at slot j, position t, and a row reads
  its earlier positions through a table of slot numbers (``origin``), so a reorder (beam search's
  parents, finished sentences leaving) gathers those ints, not the keys and values. Each layer's
  attention step is one call of a small C kernel on CPUs (SDPA over the keys gathered in row order
  elsewhere); :mod:`seqkit.seq2seq.kv_cache` says why and how much that saves.
* ``state.reserve(steps)`` (the searches call it with their length cap) sizes the buffer once, and from
  then on steps and reorders reuse it: only the newest state is valid. Without it (a caller that
  branches from earlier states) each step copies the cache into a new buffer one position longer and
  nothing is shared between states, as the concatenating cache did.
* The cross-attention memory K/V stay one copy per sentence (:meth:`TransformerState.expand`),
  selected only when a sentence leaves.
* int8 (``--quantize int8``, :mod:`seqkit.seq2seq.int8`) changes the Linear layers, the output
  projection and the embedding lookup; the cache holds the layers' float outputs, so it is the same for both.
* The Translator's int8 and packed float32 copies carry a ``step_kernel``
  (:mod:`seqkit.seq2seq.decoder_kernel`): on a CPU an incremental step -- the embedding, the decoder
  stack, the output projection and the log-softmax -- runs in one C call, through the same kernels as the
  layers here, instead of some 700 torch operations.

The parameter count equals JoeyNMT's for the same configuration (7,578,624 for the Multi30k model
with an 8k vocabulary).
"""

from __future__ import annotations

import dataclasses
import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from seqkit.seq2seq.attention import MultiHeadAttention
from seqkit.seq2seq.dropout import Dropout
from seqkit.seq2seq.interfaces import DecoderState, EncoderDecoder, lengths_to_mask, log_softmax_
from seqkit.seq2seq.kv_cache import CacheLayer, KVCache
from seqkit.seq2seq.positional import SinusoidalPositions
from seqkit.text.vocab import PAD_ID

_ACTIVATIONS = {"relu": F.relu, "gelu": F.gelu}


class FeedForward(nn.Module):
    """Position-wise ``W2 act(W1 x)`` with dropout on the hidden layer: (B, L, d) -> (B, L, d)."""

    def __init__(self, d_model: int, d_ff: int, dropout: float, activation: str = "relu") -> None:
        super().__init__()
        if activation not in _ACTIVATIONS:
            raise ValueError(f"activation must be one of {sorted(_ACTIVATIONS)}, not {activation!r}")
        self.w1, self.w2 = nn.Linear(d_model, d_ff), nn.Linear(d_ff, d_model)
        self.act, self.dropout = _ACTIVATIONS[activation], Dropout(dropout)

    def forward(self, x: Tensor) -> Tensor:
        return self.w2(self.dropout(self.act(self.w1(x))))


class _Sublayers(nn.Module):
    """Shared residual wiring: pre-norm ``x + drop(f(LN(x)))`` or post-norm ``LN(x + drop(f(x)))``."""

    def __init__(self, d_model: int, n: int, dropout: float, pre_norm: bool) -> None:
        super().__init__()
        self.norms = nn.ModuleList(nn.LayerNorm(d_model) for _ in range(n))
        self.dropout, self.pre_norm = Dropout(dropout), pre_norm

    def residual(self, i: int, x: Tensor, f):
        """Apply sublayer ``f`` (returns a tensor, or a tuple whose first item is the tensor)."""
        out = f(self.norms[i](x) if self.pre_norm else x)
        y, extra = (out[0], out[1:]) if isinstance(out, tuple) else (out, ())
        y = x + self.dropout(y)
        if not self.pre_norm:
            y = self.norms[i](y)
        return (y, *extra) if extra else y


class EncoderLayer(_Sublayers):
    """Self-attention then feed-forward: (B, S, d) -> (B, S, d)."""

    def __init__(self, d_model, n_heads, d_ff, dropout, pre_norm=True, activation="relu") -> None:
        super().__init__(d_model, 2, dropout, pre_norm)
        self.self_attn = MultiHeadAttention(d_model, n_heads, dropout)
        self.ff = FeedForward(d_model, d_ff, dropout, activation)

    def forward(self, x: Tensor, mask: Tensor) -> Tensor:
        """x (B, S, d); mask (B, 1, 1, S) True at real source tokens."""
        x = self.residual(0, x, lambda h: self.self_attn(h, mask)[0])
        return self.residual(1, x, self.ff)


class DecoderLayer(_Sublayers):
    """Causal self-attention, cross-attention over the encoder memory, feed-forward."""

    def __init__(self, d_model, n_heads, d_ff, dropout, pre_norm=True, activation="relu") -> None:
        super().__init__(d_model, 3, dropout, pre_norm)
        self.self_attn = MultiHeadAttention(d_model, n_heads, dropout)
        self.cross_attn = MultiHeadAttention(d_model, n_heads, dropout, cross=True)
        self.ff = FeedForward(d_model, d_ff, dropout, activation)

    def forward(self, x: Tensor, memory_kv: tuple[Tensor, Tensor], src_mask: Tensor,
                cache: CacheLayer | None = None, pos: int = 0, need_weights: bool = False,
                group: int = 1, src_len: Tensor | None = None) -> tuple[Tensor, Tensor | None]:
        """x (B, T, d) -- all target positions (``cache`` None, causal) or the newest one (T = 1, at
        position ``pos``; ``cache`` is this layer's part of the key/value cache, positions ``[:pos]``
        filled).

        ``memory_kv`` (B / group, H, S, dh) and ``src_mask`` (B / group, 1, 1, S): each memory row
        serves ``group`` consecutive rows of ``x`` (the hypotheses of one sentence in beam search),
        whose queries are attended together as ``group * T`` positions of that sentence; ``src_len``
        (B / group,), when given, is the count of True in each row of ``src_mask`` (its first ones).

        Returns (x (B, T, d), cross-attention weights (B, H, T, S) or None).
        """
        causal = cache is None and x.shape[1] > 1
        x, _, _ = self.residual(0, x, lambda h: self.self_attn(h, causal=causal, kv=cache, pos=pos))
        b, t, d = x.shape
        x, weights, _ = self.residual(1, x.view(b // group, group * t, d), lambda h: self.cross_attn(
            h, src_mask, kv=memory_kv, need_weights=need_weights, key_lengths=src_len))
        x = x.view(b, t, d)
        if weights is not None and group > 1:  # (B/g, H, g*T, S) -> (B, H, T, S)
            n, h, _, s = weights.shape
            weights = weights.view(n, h, group, t, s).transpose(1, 2).reshape(b, h, t, s)
        return self.residual(2, x, self.ff), weights


@dataclasses.dataclass
class TransformerState(DecoderState):
    """Everything incremental decoding needs; every tensor has the batch on dim 0.

    memory_kv: per decoder layer, the encoder memory's cross-attention keys and values
      (B / group, H, S, dh).
    src_mask: (B / group, 1, 1, S) True at real source tokens.
    cache: the self-attention keys and values of the positions decoded so far, every layer in one
      :class:`~seqkit.seq2seq.kv_cache.KVCache`, rows ``[:B]`` and positions ``[:step]`` filled; None
      before the first step.
    step: number of target positions already decoded (the next token's position).
    group: decoder rows per memory row. :meth:`expand` makes each sentence ``k`` hypotheses that
      share one copy of the memory instead of ``k`` copies, so beam search neither copies nor
      reorders the memory at each step.
    capacity: positions :meth:`reserve` asked for (0: none, the cache grows by copying).
    """

    memory_kv: list[tuple[Tensor, Tensor]]
    src_mask: Tensor
    cache: KVCache | None = None
    step: int = 0
    group: int = 1
    capacity: int = 0

    @property
    def rows(self) -> int:
        return self.src_mask.shape[0] * self.group

    def reserve(self, steps: int) -> TransformerState:
        """Room for ``steps`` positions, written in place (see the module docstring): from now on a
        step or a :meth:`select` reuses this state's buffers, so only the newest state is valid."""
        steps = max(steps, self.step)
        cache = None if self.cache is None else self.cache.copy(self.rows, self.step, steps, in_place=True)
        return dataclasses.replace(self, capacity=steps, cache=cache)

    def expand(self, k: int) -> TransformerState:
        """Each row becomes ``k`` consecutive rows (sharing the memory)."""
        index = torch.arange(self.rows, device=self.src_mask.device).repeat_interleave(k)
        cache = self.cache.select(index, self.step) if self.cache is not None else None
        return dataclasses.replace(self, cache=cache, group=self.group * k)

    def select(self, index: Tensor) -> TransformerState:
        """Rows ``index``; with ``group > 1`` they must come in aligned groups of ``group`` rows of
        one sentence each (as beam search makes them). The cache gathers its slot numbers; the memory
        is selected only when sentences leave."""
        if index.numel() % self.group:
            raise ValueError(f"select() of a grouped state needs groups of {self.group} rows")
        sentences = index[:: self.group] // self.group
        n = self.src_mask.shape[0]
        same = sentences.numel() == n and bool(torch.equal(sentences, torch.arange(n, device=index.device)))
        return dataclasses.replace(
            self, cache=self.cache.select(index, self.step) if self.cache is not None else None,
            memory_kv=self.memory_kv if same else _select_rows(self.memory_kv, sentences),
            src_mask=self.src_mask if same else self.src_mask.index_select(0, sentences))

    def cache_for(self, end: int) -> KVCache:
        """The cache with room for positions ``[:end]``: preallocated to :attr:`capacity` and written
        in place after :meth:`reserve`, else a new buffer holding the earlier positions (a copy)."""
        if self.cache is not None:
            return self.cache.room(self.rows, self.step, end)
        k = self.memory_kv[0][0]  # (B / group, H, S, dh): the heads, their size, dtype and device
        return KVCache.empty(self.rows, max(end, self.capacity), len(self.memory_kv), k.shape[1], k.shape[3], k,
                             in_place=self.capacity > 0)


def _select_rows(pairs: list[tuple[Tensor, Tensor]], index: Tensor) -> list[tuple[Tensor, Tensor]]:
    return [(k.index_select(0, index), v.index_select(0, index)) for k, v in pairs]


class Transformer(EncoderDecoder):
    """Encoder-decoder Transformer over a joint vocabulary (see the module docstring)."""

    def __init__(self, vocab_size: int, d_model: int = 256, n_heads: int = 4, n_enc_layers: int = 3,
                 n_dec_layers: int = 3, d_ff: int = 1024, dropout: float = 0.1, pre_norm: bool = True,
                 tie_embeddings: bool = True, pad_id: int = PAD_ID, max_len: int = 1024,
                 activation: str = "relu") -> None:
        layer_args = (d_model, n_heads, d_ff, dropout, pre_norm, activation)
        super().__init__(nn.ModuleList(EncoderLayer(*layer_args) for _ in range(n_enc_layers)),
                         nn.ModuleList(DecoderLayer(*layer_args) for _ in range(n_dec_layers)),
                         pad_id)
        self.d_model, self.vocab_size, self.pre_norm = d_model, vocab_size, pre_norm
        self.embed = nn.Embedding(vocab_size, d_model, padding_idx=pad_id)
        self.positions = SinusoidalPositions(d_model, max_len)
        self.embed_dropout = Dropout(dropout)
        # pre-norm leaves the residual stream unnormalised: one LayerNorm closes each stack
        self.enc_norm = nn.LayerNorm(d_model) if pre_norm else nn.Identity()
        self.dec_norm = nn.LayerNorm(d_model) if pre_norm else nn.Identity()
        self.out_proj = None if tie_embeddings else nn.Linear(d_model, vocab_size, bias=False)
        self.step_kernel = None  # the Translator's int8 and packed copies: decoding steps in C (decoder_kernel)
        self._init_weights()

    def _init_weights(self) -> None:
        for name, p in self.named_parameters():
            if p.dim() > 1 and not name.startswith("embed"):
                nn.init.xavier_uniform_(p)
            elif name.endswith("bias"):
                nn.init.zeros_(p)
        nn.init.normal_(self.embed.weight, std=self.d_model ** -0.5)
        with torch.no_grad():
            self.embed.weight[self.pad_id].zero_()

    # -- pieces -------------------------------------------------------------------------------
    def _embed(self, tokens: Tensor, offset: int = 0) -> Tensor:
        """ids (B, L) -> scaled embeddings plus positions ``offset..`` (B, L, d)."""
        x = self.embed(tokens) * math.sqrt(self.d_model)
        return self.embed_dropout(self.positions(x, offset))

    def _logits(self, h: Tensor) -> Tensor:
        """Decoder output (..., d) -> vocabulary logits (..., V)."""
        return F.linear(h, self.embed.weight) if self.out_proj is None else self.out_proj(h)

    def shortlist_projection(self, ids: Tensor):
        """``h (..., d) -> logits (..., C)`` of the vocabulary ids ``ids`` (C,) only, for
        ``decode_step(project=...)`` (a vocabulary shortlist, :mod:`seqkit.seq2seq.shortlist`): the
        projection's rows are sliced once, here."""
        from seqkit.seq2seq.shortlist_decoding import sliced_projection

        return sliced_projection(self.embed.weight if self.out_proj is None else self.out_proj, ids)

    # -- the EncoderDecoder interface -----------------------------------------------------------
    def encode(self, src: Tensor, src_len: Tensor) -> TransformerState:
        """src (B, S), src_len (B,) -> state with cross-attention K/V for every decoder layer."""
        src_mask = lengths_to_mask(src_len, src.shape[1])[:, None, None, :]  # (B, 1, 1, S)
        x = self._embed(src)
        for layer in self.encoder:
            x = layer(x, src_mask)
        memory = self.enc_norm(x)  # (B, S, d)
        memory_kv = [layer.cross_attn.memory_kv(memory) for layer in self.decoder]
        return TransformerState(memory_kv, src_mask)

    def _decode(self, tokens: Tensor, state: TransformerState, need_attn: bool = False,
                incremental: bool = False, project=None, log_probs: bool = False
                ) -> tuple[Tensor, TransformerState, Tensor | None]:
        """Run the decoder stack over ``tokens`` (B, T) at positions ``state.step..``; ``incremental``
        keeps their self-attention keys and values in the state's cache (T = 1 after the first step).
        Returns the logits, or with ``log_probs`` the log-probabilities (B, T, V)."""
        n, end = tokens.shape[0], state.step + tokens.shape[1]
        cache = state.cache_for(end) if incremental else None
        if cache is not None:
            cache.start_step(n, state.step)
        src_len = state.src_mask.reshape(state.src_mask.shape[0], -1).sum(1)  # the mask is lengths_to_mask's
        step = self.step_kernel
        if (step is not None and incremental and tokens.shape[1] == 1 and not self.training and state.memory_kv
                and step.runs(n, state.memory_kv[0][0], state, cache, need_attn)):
            new_state = dataclasses.replace(state, cache=cache, step=end)
            out = step.log_probs(tokens, state, cache, src_len, project) if log_probs else None
            if out is not None:  # the embedding, the stack, the projection and the log-softmax, in C
                return out, new_state, None
            h = step(self._embed(tokens, state.step), state, cache, src_len)  # the stack and its final norm, in C
            scores = (project or self._logits)(h)
            return (log_softmax_(scores) if log_probs else scores), new_state, None
        x = self._embed(tokens, state.step)
        weights = None
        for i, layer in enumerate(self.decoder):
            kv = cache.layer(i) if cache is not None else None
            last = need_attn and i == len(self.decoder) - 1
            x, weights = layer(x, state.memory_kv[i], state.src_mask, kv, state.step, last, state.group, src_len)
        new_state = dataclasses.replace(state, cache=cache, step=end)
        scores = (project or self._logits)(self.dec_norm(x))
        return (log_softmax_(scores) if log_probs else scores), new_state, weights

    def forward(self, src: Tensor, src_len: Tensor, tgt_in: Tensor) -> Tensor:
        """Teacher forcing: src (B, S), src_len (B,), tgt_in (B, T) -> logits (B, T, V)."""
        return self._decode(tgt_in, self.encode(src, src_len))[0]

    def decode_step(self, prev_tokens: Tensor, state: TransformerState, need_attn: bool = False, project=None
                    ) -> tuple[Tensor, TransformerState, Tensor | None]:
        """prev_tokens (B,) -> (log_probs (B, V), new state, last layer's cross-attention averaged
        over heads (B, S) if ``need_attn`` else None). ``project``: a :meth:`shortlist_projection`,
        whose C pieces the log-probabilities (B, C) are then over."""
        log_probs, state, weights = self._decode(prev_tokens.unsqueeze(1), state, need_attn, incremental=True,
                                                 project=project, log_probs=True)
        attn = weights.mean(dim=1)[:, 0] if weights is not None else None
        return log_probs[:, 0], state, attn
