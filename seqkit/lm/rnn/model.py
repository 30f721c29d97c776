"""Recurrent language models: embedding -> RNN/GRU/LSTM stack -> softmax over the vocabulary.

One model class, :class:`RNNLM`, covers char and word level, the three cells, both backends
(``"torch"``: ``nn.LSTM`` & co., ``"scratch"``: :mod:`seqkit.lm.rnn.cells`), any depth, dropout
(Zaremba et al. 2014: on the embeddings, between layers and before the softmax) and tied input/output
embeddings (Press & Wolf 2017; Inan et al. 2017).

Why there is no bidirectional LM: a language model scores ``p(x_t | x_<t)``. A right-to-left pass
feeds ``x_t+1 ... x_T`` into the state used to predict ``x_t+1`` — the model sees the answer, training
loss collapses towards zero, and it cannot generate, because at generation time the future does not
exist yet. Bidirectional stacks are for *encoders* (the whole input is known up front, e.g. the source
sentence in seq2seq); build them with :func:`seqkit.lm.rnn.cells.make_rnn` ``(bidirectional=True)``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from seqkit.artifacts import Bool, Choice, Int, MapOf, Obj, Scalar, Str
from seqkit.errors import SeqkitError
from seqkit.lm.rnn.cells import MODES, State, make_rnn
from seqkit.text.registry import TOKENIZERS


@dataclass
class RNNLMConfig:
    """Everything needed to rebuild an :class:`RNNLM` (saved as ``rnn_lm.json`` beside the weights)."""

    vocab_size: int
    embed_dim: int = 200
    hidden_size: int = 200
    num_layers: int = 2
    cell: str = "lstm"
    dropout: float = 0.0
    tie_embeddings: bool = False
    backend: str = "torch"
    init_range: float | None = 0.1  # U(-r, r) for every weight (Zaremba); None keeps torch's defaults

    def validate(self) -> None:
        if self.cell not in MODES:
            raise SeqkitError(f"unknown RNN cell '{self.cell}'", fix=f"use one of {', '.join(MODES)}")
        if self.vocab_size < 1 or self.embed_dim < 1:
            raise SeqkitError(f"vocab_size and embed_dim must be >= 1 (got {self.vocab_size}, "
                              f"{self.embed_dim})", fix="give a non-empty vocabulary and a positive size")
        if not 0.0 <= self.dropout < 1.0:
            raise SeqkitError(f"dropout must be in [0, 1) (got {self.dropout})", fix="e.g. dropout=0.5")
        if self.tie_embeddings and self.embed_dim != self.hidden_size:
            raise SeqkitError(
                f"tie_embeddings needs embed_dim == hidden_size (got {self.embed_dim} and {self.hidden_size})",
                fix="set embed_dim to hidden_size, or tie_embeddings=false")

    @classmethod
    def from_dict(cls, d: dict) -> RNNLMConfig:
        if d.get("bidirectional"):
            raise SeqkitError("a language model cannot be bidirectional: the right-to-left pass would show it "
                              "the tokens it has to predict",
                              fix="drop bidirectional; for an encoder use seqkit.lm.rnn.cells.make_rnn(bidirectional=True)")
        from seqkit.settings import from_dict

        return from_dict(cls, d, "model")


class RNNLM(nn.Module):
    """Word- or character-level recurrent language model.

    ``forward(X, state=None)``: ``X`` (B, T) token ids; ``state`` from the previous call (sequential
    sampling) or ``None`` (zeros: random sampling, a new text). Returns ``logits`` (B, T, V) and the new
    state (``h`` (L, B, H), or ``(h, c)`` for an LSTM). The recurrent stack runs time-major (T, B, *)
    like ``nn.LSTM``; ``logits`` is a (B, T, V) *view* of a time-major tensor, and :func:`lm_loss` flattens it
    without a copy.
    """

    def __init__(self, config: RNNLMConfig | None = None, **kwargs) -> None:
        super().__init__()
        config = config or RNNLMConfig(**kwargs)
        config.validate()
        self.config = config
        self.embedding = nn.Embedding(config.vocab_size, config.embed_dim)
        self.rnn = make_rnn(config.cell, config.embed_dim, config.hidden_size, config.num_layers,
                            dropout=config.dropout, backend=config.backend)
        # Identity when there is no dropout: not even a no-op kernel on the hot path.
        self.drop = nn.Dropout(config.dropout) if config.dropout > 0 else nn.Identity()
        self.decoder = nn.Linear(config.hidden_size, config.vocab_size)
        if config.init_range is not None:
            for p in self.parameters():
                nn.init.uniform_(p, -config.init_range, config.init_range)
        if config.tie_embeddings:
            # One matrix (V, E) is both the input lookup table and the output projection.
            self.decoder.weight = self.embedding.weight

    def forward(self, X: torch.Tensor, state: State | None = None) -> tuple[torch.Tensor, State]:
        emb = self.drop(self.embedding(X.t()))        # (T, B, E); indexing X.t() gives a contiguous result
        out, state = self.rnn(emb, state)             # (T, B, H)
        logits = self.decoder(self.drop(out))         # (T, B, V)
        return logits.transpose(0, 1), state          # (B, T, V) view

    def begin_state(self, batch_size: int, device: torch.device | str | None = None) -> State:
        """Zeros for ``batch_size`` sequences: (L, B, H), or ``(h, c)`` for an LSTM."""
        c = self.config
        h = torch.zeros(c.num_layers, batch_size, c.hidden_size, device=device)
        return (h, h.clone()) if c.cell == "lstm" else h

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())


def lm_loss(logits: torch.Tensor, Y: torch.Tensor, reduction: str = "mean") -> torch.Tensor:
    """Cross-entropy of ``logits`` (B, T, V) against targets ``Y`` (B, T), in nats.

    Flattens in memory order so the (B, T, V) view returned by :class:`RNNLM` costs no copy.
    """
    V = logits.shape[-1]
    if logits.dim() == 3 and not logits.is_contiguous() and logits.transpose(0, 1).is_contiguous():
        return F.cross_entropy(logits.transpose(0, 1).reshape(-1, V), Y.t().reshape(-1), reduction=reduction)
    return F.cross_entropy(logits.reshape(-1, V), Y.reshape(-1), reduction=reduction)


# --------------------------------------------------------------------------------------------------
# Saving and loading a trained model: rnn_lm.json (config) + rnn_lm.safetensors (weights)
# --------------------------------------------------------------------------------------------------

CONFIG_FILE, WEIGHTS_FILE = "rnn_lm.json", "rnn_lm.safetensors"


def save_rnn_lm(model: RNNLM, directory: str | Path) -> None:
    """Write the model's config and weights into ``directory`` (atomically, safetensors)."""
    from safetensors.torch import save as st_save

    from seqkit.io import save_json, write_bytes_atomic

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    if model.config.tie_embeddings:
        state.pop("decoder.weight")  # the same tensor as embedding.weight; safetensors refuses aliases
    write_bytes_atomic(directory / WEIGHTS_FILE, st_save(state))
    save_json(directory / CONFIG_FILE, asdict(model.config))


