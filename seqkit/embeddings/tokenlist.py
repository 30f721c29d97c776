"""The keys of a large vector file held compactly: one string and an array of offsets.

A list of 400k Python strings costs ~25 MB; :class:`TokenList` holds the same tokens in ~6 MB and
still behaves as a sequence of str. :class:`TokenCollector` builds one block by block while a file is
parsed, so the tokens never exist as separate str objects all at once, and finds the repeated
ones by their hashes.
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
    """Gathers decoded tokens block by block while a file is parsed, then gives one :class:`TokenList`.

    Per token it keeps its length (int32) and a 32-bit hash in arrays that grow like the vector matrix
    (preallocated from an estimate; untouched capacity costs no memory), and the text of each block as
    one string: ~10 bytes a token beside the text, never a str object per token. The hashes find the
    repeated tokens (:meth:`repeats`) without a dict of all of them; rows can be left out
    (:meth:`drop`) before :meth:`finish` joins the blocks.
    """

    def __init__(self, capacity: int = 0) -> None:
        self.pieces: list[str] = []  # each block's tokens, each followed by a newline
        self.first: list[int] = []  # the row of each piece's first token
        self.lengths = np.empty(max(capacity, 1), dtype=np.int32)
        self.hashes = np.empty(max(capacity, 1), dtype=np.uint32)
        self.n = 0

    def add(self, tokens: list[str]) -> None:
        m = len(tokens)
        if not m:
            return
        if self.n + m > len(self.lengths):  # only when the capacity estimate was short
            size = max(self.n + m, 2 * len(self.lengths))
            self.lengths = _grown(self.lengths, self.n, size)
            self.hashes = _grown(self.hashes, self.n, size)
        self.lengths[self.n:self.n + m] = np.fromiter(map(len, tokens), dtype=np.int32, count=m)
        # the low 32 bits of Python's hash: a few false matches among millions are checked by text
        self.hashes[self.n:self.n + m] = np.fromiter(map(hash, tokens), dtype=np.int64, count=m).astype(np.uint32)
        self.pieces.append("\n".join(tokens) + "\n")
        self.first.append(self.n)
        self.n += m

    def tokens_at(self, rows: np.ndarray) -> list[str]:
        """The tokens of ``rows`` (ascending row numbers)."""
        out: list[str] = []
        piece_of = np.searchsorted(self.first, rows, side="right") - 1
        for p in np.unique(piece_of).tolist():
            a = self.first[p]
            b = self.first[p + 1] if p + 1 < len(self.first) else self.n
            starts = np.zeros(b - a + 1, dtype=np.int64)
            np.cumsum(self.lengths[a:b] + 1, out=starts[1:])
            text = self.pieces[p]
            for r in rows[piece_of == p].tolist():
                out.append(text[starts[r - a]:starts[r - a + 1] - 1])
        return out

    def repeats(self) -> np.ndarray:
        """The rows whose token already appeared on an earlier row (ascending): the first row wins."""
        hashes = self.hashes[:self.n]
        ordered = np.sort(hashes)
        shared = ordered[1:][ordered[1:] == ordered[:-1]]
        del ordered
        if not len(shared):
            return np.zeros(0, dtype=np.int64)
        suspects = np.flatnonzero(np.isin(hashes, shared))  # rows whose hash repeats (texts may differ)
        seen: set[str] = set()
        out = []
        for row, token in zip(suspects.tolist(), self.tokens_at(suspects)):
            if token in seen:
                out.append(row)
            seen.add(token)
        return np.asarray(out, dtype=np.int64)

    def drop(self, rows: np.ndarray) -> None:
        """Leave out ``rows`` (ascending row numbers); the later rows move up."""
        if not len(rows):
            return
        rows = np.asarray(rows, dtype=np.int64)
        piece_of = np.searchsorted(self.first, rows, side="right") - 1
        for p in np.unique(piece_of).tolist():
            a = self.first[p]
            gone = set((rows[piece_of == p] - a).tolist())
            tokens = self.pieces[p].split("\n")[:-1]
            kept = [t for j, t in enumerate(tokens) if j not in gone]
            self.pieces[p] = "\n".join(kept) + "\n" if kept else ""
        keep = np.ones(self.n, dtype=bool)
        keep[rows] = False
        m = int(keep.sum())
        self.lengths[:m] = self.lengths[:self.n][keep]
        self.hashes[:m] = self.hashes[:self.n][keep]
        shift = np.searchsorted(rows, np.asarray(self.first, dtype=np.int64))  # dropped rows before each piece
        first = (np.asarray(self.first, dtype=np.int64) - shift).tolist()
        pieces = [(f, t) for f, t in zip(first, self.pieces) if t]
        self.first, self.pieces = [f for f, _ in pieces], [t for _, t in pieces]
        self.n = m

    def finish(self) -> TokenList:
        """The tokens as one :class:`TokenList` (the collector is empty afterwards)."""
        offsets = np.zeros(self.n + 1, dtype=np.int64)
        for a in range(0, self.n, 1 << 16):  # in chunks: no temporary the size of the vocabulary
            b = min(a + (1 << 16), self.n)
            np.cumsum(self.lengths[a:b] + 1, out=offsets[a + 1:b + 1])
            offsets[a + 1:b + 1] += offsets[a]
        self.lengths = self.hashes = np.zeros(0, dtype=np.int32)
        text, self.pieces, self.first, self.n = "".join(self.pieces), [], [], 0
        return TokenList(text, offsets)


def _grown(array: np.ndarray, n: int, size: int) -> np.ndarray:
    out = np.empty(size, dtype=array.dtype)
    out[:n] = array[:n]
    return out
