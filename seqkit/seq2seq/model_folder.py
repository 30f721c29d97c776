"""The model folder: what a trained translation system is on disk, written and read in one place.

A trained system is a *model folder* (``RUN_DIR/model/``, written whole by :func:`save_model_dir`):
``spm.model`` (joint sentencepiece), ``model.json`` (architecture, sizes, languages and the SHA-256
of the tokenizer it was trained with), ``model.safetensors`` (the weights, best by validation BLEU).
Decode settings are not part of it: whoever decodes chooses them
(:class:`~seqkit.seq2seq.decoding.DecodeSettings`).

:func:`open_model_folder` is its one loader; translate, serve, average, ensembles and export all open
a model folder through it. Before anything is allocated it checks, each refusal one line naming the
file and the field:

* ``model.json`` against :data:`MODEL_JSON` (types, ranges, every size bounded, no unknown field; the
  model's own fields are :data:`seqkit.seq2seq.presets.MODEL_SCHEMA`), and ``d_model % n_heads``;
* ``spm.model``: at most :data:`MAX_TOKENIZER_BYTES`, and the file whose SHA-256 ``model.json`` records;
* the weights (:meth:`ModelFolder.check_weights`): the safetensors *header* only, compared tensor by
  tensor with the shapes ``model.json`` implies (the model built on torch's ``meta`` device, which
  allocates nothing), so a ``model.json`` that asks for more than the file holds is refused before the
  model is built; then, when loaded, every value finite (a NaN or infinity is refused naming the tensor).

Weights from elsewhere (``--weights``, ``seqkit average``) carry the tokenizer they belong to where it
can be known (:func:`weights_tokenizer`), and a mix is refused.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from seqkit.artifacts import (
    Choice,
    Int,
    MapOf,
    Obj,
    Sha256,
    Str,
    check_json,
    compare_shapes,
    expected_shapes,
    read_json,
    safetensors_header,
)
from seqkit.errors import SeqkitError
from seqkit.io import copy_file_atomic, save_json, sha256_file
from seqkit.seq2seq.presets import MODEL_SCHEMA, config_problems
from seqkit.text.pretokenize import PRETOKENIZE, join_cjk, pretokenizer

if TYPE_CHECKING:  # imported where weights are read or a model is built: opening a folder does not need it
    import torch

#: The largest joint vocabulary a model folder may have (sentencepiece models are 8k-64k pieces).
MAX_VOCAB = 1 << 20
#: The largest ``spm.model`` read (an 8k-piece model is about 400 kB).
MAX_TOKENIZER_BYTES = 64 << 20

#: ``model.json``: what :func:`save_model_dir` writes and :func:`open_model_folder` accepts.
MODEL_JSON = Obj(fields={
    "model": MODEL_SCHEMA,
    "vocab_size": Int(required=True, lo=4, hi=MAX_VOCAB),  # <unk> <pad> <bos> <eos> at least
    "tokenizer_sha256": Sha256(required=True),
    "src": Str(null=True, max_len=64),
    "tgt": Str(null=True, max_len=64),
    "pretokenize": MapOf(null=True, key=Choice("src", "tgt"), value=Choice(*PRETOKENIZE), max_len=2),
    "zh_side": Choice("src", "tgt", None),  # folders from before ``pretokenize``: that side was jieba's
})

RETRAIN = "re-run the recipe's train stage (force=true)"
KEEP_TOGETHER = "keep the files of one model folder together, or re-run training"


def model_dir(path: str | os.PathLike) -> Path:
    """The model folder of a run directory (``path/model``) or ``path`` itself when it is one."""
    path = Path(path)
    if not path.is_dir():
        raise SeqkitError("run directory not found", path=path,
                          fix="give the run_dir of a finished nmt_transformer / nmt_rnn_attention run")
    folder = path / "model" if (path / "model").is_dir() else path
    for name in ("model.json", "spm.model", "model.safetensors"):
        if not (folder / name).is_file():
            raise SeqkitError(f"{name} missing: not a translation run, or training has not reached its first "
                              "validation yet", path=folder,
                              fix="wait for the run's first validation (the model folder is written then and kept "
                                  "current), or run `seqkit recipe run nmt_transformer run_dir=...` first")
    return folder


#: What ``--checkpoint`` names besides a file: the model folder's weights (the best so far, kept current
#: while the run trains) or the newest step checkpoint of a running or killed run.
CHECKPOINTS = ("best", "last")


def checkpoint_weights(run_dir: str | os.PathLike, checkpoint: str | os.PathLike | None) -> Path | None:
    """The weights file ``checkpoint`` names for the run ``run_dir``: ``None`` or ``"best"`` the model
    folder's own (None is returned: the folder's weights), ``"last"`` the newest step checkpoint
    (``RUN/train/checkpoints/last.json``, read through its checked pointer), anything else a file path."""
    if checkpoint is None or checkpoint == "best":
        return None
    if checkpoint == "last":
        from seqkit.train.checkpoint import last_pointer

        run = model_dir(run_dir)
        run = run.parent if run.name == "model" else run
        checkpoints = run / "train" / "checkpoints"
        if not (checkpoints / "last.json").is_file():
            raise SeqkitError("no step checkpoint in this run (train/checkpoints/last.json)", path=run,
                              fix="use --checkpoint best, or wait for the run's first checkpoint")
        return last_pointer(checkpoints)[0]
    path = Path(checkpoint)
    if not path.is_file():
        raise SeqkitError("checkpoint not found", path=path, fix=f"give a .safetensors file or one of {', '.join(CHECKPOINTS)}")
    return path


def save_model_dir(folder: str | os.PathLike, model_cfg: dict[str, Any], vocab_size: int,
                   tokenizer_file: str | os.PathLike, weights: str | os.PathLike | dict[str, torch.Tensor],
                   **info: Any) -> None:
    """Write a model folder: ``model.safetensors`` (a copy of the ``weights`` file, or a state dict),
    ``spm.model`` (a copy of ``tokenizer_file``), ``model.json`` (``model_cfg``, ``vocab_size``, the
    tokenizer's SHA-256 and ``info`` such as languages). Write it into a fresh folder (for example
    :func:`seqkit.io.atomic_dir`) so the three always belong together.

    What the loader would refuse is refused here, before anything is written: a ``model.json`` outside
    :data:`MODEL_JSON` (an unknown ``info`` key too) and weights of other shapes than the config's."""
    from seqkit.train.checkpoint import save_weights

    folder = Path(folder)
    record = {"model": model_cfg, "vocab_size": vocab_size, "tokenizer_sha256": sha256_file(tokenizer_file), **info}
    _check_model_json(record, folder / "model.json")
    expected = expected_shapes(lambda: _build(model_cfg, vocab_size))
    if isinstance(weights, dict):
        found = {k: (_DTYPES.get(str(v.dtype), str(v.dtype)), tuple(v.shape)) for k, v in weights.items()}
        compare_shapes(expected, found, folder / "model.safetensors", described_by="model.json", fix=RETRAIN)
    else:
        compare_shapes(expected, safetensors_header(weights, fix=RETRAIN)[0], weights, described_by="model.json",
                       fix=RETRAIN)
    copy_file_atomic(tokenizer_file, folder / "spm.model")
    if isinstance(weights, dict):
        save_weights(folder / "model.safetensors", weights)
    else:
        copy_file_atomic(weights, folder / "model.safetensors")
    save_json(folder / "model.json", record)


