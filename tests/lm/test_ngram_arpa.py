"""ARPA interop: lmplz's output reads with its probabilities, seqkit's output reads back (and in
KenLM when installed), and malformed files fail with one clear line.

The fixture is KenLM ``lmplz -o 3`` (kenlm 0.3.0 from PyPI's sdist) run on ``FIXTURE_CORPUS``.
"""

import math

import numpy as np
import pytest

from seqkit.errors import SeqkitError
from seqkit.lm.ngram import NGramLM
from seqkit.lm.ngram.arpa import read_arpa, write_arpa

FIXTURE_CORPUS = """\
the cat sat on the mat
the dog sat on the mat
the cat ate the fish
a dog ate a bone
the cat sat
a cat sat on a mat
the dog ran
a dog ran on the mat
the fish swam
the cat ran to the dog
the dog ran to the cat
a fish swam to a cat
the cat sat on the dog
the mat sat
a bone
the dog ate the bone
the cat ate
a cat ran
"""

LMPLZ_ARPA = """\
\\data\\
ngram 1=16
ngram 2=39
ngram 3=58

\\1-grams:
-1.3089626	<unk>	0
0	<s>	-0.47712123
-0.67990696	</s>	0
-1.0927541	the	-0.037977487
-1.2990693	cat	-0.055328436
-1.2586261	sat	-0.010729056
-1.2990693	on	-0.12295767
-1.2990693	mat	-0.12295767
-1.2990693	dog	-0.12295767
-1.2990693	ate	-0.19223201
-1.2990693	fish	-0.12295767
-1.0927541	a	-0.161181
-1.2990693	bone	-0.010729056
-1.2990693	ran	-0.07453489
-1.1353242	swam	-0.5099138
-1.2990693	to	-0.5099138

\\2-grams:
-0.7190817	cat </s>	0
-0.6653936	sat </s>	0
-0.760162	mat </s>	0
-0.56447595	dog </s>	0
-0.5129171	ate </s>	0
-0.41144776	fish </s>	0
-0.641538	bone </s>	0
-0.7310029	ran </s>	0
-0.38716674	swam </s>	0
-0.2782528	<s> the	-0.27960303
-1.1128228	on the	-0.10351177
-1.1932597	ate the	-0.11997533
-0.4313061	to the	-0.11997533
-1.293273	the cat	-0.2131747
-1.3806386	a cat	-0.11997533
-1.2556609	cat sat	-0.10351177
-0.5656895	mat sat	-0.11997533
-0.8049679	dog sat	-0.11997533
-1.2132374	sat on	-0.10351177
-0.7435536	ran on	-0.11997533
-1.293273	the mat	-0.10351177
-0.8749907	a mat	-0.11997533
-1.3370467	the dog	-0.42288947
-0.8749907	a dog	-0.11997533
-0.8449081	cat ate	-0.11997533
-1.33747	dog ate	-0.11997533
-1.293273	the fish	-0.11997533
-0.8749907	a fish	-0.11997533
-0.71311766	<s> a	-0.42288947
-0.5358729	on a	-0.11997533
-0.648573	ate a	-0.11997533
-0.4313061	to a	-0.11997533
-0.93888086	the bone	-0.11997533
-1.3806386	a bone	-0.7277124
-1.2908124	cat ran	-0.11997533
-1.33747	dog ran	-0.11997533
-1.1460595	fish swam	-0.11997533
-1.2834444	ran to	-0.7277124
-0.44251806	swam to	-0.11997533

\\3-grams:
-0.8199783	the cat </s>
-0.6472042	a cat </s>
-0.63714486	cat sat </s>
-0.39222446	mat sat </s>
-0.53970397	the mat </s>
-0.42810103	a mat </s>
-0.4272586	the dog </s>
-0.45154124	cat ate </s>
-0.38211402	the fish </s>
-0.38241795	the bone </s>
-0.06775993	a bone </s>
-0.58231986	cat ran </s>
-0.6548308	dog ran </s>
-0.36475807	fish swam </s>
-0.67265993	sat on the
-0.5230445	ran on the
-0.7713326	cat ate the
-0.7713326	dog ate the
-0.054458797	ran to the
-0.48503757	<s> the cat
-0.7977726	to the cat
-0.54263794	<s> a cat
-0.5639051	to a cat
-0.9183831	the cat sat
-0.91162395	a cat sat
-0.5614029	the mat sat
-1.0025896	the dog sat
-0.6990857	cat sat on
-0.54089695	dog sat on
-0.6627782	dog ran on
-1.329266	<s> the mat
-0.717082	on the mat
-0.46528214	on a mat
-0.80111724	<s> the dog
-1.014996	on the dog
-0.80798507	to the dog
-0.4930894	<s> a dog
-0.49524036	the cat ate
-1.2396264	the dog ate
-0.80807996	a dog ate
-1.329266	<s> the fish
-0.7977726	ate the fish
-1.0429013	<s> a fish
-0.53796697	sat on a
-0.5359837	dog ate a
-0.28200743	swam to a
-0.68190384	ate the bone
-1.2521954	<s> a bone
-0.5639051	ate a bone
-1.181665	the cat ran
-0.92338216	a cat ran
-0.540156	the dog ran
-0.80807996	a dog ran
-0.75724643	the fish swam
-0.52933216	a fish swam
-0.7953697	cat ran to
-0.9209699	dog ran to
-0.40391356	fish swam to

\\end\\
"""

