"""A parallel corpus tokenized once and kept on disk as flat id arrays, read a batch at a time.

A prepared corpus is a folder::

    src.ids       every source sentence's ids, back to back (raw little-endian, see ``dtype``)
    src.offsets   int64, n + 1: sentence i is ``src.ids[offsets[i]:offsets[i + 1]]``
    tgt.ids       the same for the target side
    tgt.offsets
    spm.model     the sentencepiece model that made the ids (given, or trained on a sample)
    meta.json     format, dtype, counts, the model's SHA-256 (or its training options), pretokenize,
                  the input shards' stamps, options

The ids take the smallest unsigned type that holds the vocabulary (``uint16`` below 65,536 pieces,
else ``uint32``), so WMT14 en-de's 4.5 million pairs (~280 million pieces) take ~0.6 GB instead of the
tens of GB of Python lists. :func:`prepare_stream` reads a :class:`seqkit.data.stream.ParallelStream`
(shard files in order, or a streamed ``datasets`` corpus) in chunks of ``chunk_lines`` pairs, encodes
them in ``workers`` processes (in order, so the output is the same for any ``workers``), and builds the
folder aside and swaps it in (:func:`seqkit.io.atomic_dir`); :func:`prepare_files` and :func:`prepare`
are it for files and for lines. :meth:`PreparedCorpus.open` maps the files without reading them;
``seqkit.data.ParallelBatches.from_prepared`` reads the offsets (a pool at a time with ``pool_pairs``)
and each batch's ids with ``pread`` (:class:`IdsFile`). Sentences carry no ``<bos>``/``<eos>``:
batching adds them.
"""

from __future__ import annotations

import collections
import itertools
import json
import logging
import multiprocessing
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from seqkit.data.joint_spm import SPM_DEFAULTS
from seqkit.errors import SeqkitError
from seqkit.io import atomic_dir, file_stamp, unchanged
from seqkit.outputs import check_replaceable

LOG = logging.getLogger("seqkit.data")

FORMAT = "seqkit-prepared-parallel/1"
#: The kind of output a prepared folder is (:mod:`seqkit.outputs`).
OUTPUT_KIND = "prepared-corpus"
SIDES = ("src", "tgt")


def id_dtype(vocab_size: int) -> np.dtype:
    """The smallest unsigned little-endian dtype holding ids ``0 .. vocab_size - 1``."""
    return np.dtype("<u2") if vocab_size <= 1 << 16 else np.dtype("<u4")


# -- workers --------------------------------------------------------------------------------------------
_worker_sp: Any = None
_worker_cut: dict[str, Any] = {}


def _worker_init(model_proto: bytes, pretokenize: dict[str, str] | None = None) -> None:
    global _worker_sp, _worker_cut
    from seqkit.text.pretokenize import pretokenizer

    _worker_cut = {side: pretokenizer(how) for side, how in (pretokenize or {}).items()}
    import sentencepiece as spm

    _worker_sp = spm.SentencePieceProcessor(model_proto=model_proto)


def _encode_side(sp: Any, lines: list[str], dtype: np.dtype) -> tuple[np.ndarray, np.ndarray]:
    """Lines -> (flat ids in ``dtype``, int64 length of each line)."""
    ids = sp.encode(lines, out_type=int)
    lengths = np.fromiter(map(len, ids), dtype=np.int64, count=len(ids))
    flat = np.fromiter(itertools.chain.from_iterable(ids), dtype=dtype, count=int(lengths.sum()))
    return flat, lengths


def _encode_chunk(task: tuple[list[str], list[str], str]) -> tuple[np.ndarray, ...]:
    src, tgt, dtype = task
    out = []
    for side, lines in (("src", src), ("tgt", tgt)):
        cut = _worker_cut.get(side)
        out += _encode_side(_worker_sp, [cut(x) for x in lines] if cut else lines, np.dtype(dtype))
    return tuple(out)


