"""Corpora in memory, and ``load()``: named corpora, local files and hub datasets behind one call.

Two shapes come back:

* :class:`LMCorpus` -- ``.train``, ``.valid``, ``.test``, each a :class:`Lines` (a list of text lines);
* :class:`ParallelCorpus` -- ``.train``, ``.valid``, ``.test``, each a :class:`ParallelSplit` with
  aligned ``.src`` and ``.tgt`` lists of lines.

Every reader goes through :mod:`seqkit.io`, so invalid UTF-8 names the file and line; parallel files of
different lengths, a TSV line without the asked column and an empty corpus are each one
:class:`~seqkit.errors.SeqkitError` with the file, the line and the fix.
"""

from __future__ import annotations

import os
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from seqkit.data.registry import CORPORA, canonical, corpus_info, corpus_names, fetch, suggest
from seqkit.errors import SeqkitError
from seqkit.io import iter_lines, read_lines

PathLike = str | os.PathLike


class Lines(list):
    """A list of text lines; ``texts()`` returns it (the same call as on a parallel split)."""

    def texts(self) -> list[str]:
        return self


@dataclass
class LMCorpus:
    """A language-modelling corpus: three lists of lines (a split may be empty)."""

    train: Lines
    valid: Lines = field(default_factory=Lines)
    test: Lines = field(default_factory=Lines)
    name: str = ""

    def texts(self) -> list[str]:
        """The training lines (what a tokenizer or vocabulary is fit on)."""
        return self.train

    def __repr__(self) -> str:
        return f"LMCorpus({self.name!r}: {len(self.train)}/{len(self.valid)}/{len(self.test)} lines)"


@dataclass
class ParallelSplit:
    """Aligned source and target lines: ``src[i]`` translates to ``tgt[i]``."""

    src: list[str]
    tgt: list[str]

    def __post_init__(self) -> None:
        if len(self.src) != len(self.tgt):
            raise SeqkitError(f"source has {len(self.src)} lines but target has {len(self.tgt)}",
                              fix="give aligned source and target lists")

    def __len__(self) -> int:
        return len(self.src)

    def pairs(self) -> list[tuple[str, str]]:
        return list(zip(self.src, self.tgt))

    def texts(self) -> list[str]:
        """Source then target lines, e.g. to train a joint sentencepiece model."""
        return self.src + self.tgt


@dataclass
class ParallelCorpus:
    """A translation corpus: train/valid/test :class:`ParallelSplit` in direction ``src -> tgt``."""

    train: ParallelSplit
    valid: ParallelSplit = field(default_factory=lambda: ParallelSplit([], []))
    test: ParallelSplit = field(default_factory=lambda: ParallelSplit([], []))
    src_lang: str = "src"
    tgt_lang: str = "tgt"
    name: str = ""

    def texts(self) -> list[str]:
        return self.train.texts()

    def __repr__(self) -> str:
        return (f"ParallelCorpus({self.name!r} {self.src_lang}->{self.tgt_lang}: "
                f"{len(self.train)}/{len(self.valid)}/{len(self.test)} pairs)")


# ---------------------------------------------------------------------------------------------------
# file readers
# ---------------------------------------------------------------------------------------------------


def read_text_file(path: PathLike, *, allow_empty: bool = False) -> Lines:
    """Lines of a UTF-8 text file (``.gz`` ok). An empty file is an error unless ``allow_empty``."""
    lines = Lines(read_lines(path))
    if not allow_empty and not any(line.strip() for line in lines):
        raise SeqkitError("empty corpus: the file has no text", path=path, fix="give a file with at least one line of text")
    return lines


