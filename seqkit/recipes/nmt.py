"""The NMT recipe stages: data -> joint sentencepiece -> vocab -> train -> decode -> evaluate.

Recipes ``nmt_transformer`` and ``nmt_rnn_attention`` list these stages; each reads the config
sections in its ``uses`` and passes data on through files in the run directory:

=================  ==================================================================================
``nmt.data``       loads the corpus (``data.name``: bundled ``seqkit-en-fr``, ``multi30k``, ``fra-eng``,
                   ``cmn-eng``, or local files ``data.train/valid/test: [SRC_FILE, TGT_FILE]``), checks
                   that source and target have the same number of lines, writes ``data/{split}.{src,tgt}``
``nmt.spm``        trains the joint sentencepiece model on both sides -> ``spm.model``
``nmt.vocab``      the vocabulary of that model, ids identical -> ``vocab.json``
``nmt.train``      token-budget length-bucketed batches, the :class:`~seqkit.train.Trainer` with
                   label smoothing, Adam + warmup/inverse-sqrt, validation BLEU, best-N checkpoints,
                   early stopping and a time budget -> ``train/`` and ``model.safetensors`` (best)
``nmt.decode``     beam search over the test set -> ``test.hyp`` (detokenized, one line per source)
``nmt.evaluate``   sacreBLEU BLEU and chrF with their signatures -> ``scores.json``
=================  ==================================================================================

Bad input is handled once, here: mismatched line counts are an error naming both files; training
pairs with an empty side or longer than ``data.max_len`` pieces are dropped and counted in the log;
empty test lines give empty translations; over-long test sources are cut (and counted).
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Any

import torch

from seqkit.errors import SeqkitError
from seqkit.io import iter_lines, load_json, read_lines, save_json, write_text_atomic
from seqkit.recipes.pipeline import Run, stage
from seqkit.seq2seq.nmt import (
    PAD_ID,
    NMTStep,
    Translator,
    _jieba_segment,
    build_model,
    count_parameters,
    join_cjk,
    model_config,
    train_flops_per_token,
)

SPLITS = ("train", "valid", "test")


# -- data --------------------------------------------------------------------------------------------
def check_parallel(src: list[str], tgt: list[str], src_name: Any, tgt_name: Any) -> None:
    """Source and target must have one line each per sentence pair."""
    if len(src) != len(tgt):
        raise SeqkitError(f"source has {len(src)} lines but target {tgt_name} has {len(tgt)}",
                          path=src_name, fix="give parallel files with one sentence per line on both sides")
    if not src:
        raise SeqkitError("empty corpus: no sentence pairs", path=src_name, fix="give non-empty files")


def _local_split(files: Any, split: str) -> tuple[list[str], list[str]]:
    if len(files) != 2:
        raise SeqkitError(f"data.{split} must be [SOURCE_FILE, TARGET_FILE], got {list(files)}")
    src_path, tgt_path = (Path(str(f)).expanduser() for f in files)
    src, tgt = read_lines(src_path), read_lines(tgt_path)
    check_parallel(src, tgt, src_path, tgt_path)
    return src, tgt


def load_parallel(data_cfg: Any) -> tuple[dict[str, tuple[list[str], list[str]]], str | None, str | None]:
    """``({"train": (src_lines, tgt_lines), "valid": ..., "test": ...}, src_lang, tgt_lang)`` from
    the ``data:`` section."""
    if data_cfg.get("train"):
        splits = {s: _local_split(data_cfg[s], s) for s in SPLITS if data_cfg.get(s)}
        missing = [s for s in SPLITS if s not in splits]
        if missing:
            raise SeqkitError(f"local data needs train, valid and test files; missing: {', '.join(missing)}",
                              fix="set data.valid=[SRC,TGT] and data.test=[SRC,TGT]")
        return splits, data_cfg.get("src"), data_cfg.get("tgt")
    import seqkit.data as skdata

    kwargs = {k: data_cfg[k] for k in ("src", "tgt") if data_cfg.get(k)}
    corpus = skdata.load(data_cfg.name, **kwargs)
    out = {}
    for split in SPLITS:
        part = getattr(corpus, split, None)
        if part is None:
            raise SeqkitError(f"corpus {data_cfg.name!r} has no {split} split",
                              fix="give local files with data.train/valid/test")
        src, tgt = list(part.src), list(part.tgt)
        check_parallel(src, tgt, f"{data_cfg.name}:{split}", f"{data_cfg.name}:{split}")
        out[split] = (src, tgt)
    src_lang = getattr(corpus, "src_lang", None) or data_cfg.get("src")
    return out, src_lang, getattr(corpus, "tgt_lang", None) or data_cfg.get("tgt")



def _zh_side(src_lang: str | None, tgt_lang: str | None) -> str | None:
    """Which side is Chinese (segmented with jieba before sentencepiece), if any."""
    if str(src_lang or "").startswith("zh"):
        return "src"
    if str(tgt_lang or "").startswith("zh"):
        return "tgt"
    return None


@stage("nmt.data", uses=("data",))
def data_stage(run: Run) -> dict:
    """Load the parallel corpus, check it, and write data/{train,valid,test}.{src,tgt}."""
    cfg = run.cfg.data
    splits, src_lang, tgt_lang = load_parallel(cfg)
    counts, files = {}, []
    for split, (src, tgt) in splits.items():
        if cfg.get(f"max_{split}"):
            src, tgt = src[: cfg[f"max_{split}"]], tgt[: cfg[f"max_{split}"]]
        for side, lines in (("src", src), ("tgt", tgt)):
            write_text_atomic(run.path(f"data/{split}.{side}"), "".join(line + "\n" for line in lines))
            files.append(f"data/{split}.{side}")
        counts[split] = len(src)
    name = "local files" if cfg.get("train") else cfg.name
    run.log(f"{name} {src_lang or '?'}->{tgt_lang or '?'}: "
            + ", ".join(f"{k} {v:,}" for k, v in counts.items()) + " pairs")
    return {"pairs": counts, "files": files, "src": src_lang, "tgt": tgt_lang,
            "zh_side": _zh_side(src_lang, tgt_lang)}


# -- sentencepiece and vocab --------------------------------------------------------------------------
def _maybe_segment(lines: list[str], on: bool) -> list[str]:
    return [_jieba_segment(s) for s in lines] if on else lines


@stage("nmt.spm", uses=("data", "spm"))
def spm_stage(run: Run) -> dict:
    """Train the joint sentencepiece model on both training sides -> spm.model."""
    from seqkit.text import SentencePieceTokenizer

    cfg = run.cfg.spm
    zh = run.results["nmt.data"].get("zh_side")
    texts = []
    for side in ("src", "tgt"):
        lines = read_lines(run.path(f"data/train.{side}"))
        texts.extend(_maybe_segment(lines, zh == side))
    started = time.perf_counter()
    tok = SentencePieceTokenizer.train(texts, vocab_size=cfg.vocab_size, model_type=cfg.model_type,
                                       character_coverage=cfg.character_coverage,
                                       input_sentence_size=cfg.get("input_sentence_size") or 0)
    tok.save(run.path("spm.model"))
    run.log(f"sentencepiece {cfg.model_type} with {len(tok):,} pieces in {time.perf_counter() - started:.1f}s")
    return {"vocab_size": len(tok), "files": ["spm.model"]}


@stage("nmt.vocab", uses=("data", "spm"))
def vocab_stage(run: Run) -> dict:
    """The joint vocabulary of the sentencepiece model (same ids) -> vocab.json."""
    from seqkit.text import SentencePieceTokenizer, Vocab

    vocab = Vocab.from_spm(SentencePieceTokenizer.load(run.path("spm.model")))
    vocab.save(run.path("vocab.json"))
    return {"size": len(vocab), "files": ["vocab.json"]}


# -- training -----------------------------------------------------------------------------------------
def encode_pairs(tok: Any, src: list[str], tgt: list[str], zh_side: str | None = None
                 ) -> tuple[list[list[int]], list[list[int]]]:
    """Sentencepiece ids of each side (Chinese segmented by jieba first)."""
    return (tok.encode_ids_batch(_maybe_segment(src, zh_side == "src")),
            tok.encode_ids_batch(_maybe_segment(tgt, zh_side == "tgt")))


def make_optimizer(model: torch.nn.Module, cfg: Any) -> torch.optim.Optimizer:
    """Adam or AdamW with the Transformer betas (0.9, 0.98) unless the config says otherwise."""
    name = str(cfg.optimizer).lower()
    betas = tuple(cfg.get("betas") or (0.9, 0.98))
    kwargs = dict(lr=cfg.lr, betas=betas, eps=cfg.get("eps") or 1e-9, weight_decay=cfg.get("weight_decay") or 0.0)
    if name == "adam":
        return torch.optim.Adam(model.parameters(), foreach=True, **kwargs)
    if name == "adamw":
        return torch.optim.AdamW(model.parameters(), foreach=True, **kwargs)
    raise SeqkitError(f"unknown optimizer {cfg.optimizer!r}", fix="use adam or adamw")


def corpus_scores(hyps: list[str], refs: list[str], tgt_lang: str | None = None) -> dict[str, Any]:
    """sacreBLEU corpus BLEU and chrF with signatures (``zh`` tokenization for Chinese targets)."""
    from seqkit.metrics import bleu, chrf

    tokenize = "zh" if str(tgt_lang or "").startswith("zh") else None  # None: seqkit.metrics detects
    b, c = bleu(hyps, refs, tokenize=tokenize), chrf(hyps, refs)
    return {"bleu": round(b.score, 2), "chrf": round(c.score, 2), "bleu_signature": b.signature,
            "chrf_signature": c.signature, "bleu_text": b.text}


def _device(run: Run) -> str:
    return run.device


@stage("nmt.train", uses=("data", "spm", "model", "train"), distributed=True)
def train_stage(run: Run) -> dict:
    """Train the model with the shared Trainer; keep the best weights by validation BLEU."""
    from seqkit.data import ParallelBatches
    from seqkit.text import SentencePieceTokenizer
    from seqkit.train import Trainer, build_schedule, fit_summary

    cfg, tcfg = run.cfg, run.cfg.train
    if tcfg.get("threads"):
        torch.set_num_threads(int(tcfg.threads))
    data_info = run.results["nmt.data"]
    zh = data_info.get("zh_side")
    tok = SentencePieceTokenizer.load(run.path("spm.model"))
    src_ids, tgt_ids = encode_pairs(tok, read_lines(run.path("data/train.src")),
                                    read_lines(run.path("data/train.tgt")), zh)
    # Empty sides and pairs over data.max_len pieces are dropped (and reported) by the batcher.
    batches = ParallelBatches(src_ids, tgt_ids, max_tokens=tcfg.max_tokens, bucket=True, shuffle=True,
                              seed=int(cfg.seed or 0), min_len=1, max_len=cfg.data.max_len)
    run.log(f"training pairs: {batches.report()}")

    torch.manual_seed(int(cfg.seed or 0))
    mcfg = model_config(cfg.model.arch, cfg.model.preset,
                        **{k: v for k, v in cfg.model.items() if k not in ("arch", "preset")})
    model = build_model(mcfg, len(tok))
    dcfg = cfg.decode
    decode_opts = {"alpha": dcfg.alpha, "max_len_a": dcfg.max_len_a, "max_len_b": dcfg.max_len_b,
                   "batch_tokens": dcfg.batch_tokens}
    if run.is_main:
        save_json(run.path("model.json"), {"model": mcfg, "vocab_size": len(tok), "zh_side": zh,
                                           "src": data_info.get("src"), "tgt": data_info.get("tgt"),
                                           "decode": decode_opts})
    n_params = count_parameters(model)
    run.log(f"{mcfg['arch']} model, {n_params:,} parameters; {len(batches.indices):,} training pairs, "
            f"{len(batches):,} batches of <= {tcfg.max_tokens} tokens per epoch")

    optimizer = make_optimizer(model, tcfg)
    sched_opts = {"warmup": tcfg.warmup} if tcfg.schedule in ("inverse_sqrt", "noam", "cosine") else {}
    if tcfg.schedule == "noam":
        sched_opts["d_model"] = mcfg.get("d_model", 256)
    if tcfg.schedule == "cosine":
        sched_opts["total"] = tcfg.max_steps or max(1, len(batches) * tcfg.epochs)
    scheduler = build_schedule(tcfg.schedule, optimizer, **sched_opts)

    valid_src = read_lines(run.path("data/valid.src"))
    valid_ref = read_lines(run.path("data/valid.tgt"))
    if tcfg.valid_max_sents:
        valid_src, valid_ref = valid_src[: tcfg.valid_max_sents], valid_ref[: tcfg.valid_max_sents]
    translator = Translator(model, tok, device=_device(run), beam=tcfg.valid_beam, **decode_opts,
                            preprocess=_jieba_segment if zh == "src" else None,
                            postprocess=join_cjk if zh == "tgt" else None)

    def valid_fn(m: torch.nn.Module) -> dict:
        translator.model = m
        hyps = translator.translate(valid_src, beam=tcfg.valid_beam)
        scores = corpus_scores(hyps, valid_ref, data_info.get("tgt"))
        return {"bleu": scores["bleu"], "chrf": scores["chrf"]}

    train_dir = run.path("train")
    if not cfg.get("resume") and train_dir.exists() and run.is_main:
        shutil.rmtree(train_dir)  # a fresh run: no stale checkpoints or metrics
    trainer = Trainer(model, optimizer, NMTStep(tcfg.label_smoothing, PAD_ID), scheduler=scheduler,
                      clip_norm=tcfg.clip_norm, accum_steps=tcfg.accum_steps, amp=tcfg.amp,
                      device=_device(run), run_dir=train_dir, log_every=tcfg.log_every,
                      ckpt_every_steps=tcfg.ckpt_every_steps, keep_best=tcfg.keep_best,
                      flops_per_item=train_flops_per_token(model), item_name="tokens",
                      progress=bool(tcfg.progress))
    result = trainer.fit(batches, epochs=tcfg.epochs, max_steps=tcfg.max_steps, max_time=tcfg.max_time,
                         valid_fn=valid_fn, valid_every=tcfg.valid_every, monitor="bleu", mode="max",
                         early_stopping=tcfg.early_stopping, resume=bool(cfg.get("resume")))
    run.log(fit_summary(result, "target tokens"))
    best = trainer.ckpt.best_path if trainer.ckpt else None
    if run.is_main and best is not None:
        shutil.copyfile(best, run.path("model.safetensors"))
    elif run.is_main:  # no validation ran: keep the last weights
        from seqkit.train import save_weights

        save_weights(run.path("model.safetensors"), trainer.model.state_dict())
    summary = {k: v for k, v in result.to_dict().items() if k != "last_valid"}
    summary.update(parameters=n_params, dropped=batches.dropped, train_pairs=len(batches.indices))
    run.log_metrics({"train_tokens_per_s": round(result.items_per_s, 1), "best_valid_bleu": result.best_score,
                     "steps": result.steps})
    return {**summary, "files": ["model.safetensors", "model.json"]}


# -- decoding and evaluation ---------------------------------------------------------------------------
@stage("nmt.decode", uses=("data", "spm", "model", "train", "decode"))
def decode_stage(run: Run) -> dict:
    """Beam-search the test set with the best weights -> test.hyp (and test.ref)."""
    cfg = run.cfg.decode
    if run.cfg.train.get("threads"):
        torch.set_num_threads(int(run.cfg.train.threads))
    translator = Translator.from_run(run.dir, device=_device(run), beam=cfg.beam)
    src = read_lines(run.path("data/test.src"))
    started = time.perf_counter()
    hyps = translator.translate(src, beam=cfg.beam)
    seconds = time.perf_counter() - started
    write_text_atomic(run.path("test.hyp"), "".join(h + "\n" for h in hyps))
    shutil.copyfile(run.path("data/test.tgt"), run.path("test.ref"))
    s = translator.stats
    run.log(f"beam {cfg.beam}: {len(src):,} test sentences in {seconds:.1f}s "
            f"({len(src) / seconds:.1f} sentences/s); empty {s['empty']}, cut {s['truncated']}, "
            f"unknown pieces {s['unknown_tokens']}")
    return {"sentences": len(src), "seconds": round(seconds, 2), "sentences_per_s": round(len(src) / seconds, 2),
            "files": ["test.hyp", "test.ref"], **s}


@stage("nmt.evaluate", uses=("data", "decode"))
def evaluate_stage(run: Run) -> dict:
    """sacreBLEU BLEU and chrF of test.hyp against test.ref -> scores.json."""
    hyps = list(iter_lines(run.path("test.hyp")))
    refs = list(iter_lines(run.path("test.ref")))
    if len(hyps) != len(refs):
        raise SeqkitError(f"{len(hyps)} hypotheses for {len(refs)} references", path=run.path("test.hyp"),
                          fix="re-run the decode stage (force=true)")
    scores = corpus_scores(hyps, refs, run.results["nmt.data"].get("tgt"))
    save_json(run.path("scores.json"), scores)
    run.log(f"{scores['bleu_text']} ({scores['bleu_signature']})")
    run.log(f"chrF2 = {scores['chrf']} ({scores['chrf_signature']})")
    run.log_metrics({"test_bleu": scores["bleu"], "test_chrf": scores["chrf"]})
    info = load_json(run.path("model.json")) if run.path("model.json").is_file() else {}
    return {"bleu": scores["bleu"], "chrf": scores["chrf"], "signature": scores["bleu_signature"],
            "model": info.get("model", {}).get("arch"), "files": ["scores.json"]}


