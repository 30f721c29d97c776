"""The CTranslate2 export folder: what ``seqkit export ct2`` records in it, and its one loader.

An export folder holds CTranslate2's files (``model.bin``, ``config.json``, the vocabulary it wrote:
``shared_vocabulary.json``, or ``.txt``, or source and target files) beside seqkit's ``spm.model`` and
``seqkit.json``. ``seqkit.json`` is the model folder's ``model.json`` (:data:`MODEL_JSON`) plus where
the export came from (:data:`SEQKIT_JSON`):

* ``ct2_quantization``: the weight type CTranslate2 stored;
* ``source``: the model folder it was made from (``model_folder``, absolute) and the SHA-256 and size
  of that folder's ``model.safetensors`` at the time (``weights_sha256``, ``weights_size``);
* ``files``: the size and SHA-256 of the ``model.bin`` written, and the SHA-256 of ``vmap.txt`` (a
  vocabulary shortlist, ``seqkit export ct2 --vmap``) when there is one.

:func:`open_export` is the only way in (``CT2Translator``, ``seqkit translate/serve --engine ct2``,
``GET /info`` of such a server). It refuses, in one line naming the file: a missing file; a
``seqkit.json`` outside its schema; a ``model.bin`` or ``vmap.txt`` whose size or SHA-256 is not the
recorded one, or a ``vmap.txt`` the export did not write (a
damaged or replaced file is never handed to CTranslate2); an ``spm.model`` other than the one the
model was trained with (a swapped tokenizer would translate into fluent garbage); a vocabulary that
is not the tokenizer's pieces in id order; and a *stale* export: when the export sits in a run
(``RUN/ct2``) or its recorded model folder still exists, that folder's ``model.safetensors`` must
still be the weights it was made from -- otherwise the message gives the command that rebuilds it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from seqkit.artifacts import Choice, Int, ListOf, Obj, Sha256, Str, read_json
from seqkit.errors import SeqkitError
from seqkit.io import file_stamp, sha256_file
from seqkit.seq2seq.export import CT2_WEIGHTS, QUANTIZATIONS, RUN_SUBDIR
from seqkit.seq2seq.model_folder import MAX_TOKENIZER_BYTES, MAX_VOCAB, MODEL_JSON, ModelFolder
from seqkit.seq2seq.presets import config_problems
from seqkit.seq2seq.shortlist import VMAP_FILE

#: ``seqkit.json``: the model folder's ``model.json`` and where the export came from.
SEQKIT_JSON = Obj(fields={
    **MODEL_JSON.fields,
    "ct2_quantization": Choice(*QUANTIZATIONS, required=True),
    "source": Obj(required=True, fields={
        "model_folder": Str(required=True, max_len=4096),
        "weights_sha256": Sha256(required=True),
        "weights_size": Int(required=True, lo=0),
    }),
    "files": Obj(required=True, fields={
        CT2_WEIGHTS: Obj(required=True, fields={"size": Int(required=True, lo=0), "sha256": Sha256(required=True)}),
        VMAP_FILE: Obj(fields={"sha256": Sha256(required=True)}),
    }),
})

#: The vocabulary files CTranslate2 writes: one shared file, or one per side (JSON lists, or text).
VOCABULARIES = (("shared_vocabulary.json",), ("shared_vocabulary.txt",),
                ("source_vocabulary.json", "target_vocabulary.json"),
                ("source_vocabulary.txt", "target_vocabulary.txt"))
_MAX_VOCAB_BYTES = 64 << 20


def export_record(model_folder: ModelFolder, out: Path, quantization: str, weights_stamp: dict[str, Any]) -> dict:
    """What ``seqkit.json`` holds for an export written into ``out`` (its ``model.bin`` already
    there) from ``model_folder``, whose ``model.safetensors`` had ``weights_stamp``
    (:func:`seqkit.io.file_stamp`, taken before the weights were read)."""
    model_bin = file_stamp(out / CT2_WEIGHTS)
    files = {CT2_WEIGHTS: {"size": model_bin["size"], "sha256": model_bin["sha256"]}}
    if (out / VMAP_FILE).is_file():
        files[VMAP_FILE] = {"sha256": sha256_file(out / VMAP_FILE)}
    return {**model_folder.info, "ct2_quantization": quantization,
            "source": {"model_folder": os.path.abspath(model_folder.path), "weights_sha256": weights_stamp["sha256"],
                       "weights_size": weights_stamp["size"]},
            "files": files}


def rebuild_command(folder: Path, source: Path, quantization: str) -> str:
    """The ``seqkit export ct2`` command that writes this export again from ``source``."""
    q = f" --quantization {quantization}" if quantization != "float32" else ""
    if folder.name == RUN_SUBDIR and source.parent.resolve() == folder.parent.resolve():
        return f"seqkit export ct2 --run {folder.parent}{q}"
    return f"seqkit export ct2 --run {source} -o {folder} --force{q}"


def find_export(path: str | os.PathLike) -> Path | None:
    """The export folder ``path`` is, or the one in a run directory (``RUN/ct2``); None if neither
    holds CTranslate2's ``model.bin`` or seqkit's ``seqkit.json``."""
    path = Path(path)
    for folder in (path, path / RUN_SUBDIR):
        if any((folder / name).is_file() for name in (CT2_WEIGHTS, "seqkit.json")):
            return folder
    return None


@dataclass
class ExportFolder:
    """A checked export folder: ``path``, ``info`` (its ``seqkit.json``), ``vocabulary`` (the pieces
    CTranslate2 reads, in id order) and ``source`` (the model folder whose current weights it was
    checked against, or None when that folder is not there)."""

    path: Path
    info: dict[str, Any]
    vocabulary: list[str]
    source: Path | None

    @property
    def vmap(self) -> Path | None:
        """The export's vocabulary shortlist (``vmap.txt``, checked by :func:`open_export`), or None."""
        return self.path / VMAP_FILE if VMAP_FILE in self.info["files"] else None

    @property
    def vocab_size(self) -> int:
        return self.info["vocab_size"]

    @property
    def quantization(self) -> str:
        return self.info["ct2_quantization"]

    def tokenizer(self) -> Any:
        """The export's ``spm.model``, whose pieces are CTranslate2's vocabulary."""
        from seqkit.text import SentencePieceTokenizer

        tok = SentencePieceTokenizer.load(self.path / "spm.model")
        pieces = tok.pieces()
        if pieces != self.vocabulary:
            i = next((i for i, (a, b) in enumerate(zip(pieces, self.vocabulary)) if a != b), min(len(pieces),
                                                                                               len(self.vocabulary)))
            raise SeqkitError(f"spm.model's pieces are not CTranslate2's vocabulary ({len(pieces)} pieces, "
                              f"{len(self.vocabulary)} in the vocabulary; first difference at id {i})",
                              path=self.path, fix=self.fix)
        return tok

    @property
    def fix(self) -> str:
        source = self.source or Path(self.info["source"]["model_folder"])
        return f"export again: {rebuild_command(self.path, source, self.quantization)}"


