"""The two preprocessing recipes of the d2l book, as tokenizers.

* :class:`TimeMachineTokenizer` -- "Text Sequences" chapter: every run of non-letters becomes one
  space, everything is lowercased, then the text is split into characters or words.
* :class:`D2LNMTTokenizer` -- "Machine Translation" chapter (English-French): non-breaking spaces
  become spaces, everything is lowercased, and a space is put before ``, . ! ?`` that directly follow
  a non-space, then the text is split into words.

Both are lossy by design (that is the point of the cleanup), so ``decode`` gives the cleaned text,
not the original.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from seqkit.errors import SeqkitError
from seqkit.text.base import Tokenizer

_NON_LETTERS = re.compile(r"[^A-Za-z]+")
# A punctuation mark glued to the previous character: "go." -> "go ."
_GLUED_PUNCT = re.compile(r"(?<=\S)([,.!?])")


def clean_time_machine(text: str) -> str:
    """d2l's cleanup: ``[^A-Za-z]+`` -> one space, then lowercase.

    >>> clean_time_machine("The Time-Machine, by H. G. Wells")
    'the time machine by h g wells'
    """
    return _NON_LETTERS.sub(" ", text).strip().lower()


def preprocess_nmt(text: str) -> str:
    """d2l's English-French preprocessing.

    >>> preprocess_nmt("Go.\\u202fNow!")
    'go . now !'
    """
    text = text.replace("\u202f", " ").replace("\xa0", " ").lower()
    return _GLUED_PUNCT.sub(r" \1", text)


class TimeMachineTokenizer(Tokenizer):
    """d2l time-machine cleanup, then ``level="char"`` (every character, spaces included) or
    ``level="word"``.

    >>> TimeMachineTokenizer("word").encode("I said: 'Hello!'")
    ['i', 'said', 'hello']
    >>> TimeMachineTokenizer("char").encode("Hi, you")
    ['h', 'i', ' ', 'y', 'o', 'u']
    """

    name = "timemachine"

    def __init__(self, level: str = "char") -> None:
        if level not in ("char", "word"):
            raise SeqkitError(f"unknown level {level!r}", fix="use level='char' or level='word'")
        self.level = level

    def encode(self, text: str) -> list[str]:
        cleaned = clean_time_machine(text)
        return list(cleaned) if self.level == "char" else cleaned.split()

    def decode(self, tokens: Sequence[str]) -> str:
        return "".join(tokens) if self.level == "char" else " ".join(tokens)

    def __repr__(self) -> str:
        return f"TimeMachineTokenizer(level={self.level!r})"


class D2LNMTTokenizer(Tokenizer):
    """d2l NMT preprocessing, then whitespace split.

    d2l splits on ``' '`` and so yields empty tokens on double spaces; we split on whitespace runs.

    >>> D2LNMTTokenizer().encode("Va !")
    ['va', '!']
    >>> D2LNMTTokenizer().encode("I won!")
    ['i', 'won', '!']
    """

    name = "d2l_nmt"

    def encode(self, text: str) -> list[str]:
        return preprocess_nmt(text).split()

    def decode(self, tokens: Sequence[str]) -> str:
        return " ".join(tokens)
