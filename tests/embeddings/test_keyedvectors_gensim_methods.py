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


def test_add_vectors_get_vecattr_fill_norms_like_gensim():
    from gensim.models import KeyedVectors as GensimKV

    rng = np.random.default_rng(1)
    keys = [f"k{i}" for i in range(50)]
    vectors = rng.normal(size=(50, 8)).astype(np.float32)
    ours = KeyedVectors(vectors.copy(), keys, counts=np.arange(50, 0, -1))
    theirs = GensimKV(8)
    theirs.add_vectors(keys, vectors.copy())
    for i, k in enumerate(keys):
        theirs.set_vecattr(k, "count", 50 - i)
    ours.fill_norms()
    theirs.fill_norms()
    extra_keys = ["new1", "k3", "new2"]  # k3 exists: kept unless replace
    extra = rng.normal(size=(3, 8)).astype(np.float32)
    ours.add_vectors(extra_keys, extra)
    theirs.add_vectors(extra_keys, extra)
    assert list(ours.index_to_key) == list(theirs.index_to_key)
    assert np.array_equal(ours.vectors, theirs.vectors)
    assert ours.get_vecattr("k7", "count") == theirs.get_vecattr("k7", "count") == 43
    # gensim keeps its stale norms after add_vectors (an IndexError in most_similar for a new key) until
    # fill_norms(force=True); seqkit drops them when the matrix grows
    theirs.fill_norms(force=True)
    _same(ours.most_similar("new1", topn=5), theirs.most_similar("new1", topn=5))
    ours.add_vectors(["k3"], extra[1:2], replace=True)
    theirs.add_vectors(["k3"], extra[1:2], replace=True)
    assert np.array_equal(ours["k3"], theirs["k3"])
    theirs.fill_norms(force=True)
    _same(ours.similar_by_key("k3", topn=4), theirs.similar_by_key("k3", topn=4))
    ours.set_vecattr("new1", "count", 7)
    assert ours.get_vecattr("new1", "count") == 7


def test_kv_files_are_written_for_gensim_and_never_unpickled(pair, tmp_path):
    from gensim.models import KeyedVectors as GensimKV

    from seqkit.embeddings.vectors import load_vectors
    from seqkit.errors import SeqkitError

    ours, _ = pair
    ours.save(tmp_path / "v.kv")
    back = GensimKV.load(str(tmp_path / "v.kv"))  # gensim reads what seqkit wrote
    assert list(back.index_to_key) == list(ours.index_to_key) and np.array_equal(back.vectors, ours.vectors)
    for load in (KeyedVectors.load, load_vectors):
        with pytest.raises(SeqkitError, match="never unpickles a file") as info:
            load(tmp_path / "v.kv")
        assert "save_word2vec_format" in str(info.value) and "from_gensim" in str(info.value)
    # the conversion the message gives works, and from_gensim takes a loaded object
    back.save_word2vec_format(str(tmp_path / "v.bin"), binary=True)
    assert np.array_equal(load_vectors(tmp_path / "v.bin", cache=False).vectors, ours.vectors)
    assert np.array_equal(KeyedVectors.from_gensim(back).vectors, ours.vectors)
