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

import numpy as np

from seqkit.embeddings.formats import FORMATS, LoadReport, read_vector_file, release_free_memory
from seqkit.embeddings.keyedvectors import KeyedVectors
from seqkit.embeddings.tokenlist import TokenList
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
    matrix, tokens, report = read_vector_file(path, member, format, limit, strict)
    matrix, tokens = _drop_duplicates(matrix, tokens, report)
    release_free_memory()
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


# ----------------------------------------------------------------------------- duplicates

def _token_hashes(tokens: TokenList) -> np.ndarray:
    hashes = np.empty(len(tokens), dtype=np.int64)
    for a in range(0, len(tokens), 16384):
        b = min(a + 16384, len(tokens))
        words = tokens.text[tokens.offsets[a]:tokens.offsets[b] - 1].split("\n")
        hashes[a:b] = np.fromiter(map(hash, words), dtype=np.int64, count=b - a)
    return hashes


def _drop_duplicates(matrix: np.ndarray, tokens: TokenList, report: LoadReport):
    """Keep the first row of each token: the matrix is compacted in place and the tokens rebuilt block
    by block, so dropping duplicates costs no second copy of either."""
    hashes = _token_hashes(tokens)
    order = np.argsort(hashes, kind="stable")
    ordered = hashes[order]
    repeats = ordered[1:] == ordered[:-1]
    if not repeats.any():
        return matrix, tokens
    suspects = np.zeros(len(tokens), dtype=bool)  # rows whose hash repeats (equal hashes may differ)
    suspects[order[1:][repeats]] = True
    suspects[order[:-1][repeats]] = True
    del order, ordered, repeats, hashes
    keep = np.ones(len(tokens), dtype=bool)
    seen: set[str] = set()
    for i in np.flatnonzero(suspects).tolist():
        token = tokens[i]
        if token in seen:
            keep[i] = False
        seen.add(token)
    report.duplicates = int((~keep).sum())
    dropped = np.flatnonzero(~keep).tolist()
    del keep, suspects
    # matrix: shift each run of kept rows up, in place (few duplicates: few runs)
    dst, prev = 0, 0
    for d in [*dropped, len(tokens)]:
        for a in range(prev, d, 4096):  # small blocks: destination rows never overtake source rows
            b = min(a + 4096, d)
            matrix[dst:dst + b - a] = matrix[a:b]
            dst += b - a
        prev = d + 1
    # tokens: the text without the dropped tokens, and their offsets shifted by what was removed
    text, offsets = tokens.text, tokens.offsets
    pieces, prev = [], 0
    for d in dropped:
        pieces.append(text[offsets[prev]:offsets[d]])
        prev = d + 1
    pieces.append(text[offsets[prev]:])
    new_offsets = np.delete(offsets, dropped)
    for k, d in enumerate(dropped):  # tokens after d start earlier by d's length (and its newline)
        new_offsets[d - k:] -= offsets[d + 1] - offsets[d]
    del tokens, offsets
    new_text = "".join(pieces)
    del pieces, text
    return matrix[:dst], TokenList(new_text, new_offsets)

