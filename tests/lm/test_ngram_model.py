"""Vectorized scoring against a token-by-token backoff reference; perplexity, sampling."""

import numpy as np
import pytest
from ngram_reference import reference

from seqkit.errors import SeqkitError
from seqkit.lm.ngram import NGramLM

rng = np.random.default_rng(0)
WORDS = [f"w{i}" for i in range(25)]
TRAIN = [" ".join(rng.choice(WORDS, size=rng.integers(1, 15), p=np.arange(25, 0, -1) / 325))
         for _ in range(300)]
TEST = [" ".join(rng.choice(WORDS + ["oov1", "oov2"], size=rng.integers(0, 15))) for _ in range(60)]


@pytest.mark.parametrize("smoothing,order", [("mkn", 1), ("mkn", 2), ("mkn", 4), ("wb", 3), ("stupid", 3),
                                             ("addk", 3)])
def test_vectorized_scores_equal_the_reference(smoothing, order):
    lm = NGramLM.train(TRAIN, order=order, smoothing=smoothing, discount_fallback=True)
    scores = lm.score_corpus(TEST)
    expected = np.concatenate([reference(lm, s) for s in TEST])
    assert np.allclose(scores.log10, expected, atol=1e-12)
    assert scores.n_tokens == sum(len(s.split()) + 1 for s in TEST)
    assert scores.n_oov == sum(w.startswith("oov") for s in TEST for w in s.split())


def test_perplexity_per_corpus_sentence_and_token():
    lm = NGramLM.train(TRAIN, order=3, discount_fallback=True)
    scores = lm.score_corpus(TEST)
    assert scores.perplexity() == pytest.approx(10 ** (-scores.log10.sum() / scores.n_tokens))
    assert lm.perplexity(TEST) == pytest.approx(scores.perplexity())
    per_sentence = scores.sentence_log10()
    assert per_sentence[3] == pytest.approx(lm.score(TEST[3]))
    assert scores.sentence_perplexities()[3] == pytest.approx(10 ** (-lm.score(TEST[3]) / (len(TEST[3].split()) + 1)))
    full = lm.full_scores(TEST[0])
    assert [f[0] for f in full] == pytest.approx(reference(lm, TEST[0]))
    assert all(1 <= n <= 3 for _, n, _ in full)
    no_oov = scores.perplexity(include_oov=False)
    assert no_oov == pytest.approx(10 ** (-scores.log10[~scores.oov].mean()))


def test_blank_lines_are_empty_sentences():
    lm = NGramLM.train(TRAIN, order=2, smoothing="wb")
    s = lm.score_corpus(["", "w1"])
    assert s.n_sentences == 2 and s.n_tokens == 3 and s.sentence.tolist() == [0, 1, 1]


def test_sampling_is_seeded_and_stops_at_end_of_sentence():
    lm = NGramLM.train(TRAIN, order=3, discount_fallback=True)
    a = lm.sample("w0 w1", seed=3, max_tokens=30)
    assert a == lm.sample("w0 w1", seed=3, max_tokens=30)
    assert len(a) <= 30 and all(w in lm.vocab for w in a) and "</s>" not in a
    samples = {tuple(lm.sample("w0", seed=s, max_tokens=5)) for s in range(10)}
    assert len(samples) > 1
    cold = lm.sample("w0", seed=0, max_tokens=5, temperature=1e-3)
    nxt = lm.next_log10(["w0"])
    assert (cold + ["</s>"])[0] == lm.vocab.tokens[int(np.argmax(nxt))]  # temperature -> 0: greedy


def test_sampling_follows_a_deterministic_corpus():
    lm = NGramLM.train(["the time traveller smiled"] * 3, order=3, smoothing="mle")
    assert lm.sample("the time", seed=0) == ["traveller", "smiled"]


def test_bad_training_input():
    with pytest.raises(SeqkitError, match="empty training text"):
        NGramLM.train(["", "  "], order=3)
    with pytest.raises(SeqkitError, match="order must be >= 1"):
        NGramLM.train(TRAIN, order=0)
    lm = NGramLM.train(TRAIN, order=2, smoothing="wb")
    with pytest.raises(SeqkitError, match="temperature must be >= 0"):
        lm.sample("w1", temperature=-1)
    # temperature 0 is greedy (seqkit.sampling's convention): the argmax word each time, any seed
    greedy = lm.sample("w1", temperature=0, max_tokens=5, seed=1)
    assert greedy == lm.sample("w1", temperature=0, max_tokens=5, seed=2)
    expected, words = [], ["w1"]
    for _ in range(5):
        w = int(lm.next_log10(words + expected).argmax())
        if lm.vocab.tokens[w] == "</s>":
            break
        expected.append(lm.vocab.tokens[w])
    assert greedy == expected


def test_safetensors_round_trip_and_bad_file(tmp_path):
    lm = NGramLM.train(TRAIN, order=3, smoothing="wb")
    lm.save(tmp_path / "m.safetensors")
    back = NGramLM.load(tmp_path / "m.safetensors")
    assert back.vocab.tokens == lm.vocab.tokens and back.info == lm.info
    assert np.array_equal(back.score_corpus(TEST).log10, lm.score_corpus(TEST).log10)
    (tmp_path / "bad.safetensors").write_bytes(b"\x10\x00\x00\x00not a header")
    with pytest.raises(SeqkitError, match="cannot read the model"):
        NGramLM.load(tmp_path / "bad.safetensors")
