"""Continued training of a saved word2vec model (gensim's ``build_vocab(update=True)`` + ``train``), and
``seqkit w2v similar`` with positive and negative words."""

from __future__ import annotations

import numpy as np
import pytest
from test_w2v_train import needs, topic_corpus

from seqkit.cli import main
from seqkit.embeddings.word2vec import Word2Vec

SETTINGS = dict(dim=16, window=3, negative=5, min_freq=1, sample=0, epochs=3, threads=1, seed=2, backend="kernel")


def test_continue_adds_words_and_keeps_unseen_input_vectors(tmp_path):
    needs("kernel")
    first = [s for s in topic_corpus(300) if s[0][0] in "ab"]  # topics a and b only
    model = Word2Vec(first, **SETTINGS)
    words_before = list(model.wv.index_to_key)
    counts_before = model.wv.counts.copy()
    before = model.wv.vectors.copy()
    model.save(tmp_path / "m.safetensors")

    later = [s for s in topic_corpus(300, seed=1) if s[0][0] in "bc"]  # b again, c new
    model.train(later, update=True)
    kv = model.wv
    assert list(kv.index_to_key)[:len(words_before)] == words_before  # known words keep their ids
    assert sorted(kv.index_to_key[len(words_before):]) == [f"c{i}" for i in range(8)]
    b3 = kv.get_index("b3")
    assert kv.counts[b3] == counts_before[b3] + sum(s.count("b3") for s in later)
    # skip-gram changes a word's input vector only where it occurs: topic a is untouched, b moved
    a_rows = [kv.get_index(f"a{i}") for i in range(8)]
    assert np.array_equal(kv.vectors[a_rows], before[a_rows])
    assert not np.allclose(kv.vectors[b3], before[b3])
    # the new topic is learned: c-words' nearest neighbours are c-words
    near = [k for k, _ in kv.most_similar("c1", topn=5)]
    assert sum(k.startswith("c") for k in near) >= 4

    # a saved and reloaded model continues exactly like the one in memory
    again = Word2Vec.load(tmp_path / "m.safetensors", threads=1)
    again.train(later, update=True)
    assert list(again.wv.index_to_key) == list(kv.index_to_key)
    np.testing.assert_array_equal(again.wv.vectors, kv.vectors)


def test_continue_needs_a_trained_model_and_a_model_file(tmp_path):
    from seqkit.errors import SeqkitError

    with pytest.raises(SeqkitError, match="nothing to continue"):
        Word2Vec(**SETTINGS).train(topic_corpus(10), update=True)
    (tmp_path / "bad.safetensors").write_bytes(b"not a model")
    with pytest.raises(SeqkitError, match="cannot read the model"):
        Word2Vec.load(tmp_path / "bad.safetensors")


def test_cli_continue_and_similar_with_positive_negative(tmp_path, capsys):
    needs("kernel")
    corpus = tmp_path / "c.txt"
    corpus.write_text("\n".join(" ".join(s) for s in topic_corpus(400)) + "\n")
    common = ["--dim", "16", "--window", "3", "--min-freq", "1", "--sample", "0", "--epochs", "3",
              "--threads", "1"]
    assert main(["w2v", "train", str(corpus), "-o", str(tmp_path / "v.txt"), "--save-model",
                 str(tmp_path / "m.safetensors"), *common]) == 0
    more = tmp_path / "more.txt"
    more.write_text("\n".join(" ".join(["zz", "a1", "a2"]) for _ in range(20)) + "\n")
    assert main(["w2v", "train", str(more), "-o", str(tmp_path / "v2.txt"), "--continue-from",
                 str(tmp_path / "m.safetensors"), "--epochs", "2", "--threads", "1"]) == 0
    err = capsys.readouterr().err
    assert "24 words before, 25 now" in err

    from seqkit.embeddings.vectors import load_vectors

    kv = load_vectors(tmp_path / "v2.txt", cache=False)
    expected = kv.most_similar(positive=["a1", "b2"], negative=["c3"], topn=4)
    assert main(["w2v", "similar", str(tmp_path / "v2.txt"), "a1", "--positive", "b2", "--negative", "c3",
                 "-n", "4"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert [line.split("\t")[1] for line in out] == [k for k, _ in expected]
    assert main(["w2v", "similar", str(tmp_path / "v2.txt"), "a1", "--negative", "c3", "--cosmul", "-n", "3"]) == 0
    cosmul = [line.split("\t")[1] for line in capsys.readouterr().out.splitlines()]
    assert cosmul == [k for k, _ in kv.most_similar_cosmul(positive=["a1"], negative=["c3"], topn=3)]
    assert main(["w2v", "similar", str(tmp_path / "v2.txt"), "nosuchword"]) == 2
    assert "'nosuchword' is not in the vocabulary" in capsys.readouterr().err
