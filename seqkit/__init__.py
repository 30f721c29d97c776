"""seqkit: a toolkit for sequence models -- tokens, vocabularies, language models, embeddings,
translation with attention and Transformers, beam search and BLEU.

``import seqkit as sk`` gives the stage packages as attributes, imported on first use::

    sk.text, sk.data, sk.lm, sk.embeddings, sk.seq2seq, sk.train, sk.metrics, sk.vision, sk.optim
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_SUBPACKAGES = ("text", "data", "lm", "embeddings", "seq2seq", "train", "metrics", "vision",
                "optim", "recipes", "io", "errors")

from seqkit.errors import SeqkitError  # noqa: E402

__all__ = ["SeqkitError", "__version__", *_SUBPACKAGES]


def __getattr__(name: str) -> Any:
    if name in _SUBPACKAGES:
        return importlib.import_module(f"seqkit.{name}")
    raise AttributeError(f"module 'seqkit' has no attribute {name!r}")
