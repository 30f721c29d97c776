"""Attention: masked softmax, additive (Bahdanau), dot and general (Luong), multi-head.

Masks everywhere are boolean and *True where attention is allowed* (a real key), broadcastable to
the scores; that is also what :func:`torch.nn.functional.scaled_dot_product_attention` expects.

:class:`MultiHeadAttention` has two paths computing the same numbers: a readable reference path
(scores, :func:`masked_softmax`, weighted sum -- d2l's chapter 11 written out) and a fast path through
``F.scaled_dot_product_attention`` (fused kernels, no (B, H, L, L) tensor kept for backward). The fast
path is the default; the reference path runs when attention weights are asked for (heatmaps), when
``use_sdpa=False``, and for attention dropout on CPU (SDPA's CPU kernels have none and fall back to
a slower math path). ``tests/seq2seq/test_attention.py`` proves them equal.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from seqkit.seq2seq.attention_kernel import memory_attention
from seqkit.seq2seq.dropout import dropout as seqkit_dropout


def masked_softmax(scores: Tensor, valid_lens: Tensor | None = None, *, mask: Tensor | None = None
                   ) -> Tensor:
    """Softmax over the last axis that gives zero weight to masked keys.

    Args:
        scores: (..., Q, K) attention scores.
        valid_lens: d2l's form, (B,) or (B, Q): only the first ``valid_lens`` keys count.
        mask: boolean, broadcastable to ``scores``, True where a key counts.

    A row with no valid key at all gets uniform weights (d2l's -1e6 fill behaves the same) rather
    than NaN. Returns weights of the shape of ``scores``.
    """
    if valid_lens is not None:
        keys = torch.arange(scores.shape[-1], device=scores.device)
        lens = valid_lens if valid_lens.dim() > 1 else valid_lens.unsqueeze(-1)  # (B, 1) or (B, Q)
        mask = keys < lens.unsqueeze(-1)  # (B, 1|Q, K)
        mask = mask.view(mask.shape[0], *([1] * (scores.dim() - 3)), *mask.shape[1:])
    if mask is not None:
        scores = scores.masked_fill(~mask, torch.finfo(scores.dtype).min)
    return torch.softmax(scores, dim=-1)


class AdditiveAttention(nn.Module):
    """Bahdanau's additive attention: ``score(q, k) = w_v . tanh(W_q q + W_k k)``.

    ``W_k k`` does not depend on the decoding step; :meth:`project_keys` lets a decoder compute it
    once per sentence and pass it to every step (``proj_keys``).
    """

    def __init__(self, key_size: int, query_size: int, hidden: int, dropout: float = 0.0) -> None:
        super().__init__()
        self.W_k = nn.Linear(key_size, hidden, bias=False)
        self.W_q = nn.Linear(query_size, hidden, bias=False)
        self.w_v = nn.Linear(hidden, 1, bias=False)
        self.dropout = nn.Dropout(dropout)

    def project_keys(self, keys: Tensor) -> Tensor:
        """keys (B, K, key_size) -> (B, K, hidden)."""
        return self.W_k(keys)

    def forward(self, queries: Tensor, keys: Tensor, values: Tensor, mask: Tensor | None = None,
                proj_keys: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """queries (B, Q, query_size), keys (B, K, key_size), values (B, K, V), mask (B, 1|Q, K)
        -> (context (B, Q, V), weights (B, Q, K))."""
        proj_keys = self.W_k(keys) if proj_keys is None else proj_keys
        # features: (B, Q, K, hidden) -- every query against every key
        features = torch.tanh(self.W_q(queries).unsqueeze(2) + proj_keys.unsqueeze(1))
        scores = self.w_v(features).squeeze(-1)  # (B, Q, K)
        weights = masked_softmax(scores, mask=mask)
        return torch.bmm(self.dropout(weights), values), weights


class DotProductAttention(nn.Module):
    """Luong's dot attention ``score(q, k) = q . k``, scaled by 1/sqrt(d) (Vaswani) when ``scale``."""

    def __init__(self, dropout: float = 0.0, scale: bool = True) -> None:
        super().__init__()
        self.dropout, self.scale = nn.Dropout(dropout), scale

    def project_keys(self, keys: Tensor) -> Tensor:
        return keys

    def forward(self, queries: Tensor, keys: Tensor, values: Tensor, mask: Tensor | None = None,
                proj_keys: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """queries (B, Q, d), keys (B, K, d), values (B, K, V), mask (B, 1|Q, K)
        -> (context (B, Q, V), weights (B, Q, K))."""
        keys = keys if proj_keys is None else proj_keys
        scores = torch.bmm(queries, keys.transpose(1, 2))  # (B, Q, K)
        if self.scale:
            scores = scores / math.sqrt(queries.shape[-1])
        weights = masked_softmax(scores, mask=mask)
        return torch.bmm(self.dropout(weights), values), weights


class GeneralAttention(DotProductAttention):
    """Luong's general attention ``score(q, k) = q . W k`` (keys projected once per sentence)."""

    def __init__(self, key_size: int, query_size: int, dropout: float = 0.0) -> None:
        super().__init__(dropout, scale=False)
        self.W = nn.Linear(key_size, query_size, bias=False)

    def project_keys(self, keys: Tensor) -> Tensor:
        return self.W(keys)

    def forward(self, queries, keys, values, mask=None, proj_keys=None):
        return super().forward(queries, keys, values, mask,
                               self.W(keys) if proj_keys is None else proj_keys)


def attend(q: Tensor, k: Tensor, v: Tensor, mask: Tensor | None = None, causal: bool = False,
           dropout: float = 0.0, need_weights: bool = False, use_sdpa: bool = True
           ) -> tuple[Tensor, Tensor | None]:
    """Scaled dot-product attention over heads.

    q (B, H, Lq, dh), k and v (B, H, Lk, dh); ``mask`` boolean broadcastable to (B, H, Lq, Lk),
    True = attend; ``causal`` hides later keys (Lq == Lk). ``dropout`` applies to the weights.
    Returns (output (B, H, Lq, dh), weights (B, H, Lq, Lk) or None).
    """
    # SDPA's CPU kernels have no dropout: with dropout they fall back to a math path that draws the
    # mask with the slow bernoulli_; the explicit path below with the cheap mask is faster there.
    if use_sdpa and not need_weights and (dropout == 0.0 or q.device.type != "cpu"):
        return F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=dropout,
                                              is_causal=causal), None
    # reference path: the same computation written out
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])  # (B, H, Lq, Lk)
    if causal:
        lq, lk = scores.shape[-2:]
        below = torch.ones(lq, lk, dtype=torch.bool, device=q.device).tril()
        mask = below if mask is None else mask & below
    weights = masked_softmax(scores, mask=mask)
    dropped = seqkit_dropout(weights, dropout) if dropout > 0 else weights
    return dropped @ v, weights


