"""Model sizes by name, and the one function that builds a translation model from its description.

:data:`PRESETS` names the sizes (``tiny``, ``small``, ``base``, ``big``, ``iwslt``; ``base`` is JoeyNMT's Multi30k
Transformer: 3+3 layers, d_model 256, 4 heads, FFN 1024, 7.58M parameters with an 8k vocabulary);
:func:`model_config` applies overrides to a preset, :func:`build_model` builds what such a config
(``model.json``'s ``model``) describes, and :func:`model_problems` says, one line each, what is wrong
with a choice before anything is built.

:data:`MODEL_SCHEMA` is the one description of such a config (each architecture's fields, their types
and ranges): recipes validate against it, and a model folder's loader refuses a ``model.json`` that
does not meet it before anything is allocated. Every size has an upper bound (:data:`MAX_DIM` ...).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from seqkit.artifacts import Bool, Choice, Int, Number, Obj, Tagged, problems
from seqkit.errors import SeqkitError
from seqkit.text.vocab import PAD_ID

if TYPE_CHECKING:  # torch is imported where a model is built: the shortlist command opens model folders without it
    from torch import nn

#: Model sizes by name. ``base`` is the JoeyNMT Multi30k baseline.
PRESETS: dict[str, dict[str, dict[str, Any]]] = {
    "transformer": {
        "tiny": dict(d_model=128, n_heads=4, n_enc_layers=2, n_dec_layers=2, d_ff=512, dropout=0.1),
        "small": dict(d_model=256, n_heads=4, n_enc_layers=2, n_dec_layers=2, d_ff=1024, dropout=0.1),
        "base": dict(d_model=256, n_heads=4, n_enc_layers=3, n_dec_layers=3, d_ff=1024, dropout=0.1),
        "big": dict(d_model=512, n_heads=8, n_enc_layers=6, n_dec_layers=6, d_ff=2048, dropout=0.1),
        # fairseq's transformer_iwslt_de_en: 6+6 layers, d_model 512, FFN 1024, 4 heads, dropout 0.3
        "iwslt": dict(d_model=512, n_heads=4, n_enc_layers=6, n_dec_layers=6, d_ff=1024, dropout=0.3),
    },
    # GRU encoder-decoder with Bahdanau attention (d2l 10.4 / Bahdanau et al. 2015).
    "rnn": {
        "tiny": dict(embed_dim=128, hidden_size=256, num_layers=1, cell="gru", attention="bahdanau",
                     bidirectional=True, dropout=0.1),
        "small": dict(embed_dim=256, hidden_size=256, num_layers=2, cell="gru", attention="bahdanau",
                      bidirectional=True, dropout=0.2),
        "base": dict(embed_dim=256, hidden_size=512, num_layers=2, cell="gru", attention="bahdanau",
                     bidirectional=True, dropout=0.3),
    },
}


#: Upper bounds of a model's sizes: far above any model seqkit trains (``big``: d_model 512, 6+6 layers),
#: low enough that a wrong ``model.json`` cannot ask for terabytes before its weights file is compared.
MAX_DIM, MAX_HEADS, MAX_LAYERS, MAX_FF = 8192, 256, 64, 65536
#: The positions table (``max_len`` x ``d_model`` floats) is rebuilt, not stored: its size is bounded
#: apart (32M floats, 128 MB).
MAX_LEN, MAX_POSITION_VALUES = 32768, 1 << 25

_DROPOUT = Number(lo=0.0, hi=1.0, open_hi=True)

#: The ``model`` object of ``model.json`` (what :func:`model_config` returns), by architecture.
MODEL_SCHEMA = Tagged(required=True, tag="arch", variants={
    "transformer": Obj(fields={
        "arch": Choice("transformer"),
        "d_model": Int(required=True, lo=1, hi=MAX_DIM),
        "n_heads": Int(required=True, lo=1, hi=MAX_HEADS),
        "n_enc_layers": Int(required=True, lo=1, hi=MAX_LAYERS),
        "n_dec_layers": Int(required=True, lo=1, hi=MAX_LAYERS),
        "d_ff": Int(required=True, lo=1, hi=MAX_FF),
        "dropout": _DROPOUT,
        "pre_norm": Bool(),
        "tie_embeddings": Bool(),
        "max_len": Int(lo=1, hi=MAX_LEN),
        "activation": Choice("relu", "gelu"),
    }),
    "rnn": Obj(fields={
        "arch": Choice("rnn"),
        "embed_dim": Int(required=True, lo=1, hi=MAX_DIM),
        "hidden_size": Int(required=True, lo=1, hi=MAX_DIM),
        "num_layers": Int(required=True, lo=1, hi=MAX_LAYERS),
        "cell": Choice("gru", "lstm"),
        "attention": Choice("bahdanau", "dot", "general", None),
        "bidirectional": Bool(),
        "dropout": _DROPOUT,
    }),
})


def config_problems(config: dict[str, Any], section: str = "model") -> list[str]:
    """What is wrong with a model config (``model.json``'s ``model``) against :data:`MODEL_SCHEMA` and
    the rules between fields, one ``"section.field: ..."`` line each."""
    found = problems(config, MODEL_SCHEMA, section)
    if found:
        return found
    d_model, n_heads = config.get("d_model"), config.get("n_heads")
    if config["arch"] == "transformer":
        if d_model % n_heads:
            found.append(f"{section}.d_model: must be a multiple of {section}.n_heads ({d_model} % {n_heads} = "
                         f"{d_model % n_heads})")
        max_len = config.get("max_len", 1024)
        if max_len * d_model > MAX_POSITION_VALUES:
            found.append(f"{section}.max_len: max_len x d_model must be at most {MAX_POSITION_VALUES:,} "
                         f"(the positions table), got {max_len} x {d_model}")
    elif config.get("attention") == "dot" and config.get("bidirectional"):
        found.append(f"{section}.attention: dot attention needs a unidirectional encoder (memory and "
                     "decoder of one size); use general")
    return found


def model_config(arch: str, preset: str | None = "base", **overrides: Any) -> dict[str, Any]:
    """The architecture's preset with every non-``None`` override applied (``{"arch": ..., ...}``)."""
    if arch not in PRESETS:
        raise SeqkitError(f"unknown model architecture {arch!r}", fix=f"use one of: {', '.join(PRESETS)}")
    presets = PRESETS[arch]
    if preset is not None and preset not in presets:
        raise SeqkitError(f"unknown {arch} preset {preset!r}", fix=f"use one of: {', '.join(presets)}")
    config = dict(presets[preset or "base"])
    config.update({k: v for k, v in overrides.items() if v is not None})
    return {"arch": arch, **config}


def build_model(config: dict[str, Any], vocab_size: int, *, seed: int | None = None) -> nn.Module:
    """The model ``config`` (from :func:`model_config`) describes, over a joint vocab of ``vocab_size``.

    ``seed``: its initial weights drawn from a generator seeded with it (torch's global generator is left
    as it was), so two builds with one seed are equal; None draws from the global generator."""
    if seed is not None:
        import torch

        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            return build_model(config, vocab_size)
    kwargs = {k: v for k, v in config.items() if k != "arch"}
    if config["arch"] == "transformer":
        from seqkit.seq2seq.transformer import Transformer

        cls, sizes = Transformer, {"vocab_size": vocab_size}
    elif config["arch"] == "rnn":
        from seqkit.seq2seq.rnn import RNNSeq2Seq

        # one joint sentencepiece vocabulary: the same size on both sides
        cls, sizes = RNNSeq2Seq, {"src_vocab_size": vocab_size, "tgt_vocab_size": vocab_size}
    else:
        raise SeqkitError(f"unknown model architecture {config['arch']!r}")
    try:
        return cls(pad_id=PAD_ID, **sizes, **kwargs)
    except TypeError as exc:
        raise SeqkitError(f"bad model settings for {config['arch']}: {exc}",
                          fix="check the model: section of the recipe") from None


def model_problems(arch: Any, preset: Any, overrides: dict[str, Any], section: str = "model") -> list[str]:
    """What is wrong with a model choice (architecture, preset, overridden sizes), one line each."""
    if arch not in PRESETS:
        return [f"{section}.arch: must be one of {', '.join(PRESETS)}, got {arch!r}"]
    if preset is not None and preset not in PRESETS[arch]:
        return [f"{section}.preset: must be one of {', '.join(PRESETS[arch])}, got {preset!r}"]
    found = []
    for key, value in overrides.items():
        if value is None or isinstance(value, bool) or isinstance(value, str):
            continue
        if key == "dropout":
            if not 0.0 <= value < 1.0:
                found.append(f"{section}.dropout: must be >= 0 and < 1, got {value!r}")
        elif isinstance(value, int | float) and value < 1:
            found.append(f"{section}.{key}: must be >= 1, got {value!r}")
    config = model_config(arch, preset, **{k: v for k, v in overrides.items() if k not in found})
    d_model, n_heads = config.get("d_model"), config.get("n_heads")
    if isinstance(d_model, int) and isinstance(n_heads, int) and n_heads >= 1 and d_model % n_heads:
        found.append(f"{section}.d_model: must be a multiple of model.n_heads ({d_model} % {n_heads} = "
                     f"{d_model % n_heads})")
    if not found:  # types, upper bounds, choices and unknown keys: what a model folder's loader checks
        found = config_problems(config, section)
    return found


def count_parameters(model: nn.Module) -> int:
    """Distinct trainable parameters (a tied embedding counts once)."""
    return sum(p.numel() for p in {id(p): p for p in model.parameters() if p.requires_grad}.values())


def train_flops_per_token(model: nn.Module) -> float:
    """About ``6 * parameters`` FLOPs per target token for one training step (forward + backward).

    The embedding lookup costs nothing, but with tied embeddings the same matrix is the output
    projection, which is a real matmul; attention over the sequence is left out (small at these
    lengths), as in Kaplan et al.'s ``C = 6N`` rule.
    """
    return 6.0 * count_parameters(model)

