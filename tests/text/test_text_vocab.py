"""Vocab: id layout, ordering, lookup, JSON round trip, and d2l's time-machine numbers."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from seqkit.errors import SeqkitError
from seqkit.io import read_text
from seqkit.text import TimeMachineTokenizer, Vocab


def test_layout_and_tie_break():
    v = Vocab("c b a b a a d".split())
    # specials first, then by count; b and c... c (1) and d (1) tie: c occurs first
    assert v.to_tokens(list(range(len(v)))) == ["<unk>", "<pad>", "<bos>", "<eos>", "a", "b", "c", "d"]
    assert (v.unk_id, v.pad_id, v.bos_id, v.eos_id) == (0, 1, 2, 3)
    assert v.token_freqs == [("a", 3), ("b", 2), ("c", 1), ("d", 1)]


def test_inputs_counter_nested_and_flat_agree():
    lines = [["the", "cat"], ["the", "dog", "the"]]
    flat = [t for line in lines for t in line]
    assert Vocab(lines) == Vocab(flat) == Vocab(Counter(flat)) == Vocab([lines])


def test_min_freq_max_size_specials():
    tokens = "a a a b b c".split()
    assert Vocab(tokens, min_freq=2).itos[4:] == ["a", "b"]
    v = Vocab(tokens, max_size=6, specials=["<sep>"])
    assert v.itos == ["<unk>", "<pad>", "<bos>", "<eos>", "<sep>", "a"]
    assert v.specials == ["<sep>"] and v["<sep>"] == 4
    with pytest.raises(SeqkitError, match="max_size=3 is smaller than the 4 special tokens"):
        Vocab(tokens, max_size=3)
    with pytest.raises(SeqkitError, match="lack <unk>"):
        Vocab(tokens, reserved=("<pad>",))


def test_lookup_and_to_tokens():
    v = Vocab("a b b".split())
    assert v["b"] == 4 and v["zzz"] == v.unk_id == 0
    assert v[["a", "b", "?"]] == [5, 4, 0]
    assert v[[["a"], ["b", "b"]]] == [[5], [4, 4]]
    assert v[[]] == []
    assert v.to_tokens(5) == "a"
    assert v.to_tokens([[4, 5], [0]]) == [["b", "a"], ["<unk>"]]
    torch = pytest.importorskip("torch")
    assert v.to_tokens(torch.tensor([[4, 5]])) == [["b", "a"]]


def test_json_round_trip(tmp_path):
    v = Vocab("x y y z z z".split(), specials=["<mask>"], min_freq=2)
    v.save(tmp_path / "v.json")
    w = Vocab.load(tmp_path / "v.json")
    assert w == v and w.itos == v.itos and w.token_freqs == v.token_freqs and w.specials == ["<mask>"]
    assert w[["z", "y", "x"]] == [5, 6, 0]
    d2l_like = Vocab("b a a".split(), reserved=("<unk>",))
    d2l_like.save(tmp_path / "d.json")
    assert Vocab.load(tmp_path / "d.json").itos == ["<unk>", "a", "b"]
    assert Vocab.load(tmp_path / "d.json").pad_id is None


def test_load_bad_files(tmp_path):
    (tmp_path / "bad.json").write_text("{\n  'x': 1\n}\n")
    with pytest.raises(SeqkitError, match=r"bad.json:2: invalid JSON"):
        Vocab.load(tmp_path / "bad.json")
    (tmp_path / "other.json").write_text(json.dumps({"tokens": []}))
    with pytest.raises(SeqkitError, match="not a seqkit vocab file"):
        Vocab.load(tmp_path / "other.json")


def test_from_files_errors(tmp_path):
    (tmp_path / "empty.txt").write_text("\n \n")
    with pytest.raises(SeqkitError, match=r"empty.txt:1: empty file"):
        Vocab.from_files([tmp_path / "empty.txt"])
    (tmp_path / "latin1.txt").write_bytes("ok\ncaf\xe9\n".encode("latin-1"))
    with pytest.raises(SeqkitError, match=r"latin1.txt:2: invalid UTF-8"):
        Vocab.from_files([tmp_path / "latin1.txt"])


def test_time_machine_vocabs_match_d2l(shared_data):
    text = read_text(shared_data / "timemachine" / "timemachine.txt")
    # d2l: Vocab(list(cleaned_text)) has <unk>, the space and 26 letters
    chars = Vocab(TimeMachineTokenizer("char").encode(text), reserved=("<unk>",))
    assert len(chars) == 28
    assert sorted(chars.itos[1:]) == sorted(" abcdefghijklmnopqrstuvwxyz")
    assert chars.itos[:3] == ["<unk>", " ", "e"]  # space, then the most frequent letter
    words = Vocab(TimeMachineTokenizer("word").encode(text), reserved=("<unk>",))
    # d2l prints vocab.token_freqs[:10]
    assert words.token_freqs[:10] == [("the", 2261), ("i", 1267), ("and", 1245), ("of", 1155), ("a", 816),
                                      ("to", 695), ("was", 552), ("in", 541), ("that", 443), ("my", 440)]
    assert words.itos[1:11] == ["the", "i", "and", "of", "a", "to", "was", "in", "that", "my"]
    assert len(words) == 4580  # 4579 distinct words + <unk>
