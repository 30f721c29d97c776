"""`seqkit w2v train | eval | similar` end to end on a small corpus; outputs readable by gensim."""

from __future__ import annotations

import numpy as np
from gensim.models import KeyedVectors as GensimKV

from seqkit.cli import main


def corpus_file(tmp_path):
    rng = np.random.default_rng(0)
    topics = [[f"{t}{i}" for i in range(6)] for t in "xyz"]
    lines = [" ".join(rng.choice(topics[rng.integers(3)], size=10)) for _ in range(400)]
    path = tmp_path / "corpus.txt"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_train_eval_similar(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("SEQKIT_CACHE", str(tmp_path / "cache"))
    corpus = corpus_file(tmp_path)
    for out, binary in (("v.bin", True), ("v.txt", False)):
        code = main(["w2v", "train", str(corpus), "-o", str(tmp_path / out), "--dim", "16", "--window", "3",
                     "--negative", "5", "--min-freq", "1", "--sample", "0", "--epochs", "3", "--threads", "1",
                     "--batch-size", "64"])  # the batch size only matters for the torch fallback
        assert code == 0
        kv = GensimKV.load_word2vec_format(tmp_path / out, binary=binary)
        assert len(kv) == 18 and kv.vector_size == 16
    captured = capsys.readouterr()
    assert "words/s" in captured.out and "wrote" in captured.out and "loss" in captured.err

    assert main(["w2v", "similar", str(tmp_path / "v.bin"), "x0", "-n", "3"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 3 and all(line.split("\t")[1].startswith("x") for line in lines)

    assert main(["w2v", "eval", str(tmp_path / "v.txt")]) == 2  # no analogy/wordsim word in this toy vocab
    assert "no word pair" in capsys.readouterr().err


def test_errors_are_one_line(tmp_path, capsys):
    assert main(["w2v", "similar", str(tmp_path / "nope.bin"), "x"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and "not found" in err and "\n" not in err
    corpus = corpus_file(tmp_path)
    assert main(["w2v", "train", str(corpus), "-o", str(tmp_path / "v.pkl"), "--min-freq", "1",
                 "--epochs", "1", "--threads", "1"]) == 2
    assert "unknown output extension" in capsys.readouterr().err


def test_the_anchors_flag_names_work_and_show_in_help(tmp_path, capsys):
    """gensim's and word2vec.c's names (--min-count, --vector-size, --iter, --workers) are aliases; the
    progress written to a file or pipe (not a terminal) is plain lines, no carriage returns."""
    corpus = corpus_file(tmp_path)
    capsys.readouterr()
    assert main(["w2v", "train", str(corpus), "-o", str(tmp_path / "a.txt"), "--vector-size", "8",
                 "--min-count", "1", "--iter", "2", "--workers", "1", "--sample", "0"]) == 0
    out, err = capsys.readouterr()
    assert "x 8:" in out and "\r" not in err and "epoch 2/2" in err, repr(err)
    assert main(["w2v", "train", "--help"]) == 0
    shown = capsys.readouterr().out
    for names in ("--dim, --vector-size, --size", "--min-freq, --min-count", "--epochs, --iter",
                  "--threads, --workers", "--max-vocab, --max-final-vocab"):
        assert names in shown


def test_other_commands_take_their_anchors_names(tmp_path, capsys):
    text = tmp_path / "t.txt"
    text.write_text("the cat sat on the mat\nthe dog sat on the log\n" * 30)
    for command, names in ((["lm", "ngram", "train"], ("--arpa", "--limit_vocab_file", "--discount_fallback")),
                           (["vocab", "build"], ("--min-count", "--max-tokens")),
                           (["vocab", "spm"], ("--vocab_size", "--model_type", "--character_coverage",
                                               "--byte_fallback", "--user_defined_symbols")),
                           (["vocab", "bpe"], ("-s, --merges, --symbols",)), (["tokenize"], ("-l",))):
        assert main([*command, "--help"]) == 0
        shown = capsys.readouterr().out
        assert all(name in shown for name in names), (command, shown)
    assert main(["lm", "ngram", "train", str(text), "--arpa", str(tmp_path / "m.arpa"), "--order", "2",
                 "--discount_fallback"]) == 0
    assert (tmp_path / "m.arpa").read_text().startswith("\n\\data\\") or "\\data\\" in (tmp_path / "m.arpa").read_text()
    assert main(["vocab", "build", str(text), "-o", str(tmp_path / "v.json"), "--min-count", "31"]) == 0
    assert "the" in (tmp_path / "v.json").read_text() and "cat" not in (tmp_path / "v.json").read_text()
