"""The compiled ARPA parser (``score_kernel.c``'s ``ngram_arpa_section``) against the ``str.split`` parser
it replaced (still the path without a C compiler, ``SEQKIT_NGRAM_KERNEL=0``), hand-computed scores and
the kenlm module: the same model from the same file, the same one-line error for the same mistake,
whichever batch of lines the mistake falls in.
"""

import random

import numpy as np
import pytest

from seqkit.cli import main
from seqkit.errors import SeqkitError
from seqkit.lm.ngram import NGramLM, kernel
from seqkit.lm.ngram.arpa import read_arpa, write_arpa

pytestmark = pytest.mark.skipif(kernel.load() is None, reason="no C compiler: only the str.split parser runs")

# backoffs, <unk>, lines without a backoff column, scientific notation, -99 for <s>
HAND = """\
\\data\\
ngram 1=6
ngram 2=5
ngram 3=3

\\1-grams:
-1.0\t<unk>\t0
-99\t<s>\t-0.5
-0.69897\t</s>
-7.5e-1\ta\t-2.5E-1
-0.60206\tb\t0.0
-1.2\tc\t-1e-1

\\2-grams:
-0.3\t<s> a\t-0.2
-0.4\ta b\t-0.15
-0.5\tb </s>
-0.25\ta c
-0.35\t<s> b\t-0.05

\\3-grams:
-0.1\t<s> a b
-0.2\ta b </s>
-0.15\t<s> a c

\\end\\
"""

# by hand from HAND: "a b": bigram <s> a, trigrams <s> a b and a b </s>. "c a": <s> c is no bigram, so c's
# unigram plus b(<s>); then a's unigram plus b(c) (c a, <s> c a absent; <s> c has no backoff to add);
# then </s>'s unigram plus b(a). "zzz": <unk> plus b(<s>), then </s> plus b(<unk>) = 0.
HAND_SCORES = {"a b": -0.3 - 0.1 - 0.2, "c a": (-1.2 - 0.5) + (-0.75 - 0.1) + (-0.69897 - 0.25),
               "zzz": (-1.0 - 0.5) + (-0.69897 + 0.0)}


def _python_parser(monkeypatch, path):
    with monkeypatch.context() as m:
        m.setenv("SEQKIT_NGRAM_KERNEL", "0")
        return read_arpa(path)


def _the_error(monkeypatch, path) -> str:
    """The one error both parsers raise on ``path`` (the same text from both)."""
    errors = []
    for parse in (read_arpa, lambda p: _python_parser(monkeypatch, p)):
        with pytest.raises(SeqkitError) as err:
            parse(path)
        errors.append(str(err.value))
    assert errors[0] == errors[1]
    return errors[0]


def _same_model(a: NGramLM, b: NGramLM) -> None:
    """Same vocabulary, keys and values bit for bit."""
    assert a.vocab.tokens == b.vocab.tokens and a.counts == b.counts
    for k in range(a.order):
        assert np.array_equal(a.keys[k], b.keys[k])
        assert np.array_equal(a.logp[k].view(np.int64), b.logp[k].view(np.int64))
        assert np.array_equal(a.logbo[k].view(np.int64), b.logbo[k].view(np.int64))


@pytest.mark.parametrize("variant", ["lf", "crlf", "bom+crlf"])
def test_hand_made_arpa_parses_to_the_same_model_and_scores(tmp_path, monkeypatch, variant):
    text = HAND.replace("\n", "\r\n") if "crlf" in variant else HAND
    path = tmp_path / "hand.arpa"
    path.write_bytes(("\ufeff" if "bom" in variant else "").encode() + text.encode())
    native = read_arpa(path)
    assert native._native is not None  # the compiled parser filled the scorer's tables
    _same_model(native, _python_parser(monkeypatch, path))
    assert native.logp[0][native.vocab["a"]] == float("-7.5e-1")
    assert native.logbo[0][native.vocab["a"]] == float("-2.5E-1")
    assert native.logbo[0][native.vocab["</s>"]] == 0.0  # no backoff column
    for sentence, total in HAND_SCORES.items():
        assert native.score(sentence) == pytest.approx(total, abs=1e-12)


def test_hand_made_arpa_scores_as_in_kenlm(tmp_path):
    kenlm = pytest.importorskip("kenlm", reason="the kenlm module is not installed (pip install kenlm)")
    path = tmp_path / "hand.arpa"
    path.write_text(HAND)
    ours, theirs = read_arpa(path), kenlm.Model(str(path))
    for sentence in [*HAND_SCORES, "a c b a", "b b </s> c"]:
        # kenlm keeps float32 values: agreement to its precision
        assert ours.score(sentence) == pytest.approx(theirs.score(sentence, bos=True, eos=True), abs=1e-5)


