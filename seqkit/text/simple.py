"""The two trivial tokenizers: whitespace-separated words and single characters."""

from __future__ import annotations

from collections.abc import Sequence

from seqkit.text.base import Tokenizer


class WhitespaceTokenizer(Tokenizer):
    """Split on runs of whitespace (``str.split()``); decode joins with one space.

    >>> WhitespaceTokenizer().encode("  a  b\\tc ")
    ['a', 'b', 'c']
    """

    name = "whitespace"

    def __init__(self, lowercase: bool = False) -> None:
        self.lowercase = lowercase

    def encode(self, text: str) -> list[str]:
        return (text.lower() if self.lowercase else text).split()

    def decode(self, tokens: Sequence[str]) -> str:
        return " ".join(tokens)

    def __repr__(self) -> str:
        return f"WhitespaceTokenizer(lowercase={self.lowercase})"


class CharTokenizer(Tokenizer):
    """One token per character, spaces included, so decoding is exact.

    >>> CharTokenizer().encode("a b")
    ['a', ' ', 'b']
    """

    name = "char"

    def __init__(self, lowercase: bool = False) -> None:
        self.lowercase = lowercase

    def encode(self, text: str) -> list[str]:
        return list(text.lower() if self.lowercase else text)

    def decode(self, tokens: Sequence[str]) -> str:
        return "".join(tokens)

    def __repr__(self) -> str:
        return f"CharTokenizer(lowercase={self.lowercase})"