def read_parallel_files(src_path: PathLike, tgt_path: PathLike, *, allow_empty: bool = False) -> ParallelSplit:
    """Two line-aligned files. Different lengths -> an error at the first line one of them lacks."""
    src, tgt = read_lines(src_path), read_lines(tgt_path)
    if len(src) != len(tgt):
        shorter, longer = (src_path, tgt_path) if len(src) < len(tgt) else (tgt_path, src_path)
        n_short, n_long = min(len(src), len(tgt)), max(len(src), len(tgt))
        raise SeqkitError(f"parallel files differ in length: {shorter} has {n_short} lines, {longer} has {n_long}",
                          path=longer, line=n_short + 1,
                          fix="line i of the source must translate line i of the target; remove or add lines so "
                              "both files have the same number")
    if not allow_empty and not src:
        raise SeqkitError("empty corpus: the parallel files have no lines", path=src_path,
                          fix="give files with at least one sentence pair")
    return ParallelSplit(src, tgt)


def read_tsv(path: PathLike, columns: Sequence[int] = (0, 1), *, allow_empty: bool = False,
             skip_header: bool = False) -> list[list[str]]:
    """The chosen tab-separated ``columns`` of each line (0-based), e.g. ``(0, 1)`` of Tatoeba files.

    Blank lines are skipped; a non-blank line with too few columns is an error naming its line.
    """
    out: list[list[str]] = [[] for _ in columns]
    need = max(columns) + 1
    for lineno, line in enumerate(iter_lines(path), 1):
        if skip_header and lineno == 1:
            continue
        if not line.strip():
            continue
        fields = line.split("\t")
        if len(fields) < need:
            raise SeqkitError(f"line has {len(fields)} tab-separated column(s), column {max(columns)} (0-based) "
                              "was asked for", path=path, line=lineno,
                              fix="check the column numbers (columns=...) or fix the line")
        for slot, col in zip(out, columns):
            slot.append(fields[col])
    if not allow_empty and not out[0]:
        raise SeqkitError("empty corpus: no tab-separated lines", path=path, fix="give a TSV file with text")
    return out


def split_by_seed(n: int, n_valid: int, n_test: int, seed: int) -> tuple[list[int], list[int], list[int]]:
    """Deterministic train/valid/test indices: a seeded permutation, test first, then valid.

    Each split keeps the corpus order inside it, so a prefix of train is still "the short sentences
    first" for Tatoeba files. The same ``(n, n_valid, n_test, seed)`` gives the same split anywhere.
    """
    if n_valid < 0 or n_test < 0 or n_valid + n_test >= n:
        raise SeqkitError(f"valid_size={n_valid} and test_size={n_test} cannot be held out of {n:,} lines "
                          "(training needs at least one)", fix="ask for fewer held-out lines, or give more text")
    order = list(range(n))
    random.Random(seed).shuffle(order)
    test = sorted(order[:n_test])
    valid = sorted(order[n_test:n_test + n_valid])
    train = sorted(order[n_test + n_valid:])
    return train, valid, test


def _take(lines: list[str], idx: list[int]) -> list[str]:
    return [lines[i] for i in idx]


def _split_parallel(src: list[str], tgt: list[str], n_valid: int, n_test: int, seed: int) -> tuple:
    train, valid, test = split_by_seed(len(src), n_valid, n_test, seed)
    return tuple(ParallelSplit(_take(src, i), _take(tgt, i)) for i in (train, valid, test))


# ---------------------------------------------------------------------------------------------------
# named corpora
# ---------------------------------------------------------------------------------------------------


def _lm(name: str) -> LMCorpus:
    info = corpus_info(name)
    splits = {split: read_text_file(fetch(name, split)) if split in info.files else Lines()
              for split in ("train", "valid", "test")}
    return LMCorpus(name=name, **splits)


#: The direction a registered parallel corpus loads without ``src``/``tgt``.
DEFAULT_PAIRS = {"multi30k": ("de", "en"), "seqkit-en-fr": ("en", "fr"), "iwslt14-de-en": ("de", "en"),
                 "wmt21-news": ("de", "en"), "fra-eng": ("en", "fr"), "cmn-eng": ("en", "zh")}


