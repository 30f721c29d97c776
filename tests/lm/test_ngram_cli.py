"""``seqkit lm ngram train / ppl / sample / stats`` end to end, and their one-line errors."""

import re

import pytest

from seqkit.cli import main

CORPUS = "\n".join(["the cat sat on the mat", "the dog sat on the log", "a cat ate", "the cat ate the fish",
                    "a dog sat", "on the mat a cat sat", "the fish ate the cat"] * 3) + "\n"


@pytest.fixture
def files(tmp_path):
    train = tmp_path / "train.txt"
    train.write_text(CORPUS)
    test = tmp_path / "test.txt"
    test.write_text("the cat sat on the log\nthe zebra ate\n")
    return tmp_path, train, test


def run(capsys, *args):
    status = main(["lm", "ngram", *map(str, args)])
    out, err = capsys.readouterr()
    return status, out, err


def test_train_ppl_sample(files, capsys):
    tmp, train, test = files
    model = tmp / "model.arpa"
    status, _, err = run(capsys, "train", "--order", 3, "--smoothing", "mkn", "--discount-fallback",
                         train, "-o", model)
    assert status == 0 and model.exists() and "3-gram discounts" in err
    status, out, _ = run(capsys, "ppl", model, test)
    assert status == 0
    value = float(re.search(r"^perplexity: ([0-9.]+)$", out, re.M).group(1))
    assert 1 < value < 100
    assert re.search(r"^OOVs: 1$", out, re.M)
    from seqkit.lm.ngram import NGramLM

    assert value == pytest.approx(NGramLM.load_arpa(model).perplexity(test.read_text().splitlines()), abs=1e-4)
    status, out, _ = run(capsys, "ppl", model, test, "--per-sentence", "--per-token")
    assert "zebra\t" in out and "OOV" in out and "sentence 2\t" in out
    status, out, _ = run(capsys, "sample", model, "--prefix", "the cat", "--seed", 1, "-n", 2)
    lines = out.strip().splitlines()
    assert status == 0 and len(lines) == 2 and all(line.startswith("the cat") for line in lines)
    assert run(capsys, "sample", model, "--prefix", "the cat", "--seed", 1, "-n", 2)[1] == out


def test_stats_and_zipf(files, capsys):
    tmp, train, _ = files
    status, out, _ = run(capsys, "stats", train, "--top", 2, "--zipf", tmp / "zipf.png")
    assert status == 0 and "top 1-grams:\n  27\tthe\n" in out
    assert (tmp / "zipf.png").read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize("args,message", [
    (["--order", 0], "Invalid value for '--order': 0 is not in the range x>=1"),
    (["--smoothing", "kneser"], "unknown smoothing 'kneser'"),
    (["--smoothing", "mkn"], "cannot estimate Kneser-Ney discounts"),
])
def test_train_errors_are_one_line(files, capsys, args, message):
    tmp, train, _ = files
    status, _, err = run(capsys, "train", train, "-o", tmp / "m.arpa", *args)
    assert status == 2 and message in err and err.count("\n") == 1


def test_empty_training_text_and_bad_arpa(files, capsys):
    tmp, _, test = files
    empty = tmp / "empty.txt"
    empty.write_text("\n\n")
    status, _, err = run(capsys, "train", empty, "-o", tmp / "m.arpa")
    assert status == 2 and f"{empty}: empty training text" in err and err.count("\n") == 1
    bad = tmp / "bad.arpa"
    bad.write_text("\\data\\\nngram 1=5\n\n\\1-grams:\n-1\t<s>\t0\n-1\t</s>\n\n\\end\\\n")
    status, _, err = run(capsys, "ppl", bad, test)
    assert status == 2 and "header says ngram 1=5 but the \\1-grams: section has 2 entries" in err
    assert err.startswith(f"error: {bad}:2:") and err.count("\n") == 1


def test_closed_vocabulary_options(files, capsys):
    tmp, train, test = files
    vocab = tmp / "vocab.txt"
    vocab.write_text("the\ncat\nsat\n")
    model = tmp / "m.safetensors"
    assert run(capsys, "train", "--order", 2, "--smoothing", "witten-bell", "--vocab", vocab, train, "-o", model)[0] == 0
    from seqkit.lm.ngram import NGramLM

    lm = NGramLM.load(model)
    assert lm.vocab.tokens == ["<unk>", "<s>", "</s>", "the", "cat", "sat"]
    status, out, _ = run(capsys, "ppl", model, test)
    assert status == 0 and re.search(r"^OOVs: 4$", out, re.M)  # on, log, zebra, ate
    assert run(capsys, "train", "--min-freq", 15, "--smoothing", "addk", "--k", 0.5, train, "-o", model)[0] == 0
    assert NGramLM.load(model).vocab.tokens == ["<unk>", "<s>", "</s>", "the", "cat"]  # the 27, cat 15, sat 12


def test_an_lmplz_style_numeric_output_is_refused(capsys, tmp_path, monkeypatch):
    from seqkit.cli import main

    train = tmp_path / "t.txt"
    train.write_text("a b c\n")
    monkeypatch.chdir(tmp_path)
    assert main(["lm", "ngram", "train", str(train), "-o", "5"]) == 2
    assert "for the order use --order 5 -o model.arpa" in capsys.readouterr().err
    assert not (tmp_path / "5").exists()
