"""KenLM's habits: ``score``/``full_scores`` with ``bos``/``eos``, the binary cache of an ARPA file
(KenLM's ``build_binary`` done for you), the compiled scorer against the numpy path, stdin/stdout."""

import io
import sys

import numpy as np
import pytest
from ngram_reference import reference

from seqkit.cli import main
from seqkit.errors import SeqkitError
from seqkit.lm.ngram import NGramLM, binary, kernel
from seqkit.lm.ngram.arpa import ngram_words
from seqkit.lm.ngram.vocab import pack

rng = np.random.default_rng(1)
WORDS = [f"w{i}" for i in range(30)]
TRAIN = [" ".join(rng.choice(WORDS, size=rng.integers(1, 12), p=np.arange(30, 0, -1) / 465)) for _ in range(400)]
TEST = [" ".join(rng.choice(WORDS + ["oov"], size=rng.integers(0, 12))) for _ in range(80)]


@pytest.fixture(scope="module")
def lm():
    return NGramLM.train(TRAIN, order=4, smoothing="mkn", discount_fallback=True)


@pytest.mark.parametrize("bos", [True, False])
@pytest.mark.parametrize("eos", [True, False])
def test_score_and_full_scores_with_bos_and_eos(lm, bos, eos):
    for sentence in TEST[:20]:
        expected = reference(lm, sentence, bos, eos)
        rows = lm.full_scores(sentence, bos=bos, eos=eos)
        assert len(rows) == len(sentence.split()) + eos
        assert np.allclose([r[0] for r in rows], expected, rtol=0, atol=1e-12)
        assert lm.score(sentence, bos=bos, eos=eos) == pytest.approx(sum(expected), abs=1e-9)
        assert [r[2] for r in rows] == [w == "oov" for w in sentence.split()] + [False] * eos


def test_the_same_as_the_kenlm_module(lm, tmp_path):
    kenlm = pytest.importorskip("kenlm", reason="pip install kenlm to compare with the kenlm module")
    lm.save_arpa(tmp_path / "m.arpa")
    theirs = kenlm.Model(str(tmp_path / "m.arpa"))
    for sentence in TEST[:20]:
        for bos in (True, False):
            for eos in (True, False):
                ours = lm.full_scores(sentence, bos=bos, eos=eos)
                kl = list(theirs.full_scores(sentence, bos=bos, eos=eos))
                assert [(b, c) for _, b, c in ours] == [(b, c) for _, b, c in kl]
                assert [a for a, _, _ in ours] == pytest.approx([a for a, _, _ in kl], abs=1e-4)


@pytest.mark.skipif(kernel.load() is None, reason="no C compiler: the numpy path is the only one")
@pytest.mark.parametrize("order", [2, 3, 5])
def test_compiled_scorer_equals_the_numpy_path(order):
    lm = NGramLM.train(TRAIN, order=order, smoothing="mkn", discount_fallback=True)
    packed = pack(TEST, lm.vocab)
    fast, slow = lm.score_packed(packed), lm.score_packed(packed, native=False)
    assert np.allclose(fast.log10, slow.log10, rtol=0, atol=1e-12)  # float64 on both paths
    assert np.array_equal(fast.ngram_length, slow.ngram_length)
    assert np.array_equal(fast.sentence, slow.sentence) and np.array_equal(fast.oov, slow.oov)
    expected = np.concatenate([reference(lm, s) for s in TEST])
    assert np.allclose(fast.log10, expected, rtol=0, atol=1e-12)


