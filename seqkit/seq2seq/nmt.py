"""A translation system as one object: sentencepiece + model + search, saved in a run directory.

This is the glue the ``nmt_transformer`` / ``nmt_rnn_attention`` recipes, ``seqkit translate`` and
``benchmarks/nmt.py`` share:

- :data:`PRESETS` and :func:`build_model`: model sizes by name (``tiny``, ``small``, ``base``; ``base``
  is JoeyNMT's Multi30k Transformer: 3+3 layers, d_model 256, 4 heads, FFN 1024, 7.58M parameters with
  an 8k vocabulary), with any field overridable;
- :class:`NMTStep`: the trainer's ``step_fn`` -- label-smoothed cross entropy as a per-token mean;
- :class:`Translator`: batched beam/greedy translation of raw sentences, loaded from a run directory
  with :meth:`Translator.from_run`.

- :class:`NMTTrainConfig`, :class:`DecodeConfig` and :func:`model_problems`: the typed settings of
  training, decoding and the model, with their ranges (``seqkit recipe validate`` checks them).

A trained system is a *model folder* (``RUN_DIR/model/``, written whole by :func:`save_model_dir`):
``spm.model`` (joint sentencepiece), ``model.json`` (architecture, sizes, languages and the
SHA-256 of the tokenizer it was trained with), ``model.safetensors`` (the weights, best by validation
BLEU). Decode settings are not part of it: whoever decodes chooses them.
"""

from __future__ import annotations

import logging
import math
import os
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from seqkit.errors import SeqkitError
from seqkit.io import copy_file_atomic, load_json, save_json, sha256_file
from seqkit.seq2seq.loss import sequence_loss
from seqkit.seq2seq.search import Hypothesis, beam_search, greedy_search, sample
from seqkit.settings import setting
from seqkit.text.pretokenize import join_cjk, pretokenizer
from seqkit.text.vocab import BOS_ID, EOS_ID, PAD_ID, UNK_ID
from seqkit.train import StepOutput
from seqkit.train.checkpoint import load_weights
from seqkit.train.distributed import all_reduce_sum, gather_shards, shard

#: The library's messages (a recipe run sends them to its log.txt; configure ``logging`` to see them).
LOG = logging.getLogger("seqkit.seq2seq")

