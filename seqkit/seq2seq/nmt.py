"""A translation system as one object: sentencepiece + model + search, saved in a run directory.

This is the glue the ``nmt_transformer`` / ``nmt_rnn_attention`` recipes, ``seqkit translate`` and
``benchmarks/nmt.py`` share:

- :data:`PRESETS` and :func:`build_model`: model sizes by name (``tiny``, ``small``, ``base``; ``base``
  is JoeyNMT's Multi30k Transformer: 3+3 layers, d_model 256, 4 heads, FFN 1024, 7.58M parameters with
  an 8k vocabulary), with any field overridable;
- :class:`NMTStep`: the trainer's ``step_fn`` -- label-smoothed cross entropy as a per-token mean;
- :class:`Translator`: batched beam/greedy translation of raw sentences, loaded from a run directory
  with :meth:`Translator.from_run`.

Run-directory files it reads and writes: ``spm.model`` (joint sentencepiece), ``model.json``
(architecture and sizes), ``model.safetensors`` (the weights, best by validation BLEU).
"""

from __future__ import annotations

import functools
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from seqkit.errors import SeqkitError
from seqkit.io import load_json, save_json
from seqkit.seq2seq.loss import sequence_loss
from seqkit.seq2seq.search import beam_search, greedy_search
from seqkit.train import StepOutput
from seqkit.train.checkpoint import load_weights

