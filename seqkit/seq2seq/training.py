"""Training a translation model: the settings, the step, validation, and :func:`train_nmt`.

:func:`train_nmt` is the entry point the ``nmt_transformer`` / ``nmt_rnn_attention`` recipes, the
benchmarks and a user's script share: token-budget batches, label-smoothed cross entropy
(:class:`NMTStep`), the shared :class:`~seqkit.train.Trainer`, validation BLEU
(:func:`make_valid_fn`) and best-N checkpoints. :class:`NMTTrainConfig` holds its settings with their
ranges (the recipe's ``train:`` section).
"""

from __future__ import annotations

import logging
import math
import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import torch
from torch import nn

from seqkit.artifacts import Number, Obj, Str, read_json
from seqkit.errors import SeqkitError
from seqkit.seq2seq.decoding import DecodeSettings
from seqkit.seq2seq.loss import sequence_loss
from seqkit.seq2seq.model_folder import side_functions
from seqkit.seq2seq.presets import train_flops_per_token
from seqkit.seq2seq.translator import Translator
from seqkit.settings import setting
from seqkit.text.pretokenize import pretokenizer
from seqkit.text.vocab import PAD_ID
from seqkit.train import StepOutput
from seqkit.train.distributed import all_reduce_sum, shard

#: The library's messages (a recipe run sends them to its log.txt; configure ``logging`` to see them).
LOG = logging.getLogger("seqkit.seq2seq")

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
    average_last: int | None = setting(None, ge=1)  # or of the N newest step checkpoints (<= keep_last)
    keep_last: int = setting(1, ge=1)  # the newest step checkpoints kept (seqkit average --last N)
    ckpt_every_steps: int | None = setting(100, ge=1)
    log_every: int = setting(20, ge=1)
    progress: bool = True

    def checks(self) -> list[str]:
        if self.average_best is not None and self.average_best > self.keep_best:
            return [f"average_best: must be <= keep_best ({self.keep_best}), got {self.average_best}"]
        if self.average_best is not None and self.average_last is not None:
            return [f"average_last: set average_best={self.average_best} or average_last={self.average_last}, "
                    "not both (null turns one off)"]
        if self.average_last is not None and self.average_last > self.keep_last:
            return [f"average_last: must be <= keep_last ({self.keep_last}), got {self.average_last}"]
        if len(self.betas) != 2 or not all(isinstance(b, int | float) and 0 <= b < 1 for b in self.betas):
            return [f"betas: must be two numbers in [0, 1), got {self.betas!r}"]
        return []


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


#: A translation run's ``scores.json`` (what :func:`score_translations` returns and the recipe's
#: evaluate stage writes beside ``model/``); ``GET /info`` shows it (:func:`seqkit.serve.run_info`).
SCORES_JSON = Obj(fields={"bleu": Number(required=True, lo=0, hi=100), "chrf": Number(required=True, lo=0, hi=100),
                          "bleu_signature": Str(max_len=1000), "chrf_signature": Str(max_len=1000),
                          "bleu_text": Str(max_len=1000),
                          # the papers' tokenized BLEU (seqkit.metrics.tokenized), cased and lowercased
                          "bleu_tokenized": Number(lo=0, hi=100), "bleu_tokenized_lc": Number(lo=0, hi=100),
                          "bleu_tokenized_signature": Str(max_len=1000)})


def read_scores(path: str | os.PathLike) -> dict[str, Any]:
    """A ``scores.json``, checked against :data:`SCORES_JSON` (one line naming the file and the field)."""
    return read_json(path, SCORES_JSON, fix="re-run the recipe's evaluate stage (force=true)")