def corpus_pair(name: str, src: str | None = None, tgt: str | None = None) -> tuple[str, str]:
    """The language pair ``load(name, src=, tgt=)`` gives for a registered parallel corpus, checked
    without reading or downloading anything: a pair it lacks is one :class:`SeqkitError` naming the
    ones it has."""
    info = corpus_info(name)
    default = DEFAULT_PAIRS[name]
    src, tgt = src or default[0], tgt or default[1]
    langs = info.languages
    if src not in langs or tgt not in langs or src == tgt:
        raise SeqkitError(f"corpus {name!r} has no {src}->{tgt} direction",
                          fix=f"choose src and tgt among {', '.join(langs)}")
    directed = {k.split(".")[1] for k in info.files if k.count(".") == 2}  # test.de-en.de -> de-en
    if directed and not any(f"{split}.{src}" in info.files and f"{split}.{tgt}" in info.files
                            for split in ("train", "valid", "test")) and f"{src}-{tgt}" not in directed:
        raise SeqkitError(f"corpus {name!r} has no {src}->{tgt} direction",
                          fix=f"choose one of {', '.join(sorted(directed))} (src= and tgt=)")
    return src, tgt


def _aligned_files(name: str, src: str, tgt: str) -> ParallelCorpus:
    """Line-aligned files per split, keyed ``SPLIT.LANG`` (or ``SPLIT.SRC-TGT.LANG`` for test sets that
    exist in one direction); a split the corpus lacks is empty."""
    files = corpus_info(name).files
    splits = {}
    for split in ("train", "valid", "test"):
        for s_key, t_key in ((f"{split}.{src}-{tgt}.{src}", f"{split}.{src}-{tgt}.{tgt}"),
                             (f"{split}.{src}", f"{split}.{tgt}")):
            if s_key in files and t_key in files:
                splits[split] = read_parallel_files(fetch(name, s_key), fetch(name, t_key))
                break
        else:
            splits[split] = ParallelSplit([], [])
    if not any(len(part.src) for part in splits.values()):
        pairs = sorted({k.split(".")[1] for k in files if k.count(".") == 2})
        raise SeqkitError(f"corpus {name!r} has no {src}->{tgt} direction",
                          fix=f"choose one of {', '.join(pairs)} (src= and tgt=)")
    return ParallelCorpus(src_lang=src, tgt_lang=tgt, name=name, **splits)


def _tatoeba(name: str, src: str, tgt: str, langs: tuple[str, str], n_heldout: int, seed: int,
             valid_size: int = 0, test_size: int = 0) -> ParallelCorpus:
    """One TSV file split by seed: ``n_heldout`` lines each for valid and test, unless the caller's
    ``valid_size``/``test_size`` say otherwise."""
    columns = read_tsv(fetch(name, "all"), columns=(0, 1))
    by_lang = dict(zip(langs, columns))
    train, valid, test = _split_parallel(by_lang[src], by_lang[tgt], valid_size or n_heldout,
                                         test_size or n_heldout, seed)
    return ParallelCorpus(train, valid, test, src_lang=src, tgt_lang=tgt, name=name)


def _fixed_splits(name: str, valid_size: int, test_size: int) -> None:
    """A corpus whose splits are its files refuses held-out sizes (they would be silently ignored)."""
    asked = [f"{k}={v}" for k, v in (("valid_size", valid_size), ("test_size", test_size)) if v]
    if asked:
        raise SeqkitError(f"{' '.join(asked)}: {name} comes with its own splits, which are used as they are",
                          fix="drop valid_size/test_size, or load the files yourself and split them")