UNK_ID, PAD_ID, BOS_ID, EOS_ID = 0, 1, 2, 3

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
        "tiny": dict(embed_dim=128, hidden=256, layers=1, cell="gru", attention="bahdanau",
                     bidirectional=True, dropout=0.1),
        "small": dict(embed_dim=256, hidden=256, layers=2, cell="gru", attention="bahdanau",
                      bidirectional=True, dropout=0.2),
        "base": dict(embed_dim=256, hidden=512, layers=2, cell="gru", attention="bahdanau",
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


class Translator:
    """Translate raw sentences with a trained model: encode, batch by length, search, decode.

    Args:
        model: an encoder-decoder of the :mod:`seqkit.seq2seq.interfaces` interface.
        tokenizer: the joint :class:`~seqkit.text.SentencePieceTokenizer` (ids = model ids).
        beam: beam size (1 = greedy search); ``alpha`` the GNMT length penalty.
        max_len_a, max_len_b: output cap ``a * source length + b`` tokens.
        max_src_len: longer sources are cut to this many tokens, ``<eos>`` included (counted in ``stats``).
        batch_tokens: padded source tokens per decoding batch (sentences are sorted by length first).
        postprocess: applied to every detokenized output (e.g. joining Chinese words).
    """

    def __init__(self, model: nn.Module, tokenizer: Any, *, device: str | torch.device = "cpu",
                 beam: int = 5, alpha: float = 1.0, max_len_a: float = 1.5, max_len_b: int = 10,
                 max_src_len: int = 250, batch_tokens: int = 3000,
                 preprocess: Any = None, postprocess: Any = None) -> None:
        from seqkit.train.host_memory import keep_freed_memory

        self.device = torch.device(device)
        keep_freed_memory(self.device)  # on a CPU: beam search reuses its buffers without page faults
        self.model = model.to(self.device).eval()
        self.tokenizer = tokenizer
        self.beam, self.alpha, self.max_len_a, self.max_len_b = beam, alpha, max_len_a, max_len_b
        self.max_src_len, self.batch_tokens = max_src_len, batch_tokens
        self.preprocess, self.postprocess = preprocess, postprocess
        self.stats = {"sentences": 0, "empty": 0, "truncated": 0, "unknown_tokens": 0}

    @classmethod
    def from_run(cls, run_dir: str | os.PathLike, *, weights: str | os.PathLike | None = None,
                 device: str | torch.device = "cpu", **options: Any) -> Translator:
        """Load ``spm.model``, ``model.json`` and the weights (``model.safetensors`` by default)."""
        from seqkit.text import SentencePieceTokenizer

        run_dir = Path(run_dir)
        if not run_dir.is_dir():
            raise SeqkitError("run directory not found", path=run_dir,
                              fix="give the run_dir of a finished nmt_transformer / nmt_rnn_attention run")
        for name in ("spm.model", "model.json"):
            if not (run_dir / name).is_file():
                raise SeqkitError(f"{name} missing: not a translation run, or training never started",
                                  path=run_dir, fix="run `seqkit recipe run nmt_transformer run_dir=...` first")
        tokenizer = SentencePieceTokenizer.load(run_dir / "spm.model")
        info = load_json(run_dir / "model.json")
        model = build_model(info["model"], info["vocab_size"])
        if weights is None:
            weights = run_dir / "model.safetensors"
            if not weights.is_file():
                weights = run_dir / "train" / "checkpoints" / "best.safetensors"
        try:
            model.load_state_dict(load_weights(weights))
        except RuntimeError as exc:
            raise SeqkitError(f"weights do not fit model.json ({str(exc).splitlines()[0]})", path=weights,
                              fix="use the weights written by this run") from None
        pre = post = None
        if info.get("zh_side") == "src":
            pre = _jieba_segment
        elif info.get("zh_side") == "tgt":
            post = join_cjk
        return cls(model, tokenizer, device=device, preprocess=pre, postprocess=post,
                   **{**info.get("decode", {}), **options})

    def save_info(self, run_dir: str | os.PathLike, model_cfg: dict, vocab_size: int) -> None:
        save_json(Path(run_dir) / "model.json", {"model": model_cfg, "vocab_size": vocab_size})

    # -- translation ------------------------------------------------------------------------------
    def encode(self, sentences: list[str]) -> list[list[int]]:
        """Source ids for each sentence (``<unk>`` pieces counted; ``<eos>`` is added when batching)."""
        texts = [self.preprocess(s) if self.preprocess else s for s in sentences]
        ids = [list(seq) for seq in self.tokenizer.encode_ids_batch(texts)]
        self.stats["unknown_tokens"] += sum(seq.count(UNK_ID) for seq in ids)
        self.stats["truncated"] += sum(1 for seq in ids if len(seq) + 1 > self.max_src_len)
        return ids

    def batches(self, src_ids: list[list[int]]) -> Any:
        """Length-bucketed decoding batches (``seqkit.data.ParallelBatches``, sources as dummy targets).

        The same padding and ``<eos>`` convention as training; empty sources are left out (their
        translation is empty) and sources over ``max_src_len`` tokens (``<eos>`` included) are cut.
        """
        from seqkit.data import ParallelBatches

        return ParallelBatches(src_ids, src_ids, max_tokens=self.batch_tokens, bucket=True, shuffle=False,
                               max_src_len=self.max_src_len, max_tgt_len=self.max_src_len, count="tgt")

    def translate_ids(self, src_ids: list[list[int]], *, beam: int | None = None, nbest: int = 1
                      ) -> list[list[list[int]]]:
        """For each source id list, its ``nbest`` output id lists (best first); empty in -> empty out."""
        beam = self.beam if beam is None else beam
        if nbest > max(beam, 1):
            raise SeqkitError(f"nbest ({nbest}) cannot exceed the beam size ({beam})", fix="raise --beam")
        results: list[list[list[int]]] = [[[] for _ in range(nbest)] for _ in src_ids]
        self.stats["sentences"] += len(src_ids)
        n_empty = sum(1 for s in src_ids if not s)
        self.stats["empty"] += n_empty
        if n_empty == len(src_ids):
            return results
        for batch in self.batches(src_ids).epoch(0):
            src, src_len = batch.src.to(self.device), batch.src_len.to(self.device)
            if beam <= 1:
                hyps = [[h] for h in greedy_search(self.model, src, src_len, max_len_a=self.max_len_a,
                                                    max_len_b=self.max_len_b, bos_id=BOS_ID, eos_id=EOS_ID)]
            else:
                hyps = beam_search(self.model, src, src_len, beam_size=beam, alpha=self.alpha, nbest=nbest,
                                   max_len_a=self.max_len_a, max_len_b=self.max_len_b, bos_id=BOS_ID,
                                   eos_id=EOS_ID)
            for i, hs in zip(batch.indices.tolist(), hyps):
                outs = [[t for t in h.tokens if t != UNK_ID] for h in hs]  # never print <unk> marks
                results[i] = outs + [[] for _ in range(nbest - len(outs))]
        return results

    def decode(self, ids: list[int]) -> str:
        text = self.tokenizer.decode_ids(ids)
        return self.postprocess(text) if self.postprocess else text

    def translate(self, sentences: list[str], *, beam: int | None = None, nbest: int = 1
                  ) -> list[list[str]] | list[str]:
        """Detokenized translations: a list of strings, or of ``nbest`` lists when ``nbest > 1``."""
        outs = self.translate_ids(self.encode(sentences), beam=beam, nbest=nbest)
        if nbest == 1:
            return [self.decode(o[0]) for o in outs]
        return [[self.decode(h) for h in o] for o in outs]

    def report(self, stream=sys.stderr) -> None:
        """Print what was skipped or cut, if anything (one line)."""
        s = self.stats
        notes = []
        if s["empty"]:
            notes.append(f"{s['empty']} empty lines gave empty translations")
        if s["truncated"]:
            notes.append(f"{s['truncated']} sources longer than {self.max_src_len} tokens were cut")
        if s["unknown_tokens"]:
            notes.append(f"{s['unknown_tokens']} source pieces were unknown to the model (<unk>)")
        if notes:
            print("note: " + "; ".join(notes), file=stream)


# -- Chinese ---------------------------------------------------------------------------------------
def _is_cjk(ch: str) -> bool:
    return "\u4e00" <= ch <= "\u9fff" or "\u3400" <= ch <= "\u4dbf" or "\u3000" <= ch <= "\u303f" \
        or "\uff00" <= ch <= "\uffef"


@functools.cache
def _jieba():
    from seqkit.text import JiebaTokenizer

    return JiebaTokenizer()


def _jieba_segment(text: str) -> str:
    return " ".join(_jieba().encode(text))


def join_cjk(text: str) -> str:
    """Remove the spaces jieba segmentation put between Chinese characters: ``"我 爱 你"`` -> ``"我爱你"``."""
    out = []
    for i, ch in enumerate(text):
        if ch == " " and 0 < i < len(text) - 1 and (_is_cjk(text[i - 1]) or _is_cjk(text[i + 1])) \
                and not (text[i - 1].isascii() and text[i + 1].isascii()):
            continue
        out.append(ch)
    return "".join(out)
