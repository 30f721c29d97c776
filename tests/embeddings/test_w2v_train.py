"""word2vec training: it learns co-occurrence structure, is reproducible, and both trainers agree."""

from __future__ import annotations

import numpy as np
import pytest

from seqkit.embeddings.kernel import load_kernel
from seqkit.embeddings.word2vec import Word2Vec, prepare_corpus
from seqkit.errors import SeqkitError


def needs(backend: str) -> None:
    if backend == "kernel" and load_kernel() is None:
        pytest.skip("no C compiler here: the kernel cannot be built (the torch trainer is tested)")


def topic_corpus(n_sentences: int = 600, seed: int = 0) -> list[list[str]]:
    """Sentences drawn from one of three disjoint topics of 8 words: words only co-occur within a topic."""
    rng = np.random.default_rng(seed)
    topics = [[f"{t}{i}" for i in range(8)] for t in "abc"]
    return [list(rng.choice(topics[rng.integers(3)], size=12)) for _ in range(n_sentences)]


def topic_precision(kv) -> float:
    hits = total = 0
    for t in "abc":
        for i in range(8):
            near = [k for k, _ in kv.most_similar(f"{t}{i}", topn=5)]
            hits += sum(k[0] == t for k in near)
            total += 5
    return hits / total


def test_prepare_corpus_orders_by_count_then_first_seen():
    prepared = prepare_corpus([["b", "a", "c", "a", "b", "d"], ["a"]], min_freq=2)
    assert prepared.words == ["a", "b"]  # a: 3, b: 2; c and d are below min_freq
    assert prepared.counts.tolist() == [3, 2]
    assert prepared.ids.tolist() == [1, 0, 0, 1, 0] and prepared.sent_start.tolist() == [0, 4, 5]
    assert prepared.raw_words == 7
    assert prepare_corpus([["x", "y", "y", "x", "z"]], min_freq=1, max_vocab=2).words == ["x", "y"]


@pytest.mark.parametrize("backend,sg", [("kernel", True), ("kernel", False), ("torch", True), ("torch", False)])
def test_learns_topics(backend, sg):
    needs(backend)
    model = Word2Vec(topic_corpus(), dim=20, window=4, negative=5, min_freq=1, sample=0, epochs=5,
                     threads=1, seed=3, backend=backend, sg=sg, batch_size=256)
    assert len(model.wv) == 24
    assert topic_precision(model.wv) > 0.9
    assert model.stats.epoch_loss[-1] < model.stats.epoch_loss[0]


def test_adam_like_d2l_learns_topics():
    model = Word2Vec(topic_corpus(), dim=20, window=4, negative=5, min_freq=1, sample=0, epochs=3,
                     threads=1, seed=3, optimizer="adam", alpha=0.01, batch_size=256)
    assert model.stats.backend == "torch on cpu"  # Adam needs the torch trainer
    assert topic_precision(model.wv) > 0.9


@pytest.mark.slow
def test_ptb_chip_neighbours_with_d2l_settings(shared_data):
    """d2l's chapter: embed 100, window 5, 5 noise words, min_freq 10, t=1e-4, Adam 0.002, 5 epochs."""
    model = Word2Vec(shared_data / "ptb" / "ptb.train.txt", dim=100, window=5, negative=5, min_freq=10,
                     sample=1e-4, epochs=5, threads=1, seed=1, optimizer="adam", alpha=0.002, batch_size=3072)
    near = {k for k, _ in model.wv.most_similar("chip", topn=10)}
    assert len(near & {"microprocessor", "chips", "computer", "intel"}) >= 2, near


def zipf_topic_corpus(n_topics: int = 50, n_sentences: int = 3000, seed: int = 0) -> list[list[str]]:
    """Like :func:`topic_corpus` with 50 topics of 8 words whose popularity follows Zipf's law: the
    words of the first topics fill hundreds of slots of one large batch, as frequent words do."""
    rng = np.random.default_rng(seed)
    topics = [[f"t{t}w{i}" for i in range(8)] for t in range(n_topics)]
    p = 1.0 / np.arange(1, n_topics + 1)
    return [list(rng.choice(topics[rng.choice(n_topics, p=p / p.sum())], size=12)) for _ in range(n_sentences)]


def zipf_topic_precision(kv, n_topics: int = 50) -> float:
    near = [(key, k) for key in kv.index_to_key for k, _ in kv.most_similar(key, topn=5)]
    return sum(a.split("w")[0] == b.split("w")[0] for a, b in near) / len(near)


