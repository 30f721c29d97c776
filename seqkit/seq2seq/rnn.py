"""RNN encoder-decoder (d2l chapters 10.7 and 11.4): GRU/LSTM, optional attention.

``RNNSeq2Seq(src_vocab_size, tgt_vocab_size, embed_dim, hidden_size, num_layers, cell="gru",
attention="bahdanau", bidirectional=False, dropout=0.0, pad_id=1)`` implements the interface of
:mod:`seqkit.seq2seq.interfaces` (``model(src, src_len, tgt_in)``, ``encode``, ``decode_step``).

* Encoder: embedding, then ``nn.GRU``/``nn.LSTM`` over packed sequences (padding never enters the
  recurrence, so a sentence's encoding does not depend on the batch it is in). With
  ``bidirectional=True`` the memory has 2 * hidden_size features and the final forward/backward states are
  joined by a linear "bridge" + tanh into the decoder's initial state.
* Decoder: each step feeds ``[embedding(y_{t-1}); context_t]`` to the RNN and projects its output to
  the vocabulary. With attention, ``context_t`` attends over the encoder memory with the previous
  top-layer decoder state as query: ``"bahdanau"`` (additive), ``"dot"`` (Luong dot, scaled) or
  ``"general"`` (Luong general). Keys are projected once per sentence.
* d2l fix: without attention, ``context_t`` is the encoder's final top-layer state, kept in the
  decoder state for every step. d2l's ``Seq2SeqDecoder`` re-reads ``state[-1]`` on every call, which
  at prediction time is the *decoder's* drifting state, so prediction differed from training.
"""

from __future__ import annotations

import dataclasses

import torch
from torch import Tensor, nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from seqkit.seq2seq.attention import AdditiveAttention, DotProductAttention, GeneralAttention
from seqkit.seq2seq.dropout import Dropout
from seqkit.seq2seq.interfaces import Decoder, DecoderState, Encoder, EncoderDecoder, lengths_to_mask
from seqkit.text.vocab import PAD_ID

_CELLS = {"gru": nn.GRU, "lstm": nn.LSTM}
ATTENTIONS = ("bahdanau", "dot", "general", None)


class RNNEncoder(Encoder):
    """src (B, S), src_len (B,) -> (memory (B, S, H * directions), final states)."""

    def __init__(self, vocab_size: int, embed_dim: int, hidden_size: int, num_layers: int, cell: str = "gru",
                 bidirectional: bool = False, dropout: float = 0.0, pad_id: int = PAD_ID) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab_size, embed_dim, padding_idx=pad_id)
        self.rnn = _CELLS[cell](embed_dim, hidden_size, num_layers, batch_first=True, bidirectional=bidirectional,
                                dropout=dropout if num_layers > 1 else 0.0)
        self.dropout = Dropout(dropout)

    def forward(self, src: Tensor, src_len: Tensor) -> tuple[Tensor, Tensor | tuple[Tensor, Tensor]]:
        """Returns memory (B, S, H * directions) (zeros at padding) and the RNN's final state(s)
        (num_layers * directions, B, H) -- a tuple (h, c) for an LSTM."""
        packed = pack_padded_sequence(self.dropout(self.embed(src)), src_len.cpu(), batch_first=True,
                                      enforce_sorted=False)
        out, final = self.rnn(packed)
        memory, _ = pad_packed_sequence(out, batch_first=True, total_length=src.shape[1])
        return memory, final


@dataclasses.dataclass
class RNNState(DecoderState):
    """Decoder state, batch first.

    hidden: (B, layers, H) decoder hidden state; cell: the LSTM cell state, same shape, or None.
    memory: (B, S, M) encoder outputs; keys: (B, S, A) the attention's projected memory (or None);
    mask: (B, 1, S) True at real source tokens; context: (B, M) the encoder's final top-layer
    state, the fixed context when there is no attention.
    """

    hidden: Tensor
    cell: Tensor | None
    memory: Tensor
    keys: Tensor | None
    mask: Tensor
    context: Tensor