class PreparedCorpus:
    """A prepared folder, memory-mapped (see the module docstring).

    Attributes:
        path: the folder.
        meta: ``meta.json`` as a dict.
        src_ids, tgt_ids: (total pieces,) read-only maps of the flat ids (``meta["dtype"]``).
        src_offsets, tgt_offsets: (n + 1,) int64 read-only maps; pair i's source is
            ``src_ids[src_offsets[i]:src_offsets[i + 1]]``.
    """

    def __init__(self, path: Path, meta: dict[str, Any]) -> None:
        self.path, self.meta = path, meta
        dtype = np.dtype(meta["dtype"])
        for side in SIDES:
            n_ids = meta[f"{side}_tokens"]
            ids = _map(path / f"{side}.ids", dtype, n_ids)
            offsets = _map(path / f"{side}.offsets", np.dtype("<i8"), meta["pairs"] + 1)
            setattr(self, f"{side}_ids", ids)
            setattr(self, f"{side}_offsets", offsets)

    @classmethod
    def open(cls, path: str | os.PathLike) -> PreparedCorpus:
        """Map a folder written by :func:`prepare`; nothing but ``meta.json`` is read."""
        path = Path(path)
        meta_file = path / "meta.json"
        if not meta_file.is_file():
            raise SeqkitError("not a prepared corpus (no meta.json)", path=path,
                              fix="write one with `seqkit data prepare --src ... --tgt ... --spm ... -o DIR`")
        try:
            meta = json.loads(meta_file.read_text(encoding="utf-8"))
        except (ValueError, UnicodeDecodeError) as exc:
            raise SeqkitError(f"unreadable meta.json ({exc})", path=meta_file, fix="prepare the corpus again") from None
        if meta.get("format") != FORMAT:
            raise SeqkitError(f"unknown prepared-corpus format {meta.get('format')!r}", path=meta_file,
                              fix=f"prepare the corpus again with this seqkit ({FORMAT})")
        return cls(path, meta)

    def __len__(self) -> int:
        return int(self.meta["pairs"])

    @property
    def src_lengths(self) -> np.ndarray:
        """(n,) int64 pieces per source sentence (from the offsets; the ids are not read)."""
        return np.diff(self.src_offsets)

    @property
    def tgt_lengths(self) -> np.ndarray:
        """(n,) int64 pieces per target sentence."""
        return np.diff(self.tgt_offsets)

    @property
    def spm_sha256(self) -> str:
        return self.meta["spm_sha256"]

    def tokenizer(self) -> Any:
        """The sentencepiece model that made the ids, saved in the folder (``spm.model``)."""
        from seqkit.text import SentencePieceTokenizer

        if not (self.path / "spm.model").is_file():
            raise SeqkitError("this prepared corpus holds no spm.model (an older seqkit wrote it)", path=self.path,
                              fix="prepare it again (`seqkit data prepare ...`)")
        return SentencePieceTokenizer.load(self.path / "spm.model")

    def reader(self, side: str, kind: str = "ids") -> IdsFile:
        """``side``'s (``"src"``/``"tgt"``) ids, or with ``kind="offsets"`` its offsets, as an
        :class:`IdsFile`: what batching reads from, a batch's rows or a pool's offsets at a time."""
        if kind == "offsets":
            return IdsFile(self.path / f"{side}.offsets", np.dtype("<i8"), len(self) + 1)
        return IdsFile(self.path / f"{side}.ids", np.dtype(self.meta["dtype"]), self.meta[f"{side}_tokens"])

    def pair(self, i: int) -> tuple[list[int], list[int]]:
        """Pair ``i``'s (source ids, target ids) as lists (for inspection and tests)."""
        if not -len(self) <= i < len(self):
            raise IndexError(i)
        i %= len(self)
        return (self.src_ids[self.src_offsets[i]:self.src_offsets[i + 1]].tolist(),
                self.tgt_ids[self.tgt_offsets[i]:self.tgt_offsets[i + 1]].tolist())

    def disk_bytes(self) -> int:
        """Bytes the folder's files take."""
        return sum(p.stat().st_size for p in self.path.iterdir() if p.is_file())

    def __repr__(self) -> str:
        return (f"PreparedCorpus({str(self.path)!r}, pairs={len(self):,}, "
                f"tokens={self.meta['src_tokens']:,}+{self.meta['tgt_tokens']:,}, dtype={self.meta['dtype']})")


