"""Subsampling, noise words and the alias table against their formulas (fixed seeds)."""

from __future__ import annotations

import numpy as np
import pytest

from seqkit.embeddings.kernel import load_kernel
from seqkit.embeddings.word2vec import alias_table, keep_probabilities, noise_distribution

COUNTS = np.array([50_000, 20_000, 5_000, 1_000, 200, 50, 10, 1], dtype=np.int64)


def test_keep_probability_formula_by_hand():
    # N = 76,261; t = 1e-3 * N = 76.261. count 50,000: (sqrt(50000/76.261) + 1) * 76.261/50000
    keep = keep_probabilities(COUNTS, 1e-3)
    t = 1e-3 * COUNTS.sum()
    assert keep[0] == pytest.approx((np.sqrt(50_000 / t) + 1) * t / 50_000, rel=1e-6)
    assert keep[0] == pytest.approx(0.040578, abs=1e-5)
    assert keep[4] == pytest.approx(min(1.0, (np.sqrt(200 / t) + 1) * t / 200), rel=1e-6)
    assert (keep[5:] == 1.0).all()  # rare words are always kept
    assert (keep_probabilities(COUNTS, 0) == 1).all()


def test_alias_table_reproduces_the_distribution_exactly():
    probs = noise_distribution(COUNTS)
    prob, alias = alias_table(probs)
    n = len(probs)
    implied = prob.astype(np.float64) / n
    np.add.at(implied, alias, (1.0 - prob.astype(np.float64)) / n)
    np.testing.assert_allclose(implied, probs, atol=1e-7)


def test_noise_distribution_is_unigram_to_the_075():
    probs = noise_distribution(COUNTS)
    assert probs[0] / probs[1] == pytest.approx((50_000 / 20_000) ** 0.75)
    assert probs.sum() == pytest.approx(1.0)


@pytest.fixture(scope="module")
def kernel():
    lib = load_kernel()
    if lib is None:
        pytest.skip("no C compiler: the kernel cannot be built here")
    return lib


def test_kernel_noise_draws_match_unigram_075(kernel):
    probs = noise_distribution(COUNTS)
    prob, alias = alias_table(probs)
    n = 400_000
    out = np.empty(n, dtype=np.int32)
    kernel.sgns_draw_noise(prob, alias, len(COUNTS), 12345, n, out)
    freq = np.bincount(out, minlength=len(COUNTS)) / n
    sigma = np.sqrt(probs * (1 - probs) / n)
    assert np.all(np.abs(freq - probs) < 5 * sigma + 1e-9), (freq, probs)
    # and not the plain unigram distribution: the 0.75 power lifts rare words
    assert freq[3] > COUNTS[3] / COUNTS.sum() * 1.5


def test_kernel_subsampling_keeps_the_formula_fraction(kernel):
    keep = keep_probabilities(COUNTS, 1e-3)
    corpus = np.repeat(np.arange(len(COUNTS), dtype=np.int32), COUNTS)
    np.random.default_rng(0).shuffle(corpus)
    out = np.empty_like(corpus)
    kept = kernel.sgns_subsample(corpus, len(corpus), keep, 7, out)
    got = np.bincount(out[:kept], minlength=len(COUNTS))
    expected = COUNTS * keep.astype(np.float64)
    sigma = np.sqrt(COUNTS * keep * (1 - keep)) + 1e-9
    assert np.all(np.abs(got - expected) <= 5 * sigma + 0.5), (got, expected)
    assert got[0] < 0.05 * COUNTS[0]  # the most frequent word is mostly dropped
