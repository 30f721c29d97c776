"""Word embeddings: word2vec training, pretrained vector loading, evaluation.

>>> from seqkit.embeddings import Word2Vec, KeyedVectors, load_vectors  # doctest: +SKIP

Where things are: ``word2vec`` (SGNS training; ``kernel`` compiles its C inner loop), ``keyedvectors``
(:class:`KeyedVectors`), ``formats`` (GloVe / word2vec text and binary, read and written),
``vectors`` (:func:`load_vectors`: files and named sets), ``vector_cache`` (the parsed-vector cache),
``tokenlist`` (compact keys), ``align`` (vectors in a ``Vocab``'s order, ``nn.Embedding``),
``queries`` (d2l's knn, similar tokens, analogies), ``evaluation`` (gensim's analogy and word-pair
scores).
"""

from seqkit.embeddings.align import align_to_vocab, param_groups, pretrained_embedding
from seqkit.embeddings.keyedvectors import KeyedVectors
from seqkit.embeddings.queries import analogy, knn, similar_tokens
from seqkit.embeddings.vectors import load_vectors
from seqkit.embeddings.word2vec import Word2Vec, Word2VecConfig

__all__ = [
    "KeyedVectors", "Word2Vec", "Word2VecConfig", "align_to_vocab", "analogy", "knn", "load_vectors",
    "param_groups", "pretrained_embedding", "similar_tokens",
]