def _map(path: Path, dtype: np.dtype, count: int) -> np.ndarray:
    expected = count * dtype.itemsize
    try:
        size = path.stat().st_size
    except OSError:
        raise SeqkitError(f"{path.name} missing", path=path.parent, fix="prepare the corpus again") from None
    if size != expected:
        raise SeqkitError(f"{path.name} has {size:,} bytes, meta.json says {expected:,}", path=path,
                          fix="the folder is damaged: prepare the corpus again")
    if count == 0:  # np.memmap refuses empty files
        return np.zeros(0, dtype=dtype)
    return np.memmap(path, dtype=dtype, mode="r", shape=(count,))


class IdsFile:
    """A side's flat ids read with ``pread``, a batch's rows at a time: no page is mapped.

    Gathering rows from all over a memory map makes the kernel map whole neighbourhoods of each
    touched id (fault-around, 64 KB), so a process's RSS grows toward the file's size within an epoch
    -- page cache the kernel can drop, but it counts. ``read_rows`` reads exactly the ids asked for;
    the file descriptor is opened on first use in each process (forked workers get their own).
    """

    def __init__(self, path: Path, dtype: np.dtype, count: int) -> None:
        self.path, self.dtype, self.count = path, np.dtype(dtype), count
        self._fd: int | None = None
        self._pid = -1

    def __len__(self) -> int:
        return self.count

    def __getstate__(self) -> dict[str, Any]:  # a pickled copy opens its own descriptor
        return {**self.__dict__, "_fd": None, "_pid": -1}

    def _descriptor(self) -> int:
        if self._fd is None or self._pid != os.getpid():
            self._fd, self._pid = os.open(self.path, os.O_RDONLY), os.getpid()
        return self._fd

    def read_rows(self, starts: np.ndarray, counts: np.ndarray) -> np.ndarray:
        """(B, max count) int64: row i holds ids ``starts[i] .. starts[i] + counts[i] - 1``, then zeros."""
        out = np.zeros((len(starts), int(counts.max(initial=0))), dtype=np.int64)
        fd, item = self._descriptor(), self.dtype.itemsize
        for i, (start, n) in enumerate(zip(starts.tolist(), counts.tolist())):
            if n > 0:
                data = os.pread(fd, n * item, start * item)
                if len(data) != n * item:
                    raise SeqkitError(f"{self.path.name} ended early (read {len(data)} of {n * item} bytes "
                                      f"at id {start:,})", path=self.path, fix="prepare the corpus again")
                out[i, :n] = np.frombuffer(data, dtype=self.dtype)
        return out

    def __del__(self) -> None:
        if self._fd is not None and self._pid == os.getpid():
            os.close(self._fd)


def _reusable(out_dir: Path, want: dict[str, Any], inputs: list[str | os.PathLike] | None) -> bool:
    try:
        meta = json.loads((out_dir / "meta.json").read_text(encoding="utf-8"))
    except (OSError, ValueError, UnicodeDecodeError):
        return False
    if any(meta.get(k) != v for k, v in want.items()):
        return False
    if inputs is None:
        return False
    old = meta.get("inputs") or []
    return len(old) == len(inputs) and all(unchanged(o, p) for o, p in zip(old, inputs))




def prepare(src_lines: Iterable[str], tgt_lines: Iterable[str], tokenizer: Any, out_dir: str | os.PathLike, *,
            names: tuple[str, str] = ("source", "target"), chunk_lines: int = 20_000,
            **options: Any) -> PreparedCorpus:
    """Tokenize line-aligned ``src_lines``/``tgt_lines`` (any iterables: nothing is held beyond a chunk)
    into the prepared folder ``out_dir``; ``names`` are what errors call the two inputs. Always rebuilt
    (nothing identifies the lines' content); the other options are :func:`prepare_stream`'s."""
    from seqkit.data.stream import ParallelStream, line_chunks

    stream = ParallelStream(lambda size: line_chunks(src_lines, tgt_lines, size, names), names[0])
    return prepare_stream(stream, tokenizer, out_dir, chunk_lines=chunk_lines, **options)


