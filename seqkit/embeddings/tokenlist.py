"""The keys of a large vector file held compactly: one string and an array of offsets.

A list of 400k Python strings costs ~25 MB; :class:`TokenList` holds the same tokens in ~6 MB and
still behaves as a sequence of str. :class:`TokenCollector` builds one block by block while a file is
parsed, so the tokens never exist as separate str objects all at once.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np


class TokenList(Sequence):
    """The keys of a large vector file in one string: ``text`` holds the tokens joined by newlines and
    ``offsets`` (n+1,) int64 their start positions (and the end). 400k tokens cost ~6 MB this way
    instead of ~25 MB as a list of str."""

    def __init__(self, text: str, offsets: np.ndarray) -> None:
        self.text, self.offsets = text, offsets

    @classmethod
    def from_strings(cls, tokens: Sequence[str]) -> TokenList:
        lengths = np.fromiter(map(len, tokens), dtype=np.int64, count=len(tokens))
        return cls.from_lengths("\n".join(tokens) + ("\n" if tokens else ""), lengths)

    @classmethod
    def from_lengths(cls, text: str, lengths: np.ndarray) -> TokenList:
        """``text``: the tokens, each followed by a newline; ``lengths``: their lengths."""
        offsets = np.zeros(len(lengths) + 1, dtype=np.int64)
        np.cumsum(lengths + 1, out=offsets[1:])
        return cls(text, offsets)

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        if i < 0:
            i += len(self)
        if not 0 <= i < len(self):
            raise IndexError(i)
        return self.text[int(self.offsets[i]):int(self.offsets[i + 1]) - 1]

    def __iter__(self) -> Iterator[str]:
        return iter(self.text.split("\n")[:-1])

    def __eq__(self, other) -> bool:
        """Equal to any sequence of the same tokens in the same order (a list, as gensim's
        ``index_to_key``, or another TokenList)."""
        if isinstance(other, TokenList):
            return self.text == other.text
        if isinstance(other, (list, tuple)):
            return len(other) == len(self) and all(a == b for a, b in zip(self, other))
        return NotImplemented

    __hash__ = None  # mutable-sequence semantics: equal by content, so not hashable


class TokenCollector:
    """Gathers decoded tokens block by block into one string plus their lengths, so that no list of
    all tokens as separate str objects (~60 bytes each) is ever held."""

    def __init__(self) -> None:
        self.texts: list[str] = []
        self.lengths: list[np.ndarray] = []

    def add(self, tokens: list[str]) -> None:
        if tokens:
            self.texts.append("\n".join(tokens) + "\n")
            self.lengths.append(np.fromiter(map(len, tokens), dtype=np.int32, count=len(tokens)))

    def finish(self) -> TokenList:
        lengths = np.concatenate(self.lengths) if self.lengths else np.zeros(0, np.int32)
        self.lengths = []
        text, self.texts = "".join(self.texts), []
        return TokenList.from_lengths(text, lengths)