TEST = ["the cat sat on the dog", "a zebra ate the mat", "the dog", "", "fish fish fish"]


@pytest.fixture
def lmplz_arpa(tmp_path):
    path = tmp_path / "lmplz.arpa"
    path.write_text(LMPLZ_ARPA)
    return path


def _entries(text):
    """{words: (log10 p, log10 backoff)} of an ARPA text, parsed the plain way."""
    out, order = {}, 0
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("\\") and line.endswith("-grams:"):
            order = int(line[1:].split("-")[0])
            continue
        if not line or line.startswith("\\") or line.startswith("ngram ") or order == 0:
            continue
        parts = line.split()
        words = tuple(parts[1 : 1 + order])
        out[words] = (float(parts[0]), float(parts[1 + order]) if len(parts) > 1 + order else 0.0)
    return out


def test_seqkit_mkn_equals_lmplz_entry_by_entry():
    lm = NGramLM.train(FIXTURE_CORPUS.splitlines(), order=3, smoothing="mkn")
    ours, theirs = _entries_of_model(lm), _entries(LMPLZ_ARPA)
    assert ours.keys() == theirs.keys()
    for words, (lp, bo) in theirs.items():
        if words == ("<s>",):
            continue
        assert ours[words][0] == pytest.approx(lp, abs=2e-6), words
        assert ours[words][1] == pytest.approx(bo, abs=2e-6), words
    # lmplz printed: 1 D1=0.0588235 D2=1.95588 D3+=2.76471; 3 D1=0.758621 D2=0.374384 D3+=2.3931
    assert lm.info["discounts"][0] == pytest.approx([0.0588235, 1.95588, 2.76471], abs=1e-5)
    assert lm.info["discounts"][2] == pytest.approx([0.758621, 0.374384, 2.3931], abs=1e-5)


def _entries_of_model(lm):
    from seqkit.lm.ngram.arpa import ngram_words

    out = {}
    for k, words in enumerate(ngram_words(lm), 1):
        for row, lp, bo in zip(words, lm.logp[k - 1], lm.logbo[k - 1] if k < lm.order else np.zeros(len(words))):
            out[tuple(lm.vocab.tokens[w] for w in row)] = (float(lp), float(bo))
    return out


def test_lmplz_arpa_reads_with_its_own_probabilities(lmplz_arpa):
    lm = read_arpa(lmplz_arpa)
    assert lm.order == 3 and lm.counts == [16, 39, 58]
    scores = lm.full_scores("a zebra ate the mat")
    # by hand from the file: p(a | <s>) is the bigram's -0.71311766; zebra is <unk>, a unigram, plus
    # the backoff weights of both contexts it skipped: b(a) and b(<s> a)
    assert scores[0] == (pytest.approx(-0.71311766), 2, False)
    assert scores[1][1:] == (1, True)
    entries = _entries(LMPLZ_ARPA)
    assert scores[1][0] == pytest.approx(entries[("<unk>",)][0] + entries[("a",)][1]
                                             + entries[("<s>", "a")][1])
    # same perplexity as a model trained by seqkit on the corpus
    trained = NGramLM.train(FIXTURE_CORPUS.splitlines(), order=3)
    assert lm.perplexity(TEST) == pytest.approx(trained.perplexity(TEST), rel=1e-6)