class MultiHeadAttention(nn.Module):
    """Multi-head attention with fused projections and an incremental key/value cache.

    ``cross=False`` (self-attention): one fused (d, 3d) projection gives queries, keys and values.
    ``cross=True``: queries from the decoder, keys and values from the encoder memory through one
    fused (d, 2d) projection computed once per sentence (:meth:`memory_kv`).
    """

    def __init__(self, d_model: int, n_heads: int, dropout: float = 0.0, cross: bool = False) -> None:
        super().__init__()
        if d_model % n_heads:
            raise ValueError(f"d_model {d_model} is not divisible by n_heads {n_heads}")
        self.d_model, self.n_heads, self.dropout, self.cross = d_model, n_heads, dropout, cross
        self.use_sdpa = True
        if cross:
            self.q_proj = nn.Linear(d_model, d_model)
            self.kv_proj = nn.Linear(d_model, 2 * d_model)
        else:
            self.qkv_proj = nn.Linear(d_model, 3 * d_model)
        self.out_proj = nn.Linear(d_model, d_model)

    def _heads(self, x: Tensor, n: int) -> tuple[Tensor, ...]:
        """(B, L, n*d) -> n tensors (B, H, L, dh)."""
        b, length, _ = x.shape
        x = x.view(b, length, n, self.n_heads, self.d_model // self.n_heads)
        return x.permute(2, 0, 3, 1, 4).unbind(0)

    def memory_kv(self, memory: Tensor) -> tuple[Tensor, Tensor]:
        """Encoder memory (B, S, d) -> keys and values (B, H, S, dh), computed once per sentence."""
        return self._heads(self.kv_proj(memory), 2)

    def forward(self, x: Tensor, mask: Tensor | None = None, causal: bool = False,
                kv=None, need_weights: bool = False, pos: int = 0, key_lengths: Tensor | None = None
                ) -> tuple[Tensor, Tensor | None, object]:
        """Attend from ``x`` (B, L, d).

        Self-attention: ``kv`` is None (``x``'s own keys and values, returned as ``(k, v)``) or, in
        incremental decoding, this layer's part of a :class:`~seqkit.seq2seq.kv_cache.KVCache`
        (:class:`~seqkit.seq2seq.kv_cache.CacheLayer`, returned): ``x`` is one new position (L = 1) at
        ``pos``, whose keys and values the cache keeps and whose attention covers positions ``[:pos+1]``.
        Cross-attention: ``kv`` is :meth:`memory_kv` of the encoder output (required) and is returned
        unchanged; ``key_lengths`` (B,), when given, says that ``mask`` is each row's first that many
        keys, which lets inference take :func:`~seqkit.seq2seq.attention_kernel.memory_attention`.
        ``mask`` (B, 1, 1|L, Lk) boolean, True = attend.
        Returns (output (B, L, d), weights (B, H, L, Lk) if ``need_weights`` else None, kv).
        """
        b, length, _ = x.shape
        if self.cross:
            k, v = kv
            q = self.q_proj(x)
            if key_lengths is not None and self.use_sdpa and not need_weights and not self.training:
                out = memory_attention(q, k, v, key_lengths, self.n_heads)
                if out is not None:
                    return self.out_proj(out), None, kv
            (q,) = self._heads(q, 1)
        elif kv is not None:
            if length != 1 or need_weights:
                raise ValueError("cached self-attention takes one position a step, without weights")
            return self.out_proj(kv.attend(self.qkv_proj(x), pos, self.n_heads)), None, kv
        else:
            q, k, v = self._heads(self.qkv_proj(x), 3)
            kv = (k, v)
        out, weights = attend(q, k, v, mask, causal, self.dropout if self.training else 0.0,
                              need_weights, self.use_sdpa)
        out = out.transpose(1, 2).reshape(b, length, self.d_model)
        return self.out_proj(out), weights, kv
