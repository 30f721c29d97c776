"""The n-gram model in safetensors: the same tables as ARPA, reloaded in a fraction of a second.

ARPA is the interchange format (KenLM, SRILM); parsing millions of text lines costs seconds. This
file stores the arrays themselves -- per order the sorted keys, log10 probabilities and backoff
weights, and the compiled scorer's hash tables when asked (:mod:`seqkit.lm.ngram.kernel`) -- plus the vocabulary and training info as JSON
metadata. Nothing is unpickled.

:func:`load_arpa_cached` is KenLM's ``build_binary`` done for you: the first load of an ARPA file
writes this binary form into seqkit's cache folder (``$SEQKIT_CACHE/ngram``), one entry per ARPA
path that records the file's size and modification time; later loads of the unchanged file read the
copy. Files under :data:`MIN_CACHE_BYTES` are parsed every time (it takes well under a second).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from pathlib import Path

import numpy as np

from seqkit.errors import SeqkitError
from seqkit.io import atomic_path, cache_dir
from seqkit.lm.ngram.model import NGramLM
from seqkit.lm.ngram.vocab import NGramVocab

FORMAT = "seqkit.ngram/1"
#: the name of the compiled scorer's slot tables in the file; a new name for each new layout
NATIVE = "slots"
log = logging.getLogger(__name__)


def save_binary(model: NGramLM, path: str | os.PathLike, *, index: bool = False,
                extra: dict[str, str] | None = None) -> None:
    """Write ``model`` as safetensors (atomically); ``index`` also stores the compiled scorer's hash
    tables (built now if needed), so that the reloaded model scores at full speed at once. The arrays
    are written from where they are (safetensors' ``save_file``), not gathered into one buffer first."""
    from safetensors.numpy import save_file

    index = index and _indexable(model)

    tensors = {}
    for k in range(1, model.order + 1):
        tensors[f"keys.{k}"] = np.ascontiguousarray(model.keys[k - 1], dtype=np.int64)
        tensors[f"logp.{k}"] = np.ascontiguousarray(model.logp[k - 1], dtype=np.float64)
        if k < model.order:
            tensors[f"logbo.{k}"] = np.ascontiguousarray(model.logbo[k - 1], dtype=np.float64)
        if index and k > 1:
            tensors[f"{NATIVE}.{k}"] = model._native_tables()[k - 1]
    metadata = {"format": FORMAT, "order": str(model.order), "vocab": json.dumps(model.vocab.tokens),
                "info": json.dumps(model.info, default=str), **(extra or {})}
    with atomic_path(path) as tmp:
        save_file(tensors, tmp, metadata=metadata)


def _metadata(path: str | os.PathLike) -> dict[str, str]:
    from safetensors import safe_open

    with safe_open(os.fspath(path), framework="numpy") as fh:
        return fh.metadata() or {}


def load_binary(path: str | os.PathLike) -> NGramLM:
    """Read a model written by :func:`save_binary`."""
    from seqkit.io import read_safetensors

    meta, t = read_safetensors(path, FORMAT, "n-gram model",
                               fix="give a model written by seqkit lm ngram train -o MODEL.safetensors")
    try:
        order = int(meta["order"])
        keys = [t[f"keys.{k}"] for k in range(1, order + 1)]
        logp = [t[f"logp.{k}"] for k in range(1, order + 1)]
        logbo = [t[f"logbo.{k}"] for k in range(1, order)] + [np.zeros(0)]
    except KeyError as exc:
        raise SeqkitError(f"cannot read the model (missing {exc})", path=path,
                          fix="re-create it with seqkit lm ngram train") from None
    # tables of another layout (an older seqkit's "native.K") are not read: rebuilt on first use
    # the scorer's tables copied into numpy's own allocation: numpy asks the kernel for huge pages for large
    # arrays (madvise), safetensors' buffers get none, and one table probe per order and token then costs a
    # TLB miss as well as a cache miss (scoring 0.78x as fast from the copy as from a trained model)
    native = [None, *(np.array(t[f"{NATIVE}.{k}"], copy=True) for k in range(2, order + 1))] \
        if f"{NATIVE}.{order}" in t else None
    model = NGramLM(NGramVocab(json.loads(meta["vocab"])), keys, logp, logbo, json.loads(meta.get("info", "{}")))
    if native is not None and all(a.ndim == 2 and a.shape[1] == 3 for a in native[1:]):
        model._native = native
    return model


def _indexable(model: NGramLM) -> bool:
    """Whether the compiled scorer would use tables for ``model`` (so that a binary copy stores them)."""
    from seqkit.lm.ngram import kernel

    return 1 < model.order <= kernel.MAX_ORDER and kernel.load() is not None


#: ARPA files smaller than this parse in well under a second: no cache entry for them.
MIN_CACHE_BYTES = 8 << 20


def _stamp(path: Path) -> str:
    st = path.stat()
    return f"{path.resolve()}|{st.st_size}|{st.st_mtime_ns}"


def cache_path(arpa: str | os.PathLike) -> Path:
    """Where the binary copy of ``arpa`` lives in the cache folder: one entry per ARPA path (a changed
    file replaces its entry; ``rm -r $SEQKIT_CACHE/ngram`` clears them all)."""
    digest = hashlib.sha256(str(Path(arpa).resolve()).encode()).hexdigest()[:24]
    return cache_dir() / "ngram" / f"{Path(arpa).name}.{digest}.safetensors"


def load_arpa_cached(path: str | os.PathLike) -> NGramLM:
    """``read_arpa(path)``, through the binary copy in the cache folder when the file is unchanged.

    A cache that cannot be written (a read-only home, a full disk) only costs the speed-up: the
    model is still returned, and the log says why.
    """
    from seqkit.lm.ngram.arpa import read_arpa

    try:
        cached, stamp = cache_path(path), _stamp(Path(path))
        small = Path(path).stat().st_size < MIN_CACHE_BYTES
    except OSError:
        return read_arpa(path)  # read_arpa names the missing or unreadable file
    if small:
        return read_arpa(path)
    model = None
    if cached.is_file():
        try:
            if _metadata(cached).get("arpa") == stamp:
                model = load_binary(cached)
        except Exception as exc:  # a damaged cache entry is rebuilt below
            log.info("ignoring the damaged binary cache %s (%s)", cached, exc)
    if model is not None and (model._native is not None or not _indexable(model)):
        return model
    # no copy yet, or one whose scorer tables are of an older layout: (re)written with today's
    model = model or read_arpa(path)
    try:
        cached.parent.mkdir(parents=True, exist_ok=True)
        save_binary(model, cached, index=True, extra={"arpa": stamp})
        log.info("wrote a binary copy of %s to %s: the next load is fast", path, cached)
    except (OSError, SeqkitError) as exc:
        log.info("could not write the binary cache %s (%s); loads stay at ARPA speed", cached, exc)
    return model
