"""d2l's queries on word vectors: :func:`knn`, :func:`similar_tokens` and :func:`analogy`.

They answer as d2l's ``knn``, ``get_similar_tokens`` and ``get_analogy`` do, except that the query
words themselves are never among the answers. (:meth:`KeyedVectors.most_similar` is gensim's version
of the same questions.)
"""

from __future__ import annotations

import numpy as np

from seqkit.embeddings.keyedvectors import KeyedVectors


def knn(W, x, k: int):
    """d2l's ``knn``: the ``k`` rows of ``W`` (n, d) with the highest cosine similarity to ``x`` (d,).

    Returns ``(indices (k,), cosines (k,))`` as torch tensors."""
    import torch

    W, x = torch.as_tensor(np.asarray(W)), torch.as_tensor(np.asarray(x))
    cos = torch.mv(W, x.reshape(-1)) / (torch.sqrt(torch.sum(W * W, dim=1) + 1e-9)
                                        * torch.sqrt((x * x).sum()))
    top = torch.topk(cos, k=k)
    return top.indices, top.values


def similar_tokens(kv: KeyedVectors, query: str, k: int = 3) -> list[tuple[str, float]]:
    """d2l's ``get_similar_tokens``: the ``k`` nearest tokens by cosine, the query itself excluded."""
    kv._check_key(query)
    idx, cos = knn(kv.vectors, kv.get_vector(query), k + 1)
    q = kv.get_index(query)
    return [(kv.index_to_key[i], float(c)) for i, c in zip(idx.tolist(), cos.tolist()) if i != q][:k]


def analogy(kv: KeyedVectors, a: str, b: str, c: str) -> str:
    """d2l's ``get_analogy`` (a : b :: c : ?, nearest to ``b - a + c``) with a, b and c excluded --
    d2l's version can answer with one of its own query words."""
    for word in (a, b, c):
        kv._check_key(word)
    x = kv.get_vector(b) - kv.get_vector(a) + kv.get_vector(c)
    banned = {kv.get_index(w) for w in (a, b, c)}
    idx, _ = knn(kv.vectors, x, 4)
    return next(kv.index_to_key[i] for i in idx.tolist() if i not in banned)