def prepare_files(src: Any, tgt: Any, tokenizer: Any, out_dir: str | os.PathLike, *, limit: int | None = None,
                  **options: Any) -> PreparedCorpus:
    """:func:`prepare_stream` of line-aligned files: ``src``/``tgt`` are paths, glob patterns or lists of
    shards (``.gz`` read on the fly); ``out_dir`` is re-used when it already holds these files prepared
    with the same tokenizer and options."""
    from seqkit.data.stream import ParallelStream

    return prepare_stream(ParallelStream.files(src, tgt, limit=limit), tokenizer, out_dir, **options)


def prepare_stream(stream: Any, tokenizer: Any, out_dir: str | os.PathLike, *, spm: dict[str, Any] | None = None,
                   pretokenize: dict[str, str] | None = None, workers: int = 1, chunk_lines: int = 20_000, total: int | None = None,
                   progress: bool | None = None, replace: bool = True) -> PreparedCorpus:
    """Tokenize a :class:`seqkit.data.stream.ParallelStream` into the prepared folder ``out_dir``.

    Args:
        stream: the pairs (shard files, a streamed hub corpus, or lines), read once in order.
        tokenizer: a :class:`seqkit.text.SentencePieceTokenizer` (its model bytes go to the workers), or
            ``None``: train one joint model for all shards on a sample of the stream (``spm``) and
            tokenize with it. Either way the model is saved as ``out_dir/spm.model``
            (:meth:`PreparedCorpus.tokenizer`).
        spm: with ``tokenizer=None``, the training options over :data:`SPM_DEFAULTS`:
            ``input_sentence_size`` sentences (half from each side, one reservoir pass over the stream,
            ``seed``; 0: every sentence), ``vocab_size``, ``model_type``, ``character_coverage``.
        pretokenize: ``{"src"|"tgt": "jieba"|"char"}``: cut a Chinese side into words before
            sentencepiece (:mod:`seqkit.text.pretokenize`), for the sample it trains on too; recorded in
            ``meta.json`` (a model trained on it must cut its input the same way).
        workers: encoding processes (1: in this process). The output does not depend on it.
        chunk_lines: pairs per unit of work; at most ``2 * workers`` chunks are in flight.
        total: pairs expected, for the progress bar's total (optional).
        progress: show a tqdm bar (None: on a terminal only).
        replace: whether an earlier prepared corpus in ``out_dir`` of other inputs or options may be
            replaced (``seqkit data prepare`` passes ``--force``); a folder that is not a prepared
            corpus never is.

    A stream of files records their stamps (size, mtime, SHA-256) in ``meta.json``; when ``out_dir``
    already holds a corpus of the same files, tokenizer (or spm options) and ``limit``, it is opened and
    returned without work. Returns the opened :class:`PreparedCorpus`.
    """
    import hashlib

    from tqdm import tqdm

    if workers < 1 or chunk_lines < 1:
        raise SeqkitError(f"workers={workers}, chunk_lines={chunk_lines}", fix="use positive numbers")
    out_dir = Path(out_dir)
    inputs = stream.stamps()
    from seqkit.text.pretokenize import pretokenizer

    pretokenize = {side: how for side, how in sorted((pretokenize or {}).items()) if pretokenizer(how) is not None}
    if set(pretokenize) - set(SIDES):
        raise SeqkitError(f"pretokenize sides {sorted(pretokenize)}", fix='use "src" and/or "tgt"')
    want: dict[str, Any] = {"format": FORMAT, "limit": stream.limit, "pretokenize": pretokenize}
    if tokenizer is None:
        unknown = set(spm or {}) - set(SPM_DEFAULTS)
        if unknown:
            raise SeqkitError(f"unknown sentencepiece option(s) {sorted(unknown)}",
                              fix=f"use {', '.join(SPM_DEFAULTS)}")
        want["spm_train"] = {**SPM_DEFAULTS, **(spm or {})}
    else:
        proto = getattr(tokenizer, "_proto", None)
        if proto is None:
            raise SeqkitError(f"cannot prepare with a {type(tokenizer).__name__} tokenizer",
                              fix="use a sentencepiece model (seqkit.text.SentencePieceTokenizer)")
        want["spm_sha256"] = hashlib.sha256(proto).hexdigest()
    if _reusable(out_dir, want, inputs):
        return PreparedCorpus.open(out_dir)
    # the folder is replaced as a whole: never delete something that is not a prepared corpus
    check_replaceable(out_dir, OUTPUT_KIND)
    if not replace and out_dir.is_dir() and any(out_dir.iterdir()):
        raise SeqkitError("already holds a prepared corpus of other inputs or options; not replaced "
                          "(nothing was changed)", path=out_dir, fix="add --force to replace it, or give a new folder")
    stamps = [file_stamp(p) for p in inputs] if inputs is not None else None
    if tokenizer is None:
        tokenizer = _train_spm(stream, want["spm_train"], pretokenize)
    proto = tokenizer._proto
    vocab_size = len(tokenizer)
    dtype = id_dtype(vocab_size)
    want.update(spm_sha256=hashlib.sha256(proto).hexdigest(), vocab_size=vocab_size, dtype=dtype.str)

    with atomic_dir(out_dir, OUTPUT_KIND) as tmp:
        (tmp / "spm.model").write_bytes(proto)  # given or trained: the folder is self-contained
        files = {name: open(tmp / name, "wb") for side in SIDES for name in (f"{side}.ids", f"{side}.offsets")}
        totals = {side: 0 for side in SIDES}
        pairs = 0
        zero = np.zeros(1, dtype="<i8")
        files["src.offsets"].write(zero.tobytes())
        files["tgt.offsets"].write(zero.tobytes())

        def write(result: tuple[np.ndarray, ...]) -> int:
            for side, (flat, lengths) in zip(SIDES, (result[:2], result[2:])):
                files[f"{side}.ids"].write(flat.astype(dtype, copy=False).tobytes())
                ends = np.cumsum(lengths, dtype=np.int64) + totals[side]
                files[f"{side}.offsets"].write(ends.astype("<i8", copy=False).tobytes())
                totals[side] += int(lengths.sum())
            return len(result[1])

        bar = tqdm(total=total, desc=f"prepare {out_dir.name}", unit=" pairs", unit_scale=True,
                   disable=None if progress is None else not progress)
        chunks = stream.chunks(chunk_lines)
        try:
            if workers == 1:
                _worker_init(proto, pretokenize)
                for src, tgt in chunks:
                    n = write(_encode_chunk((src, tgt, dtype.str)))
                    pairs += n
                    bar.update(n)
            else:
                # Pool.imap would read the whole input ahead; a bounded queue of results keeps at most
                # 2 * workers chunks in memory, and taking them in submission order keeps the output
                # identical to one process's.
                ctx = multiprocessing.get_context("fork" if os.name == "posix" else "spawn")
                with ctx.Pool(workers, initializer=_worker_init, initargs=(proto, pretokenize)) as pool:
                    pending: collections.deque = collections.deque()
                    for src, tgt in chunks:
                        pending.append(pool.apply_async(_encode_chunk, ((src, tgt, dtype.str),)))
                        if len(pending) >= 2 * workers:
                            n = write(pending.popleft().get())
                            pairs += n
                            bar.update(n)
                    while pending:
                        n = write(pending.popleft().get())
                        pairs += n
                        bar.update(n)
        finally:
            bar.close()
            for fh in files.values():
                fh.close()
        langs = getattr(stream, "langs", (None, None))
        meta = {**want, "pairs": pairs, "src_tokens": totals["src"], "tgt_tokens": totals["tgt"],
                "src_lang": langs[0], "tgt_lang": langs[1], "source": stream.name, "inputs": stamps, "options": {"chunk_lines": chunk_lines}}
        (tmp / "meta.json").write_text(json.dumps(meta, indent=1) + "\n", encoding="utf-8")
    return PreparedCorpus.open(out_dir)


def _train_spm(stream: Any, options: dict[str, Any], pretokenize: dict[str, str]) -> Any:
    """The joint sentencepiece model of ``stream`` (:func:`seqkit.data.joint_spm.train_joint_spm`, the
    trainer the NMT recipes use too); a raised vocabulary is logged."""
    from seqkit.data.joint_spm import train_joint_spm

    trained = train_joint_spm(stream, pretokenize=pretokenize, **options)
    if trained.note:
        LOG.warning("%s", trained.note)
    return trained.tokenizer
