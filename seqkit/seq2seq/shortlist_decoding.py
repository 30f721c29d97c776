"""Decoding with a vocabulary shortlist in seqkit's engine (:mod:`seqkit.seq2seq.shortlist` learns, writes
and reads them, without importing torch: ``seqkit shortlist build`` never computes with it)."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from seqkit.seq2seq.interfaces import log_softmax_
from seqkit.text.vocab import PAD_ID


def sliced_projection(layer: Any, ids: Any) -> Any:
    """``h (..., d) -> logits (..., C)`` of the rows ``ids`` (C,) of an output projection, its weight
    rows sliced once: ``layer`` is a weight matrix (V, d) (a tied embedding), an ``nn.Linear``, or an
    :class:`~seqkit.seq2seq.int8.Int8Linear` (``--quantize int8``: its int8 rows and per-row scales are
    taken as they are and packed again, so each logit is the one the full layer computes)."""
    if isinstance(layer, torch.Tensor):
        weight = layer.index_select(0, ids)
        return lambda h: F.linear(h, weight)
    if isinstance(layer, torch.nn.Linear):
        weight = layer.weight.index_select(0, ids)
        bias = layer.bias.index_select(0, ids) if layer.bias is not None else None
        return lambda h: F.linear(h, weight, bias)
    select = getattr(layer, "select", None)
    return select(ids) if select is not None else None


class ShortlistModel(nn.Module):
    """A model of the :mod:`seqkit.seq2seq.interfaces` interface that scores only the candidate ids
    ``ids`` (C,) of one batch (sorted, the special ids first: :meth:`Shortlist.candidates`): the search
    over it sees a vocabulary of C pieces, index ``i`` meaning piece ``ids[i]`` (``<bos>``/``<eos>``
    keep their ids), and its log-probabilities are normalised over the candidates, as CTranslate2's
    are with a vmap. A model with ``shortlist_projection(ids)`` (the Transformer) computes its output
    projection over the candidates' rows only; any other (an ensemble, the RNN) scores the whole
    vocabulary and the candidates' log-probabilities are renormalised.
    Map the search's output ids back with ``ids[tokens]``."""

    def __init__(self, model: nn.Module, ids: torch.Tensor) -> None:
        super().__init__()
        self.model, self.ids = model, ids
        self.pad_id = getattr(model, "pad_id", PAD_ID)
        make = getattr(model, "shortlist_projection", None)
        self.project = make(ids) if make is not None else None

    def encode(self, src: Any, src_len: Any) -> Any:
        return self.model.encode(src, src_len)

    def decode_step(self, prev_tokens: Any, state: Any, need_attn: bool = False) -> Any:
        """prev_tokens (B,) candidate indices -> (log_probs (B, C), state, attention or None)."""
        full = self.ids.index_select(0, prev_tokens)
        if self.project is not None:
            return self.model.decode_step(full, state, need_attn, project=self.project)
        log_probs, state, attn = self.model.decode_step(full, state, need_attn)
        return log_softmax_(log_probs.index_select(1, self.ids)), state, attn