#: Upper bounds of an RNN LM's sizes (far above anything the chapters train): a config asking for more
#: is refused before a byte is allocated.
MAX_VOCAB, MAX_DIM, MAX_LAYERS = 1 << 22, 8192, 64
_CONFIG_BOUNDS = {"vocab_size": MAX_VOCAB, "embed_dim": MAX_DIM, "hidden_size": MAX_DIM, "num_layers": MAX_LAYERS}

#: ``data.json`` of an lm_rnn model folder: how its text is tokenized again (the data stage writes it).
DATA_JSON = Obj(fields={
    "tokenizer": Obj(required=True, fields={
        "name": Choice(*TOKENIZERS, required=True),
        "options": MapOf(null=True, key=Str(max_len=64), value=Scalar(), max_len=32),
    }),
    "eos_per_line": Bool(),
    "corpus": Str(null=True, max_len=4096),
    "level": Choice("char", "word", None),
    "vocab_size": Int(lo=1, hi=MAX_VOCAB),
    **{f"{split}_tokens": Int() for split in ("train", "valid", "test")},
})


def _check_config(values: dict, path: Path) -> None:
    """Bounds :class:`RNNLMConfig`'s typed fields do not have: every size, before anything is built."""
    fix = "re-run the recipe's train stage (force=true)"
    for key, hi in _CONFIG_BOUNDS.items():
        if key in values:
            found = Int(lo=1, hi=hi).problem(values[key])
            if found:
                raise SeqkitError(f"{key}: {found}", path=path, fix=fix)


