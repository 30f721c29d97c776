"""One rule for a bare string where a call expects sentences (seqkit/sentences.py, docs/design.md):
scoring and translating calls take it as one sentence and answer in its shape; batch calls and
training calls that take sentences refuse it in one line naming what to call instead."""

from __future__ import annotations

import pytest
import torch

from seqkit.errors import SeqkitError
from seqkit.lm.ngram import NGramLM
from seqkit.lm.rnn.train import encode_stream
from seqkit.metrics import bleu, chrf
from seqkit.text import BPE, SentencePieceTokenizer, Vocab, get_tokenizer

LINES = ["the cat sat on the mat", "the dog sat on the log", "a cat and a dog"] * 20


def test_batch_calls_refuse_a_string_and_name_the_single_call():
    spm = SentencePieceTokenizer.train(LINES, vocab_size=20)
    for call, single in ((spm.encode_batch, "encode(text)"), (spm.encode_ids_batch, "encode_ids(text)"),
                         (spm.decode_batch, "decode(pieces)"),
                         (get_tokenizer("whitespace").encode_batch, "encode(text)"),
                         (get_tokenizer("whitespace").decode_batch, "decode(tokens)")):
        with pytest.raises(SeqkitError, match=r"takes a list of sentences, not one string") as err:
            call("the cat sat")
        assert single in str(err.value) and "\n" not in str(err.value)
    assert spm.encode_ids_batch(["the cat sat"]) == [spm.encode_ids("the cat sat")]


def test_training_calls_taking_sentences_refuse_a_string():
    for train in (lambda: NGramLM.train("the cat sat on the mat", order=2), lambda: BPE.train("the cat", 5)):
        with pytest.raises(SeqkitError, match="takes a list of sentences, not one string.*read_lines"):
            train()


def test_scoring_calls_take_a_string_as_one_sentence():
    lm = NGramLM.train(LINES, order=2, discount_fallback=True)
    assert lm.perplexity("the cat sat on the log") == pytest.approx(lm.perplexity(["the cat sat on the log"]))
    assert bleu("the cat sat on the mat", "the cat sat on the mat").score == pytest.approx(100.0)
    assert chrf("the cat sat", ["the cat sat"]).score == pytest.approx(100.0)
    vocab = Vocab([w for line in LINES for w in line.split()])
    one = encode_stream("the cat sat", str.split, vocab, eos_per_line=True)
    assert torch.equal(one, encode_stream(["the cat sat"], str.split, vocab, eos_per_line=True))
    assert len(one) == 4  # three words and <eos>, not one id per character
