"""Checkpoints: model weights in safetensors, trainer state with ``torch.save``, written atomically.

A checkpoint is two files in ``RUN_DIR/checkpoints/``:

- ``step-00001234.safetensors``: the model's ``state_dict`` (safe to load from anyone);
- ``step-00001234.state.pt``: optimizer, schedule, RNG states, data position, best-N list -- our own
  file, read back with ``torch.load(weights_only=True)`` so nothing is ever unpickled.

Both are written with :func:`seqkit.io.atomic_write`; only then is ``last.json`` (the pointer to the
newest complete pair) replaced, and only then are older pairs deleted. A run killed at any moment
therefore leaves ``last.json`` pointing at a complete checkpoint and loses at most one checkpoint
interval. The best-N weights by validation score are kept beside them (``best-step-*.safetensors``,
listed best first in ``best.json``), and ``best.safetensors`` is always a copy of the best one.

``trained_with.json`` beside them records the SHA-256 of the files the weights only make sense with
(the tokenizer model, the vocabulary): :func:`check_trained_with` writes it when a run starts and
refuses a resume whose files are not those.
"""

from __future__ import annotations

import io
import os
import random
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import save as st_save

from seqkit.artifacts import Int, ListOf, Number, Obj, Str, inside, problems, read_json
from seqkit.errors import SeqkitError
from seqkit.io import copy_file_atomic, load_json, save_json, sha256_file, write_bytes_atomic

PathLike = str | os.PathLike


def save_weights(path: PathLike, state_dict: Mapping[str, torch.Tensor],
                 metadata: dict[str, str] | None = None) -> None:
    """Write tensors as safetensors, atomically. Tied (shared-storage) tensors are stored once each."""
    # safetensors refuses tensors that share memory (tied embeddings): clone makes them independent;
    # loading with ``load_state_dict`` re-ties them because the module shares the Parameter.
    tensors = {k: v.detach().to("cpu").contiguous().clone() for k, v in state_dict.items()}
    write_bytes_atomic(path, st_save(tensors, metadata=metadata))


def load_weights(path: PathLike, *, finite: bool = True) -> dict[str, torch.Tensor]:
    """Read a safetensors file. A damaged file (truncated, garbage, not safetensors) is one clear
    :class:`SeqkitError` naming it; so is, with ``finite``, a floating-point tensor holding a NaN or an
    infinity (named: a model that diverged would translate into nothing, or garbage)."""
    from safetensors import safe_open

    path = Path(path)
    if not path.is_file():
        raise SeqkitError("checkpoint not found", path=path, fix="check the run directory")
    try:
        with safe_open(os.fspath(path), framework="pt") as fh:
            tensors = {name: fh.get_tensor(name) for name in fh.keys()}
    except (SafetensorError, ValueError, RuntimeError, OSError) as exc:
        raise SeqkitError(f"corrupt or truncated weights file ({_short(exc)})", path=path,
                          fix="delete it and resume from an earlier checkpoint, or retrain") from None
    if finite:
        for name, tensor in tensors.items():
            if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
                bad = int((~torch.isfinite(tensor)).sum())
                raise SeqkitError(f"tensor {name} holds {bad:,} NaN or infinite values", path=path,
                                  fix="use an earlier checkpoint (training diverged), or retrain with a lower lr")
    return tensors


def save_state(path: PathLike, state: dict[str, Any]) -> None:
    """Write trainer state (tensors, numbers, strings, lists, dicts) with ``torch.save``, atomically."""
    buffer = io.BytesIO()
    torch.save(state, buffer)
    write_bytes_atomic(path, buffer.getvalue())


