"""Hugging Face ``datasets`` corpora behind the same interface as the named ones.

``load("hf:wmt14", config="de-en", src="de", tgt="en")`` loads a hub dataset (Arrow files,
memory-mapped, cached by ``datasets`` in its own cache) and returns a :class:`ParallelCorpus` or an
:class:`LMCorpus`. The name may also be a local folder written by ``Dataset(Dict).save_to_disk`` or a
folder/file of JSON, CSV or text that ``datasets.load_dataset`` reads, so hub pipelines can be tested
without the network.

Columns understood: a ``translation`` column of ``{lang: text}`` dicts (the hub's translation
datasets), or ``src``/``tgt`` columns named by language; for language modelling, a ``text`` column.
Hub split names map to seqkit's: ``train``; ``validation``/``valid``/``dev`` -> ``valid``; ``test``.
"""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path

from seqkit.data.corpus import Lines, LMCorpus, ParallelCorpus, ParallelSplit
from seqkit.data.registry import HUB_CORPORA
from seqkit.errors import SeqkitError

SPLIT_NAMES = {"train": "train", "validation": "valid", "valid": "valid", "dev": "valid", "test": "test"}


def resolve_hub_id(name: str, config: str | None, src: str | None, tgt: str | None) -> tuple[str, str | None]:
    """Registered short names (``wmt14``) -> hub id and a config built from the language pair."""
    if name not in HUB_CORPORA:
        return name, config
    hub_id, pattern, _ = HUB_CORPORA[name]
    if config is None and src and tgt:
        nonen = src if tgt == "en" else tgt
        a, b = sorted((src, tgt))
        config = pattern.format(src=src, tgt=tgt, nonen=nonen, a=a, b=b)
    return hub_id, config


