"""The n-gram model in safetensors: the same tables as ARPA, reloaded in a fraction of a second.

ARPA is the interchange format (KenLM, SRILM); parsing millions of text lines costs seconds. This
file stores the arrays themselves -- per order the sorted keys, log10 probabilities and backoff
weights -- plus the vocabulary and training info as JSON metadata. Nothing is unpickled.
"""

from __future__ import annotations

import json
import os

import numpy as np

from seqkit.errors import SeqkitError
from seqkit.io import write_bytes_atomic
from seqkit.lm.ngram.model import NGramLM
from seqkit.lm.ngram.vocab import NGramVocab

FORMAT = "seqkit.ngram/1"


def save_binary(model: NGramLM, path: str | os.PathLike) -> None:
    """Write ``model`` as safetensors (atomically)."""
    from safetensors.numpy import save

    tensors = {}
    for k in range(1, model.order + 1):
        tensors[f"keys.{k}"] = np.ascontiguousarray(model.keys[k - 1], dtype=np.int64)
        tensors[f"logp.{k}"] = np.ascontiguousarray(model.logp[k - 1], dtype=np.float64)
        if k < model.order:
            tensors[f"logbo.{k}"] = np.ascontiguousarray(model.logbo[k - 1], dtype=np.float64)
    metadata = {"format": FORMAT, "order": str(model.order), "vocab": json.dumps(model.vocab.tokens),
                "info": json.dumps(model.info, default=str)}
    write_bytes_atomic(path, save(tensors, metadata=metadata))


def load_binary(path: str | os.PathLike) -> NGramLM:
    """Read a model written by :func:`save_binary`."""
    from safetensors import safe_open

    if not os.path.exists(path):
        raise SeqkitError("file not found", path=path, fix="check the path")
    try:
        with safe_open(os.fspath(path), framework="numpy") as fh:
            meta = fh.metadata() or {}
            if meta.get("format") != FORMAT:
                raise SeqkitError(f"not a seqkit n-gram model (format {meta.get('format')!r})", path=path,
                                  fix="give a model written by seqkit lm ngram train -o MODEL.safetensors")
            order = int(meta["order"])
            keys = [fh.get_tensor(f"keys.{k}") for k in range(1, order + 1)]
            logp = [fh.get_tensor(f"logp.{k}") for k in range(1, order + 1)]
            logbo = [fh.get_tensor(f"logbo.{k}") for k in range(1, order)] + [np.zeros(0)]
    except SeqkitError:
        raise
    except Exception as exc:  # a truncated or foreign file: safetensors' own errors vary
        raise SeqkitError(f"cannot read the model: {exc}", path=path,
                          fix="re-create it with seqkit lm ngram train") from None
    return NGramLM(NGramVocab(json.loads(meta["vocab"])), keys, logp, logbo, json.loads(meta.get("info", "{}")))
