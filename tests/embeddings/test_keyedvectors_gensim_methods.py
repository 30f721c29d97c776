"""The gensim KeyedVectors methods users reach for, equal to gensim's results on the same vectors."""

from __future__ import annotations

import numpy as np
import pytest

from seqkit.embeddings.keyedvectors import KeyedVectors


@pytest.fixture(scope="module")
def pair():
    from gensim.models import KeyedVectors as GensimKV

    rng = np.random.default_rng(0)
    keys = [f"w{i}" for i in range(300)]
    vectors = rng.normal(size=(300, 16)).astype(np.float32)
    ours = KeyedVectors(vectors, keys)
    theirs = GensimKV(16)
    theirs.add_vectors(keys, vectors)
    return ours, theirs


def _same(a, b):
    assert [k for k, _ in a] == [k for k, _ in b]
    assert [v for _, v in a] == pytest.approx([v for _, v in b], abs=1e-5)


def test_similar_by_word_and_cosmul(pair):
    ours, theirs = pair
    _same(ours.similar_by_word("w3", topn=7), theirs.similar_by_word("w3", topn=7))
    _same(ours.most_similar_cosmul(positive=["w1", "w2"], negative=["w3"], topn=8),
          theirs.most_similar_cosmul(positive=["w1", "w2"], negative=["w3"], topn=8))
    _same(ours.most_similar_cosmul("w5", topn=5), theirs.most_similar_cosmul("w5", topn=5))


def test_distances_similarities_ranks(pair):
    ours, theirs = pair
    assert ours.distance("w1", "w2") == pytest.approx(theirs.distance("w1", "w2"), abs=1e-6)
    assert ours.distances("w4", ["w1", "w9"]) == pytest.approx(theirs.distances("w4", ["w1", "w9"]), abs=1e-6)
    assert ours.distances("w4") == pytest.approx(theirs.distances("w4"), abs=1e-5)
    assert ours.n_similarity(["w1", "w2"], ["w3", "w4", "w5"]) == pytest.approx(
        theirs.n_similarity(["w1", "w2"], ["w3", "w4", "w5"]), abs=1e-6)
    assert ours.doesnt_match(["w1", "w2", "w3", "w4"]) == theirs.doesnt_match(["w1", "w2", "w3", "w4"])
    assert ours.closer_than("w1", "w7") == theirs.closer_than("w1", "w7")
    assert ours.rank("w1", "w7") == theirs.rank("w1", "w7")