_DTYPES = {"torch.float32": "F32", "torch.float16": "F16", "torch.bfloat16": "BF16", "torch.float64": "F64"}


def _check_model_json(info: Any, path: Path) -> None:
    check_json(info, MODEL_JSON, path, fix=RETRAIN)
    found = config_problems(info["model"])
    if found:
        raise SeqkitError(found[0], path=path, fix=RETRAIN)


def _build(config: dict[str, Any], vocab_size: int) -> torch.nn.Module:
    from seqkit.seq2seq.presets import build_model

    return build_model(config, vocab_size)


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

    def __init__(self, path: Path, info: dict[str, Any], tokenizer_sha256: str) -> None:
        self.path, self.info, self.tokenizer_sha256 = path, info, tokenizer_sha256
        self._shapes: dict[str, tuple[int, ...]] | None = None

    @property
    def config(self) -> dict[str, Any]:
        return self.info["model"]

    @property
    def vocab_size(self) -> int:
        return self.info["vocab_size"]

    @property
    def weights(self) -> Path:
        return self.path / "model.safetensors"

    def pretokenize(self) -> dict[str, str]:
        return model_pretokenize(self.info)

    def tokenizer(self) -> Any:
        from seqkit.text import SentencePieceTokenizer

        tok = SentencePieceTokenizer.load(self.path / "spm.model")
        if len(tok) != self.vocab_size:
            raise SeqkitError(f"spm.model has {len(tok)} pieces but model.json's vocab_size is {self.vocab_size}",
                              path=self.path, fix=KEEP_TOGETHER)
        return tok

    def shapes(self) -> dict[str, tuple[int, ...]]:
        """``{tensor name: shape}`` of the weights ``model.json`` implies (nothing allocated)."""
        if self._shapes is None:
            try:
                self._shapes = expected_shapes(lambda: _build(self.config, self.vocab_size))
            except (SeqkitError, KeyError, TypeError, ValueError) as exc:
                raise SeqkitError(f"model.json describes no model seqkit can build ({exc})",
                                  path=self.path / "model.json", fix=RETRAIN) from None
        return self._shapes

    def check_weights(self, weights: str | os.PathLike | None = None) -> Path:
        """Refuse, from its header alone, a weights file (default: the folder's) that is not this
        model's: another tensor name or shape than ``model.json`` implies, or weights recorded as made
        with another tokenizer (:func:`weights_tokenizer`). Returns the file's path."""
        path = Path(weights) if weights is not None else self.weights
        fix = "use the weights written by this run" if weights is not None else RETRAIN
        found, _ = safetensors_header(path, fix=fix)
        compare_shapes(self.shapes(), found, path, described_by=f"{self.path.name}/model.json", fix=fix)
        if weights is not None:
            recorded, where = weights_tokenizer(path)
            if recorded is not None and recorded != self.tokenizer_sha256:
                raise SeqkitError(f"these weights were trained with another tokenizer than {self.path}'s spm.model "
                                  f"(sha256 {recorded[:12]}... in {where}, {self.tokenizer_sha256[:12]}... here)",
                                  path=path, fix="use weights of this run (or of runs sharing its spm.model)")
        return path

    def load_weights(self, weights: str | os.PathLike | None = None) -> dict[str, torch.Tensor]:
        """The checked weights (:meth:`check_weights`), every value finite."""
        from seqkit.train.checkpoint import load_weights

        return load_weights(self.check_weights(weights))

    def build_model(self, weights: str | os.PathLike | None = None) -> torch.nn.Module:
        """The model ``model.json`` describes, with ``weights`` (default: the folder's) loaded; the
        weights are checked against ``model.json`` before the model is built."""
        state = self.load_weights(weights)
        model = _build(self.config, self.vocab_size)
        try:
            model.load_state_dict(state)
        except RuntimeError as exc:  # kept as a guard: the header check above compares every tensor
            raise SeqkitError(f"weights do not fit model.json ({str(exc).splitlines()[0]})",
                              path=weights or self.weights, fix="use the weights written by this run") from None
        return model

    def side_functions(self) -> tuple[Any, Any]:
        return side_functions(self.pretokenize())


