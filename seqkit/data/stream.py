"""Parallel text too big to hold: sharded files or a streamed ``datasets`` corpus, read in a fixed order.

A :class:`ParallelStream` is a re-iterable source of line-aligned (source, target) pairs that never holds
more than a chunk of them::

    stream = ParallelStream.files("train.*.de.gz", "train.*.en.gz")   # shards, in sorted name order
    stream = ParallelStream.hub("wmt14", src="de", tgt="en", config="de-en")   # datasets, streaming=True
    for src, tgt in stream.chunks(20_000): ...                         # lists of <= 20,000 lines each
    sample_src, sample_tgt = stream.sample(500_000, seed=0)            # one pass, 500,000 pairs kept

The order is the shards' order (a glob expands to sorted names; a list keeps its order) and, within a
shard, the lines' order, so every pass sees the same pairs the same way. Each shard pair is checked on
its own: unequal line counts name the two files. :meth:`ParallelStream.sample` draws a uniform sample in
one pass with reservoir sampling (Vitter's algorithm R) driven by ``numpy.random.default_rng(seed)``:
the same corpus and seed give the same sample, in memory proportional to the sample, not the corpus.
That is what the one sentencepiece model of all shards is trained on (:func:`seqkit.data.prepare_stream`).
"""

from __future__ import annotations

import glob
import itertools
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from seqkit.errors import SeqkitError

PathLike = str | os.PathLike
Chunk = tuple[list[str], list[str]]


def expand_shards(spec: PathLike | Sequence[PathLike]) -> list[Path]:
    """Files named by ``spec``: a path, a glob pattern (``*``, ``?``, ``[``; sorted by name) or a list of
    either (in the list's order). Every file must exist; a pattern must match something."""
    items = [spec] if isinstance(spec, (str, os.PathLike)) else list(spec)
    out: list[Path] = []
    for item in items:
        text = os.path.expanduser(os.fspath(item))
        if any(c in text for c in "*?["):
            found = sorted(glob.glob(text))
            if not found:
                raise SeqkitError("no file matches this pattern", path=text, fix="check the pattern (quote it)")
            out += [Path(p) for p in found]
        elif Path(text).is_file():
            out.append(Path(text))
        else:
            raise SeqkitError("input file not found" if not Path(text).exists() else "is not a file", path=text,
                              fix="check the path")
    if not out:
        raise SeqkitError("no input files given", fix="name at least one file")
    return out


def file_languages(src: PathLike | Sequence[PathLike], tgt: PathLike | Sequence[PathLike]
                   ) -> tuple[str | None, str | None]:
    """The language codes the file names give (``train.de`` / ``train.en.gz`` -> ``("de", "en")``): the
    last suffix before any compression one, when it looks like a code (2-3 letters, ``zh_cn``, ``pt-br``)
    on every shard of a side and the sides differ; ``(None, None)`` otherwise -- never a guess."""
    import re

    def code(spec) -> str | None:
        items = [spec] if isinstance(spec, (str, os.PathLike)) else list(spec)
        found = set()
        for item in items:
            suffixes = [s for s in Path(os.fspath(item)).suffixes if s not in (".gz", ".bz2", ".xz", ".zst")]
            text = suffixes[-1][1:].lower() if suffixes else ""
            if not re.fullmatch(r"[a-z]{2,3}([_-][a-z]{2,4})?", text) or text in ("txt", "tsv", "csv"):
                return None
            found.add(text)
        return found.pop() if len(found) == 1 else None

    s, t = code(src), code(tgt)
    return (s, t) if s and t and s != t else (None, None)