def load_named(name: str, *, src: str | None = None, tgt: str | None = None, split_seed: int = 0,
               valid_size: int = 0, test_size: int = 0):
    """Load a registered corpus by name (see ``seqkit data ls``). ``valid_size``/``test_size`` apply to
    the corpora that ship as one file (fra-eng, cmn-eng: they replace the held-out sizes); the others
    refuse them."""
    info = corpus_info(name)
    if name not in ("fra-eng", "cmn-eng"):
        _fixed_splits(name, valid_size, test_size)
    if info.kind == "vectors":
        raise SeqkitError(f"{name} is a set of pretrained word vectors, not a corpus",
                          fix=f"load it with seqkit.embeddings.load_vectors({name!r})")
    if info.kind == "lm":
        return _lm(name)
    if name == "multi30k":
        return _aligned_files(name, *corpus_pair(name, src, tgt))
    if name == "seqkit-en-fr":
        return _aligned_files(name, *corpus_pair(name, src, tgt))
    if name == "iwslt14-de-en":
        return _aligned_files(name, *corpus_pair(name, src, tgt))
    if name == "wmt21-news":
        return _aligned_files(name, *corpus_pair(name, src, tgt))
    if name == "fra-eng":
        return _tatoeba(name, *corpus_pair(name, src, tgt), ("en", "fr"), 5000, split_seed,
                        valid_size, test_size)
    if name == "cmn-eng":
        return _tatoeba(name, *corpus_pair(name, src, tgt), ("en", "zh"), 1000, split_seed,
                        valid_size, test_size)
    raise AssertionError(f"no reader for {name}")  # pragma: no cover


# ---------------------------------------------------------------------------------------------------
# local files
# ---------------------------------------------------------------------------------------------------


def _is_tsv(path: Path) -> bool:
    name = path.name[:-3] if path.name.endswith(".gz") else path.name
    return name.endswith((".tsv", ".tab"))


def _find_split_file(folder: Path, split: str, suffix: str) -> Path | None:
    for name in (f"{split}{suffix}", f"{split}{suffix}.gz"):
        if (folder / name).is_file():
            return folder / name
    return None


def load_folder(folder: Path, *, src: str | None, tgt: str | None):
    """``train|valid|test.SRC`` + ``.TGT`` (parallel, when ``src`` and ``tgt`` are given) or
    ``train|valid|test.txt`` (language modelling) in a folder; ``valid``/``test`` are optional."""
    if src and tgt:
        splits = {}
        for split in ("train", "valid", "test"):
            s, t = _find_split_file(folder, split, f".{src}"), _find_split_file(folder, split, f".{tgt}")
            if s is None and t is None and split != "train":
                splits[split] = ParallelSplit([], [])
                continue
            if s is None or t is None:
                missing = f"{split}.{src if s is None else tgt}"
                raise SeqkitError(f"no {missing} (or {missing}.gz) in the folder", path=folder,
                                  fix=f"name the files {split}.{src} and {split}.{tgt}")
            splits[split] = read_parallel_files(s, t)
        return ParallelCorpus(src_lang=src, tgt_lang=tgt, name=str(folder), **splits)
    train = _find_split_file(folder, "train", ".txt")
    if train is None:
        raise SeqkitError("no train.txt in the folder", path=folder,
                          fix="name the files train.txt/valid.txt/test.txt, or pass src= and tgt= for "
                              "train.SRC/train.TGT parallel files")
    parts = {split: read_text_file(p) if (p := _find_split_file(folder, split, ".txt")) else Lines()
             for split in ("valid", "test")}
    return LMCorpus(read_text_file(train), name=str(folder), **parts)


def load_path(path: PathLike | Sequence[PathLike], *, src: str | None = None, tgt: str | None = None,
              columns: Sequence[int] | None = None, valid_size: int = 0, test_size: int = 0, split_seed: int = 0):
    """Local files: a text file (LM), a TSV (parallel, ``columns`` = (src, tgt), default (0, 1)), a pair
    of line-aligned files ``(src_file, tgt_file)``, or a folder (see :func:`load_folder`).

    A single file is all ``train`` unless ``valid_size``/``test_size`` ask for a seeded hold-out.
    """
    if isinstance(path, (list, tuple)):
        if len(path) != 2:
            raise SeqkitError(f"expected two files (source, target), got {len(path)}",
                              fix="pass (src_file, tgt_file)")
        split = read_parallel_files(path[0], path[1])
        train, valid, test = _split_parallel(split.src, split.tgt, valid_size, test_size, split_seed) \
            if valid_size or test_size else (split, ParallelSplit([], []), ParallelSplit([], []))
        return ParallelCorpus(train, valid, test, src_lang=src or "src", tgt_lang=tgt or "tgt",
                              name=f"{path[0]}+{path[1]}")
    path = Path(path)
    if path.is_dir():
        _fixed_splits(str(path), valid_size, test_size)
        return load_folder(path, src=src, tgt=tgt)
    if not path.exists():
        raise SeqkitError("no such corpus file, and it is not a registered corpus name", path=path,
                          fix=f"{suggest(str(path))}give an existing path or one of: {', '.join(corpus_names())}")
    if columns is not None or _is_tsv(path):
        cols = tuple(columns) if columns is not None else (0, 1)
        if len(cols) == 1:
            lines = Lines(read_tsv(path, cols)[0])
            return LMCorpus(lines, name=str(path))
        s, t = read_tsv(path, cols[:2])
        train, valid, test = _split_parallel(s, t, valid_size, test_size, split_seed)
        return ParallelCorpus(train, valid, test, src_lang=src or "src", tgt_lang=tgt or "tgt", name=str(path))
    lines = read_text_file(path)
    if valid_size or test_size:
        tr, va, te = split_by_seed(len(lines), valid_size, test_size, split_seed)
        return LMCorpus(Lines(_take(lines, tr)), Lines(_take(lines, va)), Lines(_take(lines, te)), name=str(path))
    return LMCorpus(lines, name=str(path))


