"""``seqkit tokenize`` and ``seqkit vocab``: stdin -> stdout, vocab files, one-line errors."""

from __future__ import annotations

import io
import sys

import pytest

from seqkit.cli import main
from seqkit.text import SentencePieceTokenizer, Vocab


def _stdin(monkeypatch, data: bytes) -> None:
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data), encoding="utf-8"))


def test_tokenize_stdin(monkeypatch, capsys):
    _stdin(monkeypatch, b"Hello, world!\nI don't know.\n")
    assert main(["tokenize", "-t", "regex"]) == 0
    assert capsys.readouterr().out == "Hello , world !\nI do n't know .\n"
    _stdin(monkeypatch, "Va\u202f!\n".encode())
    assert main(["tokenize", "-t", "d2l_nmt"]) == 0
    assert capsys.readouterr().out == "va !\n"
    _stdin(monkeypatch, "我来到北京清华大学\n".encode())
    assert main(["tokenize", "-t", "jieba", "--jieba-mode", "search"]) == 0
    assert capsys.readouterr().out == "我 来到 北京 清华 华大 大学 清华大学\n"


def test_tokenize_spm_ids_and_decode(monkeypatch, capsys, tmp_path):
    SentencePieceTokenizer.train(["the cat sat", "the dog sat"] * 10, tmp_path / "m", vocab_size=15)
    model = str(tmp_path / "m.model")
    _stdin(monkeypatch, b"the cat sat\n")
    assert main(["tokenize", "-t", "spm", "-m", model, "--ids"]) == 0
    ids = capsys.readouterr().out
    assert all(x.isdigit() for x in ids.split())
    _stdin(monkeypatch, ids.encode())
    assert main(["tokenize", "-t", "spm", "-m", model, "--ids", "--decode"]) == 0
    assert capsys.readouterr().out == "the cat sat\n"


def test_tokenize_errors(monkeypatch, capsys, tmp_path):
    _stdin(monkeypatch, b"ok\n\xe9t\xe9\n")
    assert main(["tokenize"]) == 2
    assert "error: <stdin>:2: invalid UTF-8" in capsys.readouterr().err
    (tmp_path / "empty.txt").write_text("")
    assert main(["tokenize", str(tmp_path / "empty.txt")]) == 2
    assert "empty.txt:1: empty file" in capsys.readouterr().err
    assert main(["tokenize", "--jieba-mode", "search"]) == 2
    assert "--jieba-mode does not apply to --tokenizer whitespace" in capsys.readouterr().err
    assert main(["tokenize", "-t", "spm"]) == 2
    assert "needs a model" in capsys.readouterr().err


def test_vocab_build(tmp_path, capsys):
    (tmp_path / "a.txt").write_text("the cat\nthe dog\n")
    (tmp_path / "b.txt").write_text("a cat\n")
    out = tmp_path / "vocab.json"
    assert main(["vocab", "build", str(tmp_path / "a.txt"), str(tmp_path / "b.txt"), "-o", str(out),
                 "--specials", "<sep>", "--top", "2"]) == 0
    printed = capsys.readouterr().out
    assert "vocab.json: 9 tokens (4 reserved, 1 specials)" in printed and "top: the (2), cat (2)" in printed
    v = Vocab.load(out)
    assert v.itos == ["<unk>", "<pad>", "<bos>", "<eos>", "<sep>", "the", "cat", "dog", "a"]
    assert main(["vocab", "show", str(out), "--top", "1"]) == 0
    assert "top: the (2)" in capsys.readouterr().out


def test_vocab_build_errors(tmp_path, capsys):
    (tmp_path / "empty.txt").write_text("\n")
    assert main(["vocab", "build", str(tmp_path / "empty.txt"), "-o", str(tmp_path / "v.json")]) == 2
    assert "empty.txt:1: empty file" in capsys.readouterr().err
    (tmp_path / "bad.txt").write_bytes(b"fine\nfine\ncaf\xe9\n")
    assert main(["vocab", "build", str(tmp_path / "bad.txt"), "-o", str(tmp_path / "v.json")]) == 2
    assert "bad.txt:3: invalid UTF-8" in capsys.readouterr().err
    assert not (tmp_path / "v.json").exists()


def test_vocab_from_spm(tmp_path, capsys):
    tok = SentencePieceTokenizer.train(["the cat sat", "the dog sat"] * 10, tmp_path / "m", vocab_size=15)
    assert main(["vocab", "from-spm", str(tmp_path / "m.model"), "-o", str(tmp_path / "v.json")]) == 0
    assert Vocab.load(tmp_path / "v.json")[tok.encode("the dog")] == tok.encode_ids("the dog")


@pytest.mark.parametrize("args", [["vocab", "build", "-o", "x.json"]])
def test_vocab_build_needs_files(args):
    assert main(args) != 0


def test_vocab_spm_and_bpe_training(tmp_path, capsys, monkeypatch):
    (tmp_path / "t.txt").write_text("the cat sat on the mat\nthe dog sat on the log\n" * 10)
    model, vjson = tmp_path / "m.model", tmp_path / "v.json"
    assert main(["vocab", "spm", str(tmp_path / "t.txt"), "-o", str(model), "--vocab-size", "25",
                 "--model-type", "bpe", "--vocab", str(vjson)]) == 0
    assert "25 pieces" in capsys.readouterr().out
    tok = SentencePieceTokenizer.load(model)
    assert Vocab.load(vjson)[tok.encode("the log")] == tok.encode_ids("the log")
    merges = tmp_path / "bpe.json"
    assert main(["vocab", "bpe", str(tmp_path / "t.txt"), "-o", str(merges), "--merges", "3"]) == 0
    assert "3 merges" in capsys.readouterr().out
    _stdin(monkeypatch, b"the mat\n")
    assert main(["tokenize", "-t", "bpe", "-m", str(merges)]) == 0
    # 't h', 'h e', 'e </w>', 'a t', 't </w>' all occur 40 times; ties go to the first word, 'the':
    # merges ('t','h'), ('th','e'), ('the','</w>'), so 'mat' stays in letters
    assert capsys.readouterr().out == "the</w> m a t </w>\n"