def score_translations(hyps: list[str], refs: list[str], tgt_lang: str | None = None, *,
                       tokenized: bool = True, pretokenized: bool = False) -> dict[str, Any]:
    """sacreBLEU corpus BLEU and chrF with signatures. Chinese targets (``tgt_lang`` ``zh*``, or without a
    language, references that look Chinese) are scored with the ``zh`` tokenizer, as WMT scores them; the
    signature says ``tok:zh``. With ``tokenized`` (not for Chinese), beside them the tokenized BLEU papers
    report, cased and lowercased (:func:`seqkit.metrics.tokenized_bleu`, labelled as such; ``pretokenized``:
    the text's own tokens, as fairseq's IWSLT14 text has them)."""
    from seqkit.metrics import bleu, chrf, is_chinese

    chinese = str(tgt_lang or "").startswith("zh") or (not tgt_lang and is_chinese(refs))
    tokenize = "zh" if chinese else None  # None: sacreBLEU's choice (13a)
    b, c = bleu(hyps, refs, tokenize=tokenize), chrf(hyps, refs)
    scores = {"bleu": round(b.score, 2), "chrf": round(c.score, 2), "bleu_signature": b.signature,
              "chrf_signature": c.signature, "bleu_text": b.text}
    if tokenized and not chinese:  # papers score Chinese by characters, not Moses tokens
        from seqkit.metrics import tokenized_bleu

        lang = str(tgt_lang or "en").split("-")[0].split("_")[0]
        cased, lower = (tokenized_bleu(hyps, refs, lang, lowercase=lc, pretokenized=pretokenized) for lc in (False, True))
        scores.update(bleu_tokenized=round(cased.score, 2), bleu_tokenized_lc=round(lower.score, 2),
                      bleu_tokenized_signature=cased.signature)
    return scores


def _encoder(tokenizer: Any, pretokenize: dict[str, str] | None):
    """``encode(lines, side)``: sentencepiece ids of lines of the ``"src"`` or ``"tgt"`` side, a
    pretokenized side cut into words first."""
    cut = {side: pretokenizer((pretokenize or {}).get(side)) for side in ("src", "tgt")}

    def encode(lines: list[str], side: str) -> list[list[int]]:
        return tokenizer.encode_ids_batch([cut[side](x) for x in lines] if cut[side] else lines)

    return encode


