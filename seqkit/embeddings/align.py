"""Pretrained vectors into a model: aligned to a seqkit ``Vocab``, as an ``nn.Embedding``.

:func:`align_to_vocab` gives a matrix in the vocabulary's order (exact match, then lowercase; the
tokens without a vector get zeros or noise; :class:`Coverage` reports how many were found),
:func:`pretrained_embedding` an ``nn.Embedding`` from it (frozen, or trained with its own learning
rate via :func:`param_groups`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from seqkit.embeddings.keyedvectors import KeyedVectors


@dataclass
class Coverage:
    """How many vocabulary tokens found a vector: exactly, through their lowercase form, or not."""

    total: int
    exact: int
    lowercase: int
    missing: list[str]

    @property
    def ratio(self) -> float:
        return (self.exact + self.lowercase) / self.total if self.total else 0.0

    def __str__(self) -> str:
        return (f"{self.exact + self.lowercase}/{self.total} tokens covered ({100 * self.ratio:.1f}%: "
                f"{self.exact} exact, {self.lowercase} lowercase); missing e.g. {self.missing[:5]}")


def align_to_vocab(kv: KeyedVectors, vocab, lowercase_fallback: bool = True, missing: str = "zeros",
                   seed: int = 0) -> tuple[np.ndarray, Coverage]:
    """A (len(vocab), d) float32 matrix whose row i is the vector of ``vocab``'s token i.

    Tokens are looked up exactly, then (``lowercase_fallback``) lowercased. Tokens without a vector
    get zeros (``missing="zeros"``, like d2l's ``<unk>``) or small normal noise with the vectors' own
    standard deviation (``missing="normal"``), except the padding token, which stays zero."""
    tokens = list(vocab.itos) if hasattr(vocab, "itos") else list(vocab)
    out = np.zeros((len(tokens), kv.vector_size), dtype=np.float32)
    rng = np.random.default_rng(seed)
    std = float(np.asarray(kv.vectors[:10000]).std())
    exact = lower = 0
    missed: list[str] = []
    pad_id = getattr(vocab, "pad_id", None)
    for i, token in enumerate(tokens):
        row = kv.key_to_index.get(token)
        if row is not None:
            exact += 1
        elif lowercase_fallback and (row := kv.key_to_index.get(token.lower())) is not None:
            lower += 1
        if row is not None:
            out[i] = kv.vectors[row]
        else:
            missed.append(token)
            if missing == "normal" and i != pad_id:
                out[i] = rng.normal(0.0, std, kv.vector_size)
    return out, Coverage(len(tokens), exact, lower, missed)


def pretrained_embedding(kv: KeyedVectors, vocab, freeze: bool = True, **align_options):
    """An ``nn.Embedding`` initialised from the vectors in ``vocab`` order, and its :class:`Coverage`.

    ``freeze=True`` keeps the vectors fixed. To fine-tune them without wrecking them in the first
    updates, pass ``freeze=False`` and give the embedding a smaller learning rate with
    :func:`param_groups`."""
    import torch
    from torch import nn

    matrix, coverage = align_to_vocab(kv, vocab, **align_options)
    emb = nn.Embedding.from_pretrained(torch.from_numpy(matrix), freeze=freeze,
                                       padding_idx=getattr(vocab, "pad_id", None))
    return emb, coverage


def param_groups(model, embedding, lr: float, embedding_lr: float) -> list[dict]:
    """Optimizer parameter groups: ``embedding``'s weights at ``embedding_lr``, the rest at ``lr``.

    >>> torch.optim.Adam(param_groups(model, model.embedding, 1e-3, 1e-5))  # doctest: +SKIP"""
    emb_ids = {id(p) for p in embedding.parameters()}
    rest = [p for p in model.parameters() if id(p) not in emb_ids and p.requires_grad]
    emb = [p for p in embedding.parameters() if p.requires_grad]
    groups = [{"params": rest, "lr": lr}]
    if emb:
        groups.append({"params": emb, "lr": embedding_lr})
    return groups
