"""The one interface every seqkit tokenizer shares.

A tokenizer turns a string into a list of string tokens and back::

    tokens = tok.encode("Hello world.")       # list[str]
    text = tok.decode(tokens)                 # str
    tok.encode_batch(lines), tok.decode_batch(list_of_tokens)

Ids are the :class:`~seqkit.text.vocab.Vocab`'s business (``vocab[tokens]``); only tokenizers that
own an id space (sentencepiece) add ``encode_ids`` / ``decode_ids``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from seqkit.sentences import refuse_string


class Tokenizer:
    """Base class: subclasses implement :meth:`encode` and :meth:`decode`.

    The batch methods loop over the single ones; tokenizers backed by a library with a real batch
    path (sentencepiece) override them so the wrapper adds no per-line Python overhead.
    """

    #: registry name, e.g. ``"whitespace"``; set by each subclass.
    name: str = ""

    def encode(self, text: str) -> list[str]:
        raise NotImplementedError

    def decode(self, tokens: Sequence[str]) -> str:
        raise NotImplementedError

    def encode_batch(self, texts: Iterable[str]) -> list[list[str]]:
        """``encode`` of each text; a bare string is refused (:mod:`seqkit.sentences`): use ``encode``."""
        refuse_string(texts, "encode_batch", "give [text], or call encode(text) for one")
        encode = self.encode
        return [encode(t) for t in texts]

    def decode_batch(self, batch: Iterable[Sequence[str]]) -> list[str]:
        """``decode`` of each token list; a bare string is refused: use ``decode``."""
        refuse_string(batch, "decode_batch", "give a list of token lists, or call decode(tokens) for one")
        decode = self.decode
        return [decode(t) for t in batch]

    def __call__(self, text: str) -> list[str]:
        return self.encode(text)

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"