def open_export(path: str | os.PathLike) -> ExportFolder:
    """The CTranslate2 export folder ``path`` is, or the one in a run directory (``RUN/ct2``), checked
    whole (see the module docstring) before CTranslate2 reads a byte of it."""
    folder = find_export(path)
    if folder is None:
        raise SeqkitError("no CTranslate2 export here (model.bin and seqkit.json)", path=path,
                          fix="run `seqkit export ct2 --run RUN_DIR` first, or give the folder it wrote")
    if folder.name == RUN_SUBDIR and (folder.parent / "model").is_dir():  # a run's own export
        generic_fix = f"export again: seqkit export ct2 --run {folder.parent}"
    else:
        generic_fix = f"export again: seqkit export ct2 --run RUN_DIR -o {folder} --force"
    for name in (CT2_WEIGHTS, "config.json", "spm.model", "seqkit.json"):
        if not (folder / name).is_file():
            raise SeqkitError(f"{name} missing: not a complete CTranslate2 export", path=folder, fix=generic_fix)
    info = read_json(folder / "seqkit.json", SEQKIT_JSON, fix=generic_fix)
    found = config_problems(info["model"])
    if found:
        raise SeqkitError(found[0], path=folder / "seqkit.json", fix=generic_fix)
    source = _source(folder, info)
    fix = f"export again: {rebuild_command(folder, source or Path(info['source']['model_folder']), info['ct2_quantization'])}"
    read_json(folder / "config.json", Obj(extra=True), fix=fix)  # CTranslate2's own: an object, sanely sized
    spm = folder / "spm.model"
    if spm.stat().st_size > MAX_TOKENIZER_BYTES or sha256_file(spm) != info["tokenizer_sha256"]:
        raise SeqkitError("spm.model is not the tokenizer this model was trained with (its SHA-256 differs from "
                          "seqkit.json's tokenizer_sha256)", path=spm, fix=f"put the run's spm.model back, or {fix}")
    for name in (CT2_WEIGHTS, VMAP_FILE):
        recorded = info["files"].get(name)
        if recorded is None:
            if (folder / name).exists():  # CT2_WEIGHTS is required by the schema
                raise SeqkitError(f"{name} was not exported with this model (seqkit.json does not record it); "
                                  "CTranslate2 would use it", path=folder / name,
                                  fix=f"remove it, or export with --vmap FILE: {fix.removeprefix('export again: ')}")
            continue
        if not (folder / name).is_file():
            raise SeqkitError(f"{name} missing: seqkit.json records one", path=folder, fix=fix)
        size = file_stamp(folder / name, with_hash=False)["size"]
        if size != recorded.get("size", size) or sha256_file(folder / name) != recorded["sha256"]:
            was = f", {recorded['size']:,} recorded" if "size" in recorded else ""
            raise SeqkitError(f"damaged: not the {name} that was exported ({size:,} bytes{was}; or its SHA-256 "
                              "differs)", path=folder / name, fix=fix)
    vocabulary = _vocabulary(folder, info["vocab_size"], fix)
    if source is not None:
        weights = source / "model.safetensors"
        now = file_stamp(weights, with_hash=False)
        was = info["source"]
        if now["size"] != was["weights_size"] or sha256_file(weights) != was["weights_sha256"]:
            raise SeqkitError(f"stale export: {weights} changed since this export was made from it", path=folder,
                              fix=fix)
    return ExportFolder(folder, info, vocabulary, source)