def test_scoring_in_threads_equals_one_thread(lm):
    corpus = TEST * 30  # 2,400 lines: several blocks
    one, two = lm.score_corpus(corpus), lm.score_corpus(corpus, threads=2)
    assert np.array_equal(one.log10, two.log10) and np.array_equal(one.sentence, two.sentence)
    assert two.n_sentences == len(corpus) and two.perplexity() == one.perplexity()


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("SEQKIT_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(binary, "MIN_CACHE_BYTES", 0)
    return tmp_path / "cache" / "ngram"


def test_an_arpa_file_is_parsed_once_then_read_from_the_cache(lm, tmp_path, cache, monkeypatch):
    import seqkit.lm.ngram.arpa as arpa

    path = tmp_path / "m.arpa"
    lm.save_arpa(path)
    first = NGramLM.load_arpa(path)
    assert [p.name.startswith("m.arpa.") for p in cache.iterdir()] == [True]
    real = arpa.read_arpa
    monkeypatch.setattr(arpa, "read_arpa", lambda p: pytest.fail("parsed again"))
    second = NGramLM.load_arpa(path)
    from seqkit.lm.ngram import kernel

    # the compiled scorer's tables come with it (none without a compiler: nothing would use them)
    assert (second._native is not None) == (kernel.load() is not None)
    # in numpy's own memory (huge pages for large tables), not in the file reader's buffers
    assert all(table.flags.owndata for table in (second._native or [None])[1:])
    assert second.score_corpus(TEST).total_log10 == first.score_corpus(TEST).total_log10
    # a changed file is parsed again, and its entry replaced
    monkeypatch.setattr(arpa, "read_arpa", real)
    other = NGramLM.train(TRAIN[:100], order=2, discount_fallback=True)
    other.save_arpa(path)
    assert NGramLM.load_arpa(path).order == 2 and len(list(cache.iterdir())) == 1
    # a damaged entry is rebuilt, not fatal
    entry = next(cache.iterdir())
    entry.write_bytes(b"garbage")
    assert NGramLM.load_arpa(path).order == 2
    assert NGramLM.load_arpa(path, cache=False).order == 2


def test_a_copy_with_an_older_layout_of_the_scorer_tables_is_rewritten_not_parsed(lm, tmp_path, cache, monkeypatch):
    from safetensors import safe_open
    from safetensors.numpy import save_file

    import seqkit.lm.ngram.arpa as arpa
    from seqkit.lm.ngram import kernel

    if kernel.load() is None:
        pytest.skip("no C compiler: no scorer tables to store")
    path = tmp_path / "m.arpa"
    lm.save_arpa(path)
    first = NGramLM.load_arpa(path)
    entry = next(cache.iterdir())
    with safe_open(str(entry), framework="numpy") as fh:  # as an older seqkit wrote it: "native.K"
        meta, arrays = fh.metadata(), {k.replace(f"{binary.NATIVE}.", "native."): fh.get_tensor(k) for k in fh.keys()}
    save_file(arrays, str(entry), metadata=meta)
    monkeypatch.setattr(arpa, "read_arpa", lambda p: pytest.fail("parsed again"))
    second = NGramLM.load_arpa(path)
    assert second._native is not None
    assert second.score_corpus(TEST).total_log10 == first.score_corpus(TEST).total_log10
    with safe_open(str(entry), framework="numpy") as fh:
        assert f"{binary.NATIVE}.{lm.order}" in fh.keys() and f"native.{lm.order}" not in fh.keys()


def test_an_unwritable_cache_only_costs_the_speed_up(lm, tmp_path, monkeypatch):
    monkeypatch.setattr(binary, "MIN_CACHE_BYTES", 0)
    blocker = tmp_path / "file"
    blocker.write_text("x")
    monkeypatch.setenv("SEQKIT_CACHE", str(blocker))  # a file where the folder should be
    lm.save_arpa(tmp_path / "m.arpa")
    assert NGramLM.load_arpa(tmp_path / "m.arpa").counts == lm.counts


def test_stdin_and_stdout(tmp_path, capsysbinary, monkeypatch):
    text = "\n".join(TRAIN) + "\n"
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(text.encode())))
    assert main(["lm", "ngram", "train", "--order", "3", "--discount-fallback", "-", "-o", "-"]) == 0
    arpa_text = capsysbinary.readouterr().out
    assert arpa_text.startswith(b"\\data\\\nngram 1=")
    (tmp_path / "m.arpa").write_bytes(arpa_text)
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(("\n".join(TEST) + "\n").encode())))
    assert main(["lm", "ngram", "ppl", str(tmp_path / "m.arpa")]) == 0
    out = capsysbinary.readouterr().out.decode()
    expected = NGramLM.train(TRAIN, order=3, discount_fallback=True).perplexity(TEST)
    assert f"perplexity: {expected:.4f}" in out


# -- pruning (lmplz --prune) -------------------------------------------------------------------------
def test_pruning_drops_rare_ngrams_and_keeps_every_distribution_normalized():
    full = NGramLM.train(TRAIN, order=4, smoothing="mkn", discount_fallback=True)
    pruned = NGramLM.train(TRAIN, order=4, smoothing="mkn", discount_fallback=True, prune=(0, 1, 1))
    assert pruned.counts[0] == full.counts[0] and all(p < f for p, f in zip(pruned.counts[1:], full.counts[1:]))
    for context in ([], ["w1"], ["w1", "w2"], ["w3", "w0", "w1"], ["w0", "w0", "w0"], ["oov", "w2"]):
        lp = pruned.next_log10(context)
        assert (10.0 ** lp[np.isfinite(lp)]).sum() == pytest.approx(1.0, abs=1e-9), context
    # a kept n-gram keeps its probability; the context of every kept n-gram is kept (ARPA needs it)
    full_entries = {tuple(w): lp for k in range(4) for w, lp in zip(ngram_words(full)[k].tolist(), full.logp[k])}
    for k in range(4):
        for w, lp in zip(ngram_words(pruned)[k].tolist(), pruned.logp[k]):
            assert full_entries[tuple(w)] == lp
    kept = {tuple(w) for k in range(4) for w in ngram_words(pruned)[k].tolist()}
    assert all(g[:-1] in kept for g in kept if len(g) > 1)


