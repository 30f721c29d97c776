"""Word embeddings: word2vec training, pretrained vector loading, evaluation.

>>> from seqkit.embeddings import Word2Vec, KeyedVectors, load_vectors  # doctest: +SKIP
"""

from seqkit.embeddings.keyedvectors import KeyedVectors
from seqkit.embeddings.word2vec import Word2Vec, Word2VecConfig

__all__ = ["KeyedVectors", "Word2Vec", "Word2VecConfig", "load_vectors"]


def __getattr__(name: str):
    # the loader pulls in more (zip, registry); import it only when asked for
    if name == "load_vectors":
        from seqkit.embeddings.vectors import load_vectors

        return load_vectors
    raise AttributeError(name)
