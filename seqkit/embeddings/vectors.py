"""Pretrained word vectors: :func:`load_vectors` reads a vector file or a named set, fast, once.

* a file in any of :data:`~seqkit.embeddings.formats.FORMATS` (GloVe text, word2vec/fastText text,
  word2vec binary; plain, ``.gz`` or ``.zip``) is parsed by :mod:`seqkit.embeddings.formats`;
* a named set (``glove.6B.50d`` ... ``wiki.en``: the ``kind="vectors"`` entries of the registry,
  ``seqkit data ls``) is found locally or downloaded once, verified against its checksum, through
  :func:`seqkit.data.registry.fetch`; offline, one error says where to put the file;
* a token may repeat: the first row wins, the others are counted;
* the result is cached (:mod:`seqkit.embeddings.vector_cache`) and later loads memory-map it.

Using them: :mod:`seqkit.embeddings.align` (a matrix or an ``nn.Embedding`` in a ``Vocab``'s order)
and :mod:`seqkit.embeddings.queries` (d2l's ``knn``, similar tokens and analogies).
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from seqkit.embeddings.formats import FORMATS, read_vector_file
from seqkit.embeddings.keyedvectors import KeyedVectors
from seqkit.embeddings.vector_cache import cache_folder, load_cache, save_cache
from seqkit.errors import SeqkitError

PathLike = str | os.PathLike


def load_vectors(path_or_name: PathLike, *, format: str | None = None, limit: int | None = None,
                 strict: bool = False, cache: bool = True, member: str | None = None) -> KeyedVectors:
    """Load a vector file or a named set (``seqkit data ls``, kind ``vectors``) as :class:`KeyedVectors`.

    Args:
        path_or_name: a file (plain, ``.gz``, ``.zip``) or a registered name such as ``glove.6B.100d``.
        format: ``glove``, ``word2vec-text`` or ``word2vec-binary``; detected when ``None``.
        limit: read only the first ``limit`` entries.
        strict: raise on the first bad line instead of skipping and counting it.
        cache: reuse (and write) the parsed copy under ``$SEQKIT_CACHE/vectors``, memory-mapped.
        member: the file inside a ``.zip`` (needed when it holds several).

    The returned object's ``load_report`` (:class:`~seqkit.embeddings.formats.LoadReport`) says what
    was loaded and skipped.
    """
    start = time.perf_counter()
    path = Path(path_or_name)
    if not path.exists():
        path, member = _named_set(str(path_or_name), path, member)
    if format is not None and format not in FORMATS:
        raise SeqkitError(f"unknown vector format {format!r}", fix=f"use one of {', '.join(FORMATS)}")
    if not path.exists():
        from seqkit.data.registry import names

        raise SeqkitError("vector file not found", path=path,
                          fix=f"check the path, or use a named set: {', '.join(names('vectors'))}")
    if member is None:
        from seqkit.embeddings.keyedvectors import refuse_pickle

        refuse_pickle(path)
    folder = None
    if cache:
        folder = cache_folder(path, member, format, limit, strict)
        cached = load_cache(folder)
        if cached is not None:
            cached.load_report.seconds = time.perf_counter() - start
            return cached
    matrix, tokens, report = read_vector_file(path, member, format, limit, strict, unique=True)
    report.loaded = len(tokens)
    kv = KeyedVectors(matrix, tokens)
    kv.load_report = report
    if folder is not None:
        save_cache(folder, kv, report)
    report.seconds = time.perf_counter() - start
    return kv


def _named_set(name: str, path: Path, member: str | None) -> tuple[Path, str | None]:
    """The local zip of registered vector set ``name`` (fetched if needed) and the text inside it;
    ``(path, member)`` unchanged when ``name`` is not one. The registry (and with it ``seqkit.data``)
    is imported only here, so loading a file never pays for it."""
    from seqkit.data.registry import CORPORA, fetch

    info = CORPORA.get(name)
    if info is None or info.kind != "vectors":
        return path, member
    return fetch(name, "vectors"), info.files["vectors"].member
