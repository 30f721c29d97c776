"""Cutting a Chinese side into words before sentencepiece (``pretokenize``), and joining it back.

sentencepiece learns pieces inside whitespace-separated units; Chinese text has no spaces, so a
Chinese side is cut first -- into jieba's words (``"jieba"``) or into single characters (``"char"``) --
and a translation into Chinese has the spaces between Chinese characters taken out again
(:func:`join_cjk`). The NMT models, the recipes and prepared corpora (:mod:`seqkit.data.prepared`)
share these functions.
"""

from __future__ import annotations

import functools

from seqkit.errors import SeqkitError

#: ``pretokenize`` values: how a Chinese side is cut into words before sentencepiece sees it
PRETOKENIZE = ("jieba", "char", "none")


def is_cjk(ch: str) -> bool:
    """A CJK ideograph or CJK punctuation / full-width form."""
    return "\u4e00" <= ch <= "\u9fff" or "\u3400" <= ch <= "\u4dbf" or "\u3000" <= ch <= "\u303f" \
        or "\uff00" <= ch <= "\uffef"


@functools.cache
def _jieba():
    from seqkit.text import JiebaTokenizer

    return JiebaTokenizer()


def jieba_segment(text: str) -> str:
    """jieba's words, space-separated."""
    return " ".join(_jieba().encode(text))


def char_segment(text: str) -> str:
    """Spaces around every Chinese character; runs of other characters stay whole."""
    return " ".join("".join(f" {ch} " if is_cjk(ch) else ch for ch in text).split())


def pretokenizer(name: str | None):
    """The function for a ``pretokenize`` value (``None`` for ``"none"``)."""
    if name in (None, "none"):
        return None
    if name == "jieba":
        return jieba_segment
    if name == "char":
        return char_segment
    raise SeqkitError(f"unknown pretokenize {name!r}", fix=f"use one of {', '.join(PRETOKENIZE)}")


def join_cjk(text: str) -> str:
    """Remove the spaces jieba segmentation put between Chinese characters: ``"我 爱 你"`` -> ``"我爱你"``."""
    out = []
    for i, ch in enumerate(text):
        if ch == " " and 0 < i < len(text) - 1 and (is_cjk(text[i - 1]) or is_cjk(text[i + 1])) \
                and not (text[i - 1].isascii() and text[i + 1].isascii()):
            continue
        out.append(ch)
    return "".join(out)