def load_rnn_lm(directory: str | Path, *, backend: str | None = None,
                device: torch.device | str = "cpu") -> RNNLM:
    """Rebuild a model saved by :func:`save_rnn_lm`; ``backend`` may switch torch <-> scratch.
    A file that is missing, corrupt or does not fit is one :class:`SeqkitError` naming it: ``rnn_lm.json``
    is checked (types, every size bounded) and the weights file's header compared with the shapes it
    implies before the model is built; NaN or infinite weights are refused naming the tensor."""
    from seqkit.artifacts import compare_shapes, expected_shapes, read_json, safetensors_header
    from seqkit.train.checkpoint import load_weights

    directory = Path(directory)
    for name in (CONFIG_FILE, WEIGHTS_FILE):
        if not (directory / name).exists():
            raise SeqkitError(f"no {name} here: not a trained RNN LM", path=directory,
                              fix="point at the run directory of `seqkit lm rnn train`")
    fix = "re-run the recipe's train stage (force=true)"
    values = read_json(directory / CONFIG_FILE, Obj(extra=True), fix=fix)
    _check_config(values, directory / CONFIG_FILE)
    try:
        config = RNNLMConfig.from_dict(values)
        if backend is not None:
            config.backend = backend
        config.validate()
    except SeqkitError as exc:
        raise SeqkitError(f"bad model settings ({exc})", path=directory / CONFIG_FILE, fix=fix) from None
    expected = expected_shapes(lambda: RNNLM(config))
    if config.tie_embeddings:
        expected.pop("decoder.weight")  # stored once, as embedding.weight
    compare_shapes(expected, safetensors_header(directory / WEIGHTS_FILE, fix=fix)[0], directory / WEIGHTS_FILE,
                   described_by=CONFIG_FILE, fix="keep the files of one model folder together")
    state = load_weights(directory / WEIGHTS_FILE)
    model = RNNLM(config)
    if config.tie_embeddings and "embedding.weight" in state:
        state["decoder.weight"] = state["embedding.weight"]
    try:
        model.load_state_dict(state)
    except RuntimeError as exc:
        raise SeqkitError(f"weights do not fit {CONFIG_FILE} ({str(exc).splitlines()[0]})",
                          path=directory / WEIGHTS_FILE, fix="keep the files of one model folder together") from None
    return model.to(device).eval()


def load_model_dir(path: str | Path, device: torch.device | str = "cpu"):
    """``(model, vocab, tokenizer, data_info)`` of a trained RNN LM's model folder.

    ``path`` is an ``lm_rnn`` run directory (its ``model/`` folder is read) or a model folder itself:
    ``rnn_lm.json`` + ``rnn_lm.safetensors`` (:func:`save_rnn_lm`), ``vocab.json`` and ``data.json``
    (how the text was tokenized: ``{"tokenizer": {"name", "options"}, "eos_per_line", ...}``, checked
    against :data:`DATA_JSON`). A tokenizer option naming a file (``spm``'s and ``bpe``'s ``model``)
    must name one inside the model folder.
    """
    from seqkit.artifacts import inside, read_json
    from seqkit.text import Vocab, get_tokenizer

    path = Path(path)
    folder = path / "model" if (path / "model").is_dir() else path
    if not (folder / "data.json").is_file():
        raise SeqkitError("no data.json here: not an lm_rnn run directory", path=path,
                          fix="train first: seqkit recipe run lm_rnn run_dir=...")
    fix = "re-run the recipe's data stage (force=true)"
    info = read_json(folder / "data.json", DATA_JSON, fix=fix)
    spec = info["tokenizer"]
    options = dict(spec.get("options") or {})
    if spec["name"] in ("spm", "bpe") and "model" in options:
        options["model"] = inside(folder, options["model"], source=folder / "data.json",
                                  field_name="tokenizer.options.model",
                                  fix="copy the tokenizer model into the model folder and name it relative to it")
    tokenizer = get_tokenizer(spec["name"], **options)
    model, vocab = load_rnn_lm(folder, device=device), Vocab.load(folder / "vocab.json")
    for what, size in (("data.json's vocab_size", info.get("vocab_size")), (CONFIG_FILE, model.config.vocab_size)):
        if size is not None and size != len(vocab):
            raise SeqkitError(f"vocab.json has {len(vocab):,} tokens but {what} says {size:,}", path=folder,
                              fix="keep the files of one model folder together")
    return model, vocab, tokenizer, info