def load_state(path: PathLike) -> dict[str, Any]:
    """Read trainer state with ``weights_only=True``; corruption raises one clear :class:`SeqkitError`."""
    path = Path(path)
    if not path.is_file():
        raise SeqkitError("trainer state not found", path=path, fix="check the run directory")
    try:
        return torch.load(io.BytesIO(path.read_bytes()), map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises RuntimeError, UnpicklingError, EOFError, zipfile errors...
        raise SeqkitError(f"corrupt or truncated trainer state ({_short(exc)})", path=path,
                          fix="delete it and resume from an earlier checkpoint, or retrain") from None


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0][:120]}" if text else type(exc).__name__


def rng_state() -> dict[str, Any]:
    """The random generators' states (torch, Python, numpy, CUDA), as a resumable checkpoint keeps them."""
    np_state = np.random.get_state()
    state = {"torch": torch.get_rng_state(), "python": random.getstate(),
             "numpy": [np_state[0], torch.from_numpy(np_state[1].astype(np.int64)), *np_state[2:]]}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    """Restore what :func:`rng_state` saved."""
    torch.set_rng_state(state["torch"])
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    name, keys, *rest = state["numpy"]
    np.random.set_state((name, keys.numpy().astype(np.uint32), *rest))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


class CheckpointManager:
    """The ``checkpoints/`` folder of a run: last checkpoint plus the best ``keep_best`` weights.

    Args:
        directory: where the files go (created on first save).
        keep_best: how many best-by-validation weight files to keep (0 keeps none).
        mode: ``"max"`` when a higher score is better (BLEU, accuracy), ``"min"`` for loss/perplexity.
    """

    def __init__(self, directory: PathLike, keep_best: int = 3, mode: str = "max", keep_last: int = 1) -> None:
        if mode not in ("max", "min"):
            raise SeqkitError(f"mode must be 'max' or 'min', got {mode!r}")
        self.dir = Path(directory)
        self.keep_best, self.mode = keep_best, mode
        self.keep_last = max(1, keep_last)  # the newest step-*.safetensors kept (for averaging the last N)
        self.best: list[dict[str, Any]] = []  # [{"step", "score", "file"}], best first

    # -- last -------------------------------------------------------------------------------------
    def save_last(self, step: int, weights: Mapping[str, torch.Tensor], state: dict[str, Any]) -> Path:
        """Write the pair for ``step``, point ``last.json`` at it, then delete older pairs."""
        self.dir.mkdir(parents=True, exist_ok=True)
        stem = f"step-{step:08d}"
        save_weights(self.dir / f"{stem}.safetensors", weights, {"step": str(step)})
        save_state(self.dir / f"{stem}.state.pt", {**state, "best": self.best})
        save_json(self.dir / "last.json", {"step": step, "weights": f"{stem}.safetensors",
                                           "state": f"{stem}.state.pt"})
        kept_weights = set(sorted(self.dir.glob("step-*.safetensors"))[-self.keep_last:])
        for old in self.dir.glob("step-*"):
            if not old.name.startswith(stem + ".") and old not in kept_weights:
                old.unlink(missing_ok=True)  # older trainer states always; weights beyond keep_last
        return self.dir / f"{stem}.safetensors"

    def has_last(self) -> bool:
        return (self.dir / "last.json").is_file()

    def load_last(self) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
        """The weights and trainer state that ``last.json`` points at."""
        weights_file, state_file = last_pointer(self.dir)
        weights = load_weights(weights_file)
        state = load_state(state_file)
        best = state.get("best", []) if isinstance(state, dict) else None
        found = problems(best, BEST_JSON, "best")
        if found:
            raise SeqkitError(found[0], path=state_file, fix=_REDO)
        for i, entry in enumerate(best):  # the best-N files it names are copied and deleted: inside only
            inside(self.dir, entry["file"], source=state_file, field_name=f"best[{i}].file", fix=_REDO)
        self.best = list(best)
        self._reconcile_best()
        return weights, state

    def _reconcile_best(self) -> None:
        """Make the best-N files agree with the list restored from the last checkpoint.

        A run killed after saving a new best but before its next checkpoint leaves a best file the
        resumed run does not know about; it is removed so the resumed run matches an uninterrupted one.
        One that had already deleted a listed file (pushed out of the best N) leaves an entry without
        its file; the entry goes (the replayed validations push it out again anyway).
        """
        self.best = [r for r in self.best if (self.dir / r["file"]).is_file()]
        known = {r["file"] for r in self.best}
        for path in self.dir.glob("best-step-*.safetensors"):
            if path.name not in known:
                path.unlink(missing_ok=True)
        if self.best and (self.dir / self.best[0]["file"]).is_file():
            copy_file_atomic(self.dir / self.best[0]["file"], self.dir / "best.safetensors")
        save_json(self.dir / "best.json", self.best)

    # -- best-N -----------------------------------------------------------------------------------
    def is_better(self, a: float, b: float) -> bool:
        return a > b if self.mode == "max" else a < b

    def update_best(self, step: int, score: float, weights: Mapping[str, torch.Tensor]) -> bool:
        """Keep ``weights`` if ``score`` makes the best-N list; returns whether it is the new best.

        A step already listed keeps its entry: a second score for it changes nothing (returns False).
        """
        if self.keep_best <= 0 or any(r["step"] == step for r in self.best):
            return False
        ranked = self.best + [{"step": step, "score": float(score), "file": None}]
        # Stable sort: on a tie the earlier checkpoint stays ahead.
        ranked.sort(key=lambda r: -r["score"] if self.mode == "max" else r["score"])
        kept, dropped = ranked[: self.keep_best], ranked[self.keep_best:]
        entry = next((r for r in kept if r["step"] == step and r["file"] is None), None)
        if entry is None:
            return False
        self.dir.mkdir(parents=True, exist_ok=True)
        entry["file"] = f"best-step-{step:08d}.safetensors"
        save_weights(self.dir / entry["file"], weights, {"step": str(step), "score": str(score)})
        new_best = kept[0] is entry
        if new_best:
            copy_file_atomic(self.dir / entry["file"], self.dir / "best.safetensors")
        save_json(self.dir / "best.json", kept)
        for r in dropped:
            if r["file"]:
                (self.dir / r["file"]).unlink(missing_ok=True)
        self.best = kept
        return new_best

    @property
    def best_path(self) -> Path | None:
        """``best.safetensors`` if any validation has run, else ``None``."""
        path = self.dir / "best.safetensors"
        return path if path.is_file() else None