def test_pruning_nothing_recomputes_the_same_backoffs():
    from seqkit.lm.ngram.prune import prune

    lm = NGramLM.train(TRAIN, order=3, smoothing="mkn", discount_fallback=True)
    same = prune(lm, [np.ones(n, dtype=np.int64) for n in lm.counts], (0, 0, 0))
    for a, b in zip(same.logbo, lm.logbo):
        assert np.allclose(a, b, atol=1e-9)


def test_pruned_arpa_from_the_cli_reads_back_and_in_kenlm(tmp_path, capsys):
    train = tmp_path / "train.txt"
    train.write_text("\n".join(TRAIN) + "\n")
    assert main(["lm", "ngram", "train", "--order", "3", "--prune", "0", "0", "1", "--discount-fallback",
                 str(train), "-o", str(tmp_path / "p.arpa")]) == 0
    ours = NGramLM.train(TRAIN, order=3, discount_fallback=True, prune=(0, 0, 1))
    back = NGramLM.load_arpa(tmp_path / "p.arpa")
    assert back.counts == ours.counts
    assert back.perplexity(TEST) == pytest.approx(ours.perplexity(TEST), rel=1e-6)
    kenlm = pytest.importorskip("kenlm", reason="pip install kenlm to compare with the kenlm module")
    model = kenlm.Model(str(tmp_path / "p.arpa"))
    total = sum(model.score(s) for s in TEST)
    assert 10 ** (-total / sum(len(s.split()) + 1 for s in TEST)) == pytest.approx(ours.perplexity(TEST), rel=1e-5)


@pytest.mark.parametrize("values, message", [((1, 1), r"the first \(unigrams\) must be 0"),
                                             ((0, 2, 1), "must not decrease")])
def test_bad_prune_thresholds(values, message):
    from seqkit.errors import SeqkitError

    with pytest.raises(SeqkitError, match=message):
        NGramLM.train(TRAIN, order=3, prune=values, discount_fallback=True)
    lm = NGramLM.train(TRAIN, order=3, smoothing="stupid")
    from seqkit.lm.ngram.prune import prune

    with pytest.raises(SeqkitError, match="which 'stupid' does not have"):
        prune(lm, [np.ones(n) for n in lm.counts], (0, 1))


@pytest.mark.skipif(kernel.load() is None, reason="no C compiler: the numpy path is the only one")
def test_text_kernel_splits_and_looks_up_words_as_python_does():
    lm = NGramLM.train(TRAIN, order=3, smoothing="mkn", discount_fallback=True)
    lines = [*TEST[:30], "", "   ", "w1\tw2  w3 ", "oov <unk> w1", "w2 <s> w3", "</s> w1", "naïve café w1"]
    fast = lm._score_block(lines, True)
    slow = lm.score_packed(pack(lines, lm.vocab), native=False)
    assert np.allclose(fast.log10, slow.log10, rtol=0, atol=1e-12)
    for name in ("ngram_length", "oov", "sentence"):
        assert np.array_equal(getattr(fast, name), getattr(slow, name)), name
    assert fast.n_sentences == slow.n_sentences == len(lines)
    # Unicode whitespace (which str.split honours and the kernel does not) takes the packed path
    assert kernel.text_fits(["w1\u3000w2"]) is None and kernel.text_fits(["a\nb"]) is None
    odd = lm.score_corpus(["w1\u3000w2", "w3"])
    assert odd.n_tokens == 5


def test_perplexity_of_one_sentence_given_as_a_string(lm, tmp_path):
    """A bare string is one sentence (seqkit.sentences), as ``kenlm.Model.perplexity(sentence)``."""
    for sentence in TEST[:10]:
        expected = 10 ** (-sum(reference(lm, sentence)) / (len(sentence.split()) + 1))
        assert lm.perplexity(sentence) == pytest.approx(expected, rel=1e-9)
        assert lm.perplexity(sentence) == pytest.approx(lm.perplexity([sentence]), rel=1e-12)
        assert lm.score_corpus(sentence).n_sentences == 1
    with pytest.raises(SeqkitError, match="NGramLM.train takes a list of sentences, not one string"):
        NGramLM.train("a b c a b", order=2)
    kenlm = pytest.importorskip("kenlm", reason="pip install kenlm to compare with the kenlm module")
    lm.save_arpa(tmp_path / "m.arpa")
    theirs = kenlm.Model(str(tmp_path / "m.arpa"))
    for sentence in TEST[:10]:
        assert lm.perplexity(sentence) == pytest.approx(theirs.perplexity(sentence), rel=1e-4)