def test_write_then_read_round_trip(tmp_path):
    lm = NGramLM.train(FIXTURE_CORPUS.splitlines(), order=3, smoothing="mkn")
    path = tmp_path / "model.arpa"
    write_arpa(lm, path)
    text = path.read_text()
    assert text.startswith("\\data\\\nngram 1=16\nngram 2=39\nngram 3=58\n\n\\1-grams:\n")
    assert text.endswith("\\end\\\n")
    back = read_arpa(path)
    assert back.vocab.tokens == lm.vocab.tokens and back.counts == lm.counts
    for k in range(3):
        assert np.array_equal(back.keys[k], lm.keys[k])
        assert np.allclose(back.logp[k], np.maximum(lm.logp[k], -99), atol=1e-6)
    assert back.perplexity(TEST) == pytest.approx(lm.perplexity(TEST), rel=1e-6)


def test_zero_probabilities_are_written_as_minus_99(tmp_path):
    lm = NGramLM.train(FIXTURE_CORPUS.splitlines(), order=2, smoothing="mle")
    write_arpa(lm, tmp_path / "mle.arpa")
    assert "-99.000000\t<unk>" in (tmp_path / "mle.arpa").read_text()


def test_seqkit_arpa_loads_in_kenlm_with_the_same_perplexity(tmp_path):
    kenlm = pytest.importorskip("kenlm")
    lm = NGramLM.train(FIXTURE_CORPUS.splitlines(), order=3, smoothing="mkn")
    write_arpa(lm, tmp_path / "model.arpa")
    model = kenlm.Model(str(tmp_path / "model.arpa"))
    total = sum(model.score(s, bos=True, eos=True) for s in TEST)
    n = sum(len(s.split()) + 1 for s in TEST)
    assert 10 ** (-total / n) == pytest.approx(lm.perplexity(TEST), rel=1e-6)
    for sentence in TEST:
        ours = lm.full_scores(sentence)
        theirs = list(model.full_scores(sentence))
        assert [(round(a, 5), b, c) for a, b, c in ours] == [(round(a, 5), b, c) for a, b, c in theirs]


BAD = [
    ("ngram 2=39", "ngram 2=40", "header says ngram 2=40 but the \\2-grams: section has 39 entries"),
    ("\\3-grams:", "\\4-grams:", "expected the section \\3-grams:"),
    ("-0.7190817\tcat </s>\t0", "-0.7190817\tcat </s> x y", "a 2-gram line needs 3 or 4 fields"),
    ("-0.7190817\tcat </s>\t0", "oops\tcat </s>\t0", "cannot read the log10 probability 'oops'"),
    ("-0.7190817\tcat </s>\t0", "-0.7190817\tcat zebra\t0", "the word 'zebra'"),
    ("\\end\\", "", "expected \\end\\"),
    ("-0.8199783\tthe cat </s>", "-0.8199783\tcat the </s>", "the context 'cat the' of this 3-gram is not a 2-gram"),
    ("-0.6472042\ta cat </s>", "-0.6472042\tthe cat </s>", "the 3-gram 'the cat </s>' is listed twice"),
]


@pytest.mark.parametrize("old,new,message", BAD)
def test_malformed_arpa_is_one_clear_error(tmp_path, old, new, message):
    assert old in LMPLZ_ARPA
    path = tmp_path / "bad.arpa"
    path.write_text(LMPLZ_ARPA.replace(old, new, 1))
    with pytest.raises(SeqkitError) as err:
        read_arpa(path)
    text = str(err.value)
    assert message in text and str(path) in text and "\n" not in text
    assert err.value.line is not None


def test_header_count_error_names_the_header_line(tmp_path):
    path = tmp_path / "bad.arpa"
    path.write_text(LMPLZ_ARPA.replace("ngram 3=58", "ngram 3=57"))
    with pytest.raises(SeqkitError) as err:
        read_arpa(path)
    assert err.value.line == 4 and "fix:" in str(err.value)


def test_not_an_arpa_file(tmp_path):
    path = tmp_path / "x.arpa"
    path.write_text("hello\n")
    with pytest.raises(SeqkitError, match="no \\\\data"):
        read_arpa(path)


def test_missing_unk_gets_kenlm_minus_100(tmp_path):
    path = tmp_path / "nounk.arpa"
    text = LMPLZ_ARPA.replace("-1.3089626\t<unk>\t0\n", "").replace("ngram 1=16", "ngram 1=15")
    path.write_text(text)
    lm = read_arpa(path)
    assert lm.logp[0][0] == -100.0
    assert math.isfinite(lm.score("zebra"))