TRAINED_WITH = "trained_with.json"


def check_trained_with(directory: PathLike, files: Mapping[str, PathLike], *, resume: bool,
                       write: bool = True) -> None:
    """Record, or on resume check, the files a run's checkpoints were trained with.

    ``files`` maps a name (``"spm.model"``) to the file the training reads now. A fresh run
    (``resume=False``) writes their SHA-256 to ``DIRECTORY/trained_with.json`` before its first
    checkpoint. A resume compares: a file whose hash differs from the recorded one is refused, in one
    line naming it -- weights trained with one tokenizer continued with another would train on
    scrambled ids without any error. Checkpoints from before this record existed get it now (what
    they were trained with cannot be known any more); a record that already matches is not rewritten.
    ``write=False`` (the other ranks under torchrun) checks without writing.
    """
    directory = Path(directory)
    record_path = directory / TRAINED_WITH
    now = {name: sha256_file(path) for name, path in files.items()}
    recorded: dict[str, Any] = {}
    if resume and record_path.is_file():
        recorded = load_json(record_path)
        if not isinstance(recorded, dict):
            raise SeqkitError("malformed record of the tokenizer files (expected {name: sha256})",
                              path=record_path, fix="restore it from a copy of the run, or delete it to skip the check")
        for name, digest in now.items():
            if name in recorded and recorded[name] != digest:
                raise SeqkitError(f"{name} is not the one these checkpoints were trained with (sha256 "
                                  f"{str(recorded[name])[:12]}... recorded with them, {digest[:12]}... now)",
                                  path=files[name], fix=f"put the run's own {name} back, or start a new run "
                                  "(without resume=true) in another run_dir")
        if all(name in recorded for name in now):
            return
    if not write:
        return
    directory.mkdir(parents=True, exist_ok=True)
    save_json(record_path, {**recorded, **now})


