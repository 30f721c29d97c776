"""The encoder-decoder interface every seq2seq model in seqkit implements.

The trainer, the search functions and ``seqkit translate`` only ever call these four things, so an
RNN with attention and a Transformer are interchangeable:

``model(src, src_len, tgt_in) -> logits``
    Teacher-forced training pass. ``src`` (B, S) and ``tgt_in`` (B, T) are LongTensors of token ids,
    right-padded with ``model.pad_id``; ``src_len`` (B,) holds the true source lengths; ``tgt_in``
    starts with ``<bos>``. Returns unnormalized ``logits`` (B, T, V).

``model.encode(src, src_len) -> state``
    Runs the encoder once and returns a :class:`DecoderState` holding everything the decoder needs
    (memory, masks, pre-computed cross-attention keys/values, the decoder's own recurrent state or
    key/value cache).

``model.decode_step(prev_tokens, state, need_attn=False) -> (log_probs, state, attn)``
    One incremental decoding step: ``prev_tokens`` (B,) are the last tokens emitted (``<bos>`` at the
    first step); ``log_probs`` (B, V) are the log-probabilities of the next token; the returned state
    is a new object (the input state is not mutated, unless ``reserve`` below was called); ``attn`` (B, S) are the attention weights over
    the source for this step when ``need_attn`` is true (``None`` otherwise, or for a model without
    attention).

``state.select(index) -> state``
    Picks rows of the batch: ``index`` (B',) LongTensor of row numbers. The search functions use it
    to reorder hypotheses after each step and to drop finished sentences from the batch.

``state.expand(k) -> state``
    Every row repeated ``k`` times in a row (beam search's ``k`` hypotheses per sentence). The
    default is ``select`` of the repeated rows; a state may instead share per-sentence parts (the
    Transformer shares its encoder memory), in which case later ``select`` indices keep each
    sentence's ``k`` rows together -- which beam search guarantees.

``state.reserve(steps) -> state``
    Optional (the default returns the state itself): the search announces that at most ``steps``
    decoding steps follow, so a state may preallocate its caches and from then on write and reorder
    them in place (the Transformer does). After ``reserve``, a ``decode_step`` or ``select`` may reuse
    the buffers of the state it was given: only the newest state is valid, as in a search. Without
    it, states never change one another, so a caller may branch from an earlier state.

Models also expose ``pad_id`` (the padding id they ignore).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import torch
from torch import Tensor, nn

from seqkit.text.vocab import PAD_ID


def _select(value: Any, index: Tensor) -> Any:
    """``value`` with every tensor inside it indexed along dim 0 (the batch)."""
    if isinstance(value, Tensor):
        return value.index_select(0, index)
    if isinstance(value, (list, tuple)):
        return type(value)(_select(v, index) for v in value)
    if isinstance(value, DecoderState):
        return value.select(index)
    return value  # ints, floats, None: shared by every row


@dataclasses.dataclass
class DecoderState:
    """Base class of decoder states: a dataclass whose tensor fields are batch-first.

    Every tensor field (also inside lists and tuples) must have the batch on dim 0, so
    :meth:`select` can index them all the same way. Non-tensor fields (a step counter) are shared.
    """

    def select(self, index: Tensor) -> DecoderState:
        """A new state holding rows ``index`` (B',) of this one."""
        return dataclasses.replace(self, **{f.name: _select(getattr(self, f.name), index)
                                            for f in dataclasses.fields(self)})

    def reserve(self, steps: int) -> DecoderState:
        """Room for ``steps`` more decoding steps, written in place (see the module docstring); this
        base class keeps nothing per step and returns itself."""
        return self

    def expand(self, k: int) -> DecoderState:
        """Each row repeated ``k`` times in a row (B * k rows): one per beam hypothesis. A state may
        share what does not depend on the hypothesis instead of copying it; it must then accept
        :meth:`select` indices that keep each sentence's ``k`` rows together, as beam search does."""
        rows = _batch_size(self)
        return self.select(torch.arange(rows, device=_device(self)).repeat_interleave(k))


def _tensors(value: Any):
    if isinstance(value, Tensor):
        yield value
    elif isinstance(value, (list, tuple)):
        for v in value:
            yield from _tensors(v)
    elif isinstance(value, DecoderState):
        for f in dataclasses.fields(value):
            yield from _tensors(getattr(value, f.name))


def _batch_size(state: DecoderState) -> int:
    return next(_tensors(state)).shape[0]


def _device(state: DecoderState) -> torch.device:
    return next(_tensors(state)).device


def log_softmax_(logits: Tensor) -> Tensor:
    """Log-probabilities over the last axis, computed in ``logits``' own storage when it is float32 (a
    decoding step's fresh logits: beam search's largest tensor, rows x vocabulary, is then written once
    instead of allocated again -- a quarter of the softmax's time at a batch's 950 rows of 8,000
    pieces); other dtypes become float32 first, and logits autograd tracks get a new tensor. Bitwise equal to
    ``torch.log_softmax``."""
    logits = logits.float()
    if logits.requires_grad:
        return torch.log_softmax(logits, dim=-1)
    return torch.log_softmax(logits, dim=-1, out=logits)


def lengths_to_mask(lengths: Tensor, max_len: int | None = None) -> Tensor:
    """Boolean mask (B, max_len): True at positions ``< lengths[b]`` (the real tokens)."""
    max_len = int(lengths.max()) if max_len is None else max_len
    return torch.arange(max_len, device=lengths.device) < lengths.unsqueeze(-1)


class Encoder(nn.Module):
    """Maps source ids (B, S) and lengths (B,) to an encoding the matching decoder understands."""

    def forward(self, src: Tensor, src_len: Tensor) -> Any:  # pragma: no cover - interface
        raise NotImplementedError


class Decoder(nn.Module):
    """Builds its state from the encoder output, then scores target tokens with it."""

    def init_state(self, enc_out: Any, src_len: Tensor) -> DecoderState:  # pragma: no cover
        raise NotImplementedError

    def forward(self, tgt_in: Tensor, state: DecoderState) -> Tensor:  # pragma: no cover
        """Teacher forcing: ``tgt_in`` (B, T) -> logits (B, T, V)."""
        raise NotImplementedError

    def step(self, prev_tokens: Tensor, state: DecoderState, need_attn: bool = False
             ) -> tuple[Tensor, DecoderState, Tensor | None]:  # pragma: no cover
        """One token: ``prev_tokens`` (B,) -> (logits (B, V), new state, attention (B, S) or None). The logits
        are the caller's: :meth:`EncoderDecoder.decode_step` turns them into log-probabilities in place
        (:func:`log_softmax_`), so a fresh tensor is expected, not one the decoder keeps."""
        raise NotImplementedError


class EncoderDecoder(nn.Module):
    """An encoder and a decoder glued by the interface described in this module's docstring."""

    def __init__(self, encoder: Encoder, decoder: Decoder, pad_id: int = PAD_ID) -> None:
        super().__init__()
        self.encoder, self.decoder, self.pad_id = encoder, decoder, pad_id

    def encode(self, src: Tensor, src_len: Tensor) -> DecoderState:
        """``src`` (B, S), ``src_len`` (B,) -> the decoder's initial state."""
        return self.decoder.init_state(self.encoder(src, src_len), src_len)

    def forward(self, src: Tensor, src_len: Tensor, tgt_in: Tensor) -> Tensor:
        """Teacher-forced logits (B, T, V) for ``tgt_in`` (B, T) given ``src`` (B, S)."""
        return self.decoder(tgt_in, self.encode(src, src_len))

    def decode_step(self, prev_tokens: Tensor, state: DecoderState, need_attn: bool = False
                    ) -> tuple[Tensor, DecoderState, Tensor | None]:
        """``prev_tokens`` (B,) -> (log-probabilities (B, V), new state, attention (B, S) or None)."""
        logits, state, attn = self.decoder.step(prev_tokens, state, need_attn)
        return log_softmax_(logits), state, attn
