"""The English/French regex tokenizer and its detokenizer."""

from __future__ import annotations

import pytest

from seqkit.text import RegexTokenizer

EN = RegexTokenizer("en")
FR = RegexTokenizer("fr")


@pytest.mark.parametrize("text, tokens", [
    ('"I don\'t know," she said.', ['"', "I", "do", "n't", "know", ",", '"', "she", "said", "."]),
    ("It's 3.14 (roughly) -- isn't it?",
     ["It", "'s", "3.14", "(", "roughly", ")", "--", "is", "n't", "it", "?"]),
    ("We'll pay $1,000... OK?", ["We", "'ll", "pay", "$", "1,000", "...", "OK", "?"]),
    ("He said 'hello' to them.", ["He", "said", "'", "hello", "'", "to", "them", "."]),
])
def test_english(text, tokens):
    assert EN.encode(text) == tokens
    assert EN.decode(tokens) == text


@pytest.mark.parametrize("text, tokens", [
    ("L'homme qu'il a vu aujourd'hui est peut-être là ; « Bonjour » !",
     ["L'", "homme", "qu'", "il", "a", "vu", "aujourd'hui", "est", "peut-être", "là", ";", "«", "Bonjour",
      "»", "!"]),
    ("J\u2019ai faim.", ["J\u2019", "ai", "faim", "."]),
    ("Va !", ["Va", "!"]),
    ("C'est l'été, n'est-ce pas ?", ["C'", "est", "l'", "été", ",", "n'", "est-ce", "pas", "?"]),
])
def test_french(text, tokens):
    assert FR.encode(text) == tokens
    assert FR.decode(tokens) == text


def test_english_detok_glues_question_mark_french_does_not():
    assert EN.decode(["Really", "?"]) == "Really?"
    assert FR.decode(["Vraiment", "?"]) == "Vraiment ?"


def test_lowercase_option():
    assert RegexTokenizer(lowercase=True).encode("Don't GO") == ["do", "n't", "go"]
