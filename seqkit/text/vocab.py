"""Vocab: a token <-> id mapping with fixed special ids and frequency order.

Layout of the ids (d2l's ``Vocab``, made deterministic)::

    0 <unk>   1 <pad>   2 <bos>   3 <eos>       the ``reserved`` tokens (default)
    4 ...     user ``specials`` (e.g. "<sep>", "<mask>"), in the order given
    then      every other token with frequency >= min_freq, most frequent first;
              ties keep the order of first occurrence in the input (d2l's order depended on
              ``sorted`` over a Counter built from a set, and d2l 1.0 sorts alphabetically)

Unknown tokens look up to ``unk_id``. ``reserved`` can be changed where compatibility matters:
``Vocab(tokens, reserved=("<unk>",))`` is d2l's layout (only ``<unk>``, at 0); ``<unk>`` must be
among the reserved tokens, and ``pad_id`` / ``bos_id`` / ``eos_id`` are ``None`` when absent.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from itertools import chain, repeat
from typing import Any

from seqkit.errors import SeqkitError
from seqkit.io import load_json, save_json

UNK, PAD, BOS, EOS = "<unk>", "<pad>", "<bos>", "<eos>"
RESERVED = (UNK, PAD, BOS, EOS)
#: The special ids every seqkit vocabulary, sentencepiece model and sequence model shares -- defined
#: here once; the tokenizers, batchers, models and searches take their defaults from these names.
UNK_ID, PAD_ID, BOS_ID, EOS_ID = 0, 1, 2, 3
_FORMAT = "seqkit.vocab"


def count_tokens(tokens: Iterable[Any] | Mapping[str, int]) -> Counter:
    """Count tokens given flat (``["a", "b"]``), nested (``[["a"], ["b", "c"]]``, any depth) or
    already counted (a ``Counter`` / ``{token: count}``). Insertion order = first occurrence."""
    if isinstance(tokens, Mapping):
        return Counter(dict(tokens))
    tokens = tokens if isinstance(tokens, Sequence) else list(tokens)
    # Flatten one level at a time; Counter over a C-level chain keeps big corpora fast.
    while tokens and not isinstance(tokens[0], str):
        if not isinstance(tokens[0], (list, tuple)):
            raise SeqkitError(f"cannot count tokens of type {type(tokens[0]).__name__}",
                              fix="give strings, lists of strings or a Counter")
        tokens = list(chain.from_iterable(tokens))
    return Counter(tokens)


class Vocab:
    """Token <-> id mapping (see the module docstring for the id layout).

    Args:
        tokens: tokens to count -- a flat list, nested lists (lines of tokens), or a ``Counter``.
        min_freq: drop tokens seen fewer times (specials are always kept).
        max_size: cap on ``len(vocab)``, reserved and special tokens included.
        specials: extra tokens placed right after the reserved ones.
        reserved: the leading tokens with fixed ids; must contain ``<unk>``.

    >>> v = Vocab("b a c a b a".split())
    >>> v.to_tokens(list(range(len(v))))
    ['<unk>', '<pad>', '<bos>', '<eos>', 'a', 'b', 'c']
    >>> v[["a", "zzz"]], v.unk_id
    ([4, 0], 0)
    """

    def __init__(
        self,
        tokens: Iterable[Any] | Mapping[str, int] = (),
        min_freq: int = 1,
        max_size: int | None = None,
        specials: Sequence[str] = (),
        reserved: Sequence[str] = RESERVED,
    ) -> None:
        if UNK not in reserved:
            raise SeqkitError(f"the reserved tokens {list(reserved)} lack {UNK}", fix=f"include {UNK!r}")
        fixed = list(dict.fromkeys([*reserved, *specials]))  # de-duplicated, order kept
        if max_size is not None and max_size < len(fixed):
            raise SeqkitError(f"max_size={max_size} is smaller than the {len(fixed)} special tokens",
                              fix=f"use max_size >= {len(fixed)}")
        counts = count_tokens(tokens)
        fixed_set = set(fixed)
        # sorted() is stable: equal counts keep first-occurrence order.
        kept = sorted(((t, c) for t, c in counts.items() if c >= min_freq and t not in fixed_set),
                      key=lambda tc: -tc[1])
        if max_size is not None:
            kept = kept[: max_size - len(fixed)]
        self._set_tables(fixed, len(reserved), len(fixed) - len(reserved), kept,
                         {t: counts[t] for t in fixed if t in counts})

    def _set_tables(self, fixed: list[str], n_reserved: int, n_specials: int,
                    kept: list[tuple[str, int]], fixed_freqs: dict[str, int]) -> None:
        self._itos: list[str] = fixed + [t for t, _ in kept]
        self._stoi: dict[str, int] = {t: i for i, t in enumerate(self._itos)}
        self._freqs: list[tuple[str, int]] = kept
        self._fixed_freqs = fixed_freqs
        self._n_reserved, self._n_specials = n_reserved, n_specials
        self.unk_id: int = self._stoi[UNK]
        self.pad_id: int | None = self._stoi.get(PAD)
        self.bos_id: int | None = self._stoi.get(BOS)
        self.eos_id: int | None = self._stoi.get(EOS)

    @classmethod
    def from_itos(cls, itos: Sequence[str], n_reserved: int = len(RESERVED), n_specials: int = 0,
                  freqs: Sequence[int] | None = None) -> Vocab:
        """A vocab with exactly this id order (``itos[i]`` has id ``i``); the first ``n_reserved``
        are the reserved tokens, the next ``n_specials`` the user specials."""
        if len(set(itos)) != len(itos):
            dup = next(t for t, c in Counter(itos).items() if c > 1)
            raise SeqkitError(f"token {dup!r} appears twice in the vocabulary", fix="give unique tokens")
        if UNK not in itos[:n_reserved]:
            raise SeqkitError(f"{UNK} is not among the reserved tokens {list(itos[:n_reserved])}",
                              fix=f"put {UNK!r} first")
        n_fixed = n_reserved + n_specials
        rest = itos[n_fixed:]
        counts = list(freqs[n_fixed:]) if freqs is not None else [0] * len(rest)
        self = cls.__new__(cls)
        self._set_tables(list(itos[:n_fixed]), n_reserved, n_specials, list(zip(rest, counts)), {})
        return self

    @classmethod
    def from_spm(cls, tokenizer) -> Vocab:
        """The vocab of a :class:`~seqkit.text.spm.SentencePieceTokenizer`, ids identical.

        The model must use seqkit's special ids (``<unk>``=0, ``<pad>``=1, ``<bos>``=2,
        ``<eos>``=3, the training default); user-defined symbols become the specials.
        """
        expected = {"unk_id": UNK_ID, "pad_id": PAD_ID, "bos_id": BOS_ID, "eos_id": EOS_ID}
        got = {name: getattr(tokenizer, name) for name in expected}
        if got != expected:
            raise SeqkitError(f"sentencepiece special ids {got} differ from the Vocab's {expected}",
                              path=getattr(tokenizer, "path", None),
                              fix="train with SentencePieceTokenizer.train's default special ids")
        pieces = tokenizer.pieces()
        pieces[:4] = list(RESERVED)  # the model may name them differently (e.g. <s>, </s>)
        user = tokenizer.user_defined_ids()
        if user != list(range(4, 4 + len(user))):  # they follow the specials unless ids were moved
            raise SeqkitError(f"user-defined pieces at ids {user} do not follow the 4 special ids",
                              path=getattr(tokenizer, "path", None),
                              fix="train with SentencePieceTokenizer.train's default special ids")
        n_specials = len(user)
        return cls.from_itos(pieces, n_reserved=4, n_specials=n_specials)

    @classmethod
    def from_files(cls, paths: Sequence[str | os.PathLike], tokenizer=None, *, chunk_lines: int = 10000,
                   **options) -> Vocab:
        """Count the tokens of text files (UTF-8, ``.gz`` ok) and build a vocab.

        ``tokenizer`` (default: whitespace split) turns each line into tokens; ``options`` go to
        :class:`Vocab`. An empty file (no non-blank line) is an error naming the file.
        """
        from seqkit.io import iter_lines

        encode_batch = tokenizer.encode_batch if tokenizer is not None else (lambda b: [t.split() for t in b])
        counts: Counter = Counter()
        if not paths:
            raise SeqkitError("no input files", fix="give one or more text files")
        for path in paths:
            chunk: list[str] = []
            seen_text = False
            for line in iter_lines(path):
                if line.strip():
                    seen_text = True
                chunk.append(line)
                if len(chunk) >= chunk_lines:
                    counts.update(chain.from_iterable(encode_batch(chunk)))
                    chunk = []
            if chunk:
                counts.update(chain.from_iterable(encode_batch(chunk)))
            if not seen_text:
                raise SeqkitError("empty file: no text to build a vocabulary from", path=path, line=1,
                                  fix="give a file with text")
        return cls(counts, **options)

    # -- lookup ----------------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._itos)

    def __contains__(self, token: str) -> bool:
        return token in self._stoi

    def __iter__(self):
        return iter(self._itos)

    def __getitem__(self, tokens: Any) -> Any:
        """Id of a token, or ids of a list / nested lists of tokens (unknown -> ``unk_id``)."""
        if isinstance(tokens, str):
            return self._stoi.get(tokens, self.unk_id)
        if tokens and isinstance(tokens[0], str):  # the common flat case: a C-level map, no Python loop
            return list(map(self._stoi.get, tokens, repeat(self.unk_id, len(tokens))))
        return [self[t] for t in tokens]

    def lookup(self, tokens: Any) -> Any:
        """Same as ``vocab[tokens]``."""
        return self[tokens]

    def to_tokens(self, ids: Any) -> Any:
        """Token of an id, or tokens of a list / nested lists / tensor of ids."""
        if hasattr(ids, "tolist"):
            ids = ids.tolist()
        if isinstance(ids, int):
            return self._itos[ids]
        if ids and isinstance(ids[0], int):
            return list(map(self._itos.__getitem__, ids))
        return [self.to_tokens(i) for i in ids]

    @property
    def itos(self) -> list[str]:
        """All tokens in id order (a copy)."""
        return list(self._itos)

    @property
    def reserved(self) -> list[str]:
        return self._itos[: self._n_reserved]

    @property
    def specials(self) -> list[str]:
        """User specials (after the reserved tokens)."""
        return self._itos[self._n_reserved: self._n_reserved + self._n_specials]

    @property
    def token_freqs(self) -> list[tuple[str, int]]:
        """``(token, count)`` of the counted (non-special) tokens in the vocab, in id order --
        i.e. by descending frequency (d2l's ``token_freqs``)."""
        return list(self._freqs)

    # -- files -----------------------------------------------------------------------------------

    def to_dict(self) -> dict:
        return {"format": _FORMAT, "version": 1, "reserved": self.reserved, "specials": self.specials,
                "tokens": self._itos[self._n_reserved + self._n_specials:],
                "freqs": [c for _, c in self._freqs]}

    def save(self, path: str | os.PathLike) -> None:
        """Write the vocab as JSON (atomically)."""
        save_json(path, self.to_dict())

    @classmethod
    def load(cls, path: str | os.PathLike) -> Vocab:
        """Read a vocab written by :meth:`save`."""
        data = load_json(path)
        if not isinstance(data, dict) or data.get("format") != _FORMAT:
            raise SeqkitError("not a seqkit vocab file", path=path, fix="build one with `seqkit vocab build`")
        try:
            reserved, specials, tokens = list(data["reserved"]), list(data["specials"]), list(data["tokens"])
            freqs = list(data.get("freqs") or [0] * len(tokens))
        except (KeyError, TypeError) as exc:
            raise SeqkitError(f"vocab file lacks {exc}", path=path, fix="re-create it") from None
        if len(freqs) != len(tokens):
            raise SeqkitError("vocab file has different numbers of tokens and freqs", path=path,
                              fix="re-create it")
        itos = reserved + specials + tokens
        return cls.from_itos(itos, len(reserved), len(specials), [0] * (len(itos) - len(tokens)) + freqs)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Vocab) and self.to_dict() == other.to_dict()

    def __repr__(self) -> str:
        head = ", ".join(self._itos[:8])
        return f"Vocab(size={len(self)}, [{head}{', ...' if len(self) > 8 else ''}])"
