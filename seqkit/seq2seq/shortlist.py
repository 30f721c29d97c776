"""Vocabulary shortlists: the target pieces a batch of source sentences can call for.

A shortlist maps source pieces (and optionally source bigrams) to the target pieces they call for,
plus pieces that are always candidates. Decoding with it computes the output projection and the
search's ``topk`` over the batch's candidates only -- the union of the entries of its source pieces,
the always-included pieces and the special tokens -- instead of the whole vocabulary.

Learning (:func:`learn_shortlist`) counts, over the training pairs, in how many sentence pairs a
source piece ``s`` and a target piece ``t`` occur together (``c(s, t)``; each piece once per
sentence), and in how many ``s`` and ``t`` occur (``c(s)``, ``c(t)``). Each source piece keeps the
``top_k`` target pieces by ``score`` -- ``"prob"``: ``p(t | s) = c(s, t) / c(s)``; ``"dice"``:
``2 c(s, t) / (c(s) + c(t))`` -- among those not already always included; the ``frequent`` target
pieces of the most sentences are always included, and so are ``<unk> <pad> <bos> <eos>``.

On disk it is CTranslate2's vocabulary map (``vmap``), a UTF-8 text file read by CTranslate2's
``VocabularyMap`` and enabled with ``translate_batch(use_vmap=True)``; an export folder holds it as
``vmap.txt``. One line per entry: the source piece (an n-gram: its pieces separated by single
spaces), a tab, then the target pieces separated by single spaces; the line whose source is empty
lists the pieces that are always candidates. CTranslate2 looks up every n-gram of the batch's source
pieces (its ``<eos>`` included) up to the longest order in the file, adds ``<unk> <bos> <eos>`` and a
target prefix's pieces, and computes its softmax over those candidates only; seqkit's decoder
(:class:`seqkit.seq2seq.shortlist_decoding.ShortlistModel`) does the same, so its log-probabilities are normalised over the candidates
as CTranslate2's are. A shortlist holding every piece decodes exactly as the full vocabulary.

:meth:`Shortlist.load` is the file's one loader: every line must have exactly one tab, no empty
piece, and only pieces of the model's vocabulary; a source may appear once. Anything else is one line
naming ``file:line``.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from seqkit.errors import SeqkitError
from seqkit.text.vocab import BOS_ID, EOS_ID, PAD_ID, UNK_ID

#: The name CTranslate2 gives the vocabulary map in a model folder (``use_vmap=True`` reads it).
VMAP_FILE = "vmap.txt"
#: The special ids, always candidates; they are the lowest ids, so a sorted candidate list keeps them
#: at their own index (the search's ``<bos>``/``<eos>`` ids mean the same in both id spaces).
SPECIAL_IDS = tuple(sorted({UNK_ID, PAD_ID, BOS_ID, EOS_ID}))
assert SPECIAL_IDS == tuple(range(len(SPECIAL_IDS)))
#: The ways :func:`learn_shortlist` ranks the target pieces of a source piece.
SCORES = ("prob", "dice")
#: The longest source n-gram a shortlist file may hold.
MAX_ORDER = 4
_MAX_BYTES = 1 << 30
BUILD = "seqkit shortlist build --run RUN_DIR"


@dataclass
class Shortlist:
    """A vocabulary shortlist over the joint vocabulary ``pieces`` (id order).

    ``always``: sorted ids that are always candidates (the special ids included); ``entries``: source
    n-gram ids (a tuple of 1..:data:`MAX_ORDER` ids) -> sorted target ids.
    """

    pieces: list[str]
    always: np.ndarray
    entries: dict[tuple[int, ...], np.ndarray]

    @property
    def order(self) -> int:
        """The longest source n-gram with an entry (1 when there is none)."""
        return max((len(k) for k in self.entries), default=1)

    def candidates(self, sources: Iterable[Sequence[int]], extra: Iterable[int] = ()) -> np.ndarray:
        """The sorted candidate ids of a batch: the always-included ids, every entry of an n-gram of
        any of ``sources`` (id lists; padding ids and other specials look nothing up) and ``extra``
        (a target prefix's ids). The special ids are ``0..3`` of the result."""
        order, entries = self.order, self.entries
        found = [self.always]
        seen: set[tuple[int, ...]] = set()
        for ids in sources:
            ids = [int(t) for t in ids]
            for n in range(1, order + 1):
                for i in range(len(ids) - n + 1):
                    key = tuple(ids[i:i + n])
                    if key not in seen:
                        seen.add(key)
                        hit = entries.get(key)
                        if hit is not None:
                            found.append(hit)
        extra = np.fromiter((int(t) for t in extra), dtype=np.int64)
        return np.unique(np.concatenate([*found, extra]).astype(np.int64))

    # -- the file --------------------------------------------------------------------------------
    def lines(self) -> Iterator[str]:
        """The vmap lines (no newline): the always-included pieces first, then the sources, pieces before bigrams, in id order."""
        p = self.pieces
        yield "\t" + " ".join(p[t] for t in self.always)
        for key in sorted(self.entries, key=lambda k: (len(k), k)):
            yield " ".join(p[s] for s in key) + "\t" + " ".join(p[t] for t in self.entries[key])

    def save(self, path: str | os.PathLike) -> Path:
        """Write the vmap file atomically (:func:`seqkit.io.atomic_write`)."""
        from seqkit.io import atomic_write

        with atomic_write(path) as fh:
            for line in self.lines():
                fh.write(line + "\n")
        return Path(path)

    @classmethod
    def load(cls, path: str | os.PathLike, pieces: list[str], *, fix: str | None = None) -> Shortlist:
        """Read and check a vmap file against the vocabulary ``pieces`` (see the module docstring)."""
        from seqkit.io import iter_lines

        path = Path(path)
        fix = fix or f"write it again: {BUILD} -o {path}"
        if not path.is_file():
            raise SeqkitError("shortlist not found" if not path.exists() else "is not a file", path=path,
                              fix=f"build one: {BUILD} -o {path}")
        if path.stat().st_size > _MAX_BYTES:
            raise SeqkitError(f"more than {_MAX_BYTES:,} bytes: not a shortlist", path=path, fix=fix)
        index = {p: i for i, p in enumerate(pieces)}
        always: set[int] = set(SPECIAL_IDS)
        entries: dict[tuple[int, ...], np.ndarray] = {}
        where: dict[tuple[int, ...], int] = {}
        for no, line in enumerate(iter_lines(path), 1):
            def bad(message: str, line_no: int = no) -> SeqkitError:
                return SeqkitError(message, path=path, line=line_no, fix=fix)

            if line.count("\t") != 1:
                raise bad(f"expected a source, one tab, then target pieces; found {line.count(chr(9))} tabs")
            source, _, targets = line.partition("\t")
            src = source.split(" ") if source else []
            tgt = targets.split(" ") if targets else []
            if "" in src or "" in tgt:
                raise bad("an empty piece (two spaces in a row, or a space at an end)")
            if len(src) > MAX_ORDER:
                raise bad(f"a source of {len(src)} pieces; at most {MAX_ORDER}")
            unknown = next((p for p in (*src, *tgt) if p not in index), None)
            if unknown is not None:
                raise bad(f"piece {unknown!r} is not in the model's vocabulary ({len(pieces):,} pieces)")
            ids = np.array(sorted({index[p] for p in tgt}), dtype=np.int64)
            if not src:
                if () in where:
                    raise bad(f"a second line of always-included pieces (the first is line {where[()]})")
                where[()] = no
                always.update(ids.tolist())
                continue
            key = tuple(index[p] for p in src)
            if key in where:
                raise bad(f"source {source!r} listed again (first at line {where[key]})")
            where[key] = no
            entries[key] = ids
        if not entries and len(always) == len(SPECIAL_IDS):  # would decode every sentence to nothing
            raise SeqkitError("no target pieces at all: an empty shortlist", path=path, fix=fix)
        return cls(list(pieces), np.array(sorted(always), dtype=np.int64), entries)


# -- learning ------------------------------------------------------------------------------------------
class _PairCounts:
    """Sparse counts of int64 keys, merged a chunk at a time (memory: the distinct keys)."""

    def __init__(self, flush_at: int = 4_000_000) -> None:
        self.keys = np.empty(0, dtype=np.int64)
        self.counts = np.empty(0, dtype=np.int64)
        self._pending: list[np.ndarray] = []
        self._size, self.flush_at = 0, flush_at

    def add(self, keys: np.ndarray) -> None:
        self._pending.append(keys)
        self._size += keys.size
        if self._size >= self.flush_at:
            self.flush()

    def flush(self) -> None:
        if not self._pending:
            return
        new, counts = np.unique(np.concatenate(self._pending), return_counts=True)
        keys, inverse = np.unique(np.concatenate([self.keys, new]), return_inverse=True)
        self.keys = keys
        self.counts = np.bincount(inverse, weights=np.concatenate([self.counts, counts]),
                                  minlength=keys.size).astype(np.int64)
        self._pending, self._size = [], 0


def learn_shortlist(pairs: Iterable[tuple[Sequence[int], Sequence[int]]], pieces: list[str], *,
                    top_k: int = 100, frequent: int = 500, score: str = "prob", order: int = 1,
                    min_count: int = 1) -> Shortlist:
    """Count co-occurrences over ``pairs`` of (source ids, target ids) and keep, for each source piece
    (and with ``order=2`` each source bigram), its ``top_k`` target pieces by ``score`` (see the
    module docstring), with ``c(s, t) >= min_count``; the ``frequent`` target pieces of the most
    sentences are always included. Ids are those of ``pieces``; special ids are not counted.
    A bigram keeps only target pieces neither of its pieces' entries nor the always list has."""
    if score not in SCORES:
        raise SeqkitError(f"unknown shortlist score {score!r}", fix=f"use one of: {', '.join(SCORES)}")
    if order not in (1, 2):
        raise SeqkitError(f"shortlist order {order}: 1 (pieces) or 2 (pieces and bigrams)", fix="use 1 or 2")
    V = len(pieces)
    low = len(SPECIAL_IDS)
    pair_counts, src_counts, tgt_counts = _PairCounts(), _PairCounts(), _PairCounts()
    n_pairs = 0
    for src, tgt in pairs:
        s = np.unique(np.asarray(src, dtype=np.int64))
        t = np.unique(np.asarray(tgt, dtype=np.int64))
        s, t = s[s >= low], t[t >= low]
        n_pairs += 1
        if order == 2:
            a = np.asarray(src, dtype=np.int64)
            bigrams = a[:-1] * V + a[1:]
            bigrams = np.unique(bigrams[(a[:-1] >= low) & (a[1:] >= low)]) + V  # keys >= V: bigrams
            s = np.concatenate([s, bigrams])
        src_counts.add(s)
        tgt_counts.add(t)
        if s.size and t.size:
            pair_counts.add((s[:, None] * V + t[None, :]).ravel())
    for c in (pair_counts, src_counts, tgt_counts):
        c.flush()
    if n_pairs == 0:
        raise SeqkitError("no training pairs to learn a shortlist from", fix="give a run (or files) with training data")
    tgt_count = np.zeros(V, dtype=np.int64)
    tgt_count[tgt_counts.keys] = tgt_counts.counts
    by_freq = np.argsort(-tgt_count, kind="stable")
    top = by_freq[: frequent][tgt_count[by_freq[: frequent]] > 0]
    always = np.unique(np.concatenate([np.array(SPECIAL_IDS, dtype=np.int64), top]))
    # every (source, target) pair counted, grouped by source (keys are sorted)
    source, target, joint = pair_counts.keys // V, pair_counts.keys % V, pair_counts.counts
    src_of = dict(zip(src_counts.keys.tolist(), src_counts.counts.tolist()))
    c_s = np.array([src_of[k] for k in source.tolist()], dtype=np.float64) if source.size else np.zeros(0)
    if score == "prob":
        value = joint / c_s
    else:
        value = 2.0 * joint / (c_s + tgt_count[target])
    keep = (joint >= min_count) & ~np.isin(target, always)
    source, target, value, joint = source[keep], target[keep], value[keep], joint[keep]
    # within each source: best score first, ties by count, then by id
    rank_order = np.lexsort((target, -joint, -value, source))
    source, target = source[rank_order], target[rank_order]
    starts = np.flatnonzero(np.r_[True, source[1:] != source[:-1]]) if source.size else np.zeros(0, dtype=np.int64)
    group = np.repeat(starts, np.diff(np.r_[starts, source.size]))
    chosen = (np.arange(source.size) - group) < top_k
    source, target = source[chosen], target[chosen]
    entries: dict[tuple[int, ...], np.ndarray] = {}
    bounds = np.flatnonzero(np.r_[True, source[1:] != source[:-1], True]) if source.size else []
    for a, b in zip(bounds[:-1], bounds[1:]):
        key = int(source[a])
        entries[(key,) if key < V else divmod(key - V, V)] = np.sort(target[a:b])
    for key in [k for k in entries if len(k) == 2]:  # a bigram: only what its pieces do not give
        have = np.concatenate([entries.get((key[0],), np.zeros(0, np.int64)),
                               entries.get((key[1],), np.zeros(0, np.int64))])
        rest = np.setdiff1d(entries[key], have)
        if rest.size:
            entries[key] = rest
        else:
            del entries[key]
    return Shortlist(list(pieces), always, {tuple(int(x) for x in k): v for k, v in entries.items()})


def coverage(shortlist: Shortlist, pairs: Iterable[tuple[Sequence[int], Sequence[int]]]) -> tuple[float, float, int]:
    """How well ``shortlist`` covers ``pairs`` sentence by sentence: (the share of target pieces that
    are candidates of their own source, the mean number of candidates per sentence, sentences)."""
    hit = total = n = 0
    size = 0.0
    for src, tgt in pairs:
        cand = shortlist.candidates([src])
        hit += int(np.isin(np.asarray(tgt, dtype=np.int64), cand).sum())
        total += len(tgt)
        size += cand.size
        n += 1
    return (hit / total if total else 1.0), (size / n if n else 0.0), n


# -- the training pairs of a run -----------------------------------------------------------------------
def run_training_pairs(run_dir: str | os.PathLike, tokenizer: Any, pretokenize: dict[str, str] | None = None,
                       *, max_pairs: int | None = None, chunk: int = 20_000) -> Iterator[tuple[list[int], list[int]]]:
    """The (source ids, target ids) training pairs of an NMT run directory: its prepared corpus when it
    trained from one (``data.prepared``), else the shards it streamed, else ``data/train.{src,tgt}``;
    text is cut as the model's ``pretokenize`` says and encoded with ``tokenizer``."""
    from seqkit.io import load_json

    run = Path(run_dir)
    manifest = run / "stages" / "nmt.data.json"
    result: dict[str, Any] = {}
    if manifest.is_file():
        try:
            result = (load_json(manifest) or {}).get("result") or {}
        except (ValueError, OSError, AttributeError):
            result = {}
    if result.get("train_prepared"):
        from seqkit.data.prepared import PreparedCorpus

        corpus = PreparedCorpus.open(result["train_prepared"])
        n = len(corpus) if max_pairs is None else min(max_pairs, len(corpus))
        so, to = corpus.src_offsets, corpus.tgt_offsets
        for i in range(n):
            yield corpus.src_ids[so[i]:so[i + 1]], corpus.tgt_ids[to[i]:to[i + 1]]
        return
    if result.get("train_hub"):
        raise SeqkitError("this run streamed its training data from the Hugging Face hub", path=run,
                          fix="give the training text with --src FILE --tgt FILE")
    shards = result.get("train_shards")
    if shards:
        src, tgt = shards["src"], shards["tgt"]
    else:
        src, tgt = run / "data" / "train.src", run / "data" / "train.tgt"
        if not (src.is_file() and tgt.is_file()):
            raise SeqkitError("no training data in this run (data/train.src, data/train.tgt)", path=run,
                              fix="give the training text with --src FILE --tgt FILE")
    yield from text_pairs(src, tgt, tokenizer, pretokenize, max_pairs=max_pairs, chunk=chunk)


def text_pairs(src: Any, tgt: Any, tokenizer: Any, pretokenize: dict[str, str] | None = None, *,
               max_pairs: int | None = None, chunk: int = 20_000) -> Iterator[tuple[list[int], list[int]]]:
    """Parallel text files (or lists of shards) encoded pair by pair (``pretokenize`` applied)."""
    from seqkit.data.stream import ParallelStream
    from seqkit.text.pretokenize import pretokenizer

    cut = {side: pretokenizer((pretokenize or {}).get(side)) for side in ("src", "tgt")}
    seen = 0
    for src_lines, tgt_lines in ParallelStream.files(src, tgt, limit=max_pairs).chunks(chunk):
        sides = []
        for side, lines in (("src", src_lines), ("tgt", tgt_lines)):
            if cut[side] is not None:
                lines = [cut[side](line) for line in lines]
            sides.append(tokenizer.encode_ids_batch(lines))
        for pair in zip(*sides):
            yield pair
            seen += 1
            if max_pairs is not None and seen >= max_pairs:
                return


# -- a run's shortlist ---------------------------------------------------------------------------------
def shortlist_for_run(run_dir: str | os.PathLike, *, src: Any = None, tgt: Any = None, max_pairs: int | None = None,
                      **options: Any) -> Shortlist:
    """:func:`learn_shortlist` over the training pairs of the run (or model folder) ``run_dir``, encoded
    with its model's tokenizer -- or over the parallel files ``src``/``tgt`` when given. ``options``:
    ``top_k``, ``frequent``, ``score``, ``order``, ``min_count``."""
    from seqkit.seq2seq.model_folder import model_pretokenize, open_model_folder

    folder = open_model_folder(run_dir)
    tokenizer = folder.tokenizer()
    pretokenize = model_pretokenize(folder.info)
    if src is not None:
        pairs = text_pairs(src, tgt, tokenizer, pretokenize, max_pairs=max_pairs)
    else:
        run = Path(run_dir) if folder.path != Path(run_dir) else folder.path.parent
        pairs = run_training_pairs(run, tokenizer, pretokenize, max_pairs=max_pairs)
    return learn_shortlist(pairs, tokenizer.pieces(), **options)


def describe(shortlist: Shortlist, run_dir: str | os.PathLike | None = None) -> str:
    """One line: its entries, the always-included pieces and, when the run ``run_dir`` has
    ``data/valid.*``, the coverage of those pairs (:func:`coverage`)."""
    sizes = [v.size for v in shortlist.entries.values()]
    text = (f"shortlist of {len(shortlist.entries):,} source entries ({np.mean(sizes) if sizes else 0:.1f} target "
            f"pieces each), {shortlist.always.size:,} always included, of {len(shortlist.pieces):,} pieces")
    valid = Path(run_dir) / "data" if run_dir is not None else None
    if valid is not None and (valid / "valid.src").is_file() and (valid / "valid.tgt").is_file():
        from seqkit.seq2seq.model_folder import model_pretokenize, open_model_folder

        folder = open_model_folder(run_dir)
        covered, size, n = coverage(shortlist, text_pairs(valid / "valid.src", valid / "valid.tgt", folder.tokenizer(),
                                                          model_pretokenize(folder.info)))
        if n:
            text += (f"; on the {n:,} validation pairs it covers {100 * covered:.2f}% of the reference pieces "
                     f"with {size:.0f} candidates a sentence")
    return text


def check_replaceable_vmap(path: str | os.PathLike) -> None:
    """Refuse to replace an existing ``path`` that is not a vocabulary map (every line a source, one tab,
    target pieces): nothing seqkit did not make is overwritten."""
    path = Path(path)
    if not os.path.lexists(path):
        return
    if not path.is_file():
        raise SeqkitError("is not a file; refusing to replace it (nothing was changed)", path=path,
                          fix="give a new file path for the shortlist")
    why = None
    try:
        with open(path, "rb") as fh:
            for line in fh:
                if line.rstrip(b"\r\n").count(b"\t") != 1:
                    why = "is not a vocabulary map"
                    break
    except OSError as exc:
        from seqkit.errors import from_os_error

        raise from_os_error(exc, path) from None
    if why:
        raise SeqkitError(f"exists and {why} (a line without exactly one tab); refusing to replace it "
                          "(nothing was changed)", path=path, fix="give a new file path, or remove that file first")


def run_vmap(path: str | os.PathLike) -> Path | None:
    """The vocabulary shortlist of a run directory (``RUN/vmap.txt``, what ``seqkit shortlist build``
    writes by default), also when ``path`` is the run's ``model/`` folder; None when there is none."""
    path = Path(path)
    for folder in (path, path.parent) if path.name == "model" else (path,):
        if (folder / VMAP_FILE).is_file():
            return folder / VMAP_FILE
    return None