def open_model_folder(path: str | os.PathLike) -> ModelFolder:
    """The model folder of a run (``RUN/model``) or a model folder itself: ``model.json`` checked
    against :data:`MODEL_JSON`, ``spm.model`` the tokenizer the weights were trained with. The weights
    are checked when built (:meth:`ModelFolder.build_model`) or asked for (:meth:`ModelFolder.check_weights`)."""
    folder = model_dir(path)
    info = read_json(folder / "model.json", MODEL_JSON, fix=RETRAIN)
    _check_model_json(info, folder / "model.json")
    spm = folder / "spm.model"
    if spm.stat().st_size > MAX_TOKENIZER_BYTES:
        raise SeqkitError(f"{spm.stat().st_size:,} bytes, more than a sentencepiece model can be "
                          f"({MAX_TOKENIZER_BYTES:,})", path=spm, fix=KEEP_TOGETHER)
    recorded, actual = info["tokenizer_sha256"], sha256_file(spm)
    if recorded != actual:
        raise SeqkitError(f"spm.model is not the tokenizer these weights were trained with (sha256 "
                          f"{actual[:12]}, model.json records {recorded[:12]})", path=folder, fix=KEEP_TOGETHER)
    return ModelFolder(folder, info, actual)


def check_same_tokenizer(folders: list[ModelFolder], what: str) -> None:
    """Models combined (``what``: an ensemble, an average) must share one tokenizer, vocabulary and
    pre-tokenization (their ids must mean the same pieces of the same text)."""
    first = folders[0]
    for other in folders[1:]:
        if other.tokenizer_sha256 != first.tokenizer_sha256 or other.vocab_size != first.vocab_size:
            raise SeqkitError(f"this model's tokenizer differs from {first.path}'s: {what} needs one tokenizer "
                              "and vocabulary", path=other.path, fix="combine runs trained with the same spm.model")
        if other.pretokenize() != first.pretokenize():
            raise SeqkitError(f"this model cuts its text otherwise than {first.path}'s (pretokenize "
                              f"{other.pretokenize()} vs {first.pretokenize()}): {what} needs one tokenization",
                              path=other.path, fix="combine runs trained with the same data.pretokenize")