def test_large_batches_learn_like_small_ones():
    """Summing hundreds of stale updates of one frequent row in a batch of 16384 pairs diverged (loss
    ~90, precision ~0.04 before the duplicate scaling); it must learn about as well as batch 1024."""
    corpus = zipf_topic_corpus()
    kw = dict(dim=20, window=4, negative=5, min_freq=1, sample=0, epochs=3, threads=1, seed=3, backend="torch")
    small = Word2Vec(corpus, batch_size=1024, **kw)
    large = Word2Vec(corpus, batch_size=16384, **kw)
    assert zipf_topic_precision(small.wv) > 0.95
    assert zipf_topic_precision(large.wv) > 0.9
    assert large.stats.epoch_loss[-1] < large.stats.epoch_loss[0] < 5.0  # ln 2 * (1 + 5) = 4.16 at the start


@pytest.mark.parametrize("backend", ["kernel", "torch"])
def test_one_thread_with_a_seed_is_reproducible(backend):
    needs(backend)
    kw = dict(dim=16, window=3, min_freq=1, sample=1e-2, epochs=2, threads=1, backend=backend)
    a = Word2Vec(topic_corpus(200), seed=5, **kw).wv.vectors
    b = Word2Vec(topic_corpus(200), seed=5, **kw).wv.vectors
    c = Word2Vec(topic_corpus(200), seed=6, **kw).wv.vectors
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_two_threads_learn_too():
    needs("kernel")
    model = Word2Vec(topic_corpus(1200), dim=20, window=4, min_freq=1, sample=0, epochs=4, threads=2,
                     backend="kernel")
    assert topic_precision(model.wv) > 0.9


def test_progress_reports_words_per_second_and_loss(tmp_path):
    seen = []
    corpus = tmp_path / "c.txt"
    corpus.write_text("\n".join(" ".join(s) for s in topic_corpus(300)) + "\n")
    Word2Vec(corpus, dim=8, min_freq=1, epochs=1, threads=1, backend="torch", progress=seen.append)
    # torch reports about once a second; a short run may end first, so only check what was reported
    for info in seen:
        assert {"epoch", "done", "loss", "words_per_sec", "alpha"} <= set(info)


def test_bad_input_gives_one_clear_error(tmp_path):
    empty = tmp_path / "empty.txt"
    empty.write_text("rare words only\n")
    with pytest.raises(SeqkitError, match="min_freq=5"):
        Word2Vec(empty, min_freq=5)
    with pytest.raises(SeqkitError, match="negative"):
        Word2Vec([["a", "b"]], negative=0, min_freq=1)


def test_vocabulary_equals_gensims_on_lee():
    """gensim's own test corpus: the same words with the same counts, in descending count order.

    Ties differ on purpose: seqkit orders equal counts by first occurrence (like seqkit's Vocab),
    gensim by the reverse of an unstable argsort."""
    from gensim.models import Word2Vec as GensimWord2Vec
    from gensim.models.word2vec import LineSentence
    from gensim.test.utils import datapath

    path = datapath("lee_background.cor")
    gensim_model = GensimWord2Vec(min_count=5)
    gensim_model.build_vocab(LineSentence(path))
    prepared = prepare_corpus(path, min_freq=5)
    assert len(prepared.words) == 1762
    gensim_counts = {w: int(gensim_model.wv.get_vecattr(w, "count")) for w in gensim_model.wv.index_to_key}
    assert dict(zip(prepared.words, prepared.counts.tolist())) == gensim_counts
    assert prepared.counts.tolist() == sorted(gensim_counts.values(), reverse=True)
    assert prepared.words[:7] == list(gensim_model.wv.index_to_key)[:7]  # distinct counts: same order


def test_gensims_names_with_gensims_meaning():
    from gensim.test.utils import common_texts

    model = Word2Vec(sentences=common_texts, vector_size=12, min_count=1, workers=1, sg=0, epochs=2, seed=3,
                     window=2, negative=3, sample=0, alpha=0.03, min_alpha=0.001, hs=0, max_final_vocab=8)
    cfg = model.config
    assert (cfg.dim, cfg.min_freq, cfg.threads, cfg.sg, cfg.max_vocab) == (12, 1, 1, False, 8)  # sg=0: CBOW
    assert model.wv.vector_size == 12 and len(model.wv) == 8
    for bad, says in ((dict(hs=1), "hierarchical softmax"), (dict(size=10), "gensim 3's name"),
                      (dict(vectr_size=5), "did you mean 'vector_size'"), (dict(vector_size=5, dim=6), "twice"),
                      (dict(ns_exponent=0.5), "0.75")):
        with pytest.raises(SeqkitError, match=says):
            Word2Vec(**bad)