def test_numbers_read_bit_for_bit_as_python_reads_them(tmp_path, monkeypatch):
    rng = random.Random(3)
    values = []
    for i in range(300):
        x = -rng.random() * 10 ** rng.randint(-3, 2)
        values.append([f"{x:.6f}", f"{x:.17g}", f"{x:e}", f"{x:.3E}", repr(x), "-0", "0", "-12", "-.5",
                       "-1.000000000000000000001", f"{x:.25f}"][i % 11])
    words = [f"w{i}" for i in range(len(values))]
    lines = [f"{v}\t{w}\t{values[-1 - i]}" for i, (v, w) in enumerate(zip(values, words))]
    path = tmp_path / "numbers.arpa"
    path.write_text("\\data\\\n" f"ngram 1={len(words) + 2}\nngram 2=1\n\n\\1-grams:\n-1\t<s>\t-0.5\n-1\t</s>\t0\n"
                    + "\n".join(lines) + "\n\n\\2-grams:\n-0.5\t<s> w0\n\n\\end\\\n")
    lm = read_arpa(path)
    ids = [lm.vocab[w] for w in words]
    assert lm.logp[0][ids].tolist() == [float(v) for v in values]
    assert lm.logbo[0][ids].tolist() == [float(v) for v in reversed(values)]
    _same_model(lm, _python_parser(monkeypatch, path))


@pytest.fixture(scope="module")
def big_arpa(tmp_path_factory):
    """A seqkit trigram model of a random corpus: sections of hundreds of lines (many parser batches)."""
    rng = random.Random(0)
    words = [f"w{i}" for i in range(40)]
    corpus = [" ".join(rng.choice(words[: rng.randint(5, 40)]) for _ in range(rng.randint(2, 12)))
              for _ in range(300)]
    lm = NGramLM.train(corpus, order=3, discount_fallback=True)
    path = tmp_path_factory.mktemp("arpa") / "big.arpa"
    write_arpa(lm, path)
    assert min(lm.counts[1:]) > 500
    return lm, path


def test_a_model_reads_back_through_both_parsers_and_in_any_line_order(big_arpa, tmp_path, monkeypatch):
    lm, path = big_arpa
    native = read_arpa(path)
    _same_model(native, _python_parser(monkeypatch, path))
    test = ["w1 w2 w3", "w39 w0 w7 w7 w7", "w5 zebra w5"]
    # the file keeps 6 decimals
    assert native.score_corpus(test).log10 == pytest.approx(lm.score_corpus(test).log10, abs=1e-5)
    # the n-grams in another order within each section (lmplz's order is not seqkit's): the same model
    # (the unigrams' order is the vocabulary's, the ids)
    head, unigrams, *rest = path.read_text().split("-grams:\n")
    shuffled = [head, unigrams]
    rng = random.Random(1)
    for part in rest:
        body, sep, tail = part.partition("\n\n")
        lines = body.split("\n")
        rng.shuffle(lines)
        shuffled.append("\n".join(lines) + sep + tail)
    other = tmp_path / "shuffled.arpa"
    other.write_text("-grams:\n".join(shuffled))
    _same_model(read_arpa(other), native)
    assert read_arpa(other).score_corpus(test).log10.tolist() == native.score_corpus(test).log10.tolist()


def _mistake(text: str, kind: str, section: int, at: int) -> tuple[str, int]:
    """``text`` with line ``at`` of the ``section``-grams made wrong in the way ``kind``; its line number."""
    lines = text.split("\n")
    start = lines.index(f"\\{section}-grams:") + 1
    i = start + at
    logp, words, *bo = lines[i].split("\t")
    if kind == "fields":
        lines[i] = f"{logp}\t{words} x y z"
    elif kind == "number":
        lines[i] = "\t".join(["-0.5", words, "1.2.3"] if bo else ["1.2.3", words])
    elif kind == "word":
        lines[i] = "\t".join([logp, words.rsplit(" ", 1)[0] + " zebra", *bo])
    elif kind == "context":
        lines[i] = "\t".join([logp, "</s> " + words.split(" ", 1)[1], *bo])  # no n-gram starts with </s>
    elif kind == "twice":  # the next line repeats this one
        lines[i + 1] = lines[i]
        return "\n".join(lines), i + 2
    elif kind == "more":
        lines.insert(i, lines[i].replace("\t", "  "))
    return "\n".join(lines), i + 1


