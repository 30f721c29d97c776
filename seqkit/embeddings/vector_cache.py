"""The parsed-vector cache: a vector file parsed once, memory-mapped on every later load.

One folder per (file, size, mtime, member, format, limit, strict) under ``$SEQKIT_CACHE/vectors``:
``vectors.npy`` (the float32 matrix), ``tokens.txt`` and ``offsets.npy`` (a
:class:`~seqkit.embeddings.tokenlist.TokenList`), and ``meta.json`` (the :class:`LoadReport`), written
last, so a folder without it is ignored. A changed file gets a new key and is parsed again.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import asdict
from pathlib import Path

import numpy as np

from seqkit.embeddings.formats import LoadReport
from seqkit.embeddings.keyedvectors import KeyedVectors
from seqkit.embeddings.tokenlist import TokenList
from seqkit.errors import SeqkitError
from seqkit.io import atomic_write, cache_dir, load_json, save_json

CACHE_VERSION = 1


def vectors_cache_dir() -> Path:
    """``$SEQKIT_CACHE/vectors``: parsed-vector caches (and, beside them, downloaded vector sets)."""
    return cache_dir() / "vectors"


def cache_folder(path: Path, member: str | None, fmt: str | None, limit: int | None, strict: bool) -> Path:
    """The cache folder of ``path`` read with these options."""
    st = path.stat()
    text = f"{path.resolve()}|{st.st_size}|{st.st_mtime_ns}|{member}|{fmt}|{limit}|{strict}|{CACHE_VERSION}"
    return vectors_cache_dir() / f"{path.name}-{hashlib.sha256(text.encode()).hexdigest()[:16]}"


def save_cache(folder: Path, kv: KeyedVectors, report: LoadReport) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    tokens: TokenList = kv.index_to_key  # type: ignore[assignment]
    _save_npy(folder / "vectors.npy", np.ascontiguousarray(kv.vectors))
    _save_npy(folder / "offsets.npy", tokens.offsets)
    with atomic_write(folder / "tokens.txt", "w") as fh:
        for a in range(0, len(tokens.text), 1 << 20):  # in slices: no encoded copy of the whole text
            fh.write(tokens.text[a:a + (1 << 20)])
    save_json(folder / "meta.json", {"version": CACHE_VERSION, "report": asdict(report)})  # written last


def load_cache(folder: Path) -> KeyedVectors | None:
    """The cached vectors (memory-mapped), or ``None`` when there is no complete cache of this version."""
    if not (folder / "meta.json").exists():
        return None
    try:
        meta = load_json(folder / "meta.json")
        if meta.get("version") != CACHE_VERSION:
            return None
        vectors = np.load(folder / "vectors.npy", mmap_mode="r")  # never allow_pickle: data only
        offsets = np.load(folder / "offsets.npy")
        text = (folder / "tokens.txt").read_text(encoding="utf-8")
        kv = KeyedVectors(vectors, TokenList(text, offsets))
        kv.load_report = LoadReport(**{**meta["report"], "from_cache": True})
    except (SeqkitError, ValueError, OSError, KeyError, TypeError, AttributeError, UnicodeDecodeError):
        return None  # a damaged cache (truncated, pickled, hand-edited) is rebuilt from the source file
    return kv


def _save_npy(path: Path, array: np.ndarray) -> None:
    """``np.save`` to a temporary name, then renamed into place. Not fsynced: the cache can always be
    rebuilt, and ``meta.json`` (written last, through :func:`seqkit.io.save_json`) marks it complete."""
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "wb") as fh:
        np.save(fh, array)
    os.replace(tmp, path)