def open_dataset(name: str, config: str | None, **options):
    """A ``save_to_disk`` folder, a local JSON/CSV/Parquet file or a hub dataset, through ``datasets``
    (``options`` go to ``load_dataset``, e.g. ``streaming=True``); failures are one :class:`SeqkitError`."""
    import datasets

    path = Path(name)
    try:
        with _progress_bars_on_a_terminal_only(datasets):
            return _open(datasets, path, name, config, **options)
    except (FileNotFoundError, ConnectionError, ValueError, OSError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise SeqkitError(f"hub corpus {name!r} (config {config!r}) could not be loaded: {first}",
                          fix="check the name and config on huggingface.co/datasets, go online once so "
                              "`datasets` caches it, or pass a folder written by save_to_disk") from None


@contextlib.contextmanager
def _progress_bars_on_a_terminal_only(datasets):
    """``datasets``' progress bars ("Generating train split ...", carriage returns and all) only when
    stderr is a terminal: redirected to a file, a pipe or a run's log they would be noise."""
    quiet = not sys.stderr.isatty() and datasets.is_progress_bar_enabled()
    if quiet:
        datasets.disable_progress_bars()
    try:
        yield
    finally:
        if quiet:
            datasets.enable_progress_bars()


def _open(datasets, path: Path, name: str, config: str | None, **options):
    if path.is_dir() and ((path / "dataset_dict.json").is_file() or (path / "dataset_info.json").is_file()
                          or (path / "state.json").is_file()):
        return datasets.load_from_disk(str(path))
    builder = _file_builder(path)
    if builder is not None:
        return datasets.load_dataset(builder, data_files=str(path), **options)
    return datasets.load_dataset(name, config, **options)


#: file suffix -> the ``datasets`` builder that reads it (``.gz`` and friends are read too)
FILE_BUILDERS = {".json": "json", ".jsonl": "json", ".csv": "csv", ".parquet": "parquet"}


def _file_builder(path: Path) -> str | None:
    suffixes = [s for s in path.suffixes if s not in (".gz", ".bz2", ".xz", ".zst")]
    return FILE_BUILDERS.get(suffixes[-1]) if path.is_file() and suffixes else None


def is_table_file(path) -> bool:
    """A CSV, JSON (lines) or Parquet file, read through ``datasets``."""
    return isinstance(path, (str, Path)) and _file_builder(Path(path)) is not None


def is_dataset(obj) -> bool:
    """A ``datasets.Dataset`` or ``DatasetDict`` (without importing ``datasets`` when it is not loaded)."""
    import sys

    datasets = sys.modules.get("datasets")
    return datasets is not None and isinstance(obj, (datasets.Dataset, datasets.DatasetDict))


def _as_dict(ds) -> dict:
    import datasets

    if isinstance(ds, datasets.DatasetDict):
        return dict(ds)
    return {"train": ds}


def load_hub(name: str, *, config: str | None = None, src: str | None = None, tgt: str | None = None,
             text_column: str = "text", valid_size: int = 0, test_size: int = 0, split_seed: int = 0, **options):
    """Load a Hugging Face dataset as a seqkit corpus (see the module docstring); ``options`` go to
    ``datasets.load_dataset`` (``data_files=``, ``revision=`` ...); held-out sizes as
    :func:`from_datasets`."""
    hub_id, config = resolve_hub_id(name, config, src, tgt)
    shown = name if is_table_file(name) or Path(name).exists() else f"hf:{name}"
    return from_datasets(open_dataset(hub_id, config, **options), name=shown, src=src, tgt=tgt,
                         text_column=text_column, valid_size=valid_size, test_size=test_size, split_seed=split_seed)


def from_datasets(ds, *, name: str = "dataset", src: str | None = None, tgt: str | None = None,
                  text_column: str = "text", valid_size: int = 0, test_size: int = 0, split_seed: int = 0):
    """A ``datasets.Dataset`` (all train) or ``DatasetDict`` (its train/validation/test splits) as a
    seqkit corpus: parallel with ``src`` and ``tgt``, else language modelling from ``text_column``.
    ``valid_size``/``test_size`` hold out that many rows of the train split, by ``split_seed``
    (:func:`seqkit.data.split_by_seed`), when the dataset has no split of that kind; one it has is
    refused (one line), never ignored."""
    splits_in = _as_dict(ds)
    splits: dict[str, object] = {}
    columns: list[str] = []
    for hub_split, ds in splits_in.items():
        split = SPLIT_NAMES.get(hub_split)
        if split is None:
            continue
        columns = list(ds.column_names)
        if src and tgt:
            splits[split] = _parallel_split(ds, src, tgt, name)
        elif text_column in ds.column_names:
            splits[split] = Lines(ds[text_column])
        else:
            raise SeqkitError(f"hub corpus {name!r} has columns {columns}, no {text_column!r}",
                              fix="pass src= and tgt= for a translation dataset, or text_column=")
    if "train" not in splits:
        raise SeqkitError(f"hub corpus {name!r} has no train split (found {sorted(splits_in)})",
                          fix="choose a dataset with a train split")
    if valid_size or test_size:
        splits = _hold_out(splits, name, valid_size, test_size, split_seed, parallel=bool(src and tgt))
    if src and tgt:
        empty = ParallelSplit([], [])
        return ParallelCorpus(splits["train"], splits.get("valid", empty), splits.get("test", empty),
                              src_lang=src, tgt_lang=tgt, name=name)
    return LMCorpus(splits["train"], splits.get("valid", Lines()), splits.get("test", Lines()), name=name)


def _hold_out(splits: dict, name: str, valid_size: int, test_size: int, seed: int, parallel: bool) -> dict:
    from seqkit.data.corpus import _split_parallel, _take, split_by_seed

    has = [s for s, n in (("valid", valid_size), ("test", test_size)) if n and s in splits]
    if has:
        raise SeqkitError(f"{name} has its own {' and '.join(has)} split: valid_size/test_size would not be used",
                          fix=f"drop {' and '.join(f'{s}_size' for s in has)}")
    train = splits["train"]
    if parallel:
        tr, va, te = _split_parallel(train.src, train.tgt, valid_size, test_size, seed)
    else:
        lines = list(train)
        tr, va, te = (Lines(_take(lines, i)) for i in split_by_seed(len(lines), valid_size, test_size, seed))
    return {**splits, "train": tr, **({"valid": va} if valid_size else {}), **({"test": te} if test_size else {})}


def _parallel_split(ds, src: str, tgt: str, name: str) -> ParallelSplit:
    if "translation" in ds.column_names:
        rows = ds["translation"]
        if rows and (src not in rows[0] or tgt not in rows[0]):
            raise SeqkitError(f"hub corpus {name!r} translates {sorted(rows[0])}, not {src}->{tgt}",
                              fix="choose src and tgt among those languages (or another config=)")
        return ParallelSplit([r[src] for r in rows], [r[tgt] for r in rows])
    if src in ds.column_names and tgt in ds.column_names:
        return ParallelSplit(list(ds[src]), list(ds[tgt]))
    raise SeqkitError(f"hub corpus {name!r} has columns {ds.column_names}: no 'translation' and no "
                      f"{src!r}/{tgt!r} columns", fix="choose src and tgt that name its columns")