def line_chunks(src_lines: Iterable[str], tgt_lines: Iterable[str], size: int,
                names: tuple[Any, Any] = ("source", "target")) -> Iterator[Chunk]:
    """Pairs of line lists of ``size`` (the last shorter); unequal line counts are an error naming
    both inputs and their counts."""
    src_it, tgt_it = iter(src_lines), iter(tgt_lines)
    done = 0
    while True:
        src = list(itertools.islice(src_it, size))
        tgt = list(itertools.islice(tgt_it, len(src)))
        extra = list(itertools.islice(tgt_it, 1)) if len(src) < size else []  # the source has ended
        if len(tgt) < len(src) or extra:
            n_src = done + len(src) + sum(1 for _ in src_it)
            n_tgt = done + len(tgt) + len(extra) + sum(1 for _ in tgt_it)
            raise SeqkitError(f"{names[0]} has {n_src:,} lines but {names[1]} has {n_tgt:,}",
                              fix="give line-aligned source and target files (one target line per source line)")
        if not src:
            return
        done += len(src)
        yield src, tgt


class ParallelStream:
    """Parallel text read part by part (see the module docstring).

    Attributes:
        name: what to call it in messages.
        shards: the ``(source, target)`` shard files, or ``None`` for a hub stream.
        limit: read at most this many pairs (``None``: all).
        langs: ``(source, target)`` language codes: a hub stream's columns, or what the file names
            say (:func:`file_languages`); ``(None, None)`` when unknown.
    """

    def __init__(self, parts: Callable[[int], Iterator[Chunk]], name: str, *,
                 shards: list[tuple[Path, Path]] | None = None, limit: int | None = None,
                 langs: tuple[str | None, str | None] = (None, None)) -> None:
        self._parts, self.name, self.shards, self.limit = parts, name, shards, limit
        self.langs = langs  # (source, target) language codes when known (hub columns, file names)

    # -- sources ------------------------------------------------------------------------------------
    @classmethod
    def files(cls, src: PathLike | Sequence[PathLike], tgt: PathLike | Sequence[PathLike], *,
                 limit: int | None = None) -> ParallelStream:
        """Source shards ``src`` and target shards ``tgt`` (paths, globs or lists; ``.gz`` read on the
        fly): the i-th source shard is line-aligned with the i-th target shard."""
        from seqkit.io import iter_lines

        src_files, tgt_files = expand_shards(src), expand_shards(tgt)
        if len(src_files) != len(tgt_files):
            raise SeqkitError(f"{len(src_files)} source shard(s) but {len(tgt_files)} target shard(s)",
                              path=src_files[0].parent,
                              fix="give one target file per source file, in the same order")
        pairs = list(zip(src_files, tgt_files))

        def parts(size: int) -> Iterator[Chunk]:
            for s, t in pairs:
                yield from line_chunks(iter_lines(s), iter_lines(t), size, names=(s, t))

        shown = str(src_files[0]) if len(pairs) == 1 else f"{len(pairs)} shards from {src_files[0]}"
        return cls(parts, shown, shards=pairs, limit=limit, langs=file_languages(src_files, tgt_files))

    @classmethod
    def hub(cls, name: str, *, src: str, tgt: str, config: str | None = None, split: str = "train",
            limit: int | None = None, **options: Any) -> ParallelStream:
        """A ``datasets`` corpus read with ``streaming=True`` (a hub name, or a local JSON/CSV/Parquet
        file or ``save_to_disk`` folder): rows are fetched as they are used, in the dataset's order.
        ``split`` is seqkit's (``train``, ``valid``, ``test``; the hub's ``validation``/``dev`` count as
        ``valid``); ``options`` go to ``datasets.load_dataset`` (``data_files=``, ``revision=`` ...).
        Columns: ``translation`` dicts or ``src``/``tgt`` columns (as :func:`seqkit.data.load`)."""
        from seqkit.data.hub import SPLIT_NAMES, open_dataset, resolve_hub_id

        hub_id, config = resolve_hub_id(name, config, src, tgt)

        def rows() -> Iterable[dict]:
            ds = open_dataset(hub_id, config, streaming=True, **options)
            if not hasattr(ds, "keys"):  # one Dataset (save_to_disk): its rows are the training split
                return ds
            found = [k for k in ds.keys() if k == split or SPLIT_NAMES.get(k) == split]
            if not found:
                raise SeqkitError(f"corpus {name!r} has no {split} split (it has {', '.join(sorted(ds.keys()))})",
                                  fix="choose a corpus with that split, or give local files")
            return ds[found[0]]

        def parts(size: int) -> Iterator[Chunk]:
            it = iter(rows())
            while True:
                block = list(itertools.islice(it, size))
                if not block:
                    return
                yield _columns(block, src, tgt, name)

        return cls(parts, f"hf:{name}", limit=limit, langs=(src, tgt))

    # -- reading ------------------------------------------------------------------------------------
    def chunks(self, size: int = 20_000) -> Iterator[Chunk]:
        """``(source lines, target lines)`` of at most ``size`` pairs each, in order (a chunk never spans
        two shards), stopping after :attr:`limit` pairs."""
        if size < 1:
            raise SeqkitError(f"chunk size {size}", fix="use a positive number")
        left = self.limit
        for src, tgt in self._parts(size):
            if left is not None:
                if left <= 0:
                    return
                src, tgt = src[:left], tgt[:left]
                left -= len(src)
            yield src, tgt

    def __iter__(self) -> Iterator[tuple[str, str]]:
        for src, tgt in self.chunks():
            yield from zip(src, tgt)

    def stamps(self) -> list[Any] | None:
        """The shard files in reading order (source, target, source, ...) -- what decides whether a
        prepared corpus is still current -- or ``None`` for a hub stream (always read again)."""
        return None if self.shards is None else [p for pair in self.shards for p in pair]

    def sample(self, k: int, seed: int = 0) -> Chunk:
        """``k`` pairs drawn uniformly in one pass (all of them when there are fewer), in reservoir order.

        Algorithm R, vectorized per chunk: pair ``i`` (0-based) replaces reservoir slot ``j`` drawn
        uniformly from ``0 .. i`` when ``j < k``. Deterministic in ``seed``; memory O(k).
        """
        if k < 1:
            raise SeqkitError(f"sample size {k}", fix="use a positive number")
        rng = np.random.default_rng(seed)
        res_src: list[str] = []
        res_tgt: list[str] = []
        seen = 0
        for src, tgt in self.chunks():
            fill = min(k - len(res_src), len(src))
            res_src += src[:fill]
            res_tgt += tgt[:fill]
            if fill < len(src):
                slots = rng.integers(0, np.arange(seen + fill, seen + len(src)) + 1)
                for offset in np.flatnonzero(slots < k).tolist():
                    j = int(slots[offset])
                    res_src[j], res_tgt[j] = src[fill + offset], tgt[fill + offset]
            seen += len(src)
        return res_src, res_tgt

    def lists(self) -> Chunk:
        """Every pair, as (source lines, target lines): for what must hold the corpus anyway."""
        src: list[str] = []
        tgt: list[str] = []
        for s, t in self.chunks():
            src += s
            tgt += t
        return src, tgt

    def spm_sample(self, input_sentence_size: int, seed: int = 0) -> Chunk:
        """What a joint sentencepiece model of both sides trains on: ``input_sentence_size`` sentences,
        the two sides of a :meth:`sample` of half as many pairs; every pair when it is 0."""
        if input_sentence_size > 0:
            return self.sample(-(-input_sentence_size // 2), seed=seed)
        return self.lists()

    def __repr__(self) -> str:
        return f"ParallelStream({self.name!r}{'' if self.limit is None else f', limit={self.limit:,}'})"


def _columns(rows: list[dict], src: str, tgt: str, name: str) -> Chunk:
    first = rows[0]
    if "translation" in first:
        if src not in first["translation"] or tgt not in first["translation"]:
            raise SeqkitError(f"corpus {name!r} translates {sorted(first['translation'])}, not {src}->{tgt}",
                              fix="choose src and tgt among those languages (or another config)")
        return [r["translation"][src] for r in rows], [r["translation"][tgt] for r in rows]
    if src in first and tgt in first:
        return [r[src] for r in rows], [r[tgt] for r in rows]
    raise SeqkitError(f"corpus {name!r} has columns {sorted(first)}: no 'translation' and no {src!r}/{tgt!r}",
                      fix="choose src and tgt that name its columns")
