"""Every estimator against probabilities computed by hand, normalization, discount errors.

Corpus: "a b" / "a b a". Predicted tokens: a 3, b 2, </s> 2 (N = 7); |V| = 4 (<unk>, </s>, a, b).
Bigrams: <s> a 2, a b 2, b </s> 1, b a 1, a </s> 1.
Continuation counts (Kneser-Ney unigrams): a 2 (<s>, b), b 1 (a), </s> 2 (b, a); total 5.
"""

import itertools
import math

import numpy as np
import pytest

from seqkit.errors import SeqkitError
from seqkit.lm.ngram import NGramLM
from seqkit.lm.ngram.smoothing import SMOOTHERS

LINES = ["a b", "a b a"]


def p(lm, word, *context):
    """p(word | <s> context...) from the model's next-word distribution."""
    return 10 ** lm.next_log10(list(context))[lm.vocab[word]]


def p_after(lm, word, prev):
    """p(word | prev) without <s> (prev is the whole history)."""
    return 10 ** lm.next_log10([prev], bos=False)[lm.vocab[word]]


def test_mle():
    lm = NGramLM.train(LINES, order=2, smoothing="mle")
    assert p(lm, "a") == pytest.approx(1.0)
    assert p_after(lm, "b", "a") == pytest.approx(2 / 3)
    assert p_after(lm, "</s>", "a") == pytest.approx(1 / 3)
    assert p_after(lm, "a", "b") == pytest.approx(1 / 2)
    assert p(lm, "b") == 0.0  # MLE's zero
    uni = NGramLM.train(LINES, order=1, smoothing="mle")
    assert p(uni, "a") == pytest.approx(3 / 7) and p(uni, "<unk>") == 0.0


def test_add_k():
    lm = NGramLM.train(LINES, order=2, smoothing="laplace")
    assert p(lm, "a") == pytest.approx(3 / 6)  # (2 + 1) / (2 + 4)
    assert p(lm, "b") == pytest.approx(1 / 6)
    assert p_after(lm, "b", "a") == pytest.approx(3 / 7)
    assert p_after(lm, "a", "a") == pytest.approx(1 / 7)
    assert p_after(lm, "b", "b") == pytest.approx(1 / 6)
    assert p_after(lm, "a", "<unk>") == pytest.approx(1 / 4)  # unseen context: uniform
    lid = NGramLM.train(LINES, order=1, smoothing="addk", k=0.5)
    assert p(lid, "a") == pytest.approx(3.5 / 9)  # (3 + .5) / (7 + .5 * 4)


def test_witten_bell():
    lm = NGramLM.train(LINES, order=2, smoothing="wb")
    # unigrams: (c + T/|V|) / (N + T), T = 3 types
    p1 = {"a": 3.75 / 10, "b": 2.75 / 10, "</s>": 2.75 / 10, "<unk>": 0.75 / 10}
    uni = NGramLM.train(LINES, order=1, smoothing="wb")
    for w, v in p1.items():
        assert p(uni, w) == pytest.approx(v)
    # context a: c = 3, T = 2 -> (c(aw) + 2 p1(w)) / 5
    assert p_after(lm, "b", "a") == pytest.approx((2 + 2 * p1["b"]) / 5)
    assert p_after(lm, "a", "a") == pytest.approx(2 * p1["a"] / 5)
    # context <s>: c = 2, T = 1
    assert p(lm, "a") == pytest.approx((2 + p1["a"]) / 3)
    assert p(lm, "<unk>") == pytest.approx(p1["<unk>"] / 3)


def test_absolute_discounting_with_given_discounts():
    lm = NGramLM.train(LINES, order=2, smoothing="absolute", discounts=[0.5, 0.5])
    # unigrams: (c - .5) / 7 + (.5 * 3 / 7) / 4
    p1 = {"a": 2.875 / 7, "b": 1.875 / 7, "</s>": 1.875 / 7, "<unk>": 0.375 / 7}
    assert p_after(lm, "b", "a") == pytest.approx(1.5 / 3 + (0.5 * 2 / 3) * p1["b"])
    assert p_after(lm, "a", "a") == pytest.approx((0.5 * 2 / 3) * p1["a"])
    assert p_after(lm, "<unk>", "b") == pytest.approx((0.5 * 2 / 2) * p1["<unk>"])
    # estimated: bigram counts-of-counts n1 = 3, n2 = 2 -> D = 3 / 7; unigrams have n1 = 0
    with pytest.raises(SeqkitError, match="1-grams"):
        NGramLM.train(LINES, order=2, smoothing="absolute")


def test_kneser_ney_estimated_discounts():
    lm = NGramLM.train(LINES, order=2, smoothing="kn")
    # unigram continuation counts a 2, b 1, </s> 2: n1 = 1, n2 = 2 -> D1 = 1/5; bigrams D2 = 3/7
    assert lm.info["discounts"][0][0] == pytest.approx(1 / 5)
    assert lm.info["discounts"][1][0] == pytest.approx(3 / 7)
    p1 = {"a": 1.8 / 5 + 0.03, "b": 0.8 / 5 + 0.03, "</s>": 1.8 / 5 + 0.03, "<unk>": 0.03}
    for w, v in p1.items():
        assert p_after(lm, w, "<unk>") == pytest.approx(v)  # unseen context -> unigram
    d = 3 / 7
    assert p_after(lm, "b", "a") == pytest.approx((2 - d) / 3 + (d * 2 / 3) * p1["b"])
    assert p(lm, "a") == pytest.approx((2 - d) / 2 + (d / 2) * p1["a"])