def _source(folder: Path, info: dict[str, Any]) -> Path | None:
    """The model folder an export is checked against: the run's own ``model/`` when the export is a
    run's ``ct2/``, else the recorded model folder if it still exists; None when neither is there."""
    if folder.name == RUN_SUBDIR and (folder.parent / "model" / "model.safetensors").is_file():
        return folder.parent / "model"
    recorded = Path(info["source"]["model_folder"])
    return recorded if (recorded / "model.safetensors").is_file() else None


def _vocabulary(folder: Path, vocab_size: int, fix: str) -> list[str]:
    """The pieces of CTranslate2's vocabulary file(s); both sides must be the joint vocabulary."""
    names = next((names for names in VOCABULARIES if all((folder / n).is_file() for n in names)), None)
    if names is None:
        raise SeqkitError("shared_vocabulary.json missing (nor any vocabulary file CTranslate2 writes): not a "
                          "complete CTranslate2 export", path=folder, fix=fix)
    sides = []
    for name in names:
        path = folder / name
        if name.endswith(".json"):
            pieces = read_json(path, ListOf(item=Str(max_len=1024), max_len=MAX_VOCAB), fix=fix,
                               max_bytes=_MAX_VOCAB_BYTES)
        else:
            from seqkit.io import read_text

            if path.stat().st_size > _MAX_VOCAB_BYTES:
                raise SeqkitError(f"more than {_MAX_VOCAB_BYTES:,} bytes", path=path, fix=fix)
            pieces = read_text(path).split("\n")
            pieces = pieces[:-1] if pieces and pieces[-1] == "" else pieces
        if len(pieces) != vocab_size:
            raise SeqkitError(f"{len(pieces):,} pieces, but seqkit.json's vocab_size is {vocab_size:,}", path=path,
                              fix=fix)
        sides.append(pieces)
    if len(sides) == 2 and sides[0] != sides[1]:
        raise SeqkitError("source and target vocabularies differ: seqkit exports one joint vocabulary",
                          path=folder / names[1], fix=fix)
    return sides[0]
