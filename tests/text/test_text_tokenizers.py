"""Whitespace, char and the d2l tokenizers; the registry."""

from __future__ import annotations

import pytest

from seqkit.errors import SeqkitError
from seqkit.text import (
    CharTokenizer,
    D2LNMTTokenizer,
    TimeMachineTokenizer,
    WhitespaceTokenizer,
    clean_time_machine,
    get_tokenizer,
    preprocess_nmt,
)


def test_whitespace_and_char():
    assert WhitespaceTokenizer().encode("  Go\tnow  ") == ["Go", "now"]
    assert WhitespaceTokenizer(lowercase=True).encode("Go NOW") == ["go", "now"]
    assert CharTokenizer().encode("a b") == ["a", " ", "b"]
    assert CharTokenizer().decode(CharTokenizer().encode("x y!")) == "x y!"
    assert WhitespaceTokenizer().encode_batch(["a b", "c"]) == [["a", "b"], ["c"]]
    assert WhitespaceTokenizer().decode_batch([["a", "b"], ["c"]]) == ["a b", "c"]


def test_time_machine_cleanup_like_d2l():
    # d2l: re.sub('[^A-Za-z]+', ' ', line).strip().lower()
    assert clean_time_machine("The Time Machine, by H. G. Wells [1898]") == "the time machine by h g wells"
    assert TimeMachineTokenizer("word").encode("I'm 27 -- Hello!") == ["i", "m", "hello"]
    assert TimeMachineTokenizer("char").encode("A-b") == ["a", " ", "b"]
    with pytest.raises(SeqkitError, match="unknown level"):
        TimeMachineTokenizer("byte")


def test_d2l_nmt_preprocessing():
    # the d2l fra-eng examples: "Go.\tVa !" with U+202F before "!"
    assert preprocess_nmt("Va\u202f!") == "va !"
    assert preprocess_nmt("Go.") == "go ."
    assert preprocess_nmt("Hi,\xa0there!") == "hi , there !"
    assert preprocess_nmt("Wait...") == "wait . . ."  # each mark follows a non-space
    assert D2LNMTTokenizer().encode("I won!") == ["i", "won", "!"]
    assert D2LNMTTokenizer().encode("J'ai  gagné !") == ["j'ai", "gagné", "!"]  # no empty tokens


def test_registry():
    assert get_tokenizer("word").encode("a b") == ["a", "b"]
    assert get_tokenizer("d2l_nmt").encode("Go.") == ["go", "."]
    assert get_tokenizer("timemachine", level="word").encode("Hi, you") == ["hi", "you"]
    with pytest.raises(SeqkitError, match="unknown tokenizer 'nope'.*use one of whitespace"):
        get_tokenizer("nope")
    with pytest.raises(SeqkitError, match="bad option for tokenizer 'char'"):
        get_tokenizer("char", mode="x")
    with pytest.raises(SeqkitError, match="needs a model"):
        get_tokenizer("spm")


def test_d2l_nmt_on_fra_eng_matches_d2l_print(shared_data):
    from seqkit.io import read_lines

    pairs = [line.split("\t") for line in read_lines(shared_data / "fra-eng" / "fra.txt.gz")[:6]]
    tok = D2LNMTTokenizer()
    # d2l prints src[:6] / tgt[:6] (before appending <eos>)
    assert [tok.encode(en) for en, _ in pairs] == [["go", "."], ["hi", "."], ["run", "!"], ["run", "!"],
                                                   ["who", "?"], ["wow", "!"]]
    assert [tok.encode(fr) for _, fr in pairs] == [["va", "!"], ["salut", "!"], ["cours", "!"],
                                                   ["courez", "!"], ["qui", "?"], ["ça", "alors", "!"]]