def test_modified_kneser_ney_with_given_discounts():
    lm = NGramLM.train(LINES, order=2, smoothing="mkn", discounts=[(0.2, 0.4, 0.6), (0.3, 0.5, 0.7)])
    # unigrams: a 2 -> D2, b 1 -> D1, </s> 2 -> D2; gamma = (.2 * 1 + .4 * 2) / 5 = .2
    p1 = {"a": 1.6 / 5 + 0.05, "b": 0.8 / 5 + 0.05, "</s>": 1.6 / 5 + 0.05, "<unk>": 0.05}
    for w, v in p1.items():
        assert p_after(lm, w, "<unk>") == pytest.approx(v)
    # context a: b 2 (D2 = .5), </s> 1 (D1 = .3): gamma = (.3 + .5) / 3
    assert p_after(lm, "b", "a") == pytest.approx(1.5 / 3 + 0.8 / 3 * p1["b"])
    assert p_after(lm, "</s>", "a") == pytest.approx(0.7 / 3 + 0.8 / 3 * p1["</s>"])
    assert p_after(lm, "a", "a") == pytest.approx(0.8 / 3 * p1["a"])


def test_kneser_ney_trigram_uses_raw_counts_after_bos():
    # order 3: the bigram "<s> a" keeps its raw count 2 as the lower order of "<s> a b"
    lm = NGramLM.train(LINES, order=3, smoothing="kn", discounts=[0.5, 0.5, 0.5])
    p1_b = (1 - 0.5) / 5 + (0.5 * 3 / 5) / 4
    # bigram context a, adjusted counts: "a b" 1, "a </s>" 1 -> total 2, gamma = .5 * 2 / 2
    p2_b = (1 - 0.5) / 2 + 0.5 * p1_b
    # trigram context "<s> a": "<s> a b" raw 2 -> (2 - .5) / 2 + (.5 / 2) p2(b | a)
    assert p(lm, "b", "a") == pytest.approx(1.5 / 2 + 0.25 * p2_b)


def test_stupid_backoff():
    lm = NGramLM.train(LINES, order=2, smoothing="stupid")
    assert p_after(lm, "b", "a") == pytest.approx(2 / 3)
    assert p_after(lm, "a", "a") == pytest.approx(0.4 * 3 / 7)
    assert p_after(lm, "a", "<unk>") == pytest.approx(3 / 7)  # context never seen: no penalty


CORPUS = ["the cat sat on the mat", "the dog sat on the log", "a cat ate", "the cat ate the fish",
          "a dog sat", "on the mat a cat sat", "the fish ate the cat"]


@pytest.mark.parametrize("smoothing", ["mle", "addk", "wb", "absolute", "kn", "mkn"])
@pytest.mark.parametrize("order", [1, 2, 3])
def test_probabilities_sum_to_one_for_every_context(smoothing, order):
    lm = NGramLM.train(CORPUS, order=order, smoothing=smoothing, discount_fallback=True)
    contexts = {tuple(s.split()[:i]) for s in CORPUS for i in range(len(s.split()) + 1)}
    contexts |= {("zebra",), ("the", "zebra"), ("zebra", "cat")}  # unseen / OOV contexts
    for ctx in contexts:
        probs = 10 ** lm.next_log10(list(ctx))
        assert probs[lm.vocab["<s>"]] == 0
        assert probs.sum() == pytest.approx(1.0, abs=1e-9), ctx
    for prev in itertools.islice(lm.vocab.tokens, 3, None):  # contexts without <s>
        assert (10 ** lm.next_log10([prev], bos=False)).sum() == pytest.approx(1.0, abs=1e-9)


def test_discounts_that_cannot_be_estimated_say_so_and_fall_back():
    with pytest.raises(SeqkitError) as err:
        NGramLM.train(CORPUS, order=3, smoothing="mkn")
    message = str(err.value)
    assert "cannot estimate Kneser-Ney discounts" in message and "--discount-fallback" in message
    lm = NGramLM.train(CORPUS, order=3, smoothing="mkn", discount_fallback=True)
    assert (0.5, 1.0, 1.5) in [tuple(d) for d in lm.info["discounts"]]
    assert math.isfinite(lm.perplexity(["the zebra sat"]))


def test_unknown_smoothing_and_bad_options():
    with pytest.raises(SeqkitError, match="unknown smoothing 'kneser'.*mkn"):
        NGramLM.train(CORPUS, smoothing="kneser")
    with pytest.raises(SeqkitError, match="does not take alpha"):
        NGramLM.train(CORPUS, smoothing="wb", alpha=0.3)
    assert set(SMOOTHERS) >= {"mle", "addk", "laplace", "wb", "absolute", "kn", "mkn", "stupid"}


def test_unseen_words_never_make_perplexity_infinite():
    for smoothing in ("addk", "wb", "kn", "mkn"):
        lm = NGramLM.train(CORPUS, order=3, smoothing=smoothing, discount_fallback=True)
        s = lm.score_corpus(["the zebra ate quinoa"])
        assert s.n_oov == 2 and np.isfinite(s.log10).all()