#: Model sizes by name. ``base`` is the JoeyNMT Multi30k baseline.
PRESETS: dict[str, dict[str, dict[str, Any]]] = {
    "transformer": {
        "tiny": dict(d_model=128, n_heads=4, n_enc_layers=2, n_dec_layers=2, d_ff=512, dropout=0.1),
        "small": dict(d_model=256, n_heads=4, n_enc_layers=2, n_dec_layers=2, d_ff=1024, dropout=0.1),
        "base": dict(d_model=256, n_heads=4, n_enc_layers=3, n_dec_layers=3, d_ff=1024, dropout=0.1),
        "big": dict(d_model=512, n_heads=8, n_enc_layers=6, n_dec_layers=6, d_ff=2048, dropout=0.1),
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


def build_model(config: dict[str, Any], vocab_size: int) -> nn.Module:
    """The model ``config`` (from :func:`model_config`) describes, over a joint vocab of ``vocab_size``."""
    from seqkit import seq2seq

    kwargs = {k: v for k, v in config.items() if k != "arch"}
    if config["arch"] == "transformer":
        cls, sizes = seq2seq.Transformer, {"vocab_size": vocab_size}
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
    return found


OPTIMIZERS = ("adam", "adamw")
SCHEDULES = ("inverse_sqrt", "noam", "cosine", "constant", "plateau")


@dataclass
class NMTTrainConfig:
    """How :func:`seqkit.recipes` trains a translation model (the recipe's ``train:`` section)."""

    optimizer: str = setting("adam", choices=OPTIMIZERS)
    lr: float = setting(1e-3, gt=0)
    betas: list = setting(factory=lambda: [0.9, 0.98])
    eps: float = setting(1e-9, gt=0)
    weight_decay: float = setting(0.0, ge=0)
    schedule: str = setting("inverse_sqrt", choices=SCHEDULES)
    warmup: int = setting(200, ge=0)
    label_smoothing: float = setting(0.1, ge=0, lt=1)
    max_tokens: int = setting(3000, ge=1)
    # bucket within pools of N pairs (blocks from all over the corpus): memory flat in corpus size; a corpus of at most N pairs
    # is one pool (the same batches as None, the whole corpus)
    pool_pairs: int | None = setting(1_000_000, ge=1)
    accum_steps: int = setting(1, ge=1)
    clip_norm: float | None = setting(1.0, gt=0)
    amp: str = setting("auto", choices=("auto", "bf16", "none"))
    epochs: int = setting(100, ge=1)
    max_steps: int | None = setting(None, ge=1)
    max_time: float | None = setting(None, gt=0)
    valid_every: int | None = setting(200, ge=1)
    valid_beam: int = setting(1, ge=1)
    valid_max_sents: int | None = setting(300, ge=1)
    early_stopping: int | None = setting(None, ge=1)
    keep_best: int = setting(3, ge=0)
    average_best: int | None = setting(None, ge=1)  # the model = the mean of the N best checkpoints
    keep_last: int = setting(1, ge=1)  # the newest step checkpoints kept (seqkit average --last N)
    ckpt_every_steps: int | None = setting(100, ge=1)
    log_every: int = setting(20, ge=1)
    progress: bool = True

    def checks(self) -> list[str]:
        if self.average_best is not None and self.average_best > self.keep_best:
            return [f"average_best: must be <= keep_best ({self.keep_best}), got {self.average_best}"]
        if len(self.betas) != 2 or not all(isinstance(b, int | float) and 0 <= b < 1 for b in self.betas):
            return [f"betas: must be two numbers in [0, 1), got {self.betas!r}"]
        return []


@dataclass
class DecodeConfig:
    """Search settings (the recipe's ``decode:`` section, ``seqkit translate``'s flags)."""

    beam: int = setting(5, ge=1)
    alpha: float = setting(1.0, ge=0)       # GNMT length penalty
    max_len_a: float = setting(1.5, ge=0)   # output cap: a * source length + b pieces
    max_len_b: int = setting(10, ge=0)
    batch_tokens: int = setting(3000, ge=1)
    heatmaps: int = setting(5, ge=0)         # attention heatmaps of the first N test sentences (recipes)

    def translator_options(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if k != "heatmaps"}


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


@dataclass
class NMTStep:
    """``step_fn`` for :class:`~seqkit.train.Trainer`: teacher-forced label-smoothed cross entropy.

    The batch is a ``seqkit.data`` parallel ``Batch`` (``src`` (B, S), ``src_len`` (B,), ``tgt_in``
    (B, T), ``tgt_out`` (B, T), ``n_tgt_tokens``); the loss is the mean over the non-pad target
    tokens, and they are the items throughput is counted in.
    """

    label_smoothing: float = 0.1
    pad_id: int = PAD_ID

    def __call__(self, model: nn.Module, batch: Any) -> StepOutput:
        logits = model(batch.src, batch.src_len, batch.tgt_in)  # (B, T, V)
        loss_sum, n_tokens = sequence_loss(logits, batch.tgt_out, self.pad_id, self.label_smoothing)
        n = int(batch.n_tgt_tokens) if hasattr(batch, "n_tgt_tokens") else int(n_tokens)
        return StepOutput(loss_sum / max(n, 1), n)


@dataclass
class Translation:
    """One translation of a sentence: ``text`` (detokenized), ``score`` (the ranking score:
    ``log_prob / lp(length)`` in beam search), ``log_prob`` (summed over the pieces and ``<eos>``),
    ``pieces`` / ``src_pieces`` (what the model read and wrote) and ``alignment`` (``(source piece,
    target piece)`` pairs by argmax attention, when asked for)."""

    text: str
    score: float
    log_prob: float
    pieces: list[str]
    src_pieces: list[str]
    alignment: list[tuple[int, int]] | None = None
    attention: torch.Tensor | None = None  # (len(pieces) + 1, len(src_pieces) + 1): <eos> row and column
    token_log_probs: list[float] | None = None  # each piece's and then <eos>'s log-probability, on request

    def heatmap(self, path: str | os.PathLike) -> None:
        """Write this translation's attention as a PNG heatmap, labelled with readable pieces."""
        from seqkit.seq2seq.plot import plot_attention, readable

        if self.attention is None:
            raise SeqkitError("no attention kept for this translation", fix="translate with attention=True")
        plot_attention(self.attention, [*readable(self.src_pieces), "</s>"], readable(self.pieces), path,
                       title=self.text[:80])

    def pharaoh(self) -> str:
        """The alignment as ``0-0 1-2 ...`` (source-target, 0-based piece indices)."""
        return " ".join(f"{s}-{t}" for s, t in self.alignment or [])


def encode_prefix(tokenizer: Any, prefix: str | list[str] | None, n: int) -> list[list[int]] | None:
    """Target-prefix ids for ``n`` sentences: one text for all, or one per sentence (``None``: none)."""
    if prefix is None:
        return None
    texts = [prefix] * n if isinstance(prefix, str) else list(prefix)
    if len(texts) != n:
        raise SeqkitError(f"{len(texts)} prefixes for {n} sentences", fix="give one prefix, or one per sentence")
    return [list(ids) for ids in tokenizer.encode_ids_batch(texts)]


def alignment(attention: torch.Tensor, n_src: int, n_tgt: int) -> list[tuple[int, int]]:
    """``(source, target)`` piece pairs: each target piece aligned to the source piece it attends to
    most (the ``<eos>`` row and column left out; a row that attends most to ``<eos>`` aligns nowhere)."""
    if n_src == 0 or n_tgt == 0:
        return []
    best = attention[:n_tgt].float().argmax(dim=-1).tolist()
    return [(s, t) for t, s in enumerate(best) if s < n_src]


class _UnkPenalty(nn.Module):
    """A model whose ``<unk>`` log-probability is lowered by ``penalty`` at every decoding step."""

    def __init__(self, model: nn.Module, penalty: float) -> None:
        super().__init__()
        self.model, self.penalty, self.pad_id = model, penalty, getattr(model, "pad_id", PAD_ID)

    def encode(self, src: torch.Tensor, src_len: torch.Tensor) -> Any:
        return self.model.encode(src, src_len)

    def decode_step(self, prev_tokens: torch.Tensor, state: Any, need_attn: bool = False) -> Any:
        log_probs, state, attn = self.model.decode_step(prev_tokens, state, need_attn)
        log_probs = log_probs.clone()
        log_probs[:, UNK_ID] -= self.penalty
        return log_probs, state, attn


QUANTIZE = ("int8",)


def quantize_model(model: nn.Module, kind: str, device: torch.device | str = "cpu") -> nn.Module:
    """A copy of ``model`` whose ``nn.Linear`` layers are int8 (torch's dynamic quantization: weights
    int8 per output row, activations quantized on the fly per batch), for inference.

    A tied output projection (``F.linear`` over the embedding matrix, the largest matmul of a decoding
    step with an 8k vocabulary) becomes a Linear of its own first, so it is quantized too; the
    embedding lookup keeps the float32 matrix. CPU only -- torch has no dynamic-quantization kernels
    on other devices.
    """
    import copy
    import warnings

    from torch.ao.quantization import per_channel_dynamic_qconfig, quantize_dynamic

    if kind not in QUANTIZE:
        raise SeqkitError(f"unknown quantization {kind!r}", fix=f"use one of: {', '.join(QUANTIZE)}")
    if torch.device(device).type != "cpu":
        raise SeqkitError(f"--quantize {kind} runs on the CPU only", fix="drop --quantize or use --device cpu")
    model = copy.deepcopy(model)
    embed = getattr(model, "embed", None)
    if getattr(model, "out_proj", False) is None and isinstance(embed, nn.Embedding):
        model.out_proj = nn.Linear(embed.embedding_dim, embed.num_embeddings, bias=False)
        model.out_proj.weight = nn.Parameter(embed.weight.detach().clone(), requires_grad=False)
    with warnings.catch_warnings():  # torch.ao.quantization announces its move to torchao
        warnings.simplefilter("ignore")
        return quantize_dynamic(model, {nn.Linear: per_channel_dynamic_qconfig}, dtype=torch.qint8, inplace=True)


class TextSide:
    """What every translation engine does around its search, on text: ``encode`` sentences to source
    ids (counting ``<unk>`` pieces and over-long sources in ``stats``), ``decode`` output ids to text,
    ``translate`` (through the engine's ``translate_ids``) and ``report``. An engine sets
    ``tokenizer``, ``preprocess``, ``postprocess``, ``max_src_len`` and ``stats``."""

    def encode(self, sentences: list[str]) -> list[list[int]]:
        """Source ids for each sentence (``<unk>`` pieces counted; ``<eos>`` is added when batching)."""
        texts = [self.preprocess(s) if self.preprocess else s for s in sentences]
        ids = [list(seq) for seq in self.tokenizer.encode_ids_batch(texts)]
        self.stats["unknown_tokens"] += sum(seq.count(UNK_ID) for seq in ids)
        self.stats["truncated"] += sum(1 for seq in ids if len(seq) + 1 > self.max_src_len)
        return ids

    def decode(self, ids: list[int]) -> str:
        """Detokenized text of output ids (``<unk>`` marks are never printed)."""
        text = self.tokenizer.decode_ids([t for t in ids if t != UNK_ID])
        return self.postprocess(text) if self.postprocess else text

    def translate(self, sentences: list[str], *, beam: int | None = None, nbest: int = 1
                  ) -> list[list[str]] | list[str]:
        """Detokenized translations: a list of strings, or of ``nbest`` lists when ``nbest > 1``."""
        outs = self.translate_ids(self.encode(sentences), beam=beam, nbest=nbest)
        if nbest == 1:
            return [self.decode(o[0]) for o in outs]
        return [[self.decode(h) for h in o] for o in outs]

    def report(self, stream=None) -> None:
        """Print what was skipped or cut, if anything (one line, to ``stream`` or stderr)."""
        s = self.stats
        notes = []
        if s["empty"]:
            notes.append(f"{s['empty']} empty lines gave empty translations")
        if s["truncated"]:
            notes.append(f"{s['truncated']} sources longer than {self.max_src_len} tokens were cut")
        if s["unknown_tokens"]:
            notes.append(f"{s['unknown_tokens']} source pieces were unknown to the model (<unk>)")
        if notes:
            print("note: " + "; ".join(notes), file=stream or sys.stderr)


class Translator(TextSide):
    """Translate raw sentences with a trained model: encode, batch by length, search, decode.

    Args:
        model: an encoder-decoder of the :mod:`seqkit.seq2seq.interfaces` interface.
        tokenizer: the joint :class:`~seqkit.text.SentencePieceTokenizer` (ids = model ids).
        beam: beam size (1 = greedy search); ``alpha`` the length penalty's exponent;
            ``length_penalty`` its kind (``"gnmt"`` ``((5 + L) / 6) ** alpha``, ``"d2l"`` ``L ** alpha``
            as CTranslate2 has it, None; see :func:`~seqkit.seq2seq.search.length_penalty`).
        quantize: ``"int8"`` runs the model's Linear layers with int8 weights (torch's dynamic
            quantization, CPU only: weights quantized per row once, activations per batch); None keeps
            float32.
        max_len_a, max_len_b: output cap ``a * source length + b`` tokens.
        max_src_len: longer sources are cut to this many tokens, ``<eos>`` included (counted in ``stats``).
        batch_tokens: padded source tokens per decoding batch (sentences are sorted by length first).
        postprocess: applied to every detokenized output (e.g. joining Chinese words).
        split_ranks: under ``torchrun``, the ranks search together: each searches every
            ``world_size``-th decoding batch and every rank gets all the results
            (:mod:`seqkit.train.distributed`), so every rank must make the same calls with the same
            sentences. Each sentence is searched in the batch, padded the same way, that one process
            would put it in, so the translations are those of one process, bit for bit. ``stats``
            count all the sentences on every rank. Sampling is not split (its draws come from one
            generator, batch after batch): every rank then samples everything. No effect in a single
            process.
    """

    def __init__(self, model: nn.Module, tokenizer: Any, *, device: str | torch.device = "cpu",
                 beam: int = 5, alpha: float = 1.0, max_len_a: float = 1.5, max_len_b: int = 10,
                 max_src_len: int = 250, batch_tokens: int = 3000, unk_penalty: float = 0.0,
                 sampling: dict[str, Any] | None = None, length_penalty: str | None = "gnmt",
                 quantize: str | None = None, preprocess: Any = None, postprocess: Any = None,
                 split_ranks: bool = False) -> None:
        from seqkit.train.host_memory import keep_freed_memory

        self.device = torch.device(device)
        keep_freed_memory(self.device)  # on a CPU: beam search reuses its buffers without page faults
        self.model = model.to(self.device).eval()
        if quantize is not None:
            self.model = quantize_model(self.model, quantize, self.device)
        self.tokenizer = tokenizer
        self.length_penalty = length_penalty
        self.beam, self.alpha, self.max_len_a, self.max_len_b = beam, alpha, max_len_a, max_len_b
        self.max_src_len, self.batch_tokens = max_src_len, batch_tokens
        self.unk_penalty = unk_penalty  # subtracted from <unk>'s log-probability at every step
        self.sampling = sampling  # {"temperature", "top_k", "top_p", "seed"}: sample instead of searching
        self.preprocess, self.postprocess = preprocess, postprocess
        self.stats = {"sentences": 0, "empty": 0, "truncated": 0, "unknown_tokens": 0}
        self.split_ranks = split_ranks

    @classmethod
    def from_runs(cls, run_dirs: list[str | os.PathLike], *, weights: str | os.PathLike | None = None,
                  device: str | torch.device = "cpu", **options: Any) -> Translator:
        """One run: :meth:`from_run` (``weights`` may replace its best weights). Several: their models
        as an :class:`~seqkit.seq2seq.ensemble.Ensemble` over the first run's tokenizer; runs whose
        tokenizers differ are refused (their ids would not mean the same pieces)."""
        from seqkit.seq2seq.ensemble import Ensemble

        if len(run_dirs) == 1:
            return cls.from_run(run_dirs[0], weights=weights, device=device, **options)
        if weights is not None:
            raise SeqkitError("--weights applies to one run, not an ensemble", fix="drop --weights or give one --run")
        members = [cls.from_run(r, device=device, **options) for r in run_dirs]
        first = sha256_file(model_dir(run_dirs[0]) / "spm.model")
        for run in run_dirs[1:]:
            if sha256_file(model_dir(run) / "spm.model") != first:
                raise SeqkitError("this run's tokenizer differs from the first run's: an ensemble needs one "
                                  "vocabulary", path=run, fix="ensemble runs trained with the same spm.model")
        lead = members[0]
        return cls(Ensemble([m.model for m in members]), lead.tokenizer, device=device,
                   preprocess=lead.preprocess, postprocess=lead.postprocess, **options)

    @classmethod
    def from_run(cls, run_dir: str | os.PathLike, *, weights: str | os.PathLike | None = None,
                 device: str | torch.device = "cpu", **options: Any) -> Translator:
        """Load the model folder of a run (``RUN_DIR/model/``, or a model folder itself).

        The decode settings are ``options`` (beam, alpha, ...), never something a training run
        stored. A tokenizer that is not the one the weights were trained with is refused.
        """
        from seqkit.text import SentencePieceTokenizer

        folder = model_dir(run_dir)
        info = load_json(folder / "model.json")
        if not isinstance(info, dict) or not isinstance(info.get("model"), dict) or "vocab_size" not in info:
            raise SeqkitError("model.json lacks 'model' or 'vocab_size'", path=folder / "model.json",
                              fix="re-run the recipe's train stage (force=true)")
        recorded, actual = info.get("tokenizer_sha256"), sha256_file(folder / "spm.model")
        if recorded is not None and recorded != actual:
            raise SeqkitError(f"spm.model is not the tokenizer these weights were trained with (sha256 "
                              f"{actual[:12]}, model.json records {recorded[:12]})", path=folder,
                              fix="keep the files of one model folder together, or re-run training")
        tokenizer = SentencePieceTokenizer.load(folder / "spm.model")
        try:
            model = build_model(info["model"], info["vocab_size"])
        except (SeqkitError, KeyError, TypeError) as exc:
            raise SeqkitError(f"model.json describes no model seqkit can build ({exc})", path=folder / "model.json",
                              fix="re-run the recipe's train stage (force=true)") from None
        weights = Path(weights) if weights is not None else folder / "model.safetensors"
        try:
            model.load_state_dict(load_weights(weights))
        except RuntimeError as exc:
            raise SeqkitError(f"weights do not fit model.json ({str(exc).splitlines()[0]})", path=weights,
                              fix="use the weights written by this run") from None
        pre, post = side_functions(model_pretokenize(info))
        return cls(model, tokenizer, device=device, preprocess=pre, postprocess=post, **options)

    # -- translation ------------------------------------------------------------------------------
    def batches(self, src_ids: list[list[int]]) -> Any:
        """Length-bucketed decoding batches (``seqkit.data.ParallelBatches``, sources as dummy targets).

        The same padding and ``<eos>`` convention as training; empty sources are left out (their
        translation is empty) and sources over ``max_src_len`` tokens (``<eos>`` included) are cut.
        """
        from seqkit.data import ParallelBatches

        return ParallelBatches(src_ids, src_ids, max_tokens=self.batch_tokens, bucket=True, shuffle=False,
                               max_src_len=self.max_src_len, max_tgt_len=self.max_src_len, count="tgt")

    def search(self, src_ids: list[list[int]], *, beam: int | None = None, nbest: int = 1,
               attention: bool = False, prefix_ids: list[list[int]] | None = None) -> list[list[Hypothesis]]:
        """For each source id list, its ``nbest`` :class:`~seqkit.seq2seq.search.Hypothesis` (best
        first, with ``score`` -- the ranking score, length-normalised in beam search -- ``log_prob``,
        the summed log-probability of the tokens and ``<eos>``, and with ``attention`` the (target
        steps, source pieces + ``<eos>``) weights). ``prefix_ids``: target pieces each output must
        start with (forced; scored by the model). An empty source gives empty hypotheses."""
        beam = self.beam if beam is None else beam
        if nbest > max(beam, 1):
            raise SeqkitError(f"nbest ({nbest}) cannot exceed the beam size ({beam})", fix="raise --beam")
        empty = Hypothesis([], 0.0, 0.0, None)
        results: list[list[Hypothesis]] = [[empty] * nbest for _ in src_ids]
        self.stats["sentences"] += len(src_ids)
        n_empty = sum(1 for s in src_ids if not s)
        self.stats["empty"] += n_empty
        if n_empty == len(src_ids):
            return results
        model = _UnkPenalty(self.model, self.unk_penalty) if self.unk_penalty else self.model
        generator = None
        if self.sampling is not None:
            generator = torch.Generator().manual_seed(int(self.sampling.get("seed") or 0))
        split = self.split_ranks and self.sampling is None
        batches = self.batches(src_ids).epoch(0)
        searched = []  # (sentence indices, their hypotheses) of each batch searched here
        for batch in shard(batches) if split else batches:
            src, src_len = batch.src.to(self.device), batch.src_len.to(self.device)
            prefix = None
            if prefix_ids is not None:
                rows = [prefix_ids[i] for i in batch.indices.tolist()]
                width = max((len(r) for r in rows), default=0)
                prefix = torch.tensor([r + [-1] * (width - len(r)) for r in rows], dtype=torch.long,
                                      device=self.device) if width else None
            if self.sampling is not None:
                opts = {k: self.sampling[k] for k in ("temperature", "top_k", "top_p") if k in self.sampling}
                hyps = [[h] for h in sample(model, src, src_len, **opts, max_len_a=self.max_len_a,
                                            max_len_b=self.max_len_b, bos_id=BOS_ID, eos_id=EOS_ID,
                                            generator=generator, return_attention=attention, prefix=prefix)]
            elif beam <= 1:
                hyps = [[h] for h in greedy_search(model, src, src_len, max_len_a=self.max_len_a,
                                                    max_len_b=self.max_len_b, bos_id=BOS_ID, eos_id=EOS_ID,
                                                    return_attention=attention, prefix=prefix)]
            else:
                hyps = beam_search(model, src, src_len, beam_size=beam, alpha=self.alpha, nbest=nbest,
                                   length_penalty=self.length_penalty,
                                   max_len_a=self.max_len_a, max_len_b=self.max_len_b, bos_id=BOS_ID,
                                   eos_id=EOS_ID, return_attention=attention, prefix=prefix)
            searched.append((batch.indices.tolist(), hyps))
        for indices, hyps in gather_shards(searched) if split else searched:
            for i, hs in zip(indices, hyps):
                results[i] = list(hs) + [empty] * (nbest - len(hs))
        return results

    def translate_ids(self, src_ids: list[list[int]], *, beam: int | None = None, nbest: int = 1
                      ) -> list[list[list[int]]]:
        """For each source id list, its ``nbest`` output id lists (best first); empty in -> empty out."""
        return [[[t for t in h.tokens if t != UNK_ID] for h in hs]  # never print <unk> marks
                for hs in self.search(src_ids, beam=beam, nbest=nbest)]

    def translate_scored(self, sentences: list[str], *, beam: int | None = None, nbest: int = 1,
                         attention: bool = False, prefix: str | list[str] | None = None,
                         token_scores: bool = False) -> list[list[Translation]]:
        """For each sentence its ``nbest`` :class:`Translation` (text, pieces, scores, alignment).
        ``prefix``: the text every translation (or, a list: each sentence's) must begin with;
        ``token_scores``: each piece's log-probability too (the model's, teacher-forced on the output)."""
        src_ids = self.encode(sentences)
        prefix_ids = encode_prefix(self.tokenizer, prefix, len(sentences))
        out = []
        for ids, hs in zip(src_ids, self.search(src_ids, beam=beam, nbest=nbest, attention=attention,
                                                prefix_ids=prefix_ids)):
            src_pieces = [self.tokenizer.id_to_piece(t) for t in ids]
            out.append([Translation(self.decode(h.tokens), h.score, h.log_prob,
                                    [self.tokenizer.id_to_piece(t) for t in h.tokens], src_pieces,
                                    alignment(h.attention, len(ids), len(h.tokens))
                                    if attention and h.attention is not None else None,
                                    h.attention if attention else None,
                                    self.token_log_probs(ids, h.tokens) if token_scores and ids else None)
                        for h in hs])
        return out

    @torch.no_grad()
    def token_log_probs(self, src_ids: list[int], tokens: list[int]) -> list[float]:
        """The model's log-probability of each of ``tokens`` and then ``<eos>`` after ``src_ids``
        (teacher forcing; they sum to the search's ``log_prob`` of a finished hypothesis)."""
        src = torch.tensor([src_ids[: self.max_src_len - 1] + [EOS_ID]], device=self.device)
        tgt_in = torch.tensor([[BOS_ID, *tokens]], device=self.device)
        scores = self.model(src, torch.tensor([src.shape[1]], device=self.device), tgt_in)
        log_probs = scores.float().log_softmax(-1)[0]
        return [float(log_probs[i, t]) for i, t in enumerate([*tokens, EOS_ID])]



@torch.no_grad()
def validation_loss(model: nn.Module, batches: list[Any], device: torch.device,
                    split_ranks: bool = False) -> float:
    """Teacher-forced cross entropy per target token (no label smoothing) over ``batches``.

    ``split_ranks``: under ``torchrun`` each rank computes every ``world_size``-th batch and the sums are
    added over the ranks (every rank must call it); the same batches, summed in another order, so the
    result equals one process's up to float64 rounding (about 1e-15 relative).
    """
    was_training = model.training
    model.eval()
    total, tokens = 0.0, 0
    try:
        for batch in shard(batches) if split_ranks else batches:
            batch = batch.to(device) if hasattr(batch, "to") else batch
            logits = model(batch.src, batch.src_len, batch.tgt_in)
            loss_sum, n = sequence_loss(logits.float(), batch.tgt_out, PAD_ID, 0.0)
            total, tokens = total + float(loss_sum), tokens + int(n)
    finally:
        model.train(was_training)
    if split_ranks:
        total, tokens = all_reduce_sum([total, tokens], torch.device(device))
    return total / max(tokens, 1)


def score_translations(hyps: list[str], refs: list[str], tgt_lang: str | None = None) -> dict[str, Any]:
    """sacreBLEU corpus BLEU and chrF with signatures (``zh`` tokenization for Chinese targets)."""
    from seqkit.metrics import bleu, chrf

    tokenize = "zh" if str(tgt_lang or "").startswith("zh") else None  # None: seqkit.metrics detects
    b, c = bleu(hyps, refs, tokenize=tokenize), chrf(hyps, refs)
    return {"bleu": round(b.score, 2), "chrf": round(c.score, 2), "bleu_signature": b.signature,
            "chrf_signature": c.signature, "bleu_text": b.text}


def _encoder(tokenizer: Any, pretokenize: dict[str, str] | None):
    """``encode(lines, side)``: sentencepiece ids of lines of the ``"src"`` or ``"tgt"`` side, a
    pretokenized side cut into words first."""
    cut = {side: pretokenizer((pretokenize or {}).get(side)) for side in ("src", "tgt")}

    def encode(lines: list[str], side: str) -> list[list[int]]:
        return tokenizer.encode_ids_batch([cut[side](x) for x in lines] if cut[side] else lines)

    return encode


def make_valid_fn(model: nn.Module, tokenizer: Any, valid_src: list[str], valid_ref: list[str], *,
                  cfg: NMTTrainConfig | None = None, decode: DecodeConfig | None = None,
                  device: str | torch.device = "cpu", max_len: int | None = None,
                  pretokenize: dict[str, str] | None = None, tgt_lang: str | None = None,
                  split_ranks: bool = False):
    """The trainer's ``valid_fn`` that :func:`train_nmt` uses: ``valid_fn(model) -> {"loss", "ppl",
    "bleu", "chrf"}`` on the first ``cfg.valid_max_sents`` pairs: the teacher-forced cross entropy per
    target token (:func:`validation_loss`, batches of ``cfg.max_tokens``) and sacreBLEU BLEU and chrF of
    their ``cfg.valid_beam`` translations (the other search settings from ``decode``).

    ``split_ranks``: under ``torchrun`` every rank calls it and does its share -- every
    ``world_size``-th decoding batch and loss batch (see :class:`Translator`); the translations are
    gathered in order and scored whole, the loss sums added. BLEU and chrF are then one process's
    exactly; the loss differs from it by float64 rounding only (the same per-batch sums, added in
    another order).
    """
    from seqkit.data import ParallelBatches

    cfg, decode = cfg or NMTTrainConfig(), decode or DecodeConfig()
    encode = _encoder(tokenizer, pretokenize)
    if cfg.valid_max_sents:
        valid_src, valid_ref = valid_src[: cfg.valid_max_sents], valid_ref[: cfg.valid_max_sents]
    valid_batches = list(ParallelBatches(
        encode(valid_src, "src"), encode(valid_ref, "tgt"),
        max_tokens=cfg.max_tokens, bucket=True, shuffle=False, min_len=1, max_len=max_len).epoch(0))
    translator = Translator(model, tokenizer, device=device, split_ranks=split_ranks,
                            **{**decode.translator_options(), "beam": cfg.valid_beam},
                            **dict(zip(("preprocess", "postprocess"), side_functions(pretokenize))))

    def valid_fn(m: nn.Module) -> dict:
        translator.model = m
        scores = score_translations(translator.translate(valid_src), valid_ref, tgt_lang)
        loss = validation_loss(m, valid_batches, translator.device, split_ranks=split_ranks)
        return {"loss": loss, "ppl": math.exp(min(loss, 50.0)), "bleu": scores["bleu"],
                "chrf": scores["chrf"]}

    return valid_fn


@dataclass
class NMTTraining:
    """What :func:`train_nmt` returns: the trained model (last weights), the fit's figures, the path
    of the best weights by validation BLEU (``None`` without validation) and the batcher's report."""

    model: nn.Module
    result: Any
    best_path: Path | None
    batches: Any


def train_nmt(model: nn.Module, tokenizer: Any, train_src: list[str] | Any, train_tgt: list[str] | None,
              valid_src: list[str] | None = None, valid_ref: list[str] | None = None, *,
              cfg: NMTTrainConfig | None = None, device: str | torch.device = "cpu",
              run_dir: str | os.PathLike | None = None, seed: int = 0, resume: bool = False,
              max_len: int | None = None, pretokenize: dict[str, str] | None = None, tgt_lang: str | None = None,
              decode: DecodeConfig | None = None, log_fn: Any = None) -> NMTTraining:
    """Train a translation model with the shared :class:`~seqkit.train.Trainer`.

    Token-budget length-bucketed batches of the sentencepiece ids (pairs with an empty side or more
    than ``max_len`` pieces are dropped and counted), label-smoothed cross entropy, the optimizer and
    schedule ``cfg`` names, ``pretokenize`` ({"src"|"tgt": "jieba"|"char"}) cutting a Chinese side into
    words before sentencepiece, validation BLEU on ``valid_src``/``valid_ref`` (greedy with
    ``cfg.valid_beam`` 1; :func:`make_valid_fn`, split across the ranks under ``torchrun``) every
    ``cfg.valid_every`` updates with best-N checkpoints in ``run_dir``, early stopping and a time
    budget. ``resume=True`` continues the run in ``run_dir`` exactly.

    ``train_src`` may instead be a :class:`seqkit.data.prepared.PreparedCorpus` (``train_tgt=None``):
    the pairs tokenized once by ``seqkit data prepare`` with this ``tokenizer``, batched straight from
    its files, so the corpus never becomes Python objects (the same batches as the lists would give;
    ``cfg.pool_pairs`` buckets within pools, for memory that does not grow with the corpus).
    """
    from seqkit.data import ParallelBatches
    from seqkit.data.prepared import PreparedCorpus
    from seqkit.train import Trainer, build_optimizer, schedule_from

    cfg = cfg or NMTTrainConfig()
    encode = _encoder(tokenizer, pretokenize)
    batch_options = dict(max_tokens=cfg.max_tokens, bucket=True, shuffle=True, seed=seed, min_len=1, max_len=max_len,
                         pool_pairs=cfg.pool_pairs)
    if isinstance(train_src, PreparedCorpus):
        _check_prepared(train_src, train_tgt, tokenizer, pretokenize)
        batches = ParallelBatches.from_prepared(train_src, **batch_options)
    else:
        batches = ParallelBatches(encode(train_src, "src"), encode(train_tgt, "tgt"), **batch_options)
    LOG.info("training pairs: %s; %s batches of <= %s tokens per epoch", batches.report(), f"{len(batches):,}",
             cfg.max_tokens)
    optimizer = build_optimizer(cfg.optimizer, model.parameters(), cfg.lr, betas=cfg.betas, eps=cfg.eps,
                                weight_decay=cfg.weight_decay)
    scheduler = schedule_from(cfg, optimizer, d_model=getattr(model, "d_model", None),
                              total=cfg.max_steps or max(1, len(batches) * cfg.epochs))

    valid_fn = None
    if valid_src:  # every rank validates its share under torchrun (the Trainer calls valid_fn on all)
        valid_fn = make_valid_fn(model, tokenizer, valid_src, valid_ref, cfg=cfg, decode=decode,
                                 device=device, max_len=max_len, pretokenize=pretokenize, tgt_lang=tgt_lang,
                                 split_ranks=True)
    trainer = Trainer(model, optimizer, NMTStep(cfg.label_smoothing, PAD_ID), scheduler=scheduler,
                      clip_norm=cfg.clip_norm, accum_steps=cfg.accum_steps, amp=cfg.amp, device=device,
                      run_dir=run_dir, log_every=cfg.log_every, ckpt_every_steps=cfg.ckpt_every_steps,
                      keep_best=cfg.keep_best, keep_last=cfg.keep_last, flops_per_item=train_flops_per_token(model), item_name="tokens",
                      progress=cfg.progress, log_fn=log_fn)
    result = trainer.fit(batches, epochs=cfg.epochs, max_steps=cfg.max_steps, max_time=cfg.max_time,
                         valid_fn=valid_fn, valid_every=cfg.valid_every, monitor="bleu", mode="max",
                         early_stopping=cfg.early_stopping, resume=resume)
    best = trainer.ckpt.best_path if trainer.ckpt else None
    return NMTTraining(trainer.model, result, best, batches)


def _check_prepared(corpus: Any, train_tgt: Any, tokenizer: Any, pretokenize: dict[str, str] | None) -> None:
    """A prepared corpus must have been tokenized by ``tokenizer`` (the same model bytes), alone, its
    sides cut as ``pretokenize`` says (the model's input will be cut that way)."""
    import hashlib

    if train_tgt is not None:
        raise SeqkitError("a prepared corpus holds both sides", fix="pass train_tgt=None with a PreparedCorpus")
    want = {side: how for side, how in (pretokenize or {}).items() if pretokenizer(how) is not None}
    if corpus.meta.get("pretokenize", {}) != want:
        raise SeqkitError(f"the prepared corpus was cut with pretokenize={corpus.meta.get('pretokenize', {})}, "
                          f"the model is trained with {want}", path=corpus.path,
                          fix="prepare it again with the same pretokenize (`seqkit data prepare --pretokenize ...`)")
    proto = getattr(tokenizer, "_proto", None)
    if proto is None or hashlib.sha256(proto).hexdigest() != corpus.spm_sha256:
        raise SeqkitError("the prepared corpus was tokenized with another sentencepiece model", path=corpus.path,
                          fix="prepare it again with this model (`seqkit data prepare --spm ...`)")


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