class RNNDecoder(Decoder):
    """Step-by-step RNN decoder with optional attention (see the module docstring)."""

    def __init__(self, vocab_size: int, embed_dim: int, hidden_size: int, num_layers: int, memory_dim: int,
                 cell: str = "gru", attention: str | None = "bahdanau", dropout: float = 0.0,
                 pad_id: int = PAD_ID, bidirectional: bool = False) -> None:
        super().__init__()
        if attention not in ATTENTIONS:
            raise ValueError(f"attention must be one of {ATTENTIONS}, not {attention!r}")
        if attention == "dot" and memory_dim != hidden_size:
            raise ValueError("dot attention needs memory and decoder of one size; use 'general' "
                             "with a bidirectional encoder")
        self.cell_type, self.num_layers, self.hidden_size = cell, num_layers, hidden_size
        self.embed = nn.Embedding(vocab_size, embed_dim, padding_idx=pad_id)
        self.attention = {"bahdanau": lambda: AdditiveAttention(memory_dim, hidden_size, hidden_size, dropout),
                          "dot": lambda: DotProductAttention(dropout),
                          "general": lambda: GeneralAttention(memory_dim, hidden_size, dropout),
                          None: lambda: None}[attention]()
        self.rnn = _CELLS[cell](embed_dim + memory_dim, hidden_size, num_layers, batch_first=True,
                                dropout=dropout if num_layers > 1 else 0.0)
        # joins the final forward and backward states of a bidirectional encoder
        self.bridge = nn.Linear(memory_dim, hidden_size) if bidirectional else None
        self.dropout = Dropout(dropout)
        self.out = nn.Linear(hidden_size, vocab_size)

    def _initial(self, final: Tensor) -> Tensor:
        """Encoder final states (num_layers * directions, B, H) -> decoder states (B, num_layers, H)."""
        if self.bridge is None:
            return final.transpose(0, 1).contiguous()
        layers2, b, h = final.shape
        joined = final.view(layers2 // 2, 2, b, h).permute(2, 0, 1, 3).reshape(b, layers2 // 2, 2 * h)
        return torch.tanh(self.bridge(joined))

    def init_state(self, enc_out, src_len: Tensor) -> RNNState:
        memory, final = enc_out
        h, c = final if isinstance(final, tuple) else (final, None)
        hidden = self._initial(h)
        # the fixed context: the encoder's top layer final state, both directions (B, M)
        top = h[-2:] if self.bridge is not None else h[-1:]
        context = top.transpose(0, 1).reshape(h.shape[1], -1)
        keys = self.attention.project_keys(memory) if self.attention is not None else None
        mask = lengths_to_mask(src_len, memory.shape[1]).unsqueeze(1)
        return RNNState(hidden, None if c is None else self._initial(c), memory, keys, mask, context)

    def step(self, prev_tokens: Tensor, state: RNNState, need_attn: bool = False
             ) -> tuple[Tensor, RNNState, Tensor | None]:
        """prev_tokens (B,) -> (logits (B, V), new state, attention (B, S) or None)."""
        emb = self.dropout(self.embed(prev_tokens)).unsqueeze(1)  # (B, 1, E)
        weights = None
        if self.attention is not None:
            query = state.hidden[:, -1:]  # (B, 1, H): the previous top-layer state
            context, weights = self.attention(query, state.memory, state.memory, state.mask, state.keys)
        else:
            context = state.context.unsqueeze(1)  # (B, 1, M): from the encoder, never the decoder
        hx = state.hidden.transpose(0, 1).contiguous()
        if state.cell is not None:
            hx = (hx, state.cell.transpose(0, 1).contiguous())
        out, new = self.rnn(torch.cat([emb, context], dim=-1), hx)
        h, c = new if isinstance(new, tuple) else (new, None)
        new_state = dataclasses.replace(state, hidden=h.transpose(0, 1),
                                        cell=None if c is None else c.transpose(0, 1))
        logits = self.out(self.dropout(out[:, 0]))
        return logits, new_state, (weights[:, 0] if need_attn and weights is not None else None)

    def forward(self, tgt_in: Tensor, state: RNNState) -> Tensor:
        """Teacher forcing: tgt_in (B, T) -> logits (B, T, V), one step at a time (attention needs
        the previous state as its query)."""
        outputs = []
        for t in range(tgt_in.shape[1]):
            logits, state, _ = self.step(tgt_in[:, t], state)
            outputs.append(logits)
        return torch.stack(outputs, dim=1)


class RNNSeq2Seq(EncoderDecoder):
    """GRU/LSTM encoder-decoder, with Bahdanau or Luong attention or none."""

    def __init__(self, src_vocab_size: int, tgt_vocab_size: int, embed_dim: int = 256, hidden_size: int = 256,
                 num_layers: int = 2, cell: str = "gru", attention: str | None = "bahdanau",
                 bidirectional: bool = False, dropout: float = 0.0, pad_id: int = PAD_ID) -> None:
        if cell not in _CELLS:
            raise ValueError(f"cell must be one of {sorted(_CELLS)}, not {cell!r}")
        memory_dim = hidden_size * (2 if bidirectional else 1)
        super().__init__(
            RNNEncoder(src_vocab_size, embed_dim, hidden_size, num_layers, cell, bidirectional, dropout, pad_id),
            RNNDecoder(tgt_vocab_size, embed_dim, hidden_size, num_layers, memory_dim, cell, attention, dropout,
                       pad_id, bidirectional),
            pad_id)