def average_weights(paths: list[PathLike]) -> dict[str, torch.Tensor]:
    """The element-wise mean of several weight files of one model (checkpoint averaging, as
    fairseq's ``average_checkpoints``): accumulated in float64, returned in each tensor's dtype.
    Files with different tensor names or shapes are refused, naming the file."""
    if not paths:
        raise SeqkitError("no checkpoints to average", fix="give at least one .safetensors file")
    total: dict[str, torch.Tensor] = {}
    dtypes: dict[str, torch.dtype] = {}
    for i, path in enumerate(paths):
        weights = load_weights(path)
        if i == 0:
            total = {k: v.to(torch.float64) for k, v in weights.items()}
            dtypes = {k: v.dtype for k, v in weights.items()}
            continue
        if weights.keys() != total.keys() or any(v.shape != total[k].shape for k, v in weights.items()):
            raise SeqkitError("these weights are not of the same model as the first file", path=path,
                              fix="average checkpoints of one run")
        for k, v in weights.items():
            total[k] += v.to(torch.float64)
    return {k: (v / len(paths)).to(dtypes[k]) for k, v in total.items()}


def last_checkpoints(directory: PathLike, n: int | None = None) -> list[Path]:
    """The newest step weights a run kept (``keep_last``), newest first, at most ``n`` of them."""
    files = sorted(Path(directory).glob("step-*.safetensors"), reverse=True)
    if not files:
        raise SeqkitError("no step checkpoints here", path=directory, fix="give checkpoint files explicitly")
    return files[:n] if n else files


#: ``best.json``: the best-N weight files, best first (:class:`CheckpointManager` writes it).
BEST_JSON = ListOf(item=Obj(fields={"step": Int(required=True, lo=0), "score": Number(required=True),
                                    "file": Str(required=True, max_len=255)}), max_len=10_000)
#: ``last.json``: the newest complete checkpoint pair.
LAST_JSON = Obj(fields={"step": Int(required=True, lo=0), "weights": Str(required=True, max_len=255),
                        "state": Str(required=True, max_len=255)})
_REDO = "delete the run directory's train/checkpoints/ and retrain, or restore the file from a copy of the run"


def last_pointer(directory: PathLike) -> tuple[Path, Path]:
    """The weights and trainer-state files ``last.json`` points at, checked against :data:`LAST_JSON`,
    both inside ``directory``."""
    directory = Path(directory)
    pointer = read_json(directory / "last.json", LAST_JSON, fix=_REDO)
    return tuple(inside(directory, pointer[key], source=directory / "last.json", field_name=key, fix=_REDO)
                 for key in ("weights", "state"))


def best_checkpoints(directory: PathLike, n: int | None = None) -> list[Path]:
    """The best-N weight files a run kept (``best.json``, best first), at most ``n`` of them.

    ``best.json`` is checked against :data:`BEST_JSON`; each ``file`` must name a file inside
    ``directory`` (no absolute path, no ``..``, no link leading out) that exists."""
    directory = Path(directory)
    record = directory / "best.json"
    listing = read_json(record, BEST_JSON, fix=_REDO) if record.is_file() else []
    files = []
    for i, entry in enumerate(listing):
        path = inside(directory, entry["file"], source=record, field_name=f"[{i}].file", fix=_REDO)
        if not path.is_file():
            raise SeqkitError(f"[{i}].file: {entry['file']} is listed but missing", path=record, fix=_REDO)
        files.append(path)
    if not files:
        raise SeqkitError("no best checkpoints here (the run never validated)", path=directory,
                          fix="give checkpoint files explicitly")
    return files[:n] if n else files