MESSAGES = {"fields": "a {k}-gram line needs", "number": "cannot read the", "word": "the word 'zebra'",
            "context": "the context '</s>", "twice": "is listed twice", "more": "the \\data\\ header says ngram {k}="}


PLACES = [(2, 0), (2, 31), (2, 32), (2, 77), (3, 1), (3, 200)]  # batches of 32 lines: first, last, next ...
CASES = [(kind, section, at) for kind in MESSAGES for section, at in PLACES
         if not (kind == "context" and section == 2)]  # a bigram's context is a unigram: a word mistake


@pytest.mark.parametrize("kind,section,at", CASES)
def test_a_mistake_is_the_same_one_line_error_from_both_parsers(big_arpa, tmp_path, monkeypatch, kind, section, at):
    _, path = big_arpa
    text, line = _mistake(path.read_text(), kind, section, at)
    bad = tmp_path / "bad.arpa"
    bad.write_text(text)
    message = _the_error(monkeypatch, bad)
    assert "\n" not in message and MESSAGES[kind].format(k=section) in message
    # the line of the mistake; for one line too many, the header's count line
    assert message.startswith(f"{bad}:{section + 1 if kind == 'more' else line}: ")


def test_the_cli_names_file_and_line_and_exits_2(big_arpa, tmp_path, capsys):
    _, path = big_arpa
    text, line = _mistake(path.read_text(), "number", 3, 100)
    bad = tmp_path / "bad.arpa"
    bad.write_text(text)
    test = tmp_path / "test.txt"
    test.write_text("w1 w2\n")
    status = main(["lm", "ngram", "ppl", str(bad), str(test)])
    _, err = capsys.readouterr()
    assert status == 2 and err.count("\n") == 1
    assert f"{bad}:{line}: cannot read the log10 probability '1.2.3' as a number" in err


def _written(monkeypatch, lm, path, kernel_on: bool) -> bytes:
    with monkeypatch.context() as m:
        m.setenv("SEQKIT_NGRAM_KERNEL", "1" if kernel_on else "0")
        write_arpa(lm, path)
    return path.read_bytes()


def test_the_compiled_writer_writes_the_numpy_writers_bytes(big_arpa, tmp_path, monkeypatch):
    lm, _ = big_arpa
    mle = NGramLM.train(["é ü ä x", "x é", "ü"], order=2, smoothing="mle")  # zero probabilities: -99
    edges = NGramLM.train(["a b", "b a"], order=2, discount_fallback=True)
    # rounding at the 6th decimal half to even (as numpy's rint), no sign on a value that rounds to 0,
    # NaN and infinities as -99, the largest writable value
    assert edges.counts[1] == 6
    edges.logp[1][:] = [-0.0000005, -0.0000015, -0.0000025, -1e-7, np.nan, -np.inf]
    edges.logbo[0][3:5] = [-999.9999994, 1e-300]
    for i, model in enumerate([lm, mle, edges]):
        path = tmp_path / f"{i}.arpa"
        ours = _written(monkeypatch, model, path, kernel_on=True)
        assert ours == _written(monkeypatch, model, path, kernel_on=False)
    text = (tmp_path / "2.arpa").read_text()
    bigrams = text.split("\\2-grams:\n")[1].split("\n\n")[0].split("\n")
    assert [line.split("\t")[0] for line in bigrams] == ["0.000000", "-0.000002", "-0.000002", "0.000000",
                                                         "-99.000000", "-99.000000"]
    assert "\ta\t-999.999999\n" in text and "\tb\t0.000000\n" in text
    assert "-99.000000\t<unk>" in (tmp_path / "1.arpa").read_text()


def test_a_value_too_large_for_arpa_is_refused_by_both_writers(tmp_path, monkeypatch):
    lm = NGramLM.train(["a b", "b a"], order=2, discount_fallback=True)
    lm.logbo[0][3] = -1234.5
    for on in (True, False):
        with pytest.raises(SeqkitError, match="cannot write log10 value -1234.5"):
            _written(monkeypatch, lm, tmp_path / "x.arpa", kernel_on=on)
    assert not (tmp_path / "x.arpa").exists()  # nothing half-written


def test_a_header_count_beyond_the_file_is_the_count_error_not_a_memory_error(tmp_path, monkeypatch):
    path = tmp_path / "huge.arpa"
    path.write_text(HAND.replace("ngram 2=5", "ngram 2=999999999999"))
    assert _the_error(monkeypatch, path).startswith(f"{path}:3: the \\data\\ header says ngram 2=999999999999 but the \\2-grams: "
                                "section has 5 entries")
