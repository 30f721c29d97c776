"""Build a tokenizer by name: ``get_tokenizer("jieba", mode="search")``.

Names: ``whitespace`` (alias ``word``), ``char``, ``timemachine``, ``d2l_nmt``, ``regex``,
``jieba``, ``spm`` (needs ``model=PATH``), ``bpe`` (needs ``model=PATH`` of saved merges).
Options are the keyword arguments of each class.
"""

from __future__ import annotations

from collections.abc import Callable

from seqkit.errors import SeqkitError
from seqkit.text.base import Tokenizer


def _spm(model=None, **options) -> Tokenizer:
    from seqkit.text.spm import SentencePieceTokenizer

    if model is None:
        raise SeqkitError("the spm tokenizer needs a model", fix="pass model=PATH (a .model file)")
    return SentencePieceTokenizer.load(model, **options)


def _bpe(model=None) -> Tokenizer:
    from seqkit.text.bpe import BPE

    if model is None:
        raise SeqkitError("the bpe tokenizer needs learned merges", fix="pass model=PATH (JSON from BPE.save)")
    return BPE.load(model)


def _lazy(module: str, cls: str) -> Callable[..., Tokenizer]:
    def build(**options) -> Tokenizer:
        import importlib

        return getattr(importlib.import_module(f"seqkit.text.{module}"), cls)(**options)

    return build


TOKENIZERS: dict[str, Callable[..., Tokenizer]] = {
    "whitespace": _lazy("simple", "WhitespaceTokenizer"),
    "word": _lazy("simple", "WhitespaceTokenizer"),
    "char": _lazy("simple", "CharTokenizer"),
    "timemachine": _lazy("d2l", "TimeMachineTokenizer"),
    "d2l_nmt": _lazy("d2l", "D2LNMTTokenizer"),
    "regex": _lazy("regex", "RegexTokenizer"),
    "jieba": _lazy("jieba_tok", "JiebaTokenizer"),
    "spm": _spm,
    "bpe": _bpe,
}


def get_tokenizer(name: str, **options) -> Tokenizer:
    """The tokenizer registered under ``name``, built with ``options``.

    >>> get_tokenizer("d2l_nmt").encode("Go.")
    ['go', '.']
    """
    if name not in TOKENIZERS:
        raise SeqkitError(f"unknown tokenizer {name!r}", fix=f"use one of {', '.join(TOKENIZERS)}")
    try:
        return TOKENIZERS[name](**options)
    except TypeError as exc:  # a wrong option name: say which options exist
        raise SeqkitError(f"bad option for tokenizer {name!r}: {exc}",
                          fix="see help(seqkit.text) for each tokenizer's options") from None
