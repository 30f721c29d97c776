"""Sequence-to-sequence models: attention, RNN encoder-decoder, Transformer, loss and search.

Every model implements the interface of :mod:`seqkit.seq2seq.interfaces`
(``model(src, src_len, tgt_in)``, ``encode``, ``decode_step``, ``state.select``), which is all the
trainer and the search functions use.

The names below are imported on first use (:mod:`seqkit.lazy`), so a command that only reads a
model folder or learns a vocabulary shortlist (``seqkit shortlist build``) does not import torch.
"""

from __future__ import annotations

from seqkit.lazy import lazy_exports

_EXPORTS = {
    "AdditiveAttention": "attention", "DotProductAttention": "attention", "GeneralAttention": "attention",
    "MultiHeadAttention": "attention", "masked_softmax": "attention",
    "Decoder": "interfaces", "DecoderState": "interfaces", "Encoder": "interfaces", "EncoderDecoder": "interfaces",
    "lengths_to_mask": "interfaces",
    "sequence_loss": "loss", "sequence_mean_loss": "loss",
    "plot_attention": "plot",
    "SinusoidalPositions": "positional",
    "RNNDecoder": "rnn", "RNNEncoder": "rnn", "RNNSeq2Seq": "rnn",
    "Hypothesis": "search", "beam_search": "search", "greedy_search": "search", "length_penalty": "search",
    "sample": "search",
    "Transformer": "transformer",
    # the translation system (tokenizer + model + search) the NMT recipes and `seqkit translate` use
    "DecodeSettings": "decoding",
    "PRESETS": "presets", "build_model": "presets", "model_config": "presets",
    "NMTStep": "training", "NMTTrainConfig": "training", "train_nmt": "training",
    "Translator": "translator",
}

__all__ = list(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, {name: f"{__name__}.{module}" for name, module in _EXPORTS.items()})
