"""The model folder: what a trained translation system is on disk, written and read in one place.

A trained system is a *model folder* (``RUN_DIR/model/``, written whole by :func:`save_model_dir`):
``spm.model`` (joint sentencepiece), ``model.json`` (architecture, sizes, languages and the SHA-256
of the tokenizer it was trained with), ``model.safetensors`` (the weights, best by validation BLEU).
Decode settings are not part of it: whoever decodes chooses them
(:class:`~seqkit.seq2seq.decoding.DecodeSettings`).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch

from seqkit.errors import SeqkitError
from seqkit.io import copy_file_atomic, save_json, sha256_file
from seqkit.text.pretokenize import join_cjk, pretokenizer


def model_dir(path: str | os.PathLike) -> Path:
    """The model folder of a run directory (``path/model``) or ``path`` itself when it is one."""
    path = Path(path)
    if not path.is_dir():
        raise SeqkitError("run directory not found", path=path,
                          fix="give the run_dir of a finished nmt_transformer / nmt_rnn_attention run")
    folder = path / "model" if (path / "model").is_dir() else path
    for name in ("model.json", "spm.model", "model.safetensors"):
        if not (folder / name).is_file():
            raise SeqkitError(f"{name} missing: not a translation run, or training has not finished", path=folder,
                              fix="run `seqkit recipe run nmt_transformer run_dir=...` to the end first")
    return folder


def save_model_dir(folder: str | os.PathLike, model_cfg: dict[str, Any], vocab_size: int,
                   tokenizer_file: str | os.PathLike, weights: str | os.PathLike | dict[str, torch.Tensor],
                   **info: Any) -> None:
    """Write a model folder: ``model.safetensors`` (a copy of the ``weights`` file, or a state dict),
    ``spm.model`` (a copy of ``tokenizer_file``), ``model.json`` (``model_cfg``, ``vocab_size``, the
    tokenizer's SHA-256 and ``info`` such as languages). Write it into a fresh folder (for example
    :func:`seqkit.io.atomic_dir`) so the three always belong together."""
    from seqkit.train.checkpoint import save_weights

    folder = Path(folder)
    copy_file_atomic(tokenizer_file, folder / "spm.model")
    if isinstance(weights, dict):
        save_weights(folder / "model.safetensors", weights)
    else:
        copy_file_atomic(weights, folder / "model.safetensors")
    save_json(folder / "model.json", {"model": model_cfg, "vocab_size": vocab_size,
                                      "tokenizer_sha256": sha256_file(folder / "spm.model"), **info})


# -- Chinese (the cutting itself is seqkit.text.pretokenize) ----------------------------------------
def model_pretokenize(info: dict[str, Any]) -> dict[str, str]:
    """The ``pretokenize`` sides a model folder's ``model.json`` records (older folders: ``zh_side``,
    which meant jieba)."""
    if info.get("pretokenize") is not None:
        return dict(info["pretokenize"])
    return {info["zh_side"]: "jieba"} if info.get("zh_side") else {}


def side_functions(pretokenize: dict[str, str] | None) -> tuple[Any, Any]:
    """(source preprocess, target postprocess) for a model's ``pretokenize`` sides: a pretokenized
    source is cut the same way before encoding, a pretokenized target has the spaces taken out again."""
    pretokenize = pretokenize or {}
    pre = pretokenizer(pretokenize.get("src"))
    post = join_cjk if pretokenizer(pretokenize.get("tgt")) is not None else None
    return pre, post


class ModelFolder:
    """A model folder, opened through its one loader (:func:`open_model_folder`): ``path``, ``info``
    (the checked ``model.json``), and what translate, serve, average, ensembles and export build from
    it. Nothing large is read until asked for (:meth:`build_model`, :meth:`tokenizer`)."""

    def __init__(self, path: Path, info: dict[str, Any]) -> None:
        self.path, self.info = path, info

    @property
    def config(self) -> dict[str, Any]:
        return self.info["model"]

    @property
    def vocab_size(self) -> int:
        return self.info["vocab_size"]

    @property
    def weights(self) -> Path:
        return self.path / "model.safetensors"

    @property
    def tokenizer_sha256(self) -> str:
        return sha256_file(self.path / "spm.model")

    def tokenizer(self) -> Any:
        from seqkit.text import SentencePieceTokenizer

        tok = SentencePieceTokenizer.load(self.path / "spm.model")
        if len(tok) != self.vocab_size:
            raise SeqkitError(f"spm.model has {len(tok)} pieces but model.json's vocab_size is {self.vocab_size}",
                              path=self.path, fix="keep the files of one model folder together, or re-run training")
        return tok

    def build_model(self, weights: str | os.PathLike | None = None) -> torch.nn.Module:
        """The model ``model.json`` describes, with ``weights`` (default: the folder's) loaded."""
        from seqkit.seq2seq.presets import build_model
        from seqkit.train.checkpoint import load_weights

        try:
            model = build_model(self.config, self.vocab_size)
        except (SeqkitError, KeyError, TypeError, ValueError) as exc:
            raise SeqkitError(f"model.json describes no model seqkit can build ({exc})", path=self.path / "model.json",
                              fix="re-run the recipe's train stage (force=true)") from None
        path = Path(weights) if weights is not None else self.weights
        try:
            model.load_state_dict(load_weights(path))
        except RuntimeError as exc:
            raise SeqkitError(f"weights do not fit model.json ({str(exc).splitlines()[0]})", path=path,
                              fix="use the weights written by this run") from None
        return model

    def side_functions(self) -> tuple[Any, Any]:
        return side_functions(model_pretokenize(self.info))


def open_model_folder(path: str | os.PathLike) -> ModelFolder:
    """The model folder of a run (``RUN/model``) or a model folder itself, its ``model.json`` checked
    and its tokenizer the one the weights were trained with."""
    from seqkit.io import load_json

    folder = model_dir(path)
    info = load_json(folder / "model.json")
    if not isinstance(info, dict) or not isinstance(info.get("model"), dict) or "vocab_size" not in info:
        raise SeqkitError("model.json lacks 'model' or 'vocab_size'", path=folder / "model.json",
                          fix="re-run the recipe's train stage (force=true)")
    out = ModelFolder(folder, info)
    recorded, actual = info.get("tokenizer_sha256"), out.tokenizer_sha256
    if recorded is not None and recorded != actual:
        raise SeqkitError(f"spm.model is not the tokenizer these weights were trained with (sha256 "
                          f"{actual[:12]}, model.json records {recorded[:12]})", path=folder,
                          fix="keep the files of one model folder together, or re-run training")
    return out


def check_same_tokenizer(folders: list[ModelFolder], what: str) -> None:
    """Models combined (``what``: an ensemble, an average) must share one tokenizer and vocabulary."""
    first = folders[0]
    for other in folders[1:]:
        if other.tokenizer_sha256 != first.tokenizer_sha256 or other.vocab_size != first.vocab_size:
            raise SeqkitError(f"this model's tokenizer differs from {first.path}'s: {what} needs one tokenizer "
                              "and vocabulary", path=other.path, fix="combine runs trained with the same spm.model")
