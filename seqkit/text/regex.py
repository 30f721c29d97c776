"""A rule-based word tokenizer for English and French, with the matching detokenizer.

Tokenization rules (one regular expression, tried left to right at each position):

* French elisions keep their apostrophe on the left: ``l'homme`` -> ``l'`` ``homme``,
  ``qu'il`` -> ``qu'`` ``il``;
* English clitics split Penn-Treebank style: ``don't`` -> ``do`` ``n't``, ``it's`` -> ``it`` ``'s``;
* other words stay whole, with inner apostrophes and hyphens (``aujourd'hui``, ``peut-être``);
* numbers keep their separators (``3.14``, ``1,000``);
* ``...`` and ``--`` are one token; every other symbol is its own token (quotes, brackets, ``,.!?``).

:meth:`RegexTokenizer.decode` undoes this: punctuation attaches to its neighbour, clitics and
elisions re-join their word, straight quotes alternate open/close. ``lang="fr"`` keeps the French
space before ``; : ! ?`` and inside guillemets. For ordinary text ``decode(encode(x)) == x`` up to
whitespace.

Limit: a possessive apostrophe after a plural (``cats' toys``) becomes a lone ``'`` that reads like
a quote, so it detokenizes as ``cats 'toys``; a rule-based tokenizer cannot tell the two apart.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from seqkit.errors import SeqkitError
from seqkit.text.base import Tokenizer

_APOS = "['\u2019]"
_TOKEN = re.compile(
    rf"""
      (?<!\w)(?:jusqu|lorsqu|puisqu|quoiqu|qu|[cdjlmnst]){_APOS}(?=\w)  # French elision: l' qu'
    | \w+(?=n{_APOS}t\b)                          # "do" of "don't"
    | n{_APOS}t\b                                 # n't
    | \w+(?={_APOS}(?:s|re|ve|ll|d|m)\b)          # "it" of "it's"
    | (?<=\w){_APOS}(?:s|re|ve|ll|d|m)\b          # 's 're 've 'll 'd 'm
    | \d+(?:[.,]\d+)+                             # 3.14  1,000
    | \w+(?:(?:{_APOS}|-)\w+)*                    # words: aujourd'hui, peut-être
    | \.\.\.|--                                   # multi-character punctuation
    | \S                                          # any other symbol
    """,
    re.VERBOSE | re.IGNORECASE,
)

# Tokens that take no space before / after them when detokenizing.
_NO_SPACE_BEFORE = {",", ".", "...", ")", "]", "}", "%", "»", "\u201d", "\u2019"}
_NO_SPACE_BEFORE_EN = {"!", "?", ";", ":"}
_NO_SPACE_AFTER = {"(", "[", "{", "$", "¿", "¡", "«", "\u201c", "\u2018"}
_CLITIC = re.compile(rf"^(?:n{_APOS}t|{_APOS}(?:s|re|ve|ll|d|m))$", re.IGNORECASE)
_ELISION = re.compile(rf"^\w+{_APOS}$")


class RegexTokenizer(Tokenizer):
    """Word tokenizer for English/French text with a detokenizer (see the module docstring).

    >>> tok = RegexTokenizer()
    >>> tok.encode('"I don\\'t know," she said.')
    ['"', 'I', 'do', "n't", 'know', ',', '"', 'she', 'said', '.']
    >>> tok.decode(tok.encode('"I don\\'t know," she said.'))
    '"I don\\'t know," she said.'
    >>> RegexTokenizer(lang="fr").encode("L'homme qu'il a vu !")
    ["L'", 'homme', "qu'", 'il', 'a', 'vu', '!']
    """

    name = "regex"

    def __init__(self, lang: str = "en", lowercase: bool = False) -> None:
        if lang not in ("en", "fr"):
            raise SeqkitError(f"unknown language {lang!r} for the regex tokenizer", fix="use 'en' or 'fr'")
        self.lang, self.lowercase = lang, lowercase
        self._no_space_before = _NO_SPACE_BEFORE | (_NO_SPACE_BEFORE_EN if lang == "en" else set())
        # French typography: « text » keeps its inner spaces.
        if lang == "fr":
            self._no_space_before = self._no_space_before - {"»"}
        self._no_space_after = _NO_SPACE_AFTER - ({"«"} if lang == "fr" else set())

    def encode(self, text: str) -> list[str]:
        if self.lowercase:
            text = text.lower()
        # French texts (and d2l's fra-eng) use non-breaking spaces before punctuation.
        return _TOKEN.findall(text)

    def decode(self, tokens: Sequence[str]) -> str:
        out: list[str] = []
        glue_next = True  # no space before the first token
        open_quotes = {'"': False, "'": False}
        for tok in tokens:
            glue = glue_next or tok in self._no_space_before or bool(_CLITIC.match(tok))
            glue_next = tok in self._no_space_after or bool(_ELISION.match(tok))
            if tok in open_quotes:  # straight quotes: alternate opening / closing
                if open_quotes[tok]:
                    glue, glue_next = True, False
                else:
                    glue_next = True
                open_quotes[tok] = not open_quotes[tok]
            if out and not glue:
                out.append(" ")
            out.append(tok)
        return "".join(out)

    def __repr__(self) -> str:
        return f"RegexTokenizer(lang={self.lang!r}, lowercase={self.lowercase})"
