"""KeyedVectors: gensim's answers on the same vectors, files gensim reads unchanged, conversion."""

from __future__ import annotations

import numpy as np
import pytest
from gensim.models import KeyedVectors as GensimKV
from gensim.test.utils import datapath

from seqkit.embeddings import KeyedVectors
from seqkit.embeddings.vectors import load_vectors
from seqkit.errors import SeqkitError


def analogy_words() -> list[str]:
    words = []
    with open(datapath("questions-words.txt"), encoding="utf-8") as fh:
        for line in fh:
            if not line.startswith(":"):
                words.extend(line.split())
    return list(dict.fromkeys(words))


@pytest.fixture(scope="module")
def random_kv() -> KeyedVectors:
    """Random 30-d vectors for the analogy words (in both cases for some) plus wordsim353's words."""
    words = analogy_words()
    with open(datapath("wordsim353.tsv"), encoding="utf-8") as fh:
        for line in fh:
            if not line.startswith("#"):
                words.extend(line.split("\t")[:2])
    words = list(dict.fromkeys(words))
    words += [w.upper() for w in words[:50]]  # case variants: the first (lower) must win
    rng = np.random.default_rng(0)
    return KeyedVectors(rng.normal(size=(len(words), 30)).astype(np.float32), words)


def test_most_similar_and_similarity_equal_gensims(random_kv):
    g = random_kv.to_gensim()
    for query in (dict(positive=["Paris", "Germany"], negative=["France"]), dict(positive="king")):
        ours = random_kv.most_similar(**query, topn=5)
        theirs = g.most_similar(**query, topn=5)
        assert [k for k, _ in ours] == [k for k, _ in theirs]
        np.testing.assert_allclose([s for _, s in ours], [s for _, s in theirs], rtol=1e-5)
    assert random_kv.similarity("king", "queen") == pytest.approx(float(g.similarity("king", "queen")), rel=1e-5)


@pytest.mark.parametrize("restrict", [pytest.param(300_000, marks=pytest.mark.slow), 400])
def test_analogy_scores_equal_gensims(random_kv, restrict):
    g = random_kv.to_gensim()
    ours, our_sections = random_kv.evaluate_word_analogies(datapath("questions-words.txt"), restrict_vocab=restrict)
    theirs, their_sections = g.evaluate_word_analogies(datapath("questions-words.txt"), restrict_vocab=restrict)
    assert ours == theirs
    assert [s["section"] for s in our_sections] == [s["section"] for s in their_sections]
    assert [len(s["correct"]) for s in our_sections] == [len(s["correct"]) for s in their_sections]
    assert len(our_sections[-1]["incorrect"]) == len(their_sections[-1]["incorrect"]) > 0


def test_word_pair_scores_equal_gensims(random_kv):
    g = random_kv.to_gensim()
    (p, _), (s, _), oov = random_kv.evaluate_word_pairs(datapath("wordsim353.tsv"), restrict_vocab=300)
    (gp, _), (gs, _), goov = g.evaluate_word_pairs(datapath("wordsim353.tsv"), restrict_vocab=300)
    assert p == pytest.approx(gp, abs=1e-6) and s == pytest.approx(gs, abs=1e-6) and oov == pytest.approx(goov)
    assert oov > 0


@pytest.mark.parametrize("binary", [False, True])
def test_word2vec_files_load_in_gensim_unchanged(tmp_path, random_kv, binary):
    path = tmp_path / ("v.bin" if binary else "v.txt")
    random_kv.save_word2vec_format(path, binary=binary)
    g = GensimKV.load_word2vec_format(path, binary=binary)
    assert list(g.index_to_key) == list(random_kv.index_to_key)
    np.testing.assert_array_equal(g.vectors, random_kv.vectors)  # 9 digits: float32 round-trips exactly
    back = load_vectors(path, cache=False)
    assert back.load_report.format == ("word2vec-binary" if binary else "word2vec-text")
    np.testing.assert_array_equal(np.asarray(back.vectors), random_kv.vectors)


@pytest.mark.parametrize("binary", [False, True])
def test_reads_files_gensim_wrote(tmp_path, random_kv, binary):
    path = tmp_path / ("g.bin" if binary else "g.txt")
    random_kv.to_gensim().save_word2vec_format(str(path), binary=binary)
    back = load_vectors(path, cache=False)
    assert list(back.index_to_key) == list(random_kv.index_to_key)
    np.testing.assert_allclose(np.asarray(back.vectors), random_kv.vectors, rtol=1e-6)


def test_save_load_safetensors_and_gensim_round_trip(tmp_path, random_kv):
    kv = KeyedVectors(random_kv.vectors, list(random_kv.index_to_key), counts=np.arange(len(random_kv)))
    kv.save(tmp_path / "kv.safetensors")
    back = KeyedVectors.load(tmp_path / "kv.safetensors")
    np.testing.assert_array_equal(back.vectors, kv.vectors)
    assert back.index_to_key == list(kv.index_to_key) and back.counts.tolist() == kv.counts.tolist()
    again = KeyedVectors.from_gensim(kv.to_gensim())
    np.testing.assert_array_equal(again.vectors, kv.vectors)
    assert again.counts.tolist() == kv.counts.tolist()


def test_unknown_word_is_a_clear_error(random_kv):
    with pytest.raises(SeqkitError, match="not in the vocabulary"):
        random_kv.most_similar("zzzqqq")


def test_keys_with_spaces_cannot_be_written_in_word2vec_format(tmp_path):
    kv = KeyedVectors(np.zeros((1, 2), np.float32), ["new york"])
    with pytest.raises(SeqkitError, match="whitespace"):
        kv.save_word2vec_format(tmp_path / "x.txt")


def test_token_lists_compare_by_content():
    from seqkit.embeddings.tokenlist import TokenList

    tokens = TokenList.from_strings(["a", "b", "c"])
    assert tokens == ["a", "b", "c"] and ["a", "b", "c"] == tokens and tokens == TokenList.from_strings(["a", "b", "c"])
    assert tokens != ["a", "b"] and tokens != ["a", "b", "x"]