def make_valid_fn(model: nn.Module, tokenizer: Any, valid_src: list[str], valid_ref: list[str], *,
                  cfg: NMTTrainConfig | None = None, decode: DecodeSettings | None = None,
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

    cfg, decode = cfg or NMTTrainConfig(), decode or DecodeSettings()
    encode = _encoder(tokenizer, pretokenize)
    if cfg.valid_max_sents:
        valid_src, valid_ref = valid_src[: cfg.valid_max_sents], valid_ref[: cfg.valid_max_sents]
    valid_batches = list(ParallelBatches(
        encode(valid_src, "src"), encode(valid_ref, "tgt"),
        max_tokens=cfg.max_tokens, bucket=True, shuffle=False, min_len=1, max_len=max_len).epoch(0))
    translator = Translator(model, tokenizer, decode.replace(beam=cfg.valid_beam, nbest=1), device=device,
                            split_ranks=split_ranks,
                            **dict(zip(("preprocess", "postprocess"), side_functions(pretokenize))))

    def valid_fn(m: nn.Module) -> dict:
        translator.model = m
        scores = score_translations(translator.translate(valid_src), valid_ref, tgt_lang, tokenized=False)
        loss = validation_loss(m, valid_batches, translator.device, split_ranks=split_ranks)
        return {"loss": loss, "ppl": math.exp(min(loss, 50.0)), "bleu": scores["bleu"],
                "chrf": scores["chrf"]}

    return valid_fn


@dataclass
class NMTTraining:
    """What :func:`train_nmt` returns: the trained model (last weights), the fit's figures, the path
    of the best weights by validation BLEU (``None`` without validation), the batcher's report, the
    weights to keep (``weights``: the best file, the checkpoint average, or ``None`` without
    validation) and what :func:`choose_average` decided (``average``, ``None`` when not asked)."""

    model: nn.Module
    result: Any
    best_path: Path | None
    batches: Any
    weights: Any = None
    average: dict[str, Any] | None = None


def choose_average(model: nn.Module, judge: Any, best_path: Path, kind: str, n: int,
                   judged_on: str | None = None) -> tuple[Any, dict[str, Any]]:
    """The final weights: the mean of the ``n`` best (``kind="best"``) or newest (``"last"``) checkpoints
    beside ``best_path`` when ``judge(model)["bleu"]`` scores it at least as high as the best checkpoint,
    else the best checkpoint. Chosen on the validation set only.

    Both are scored now, by the same ``judge`` (:func:`train_nmt` gives it the whole validation set,
    decoded as the test set is; ``judged_on`` says so in the record). The best checkpoint's score from
    training is not reused: it is the highest of many small greedy validations, and a fresh score of any
    model rarely reaches such a maximum (on Multi30k that kept the best checkpoint in both directions, where
    the mean was 0.3 and 0.9 test BLEU better). Returns ``(weights, record)``: a state dict or
    ``best_path``, and ``{"kind", "n", "checkpoints", "judged_on", "valid_bleu_best", "valid_bleu_average",
    "chosen"}`` for the run's record (the scores ``None`` when there was nothing to average). ``model``
    gets its own weights back. Every rank calls it under ``torchrun`` (``judge`` is collective)."""
    from seqkit.train import average_weights, best_checkpoints, last_checkpoints, load_weights
    from seqkit.train.distributed import barrier

    barrier()  # rank 0 wrote the checkpoint files
    folder = best_path.parent
    files = best_checkpoints(folder, n) if kind == "best" else last_checkpoints(folder, n)
    record: dict[str, Any] = {"kind": kind, "n": n, "checkpoints": [f.name for f in files], "judged_on": judged_on,
                              "valid_bleu_best": None, "valid_bleu_average": None}
    if len(files) < 2:
        record["chosen"] = "best"
        return best_path, record
    averaged = average_weights(files)
    own = {k: v.detach().clone() for k, v in model.state_dict().items()}
    try:
        for key, weights in (("valid_bleu_best", load_weights(best_path)), ("valid_bleu_average", averaged)):
            model.load_state_dict(weights)
            record[key] = float(judge(model)["bleu"])
    finally:
        model.load_state_dict(own)
    if record["valid_bleu_average"] >= record["valid_bleu_best"]:
        record["chosen"] = "average"
        return averaged, record
    record["chosen"] = "best"
    return best_path, record


def train_nmt(model: nn.Module, tokenizer: Any, train_src: list[str] | Any, train_tgt: list[str] | None,
              valid_src: list[str] | None = None, valid_ref: list[str] | None = None, *,
              cfg: NMTTrainConfig | None = None, device: str | torch.device = "cpu",
              run_dir: str | os.PathLike | None = None, seed: int = 0, resume: bool = False,
              max_len: int | None = None, pretokenize: dict[str, str] | None = None, tgt_lang: str | None = None,
              decode: DecodeSettings | None = None, log_fn: Any = None, threads: int | None = None,
              sampling: Any = None) -> NMTTraining:
    """Train a translation model with the shared :class:`~seqkit.train.Trainer`.

    Token-budget length-bucketed batches of the sentencepiece ids (pairs with an empty side or more
    than ``max_len`` pieces are dropped and counted), label-smoothed cross entropy, the optimizer and
    schedule ``cfg`` names, ``pretokenize`` ({"src"|"tgt": "jieba"|"char"}) cutting a Chinese side into
    words before sentencepiece, validation BLEU on ``valid_src``/``valid_ref`` (greedy with
    ``cfg.valid_beam`` 1; :func:`make_valid_fn`, split across the ranks under ``torchrun``) every
    ``cfg.valid_every`` updates with best-N checkpoints in ``run_dir``, early stopping and a time
    budget. ``resume=True`` continues the run in ``run_dir`` exactly. ``seed`` orders the batches and seeds
    torch's generator (dropout) at the start, so two calls with one seed (and a model built with
    ``build_model(..., seed=)``) train alike. ``threads``: torch's CPU threads while it trains (default:
    the caller's count if they set one, else the free cores, as the CLI does -- :mod:`seqkit.threads`).

    ``train_src`` may instead be a :class:`seqkit.data.prepared.PreparedCorpus` (``train_tgt=None``):
    the pairs tokenized once by ``seqkit data prepare`` with this ``tokenizer``, batched straight from
    its files, so the corpus never becomes Python objects (the same batches as the lists would give;
    ``cfg.pool_pairs`` buckets within pools, for memory that does not grow with the corpus).

    ``sampling`` (a :class:`seqkit.text.sampling.SubwordSampling` with ``enabled``): subword
    regularization -- the training pairs are re-segmented in every epoch (unigram sampling or
    BPE-dropout), each pool of pairs when the epoch reaches it, from ``(seed, epoch, pool)``, so a
    resumed run sees the batches an uninterrupted one saw; validation and decoding keep the
    deterministic segmentation.
    """
    from seqkit.data import ParallelBatches
    from seqkit.data.prepared import PreparedCorpus
    from seqkit.train import Trainer, build_optimizer, schedule_from

    cfg = cfg or NMTTrainConfig()
    if not resume:  # dropout draws from torch's generator: seeded, two calls train alike (resume restores it)
        torch.manual_seed(seed)
    encode = _encoder(tokenizer, pretokenize)
    batch_options = dict(max_tokens=cfg.max_tokens, bucket=True, shuffle=True, seed=seed, min_len=1, max_len=max_len,
                         pool_pairs=cfg.pool_pairs)
    if sampling is not None and sampling.enabled:
        from seqkit.text.sampling import SubwordSampler

        batch_options["resample"] = SubwordSampler(tokenizer, sampling, seed)
        LOG.info("subword sampling (%s): alpha %s%s, the training pairs re-segmented every epoch",
                 batch_options["resample"].kind, sampling.alpha,
                 f", nbest_size {sampling.nbest_size}" if batch_options["resample"].kind == "unigram" else "")
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
                      progress=cfg.progress, log_fn=log_fn, threads=threads)
    result = trainer.fit(batches, epochs=cfg.epochs, max_steps=cfg.max_steps, max_time=cfg.max_time,
                         valid_fn=valid_fn, valid_every=cfg.valid_every, monitor="bleu", mode="max",
                         early_stopping=cfg.early_stopping, resume=resume)
    best = trainer.ckpt.best_path if trainer.ckpt else None
    weights, average = best, None
    kind = "best" if cfg.average_best else "last" if cfg.average_last else None
    if kind and best is not None and valid_fn is not None and result.best_score is not None:
        # the judge: every validation pair, decoded as the test set is (the validations chose on a few, greedily)
        judge_cfg = replace(cfg, valid_max_sents=None, valid_beam=(decode or DecodeSettings()).beam)
        judge = make_valid_fn(model, tokenizer, valid_src, valid_ref, cfg=judge_cfg, decode=decode, device=device,
                              max_len=max_len, pretokenize=pretokenize, tgt_lang=tgt_lang, split_ranks=True)
        weights, average = choose_average(trainer.model, judge, best, kind, int(cfg.average_best or cfg.average_last),
                                          f"{len(valid_src):,} validation sentences, beam {judge_cfg.valid_beam}")
        LOG.info("checkpoint average of the %s %s (%s) on %s: BLEU %s, the best checkpoint's %s -> %s",
                 kind, len(average["checkpoints"]), ", ".join(average["checkpoints"]), average["judged_on"],
                 average["valid_bleu_average"], average["valid_bleu_best"], average["chosen"])
    return NMTTraining(trainer.model, result, best, batches, weights, average)


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