# -- weights from elsewhere: which tokenizer they belong to ------------------------------------------
TRAINED_WITH = "trained_with.json"  # beside a run's checkpoints: {"spm.model": sha256, ...}


def weights_tokenizer(path: str | os.PathLike) -> tuple[str | None, str | None]:
    """``(SHA-256 of the tokenizer, where that was read)`` a weights file belongs to, or ``(None, None)``
    when nothing says. Read, in this order: the file's own safetensors metadata ``tokenizer_sha256``
    (what ``seqkit average`` writes); the ``model.json`` of the model folder it is the weights of; the
    ``trained_with.json`` beside a run's checkpoints; the ``spm.model`` of the run whose
    ``train/checkpoints/`` holds it."""
    from seqkit.artifacts import problems

    path = Path(path)
    _, meta = safetensors_header(path, fix="give a seqkit weights file")
    sha = Sha256()
    if "tokenizer_sha256" in meta:
        if sha.problem(meta["tokenizer_sha256"]):
            raise SeqkitError("its metadata tokenizer_sha256 is not a SHA-256", path=path,
                              fix="write it again with seqkit average")
        return meta["tokenizer_sha256"], f"{path.name}'s metadata"
    folder = path.parent
    if path.name == "model.safetensors" and (folder / "model.json").is_file():
        info = read_json(folder / "model.json", MODEL_JSON, fix=RETRAIN)
        return info["tokenizer_sha256"], str(folder / "model.json")
    record = folder / TRAINED_WITH
    if record.is_file():
        data = read_json(record, MapOf(key=Str(max_len=256), value=Str(max_len=256)),
                         fix="restore it from a copy of the run")
        digest = data.get("spm.model")
        if digest is not None:
            if problems(digest, sha):
                raise SeqkitError("spm.model: must be a SHA-256 (64 hex digits)", path=record,
                                  fix="restore it from a copy of the run")
            return digest, str(record)
    if folder.name == "checkpoints" and folder.parent.name == "train" and (folder.parents[1] / "spm.model").is_file():
        spm = folder.parents[1] / "spm.model"
        return sha256_file(spm), str(spm)
    return None, None


def check_averaged(paths: list[Path], run_dir: str | os.PathLike | None = None) -> str | None:
    """Weight files about to be averaged (``seqkit average``): every one a readable safetensors file
    with the tensors and shapes of the first, all made with one tokenizer (:func:`weights_tokenizer`),
    and with ``run_dir``, the tensors of its model folder and its tokenizer. Returns that tokenizer's
    SHA-256 (None when nothing records it), for the averaged file's metadata."""
    if not paths:
        raise SeqkitError("no checkpoints to average", fix="give at least one .safetensors file")
    fix = "average checkpoints of one run (or of runs sharing one spm.model and model)"
    first, _ = safetensors_header(paths[0], fix=fix)
    tokenizers: dict[str, str] = {}  # sha256 -> where it was read first
    folder = None
    if run_dir is not None and (Path(run_dir) / "model" / "spm.model").is_file():
        folder = open_model_folder(run_dir)  # a translation run: the average must fit its model
        compare_shapes(folder.shapes(), first, paths[0], described_by=f"{folder.path}/model.json", fix=fix)
        tokenizers[folder.tokenizer_sha256] = str(folder.path / "model.json")
    for path in paths:
        found, _ = safetensors_header(path, fix=fix)
        if path is not paths[0]:
            compare_shapes({k: shape for k, (_, shape) in first.items()}, found, path,
                           described_by=f"{paths[0].name} (the first file)", fix=fix, floating=False)
        digest, where = weights_tokenizer(path)
        if digest is not None:
            if tokenizers and digest not in tokenizers:
                other, seen = next(iter(tokenizers.items()))
                raise SeqkitError(f"made with another tokenizer than the others (sha256 {digest[:12]}... in "
                                  f"{where}, {other[:12]}... in {seen}): an average needs one tokenizer",
                                  path=path, fix=fix)
            tokenizers.setdefault(digest, where)
    return next(iter(tokenizers), None)
