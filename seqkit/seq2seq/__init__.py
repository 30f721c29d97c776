"""Sequence-to-sequence models: attention, RNN encoder-decoder, Transformer, loss and search.

Every model implements the interface of :mod:`seqkit.seq2seq.interfaces`
(``model(src, src_len, tgt_in)``, ``encode``, ``decode_step``, ``state.select``), which is all the
trainer and the search functions use.
"""

from seqkit.seq2seq.attention import (
    AdditiveAttention,
    DotProductAttention,
    GeneralAttention,
    MultiHeadAttention,
    masked_softmax,
)
from seqkit.seq2seq.interfaces import Decoder, DecoderState, Encoder, EncoderDecoder, lengths_to_mask
from seqkit.seq2seq.loss import sequence_loss, sequence_mean_loss
from seqkit.seq2seq.plot import plot_attention
from seqkit.seq2seq.positional import SinusoidalPositions
from seqkit.seq2seq.rnn import RNNDecoder, RNNEncoder, RNNSeq2Seq
from seqkit.seq2seq.search import Hypothesis, beam_search, greedy_search, length_penalty, sample
from seqkit.seq2seq.transformer import Transformer

__all__ = [
    "AdditiveAttention", "DotProductAttention", "GeneralAttention", "MultiHeadAttention",
    "masked_softmax", "Decoder", "DecoderState", "Encoder", "EncoderDecoder", "lengths_to_mask",
    "sequence_loss", "sequence_mean_loss", "SinusoidalPositions", "Hypothesis", "beam_search",
    "greedy_search", "length_penalty", "sample", "Transformer", "RNNEncoder", "RNNDecoder", "RNNSeq2Seq",
    "plot_attention",
]

# The translation system (tokenizer + model + search) the NMT recipes and `seqkit translate` use.
from seqkit.seq2seq.decoding import DecodeSettings  # noqa: E402
from seqkit.seq2seq.presets import PRESETS, build_model, model_config  # noqa: E402
from seqkit.seq2seq.training import NMTStep, NMTTrainConfig, train_nmt  # noqa: E402
from seqkit.seq2seq.translator import Translator  # noqa: E402

__all__ += ["PRESETS", "DecodeSettings", "NMTStep", "NMTTrainConfig", "Translator", "build_model", "model_config",
            "train_nmt"]