def load(name_or_path: str | PathLike | Sequence[PathLike], *, src: str | None = None, tgt: str | None = None,
         columns: Sequence[int] | None = None, split_seed: int = 0, valid_size: int = 0, test_size: int = 0,
         config: str | None = None, **hub_options):
    """Load a corpus: a registered name, ``hf:NAME`` (Hugging Face ``datasets``), a ``datasets.Dataset`` or
    ``DatasetDict`` object, a CSV/JSON/Parquet file (read by ``datasets``: columns ``src``/``tgt`` named by
    language, a ``translation`` column, or ``text``), or local text files.

    >>> corpus = load("seqkit-en-fr")                    # doctest: +SKIP
    >>> corpus.train.src[0], corpus.train.tgt[0]         # doctest: +SKIP
    >>> load("multi30k", src="de", tgt="en")             # doctest: +SKIP
    >>> load("hf:wmt14", config="de-en", src="de", tgt="en")   # doctest: +SKIP
    >>> load("pairs.tsv", columns=(0, 1), valid_size=500) # doctest: +SKIP
    >>> load("pairs.csv", src="de", tgt="en")            # doctest: +SKIP
    >>> load(datasets.load_dataset("wmt16", "de-en"), src="de", tgt="en")   # doctest: +SKIP

    ``split_seed`` fixes the train/valid/test split of corpora that ship as one file (fra-eng,
    cmn-eng, and local files with ``valid_size``/``test_size``). ``valid_size``/``test_size`` hold out
    that many lines (pairs) of a corpus that has only a training part -- a text, TSV or CSV/JSON file, a
    pair of files, a ``datasets`` object or hub corpus with a train split only -- and replace fra-eng's
    and cmn-eng's held-out sizes; a corpus with its own valid/test splits refuses them, as does a
    request that would leave no training line (one line each, never silently ignored).
    """
    from seqkit.data import hub

    held_out = {"valid_size": valid_size, "test_size": test_size, "split_seed": split_seed}
    if hub.is_dataset(name_or_path):
        return hub.from_datasets(name_or_path, src=src, tgt=tgt, **held_out, **hub_options)
    if isinstance(name_or_path, str) and name_or_path.startswith("hf:"):
        return hub.load_hub(name_or_path[3:], config=config, src=src, tgt=tgt, **held_out, **hub_options)
    if hub.is_table_file(name_or_path):
        return hub.load_hub(str(name_or_path), config=config, src=src, tgt=tgt, **held_out, **hub_options)
    if isinstance(name_or_path, str) and canonical(name_or_path) in CORPORA:
        return load_named(canonical(name_or_path), src=src, tgt=tgt, split_seed=split_seed,
                          valid_size=valid_size, test_size=test_size)
    return load_path(name_or_path, src=src, tgt=tgt, columns=columns, valid_size=valid_size,
                     test_size=test_size, split_seed=split_seed)
