"""d2l's sentence BLEU (no crash on short predictions) and perplexity."""

import math

import pytest

from seqkit.metrics import perplexity, sentence_bleu


def test_d2l_printed_values():
    # d2l 10.7 prints: he's calm . => il est riche ., bleu 0.658 (label "il est calme .")
    assert round(sentence_bleu("il est riche .", "il est calme ."), 3) == 0.658
    assert sentence_bleu("va !", "va !") == 1.0
    assert sentence_bleu("j'ai perdu .", "j'ai perdu .", k=3) == 1.0


def test_brevity_penalty_and_precisions_by_hand():
    # pred 2 tokens, label 4: exp(1 - 4/2) * p1^(1/2) * p2^(1/4) with p1 = 1, p2 = 1
    assert sentence_bleu("a b", "a b c d") == pytest.approx(math.exp(-1))
    # p1 = 2/3, p2 = 1/2
    assert sentence_bleu("a b x", "a b c") == pytest.approx((2 / 3) ** 0.5 * 0.5 ** 0.25)


def test_short_or_empty_prediction_scores_zero_instead_of_crashing():
    assert sentence_bleu("va", "va !", k=2) == 0.0  # d2l: ZeroDivisionError
    assert sentence_bleu("", "va !") == 0.0
    assert sentence_bleu(["a", "b"], ["a", "b"], k=4) == 0.0


def test_perplexity():
    assert perplexity(3 * math.log(7), 3) == pytest.approx(7.0)
    with pytest.raises(ValueError):
        perplexity(1.0, 0)
