"""Chinese word segmentation with jieba, one dictionary per tokenizer instance.

jieba's module-level functions (``jieba.cut``) share one global dictionary, so a user dictionary
loaded for one corpus would leak into every other use. Each :class:`JiebaTokenizer` owns a
``jieba.Tokenizer`` instead; the prefix dictionary is built once per instance (about a second,
cached by jieba on disk) the first time it is needed.

Modes: ``accurate`` (jieba's default ``cut``), ``search`` (``cut_for_search``: also emits the
shorter words inside long ones, for indexing) and ``full`` (``cut_all``: every dictionary word).
``hmm=True`` lets jieba's HMM join characters into words missing from the dictionary.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Sequence
from functools import lru_cache

from seqkit.errors import SeqkitError
from seqkit.io import iter_lines
from seqkit.text.base import Tokenizer

MODES = ("accurate", "search", "full")
# Put a space back between two tokens only where both sides are Latin letters or digits
# ("Tom" "is" -> "Tom is"); Chinese tokens join without spaces.
_ASCII_WORD_END = re.compile(r"[A-Za-z0-9]$")
_ASCII_WORD_START = re.compile(r"^[A-Za-z0-9]")
_SPACE = re.compile(r"\s")


@lru_cache(maxsize=4)
def _prefix_dict(dictionary: str) -> tuple[dict[str, int], int]:
    """jieba's loaded prefix dictionary ``(FREQ, total)`` for a dictionary file, loaded once."""
    import jieba

    tk = jieba.Tokenizer(dictionary=dictionary)
    tk.initialize()
    return tk.FREQ, tk.total


class JiebaTokenizer(Tokenizer):
    """jieba segmentation with its own dictionary (see the module docstring).

    Whitespace tokens that jieba emits for spaces are dropped; :meth:`decode` re-inserts a space
    only between two Latin/digit tokens, so Chinese text round-trips exactly and mixed text keeps
    its word spacing.

    >>> JiebaTokenizer().encode("我来到北京清华大学")  # doctest: +SKIP
    ['我', '来到', '北京', '清华大学']
    """

    name = "jieba"

    def __init__(self, mode: str = "accurate", hmm: bool = True,
                 user_dict: str | os.PathLike | None = None, dictionary: str | os.PathLike | None = None) -> None:
        if mode not in MODES:
            raise SeqkitError(f"unknown jieba mode {mode!r}", fix=f"use one of {', '.join(MODES)}")
        import jieba

        jieba.setLogLevel(logging.WARNING)  # no "Building prefix dict ..." chatter on stderr
        self.mode, self.hmm = mode, hmm
        self.user_dict = os.fspath(user_dict) if user_dict is not None else None
        dictionary = os.path.abspath(dictionary) if dictionary else jieba.DEFAULT_DICT
        self._jieba = jieba.Tokenizer(dictionary=dictionary)
        self._jieba.FREQ, self._jieba.total = _prefix_dict(dictionary)
        self._jieba.initialized = True
        self._shared_freq = True
        if self.user_dict is not None:
            self.load_user_dict(self.user_dict)

    def load_user_dict(self, path: str | os.PathLike) -> None:
        """Add the words of a jieba user dictionary: one ``word [freq] [tag]`` per line, UTF-8."""
        if self._shared_freq:  # never modify the dictionary other instances share
            self._jieba.FREQ = dict(self._jieba.FREQ)
            self._shared_freq = False
        for lineno, line in enumerate(iter_lines(path), 1):
            parts = line.strip().split()
            if not parts:
                continue
            freq = None
            if len(parts) >= 2:
                if not parts[1].isdigit():
                    raise SeqkitError(f"frequency {parts[1]!r} is not a whole number", path=path, line=lineno,
                                      fix="write 'word [freq] [tag]', e.g. '云计算 5 n'")
                freq = int(parts[1])
            tag = parts[2] if len(parts) >= 3 else None
            self._jieba.add_word(parts[0], freq, tag)

    def encode(self, text: str) -> list[str]:
        if self.mode == "search":
            pieces = self._jieba.cut_for_search(text, HMM=self.hmm)
        else:
            pieces = self._jieba.cut(text, cut_all=self.mode == "full", HMM=self.hmm)
        if _SPACE.search(text) is None:  # the usual Chinese line: nothing to filter, no per-token cost
            return list(pieces)
        return [w for w in pieces if not w.isspace()]

    def decode(self, tokens: Sequence[str]) -> str:
        out: list[str] = []
        prev = ""
        for tok in tokens:
            if prev and _ASCII_WORD_END.search(prev) and _ASCII_WORD_START.match(tok):
                out.append(" ")
            out.append(tok)
            prev = tok
        return "".join(out)

    def __repr__(self) -> str:
        return f"JiebaTokenizer(mode={self.mode!r}, hmm={self.hmm}, user_dict={self.user_dict!r})"
