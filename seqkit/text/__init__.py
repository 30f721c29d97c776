"""Text stage: tokenizers with one interface, and the Vocab.

Tokenizers (``encode(text) -> list[str]``, ``decode(tokens) -> str``, ``encode_batch``,
``decode_batch``), built by name with :func:`get_tokenizer`:

========================  ==========================================================
``whitespace`` / ``word``  :class:`WhitespaceTokenizer`
``char``                   :class:`CharTokenizer`
``timemachine``            :class:`TimeMachineTokenizer` (d2l cleanup, char or word)
``d2l_nmt``                :class:`D2LNMTTokenizer` (d2l English-French preprocessing)
``regex``                  :class:`RegexTokenizer` (English/French, with detokenization)
``jieba``                  :class:`JiebaTokenizer` (Chinese)
``spm``                    :class:`SentencePieceTokenizer` (unigram/BPE, trainable)
``bpe``                    :class:`BPE` (from-scratch learner + segmenter)
========================  ==========================================================

:class:`Vocab` maps tokens to ids with ``<unk>``=0, ``<pad>``=1, ``<bos>``=2, ``<eos>``=3.
"""

from __future__ import annotations

from seqkit.text.base import Tokenizer
from seqkit.text.bpe import BPE, learn_bpe
from seqkit.text.d2l import D2LNMTTokenizer, TimeMachineTokenizer, clean_time_machine, preprocess_nmt
from seqkit.text.jieba_tok import JiebaTokenizer
from seqkit.text.regex import RegexTokenizer
from seqkit.text.registry import TOKENIZERS, get_tokenizer
from seqkit.text.simple import CharTokenizer, WhitespaceTokenizer
from seqkit.text.spm import SentencePieceTokenizer
from seqkit.text.vocab import BOS, EOS, PAD, RESERVED, UNK, Vocab, count_tokens

__all__ = [
    "BOS", "BPE", "EOS", "PAD", "RESERVED", "TOKENIZERS", "UNK",
    "CharTokenizer", "D2LNMTTokenizer", "JiebaTokenizer", "RegexTokenizer", "SentencePieceTokenizer",
    "TimeMachineTokenizer", "Tokenizer", "Vocab", "WhitespaceTokenizer",
    "clean_time_machine", "count_tokens", "get_tokenizer", "learn_bpe", "preprocess_nmt",
]
