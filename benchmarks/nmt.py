"""NMT benchmark: seqkit vs JoeyNMT 2.3 on Multi30k de->en with the same Transformer.

Model (both sides): 3+3 layers, d_model 256, 4 heads, FFN 1024, ReLU, pre-norm, dropout 0.1, joint
8k sentencepiece unigram vocabulary, tied embeddings (7,578,624 parameters). Training as JoeyNMT's
baseline: Adam (0.9, 0.98), lr 5e-4, 2,000 warmup steps then inverse square root, label smoothing 0.1,
batches of 4,096 padded source+target tokens (seqkit buckets by length, so fewer of them are padding).

It measures, on this machine and in this run:

1. training throughput in target tokens/s (validation excluded) for ``--train-seconds``;
2. beam-5 decoding of test_2016_flickr (alpha 1.0, output capped at 100 tokens, as JoeyNMT's
   ``max_output_length: 100``) in sentences/s, and its sacreBLEU (13a, detokenized, cased).

Because the CPU may be shared, every timing is printed twice: per wall-clock second and per second
of this process's CPU time (``time.process_time``), which is less sensitive to other jobs. seqkit runs
one thread by default (``--threads``): on the shared 2-core machine two threads were 5x slower than one
(390 vs 1,985 target tokens/s at load ~3), because each waits for the other whenever another job holds
a core. JoeyNMT's documented figure used both cores of an idle machine, so the ratio is conservative.

Measured here (2026-11-27, shared 2-core AMD EPYC with avx512_bf16, bf16 autocast, 1 thread):
training 1,985 target tokens/s over 75 s at load ~2.5 (2.57x JoeyNMT's 772). The 60-minute budget, run
as 2,700 s (load 6-12) then ``--resume`` to 3,600 s (load ~3): 1,487 updates (lr 1e-3, warmup 800,
~1,900 target tokens per batch), test_2016_flickr beam-5 BLEU 36.29, chrF2 55.90 (JoeyNMT: BLEU 14.12, chrF2 31.74
after 3,600 s idle), decoded at 26.1 sentences/s (3.58x JoeyNMT's 7.3), same 100-token cap.

Side by side on the quiet machine (2026-11-27, ``--train-seconds 600 --threads 2 --joeynmt-venv ...``,
JoeyNMT 2.3.0 with torch 2.13.0): training 3,122 vs 810 target tokens/s, 3.85x (seqkit fp32,
``--amp none``: 2,405, 2.97x). JoeyNMT checkpoints only at its first validation (step 500), so a
600 s budget leaves it nothing to decode: give it more than ~20 minutes to compare decoding too.
The latest side-by-side run (2026-12-07, ``--train-seconds 300``, after the blocked label-smoothed loss
and the faster dropout masks): 3,096 vs 704 target tokens/s, 4.40x; ``docs/benchmarks.md`` has it.

Without ``--joeynmt-venv`` (or when that venv has no JoeyNMT) the script says ``skipped: JoeyNMT ...``
and shows the documented figures beside seqkit's. The run's files go into a fresh temporary folder,
removed at the end; ``--work DIR`` keeps them (``--skip-train`` and ``--resume`` need it).

    python benchmarks/nmt.py --train-seconds 600 --threads 2 --joeynmt-venv VENV
    python benchmarks/nmt.py --smoke     # 400 pairs, tiny preset, a few updates: checks the script
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch
from _common import header, skipped, table, work_folder

HERE = Path(__file__).resolve().parent

DEFAULT_SHARED = HERE.parent.parent / "shared"
JOEY_DOC = "docs/joeynmt-multi30k.md"
# The documented JoeyNMT figures (read from the doc when present; these are its values).
JOEY_DEFAULTS = {"train_tokens_per_s": 772.0, "beam5_sents_per_s": 7.3, "beam5_bleu": 14.12,
                 "greedy_bleu": 13.17, "budget_s": 3600}


def joey_reference(shared: Path) -> dict:
    """The figures of ``shared/docs/joeynmt-multi30k.md`` (falls back to the values copied above)."""
    ref = dict(JOEY_DEFAULTS)
    doc = shared / JOEY_DOC
    if doc.is_file():
        text = doc.read_text(encoding="utf-8")
        for key, pattern in (("train_tokens_per_s", r"\*\*([\d,.]+) target tokens/s\*\*"),
                             ("beam5_sents_per_s", r"\*\*([\d.]+) sentences/s\*\*"),
                             ("beam5_bleu", r"\*\*BLEU ([\d.]+)\*\*")):
            m = re.search(pattern, text)
            if m:
                ref[key] = float(m.group(1).replace(",", ""))
    return ref


class Clock:
    """Wall-clock and process CPU seconds of a block."""

    def __enter__(self):
        self.w0, self.c0 = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc):
        self.wall, self.cpu = time.perf_counter() - self.w0, time.process_time() - self.c0


def prepare(args, work: Path):
    """Multi30k splits (seqkit's loader) and the joint 8k sentencepiece model (JoeyNMT's options)."""
    import seqkit as sk
    from seqkit.text import SentencePieceTokenizer

    os.environ.setdefault("SEQKIT_DATA", str(args.shared / "data"))
    corpus = sk.data.load("multi30k", src=args.src, tgt=args.tgt)
    spm_path = work / "spm.model"
    if not spm_path.is_file():
        n = args.max_train or None
        SentencePieceTokenizer.train(list(corpus.train.src[:n]) + list(corpus.train.tgt[:n]), spm_path.with_suffix(""),
                                     vocab_size=args.vocab_size, model_type="unigram", character_coverage=1.0,
                                     input_sentence_size=1000000)  # shuffled, as JoeyNMT's script
    return corpus, SentencePieceTokenizer.load(spm_path)


def train_seqkit(args, corpus, tok, work: Path) -> dict:
    from seqkit.io import atomic_dir
    from seqkit.seq2seq.model_folder import save_model_dir
    from seqkit.seq2seq.presets import build_model, count_parameters, model_config
    from seqkit.seq2seq.training import NMTTrainConfig, train_nmt
    from seqkit.train.amp import resolve_amp

    torch.manual_seed(args.seed)
    cfg = model_config("transformer", args.preset)
    model = build_model(cfg, len(tok))
    n_params = count_parameters(model)
    if not args.resume and (work / "train").exists():
        import shutil

        shutil.rmtree(work / "train")  # a fresh measurement
    # JoeyNMT's setup: Adam (0.9, 0.98), warmup + inverse sqrt, label smoothing 0.1, no clipping,
    # max_length 100, batches of 4,096 padded source+target tokens; no validation while measuring.
    train_cfg = NMTTrainConfig(lr=args.lr, warmup=args.warmup, max_tokens=args.max_tokens, clip_norm=None,
                               amp=args.amp, epochs=10_000, max_time=args.train_seconds, max_steps=args.max_steps,
                               log_every=10, ckpt_every_steps=200, progress=not args.quiet)
    n = args.max_train or None
    with Clock() as c:
        out = train_nmt(model, tok, list(corpus.train.src[:n]), list(corpus.train.tgt[:n]), cfg=train_cfg,
                        device=args.device, run_dir=work / "train", seed=args.seed, resume=args.resume,
                        max_len=100)
    with atomic_dir(work / "model", "model") as folder:
        save_model_dir(folder, cfg, len(tok), work / "spm.model", out.model.state_dict(), src=args.src, tgt=args.tgt)
    result = out.result
    # per-CPU-second figure: the training share of the process CPU time (validation is not run here)
    return {"parameters": n_params, "updates": result.steps, "train_seconds": result.train_seconds,
            "target_tokens": result.items, "train_tokens_per_s": result.items_per_s,
            "train_tokens_per_cpu_s": result.items / c.cpu if c.cpu else 0.0,
            "amp": resolve_amp(args.amp, torch.device(args.device)) or "none",
            "batches_per_epoch": len(out.batches), "tokens_per_batch": result.items / max(result.steps, 1)}


def decode_seqkit(args, corpus, work: Path) -> dict:
    from seqkit.metrics import bleu, chrf
    from seqkit.seq2seq.translator import Translator

    tr = Translator.from_run(work, device=args.device, beam=5, alpha=1.0,
                             max_len_a=0.0, max_len_b=100, batch_tokens=args.decode_tokens)
    src, ref = list(corpus.test.src), list(corpus.test.tgt)
    if args.decode_sents:
        src, ref = src[: args.decode_sents], ref[: args.decode_sents]
    with Clock() as c:
        hyps = tr.translate(src, beam=5)
    (work / "test.beam5.hyp").write_text("".join(h + "\n" for h in hyps), encoding="utf-8")
    b, f = bleu(hyps, ref), chrf(hyps, ref)
    return {"sentences": len(src), "decode_seconds": c.wall, "beam5_sents_per_s": len(src) / c.wall,
            "beam5_sents_per_cpu_s": len(src) / c.cpu if c.cpu else 0.0, "beam5_bleu": b.score,
            "beam5_chrf": f.score, "bleu_signature": b.signature, "bleu_text": b.text}


def run_joeynmt(args, work: Path, py: Path) -> dict:
    """JoeyNMT side by side: same data, spm, model and budget (``timeout``), then beam-5 test decoding."""
    import gzip
    import shutil

    bench = args.shared / "bench" / "joeynmt"
    jw = work / "joeynmt"
    (jw / "data").mkdir(parents=True, exist_ok=True)
    for split in ("train", "val", "test_2016_flickr"):
        for lang in (args.src, args.tgt):
            with gzip.open(args.shared / "data" / "multi30k" / f"{split}.{lang}.gz", "rb") as fi, \
                    open(jw / "data" / f"{split}.{lang}", "wb") as fo:
                shutil.copyfileobj(fi, fo)
    subprocess.run([str(py), str(bench / "train_spm.py"), str(jw)], check=True)
    config = (bench / "config.yaml").read_text(encoding="utf-8").replace("WORKDIR", str(jw))
    config = config.replace("overwrite: False", "overwrite: True")
    (jw / "train.yaml").write_text(config, encoding="utf-8")
    with Clock() as c:
        subprocess.run(["timeout", str(int(args.train_seconds)), str(py), str(bench / "joey_spm_shim.py"), "train",
                        str(jw / "train.yaml"), "--skip-test"], check=False)
    log = (jw / "model" / "train.log").read_text(encoding="utf-8", errors="replace") \
        if (jw / "model" / "train.log").is_file() else ""
    rates = [float(x) for x in re.findall(r"Tokens per Sec:\s*([\d.]+)", log)]
    out = {"train_wall_seconds": c.wall, "train_tokens_per_s": statistics.median(rates) if rates else None}
    ckpts = sorted((jw / "model").glob("*.ckpt"), key=lambda p: p.stat().st_mtime)
    if ckpts:
        test_cfg = config.replace('    dev: "' + str(jw) + '/data/val"\n', "")
        test_cfg = test_cfg.replace("testing:\n", f'testing:\n    load_model: "{ckpts[-1]}"\n', 1)
        (jw / "test.yaml").write_text(test_cfg, encoding="utf-8")
        with Clock() as c:
            subprocess.run([str(py), str(bench / "joey_spm_shim.py"), "test", str(jw / "test.yaml"),
                            "-o", str(jw / "beam5")], check=False)
        out["beam5_sents_per_s"] = 1000 / c.wall  # includes model loading: a slight underestimate
        hyp = next(iter(sorted(jw.glob("beam5*"))), None)
        if hyp is not None:
            from seqkit.metrics import bleu

            hyps = hyp.read_text(encoding="utf-8").splitlines()
            refs = (jw / "data" / f"test_2016_flickr.{args.tgt}").read_text(encoding="utf-8").splitlines()
            if len(hyps) == len(refs):
                out["beam5_bleu"] = bleu(hyps, refs).score
    return out


def joeynmt_python(venv: str | None) -> Path | None:
    """The venv's python when JoeyNMT is importable there, else None (and a ``skipped:`` line)."""
    if not venv:
        skipped("JoeyNMT", "not installed", "no --joeynmt-venv given: the JoeyNMT column is its documented run")
        return None
    py = Path(venv) / "bin" / "python"
    if not py.is_file() or subprocess.run([str(py), "-c", "import joeynmt"], capture_output=True).returncode != 0:
        skipped("JoeyNMT", "not installed", f"no joeynmt in {venv}: pip install joeynmt importlib_metadata there")
        return None
    return py


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--shared", type=Path, default=DEFAULT_SHARED, help="the shared folder (data/, docs/, bench/)")
    p.add_argument("--work", "--workdir", dest="work", type=Path, default=None,
                   help="keep the run's files here (default: a new temporary folder, removed at the end)")
    p.add_argument("--src", default="de")
    p.add_argument("--tgt", default="en")
    p.add_argument("--device", default="cpu", help="cpu or cuda")
    p.add_argument("--threads", type=int, default=1,
                   help="torch CPU threads; 1 by default: on the shared 2-core machine 2 threads ran 5x slower "
                        "(each waits for the other whenever another job holds a core); JoeyNMT's figure used 2")
    p.add_argument("--amp", default="auto", help="auto (bf16 where native) | bf16 | none")
    p.add_argument("--train-seconds", type=float, default=120.0, help="training budget, wall-clock seconds")
    p.add_argument("--max-steps", type=int, default=None, help="stop after this many updates too")
    p.add_argument("--max-tokens", type=int, default=4096)
    p.add_argument("--lr", type=float, default=5e-4)
    p.add_argument("--warmup", type=int, default=2000)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--preset", default="base", help="the Transformer preset (base: JoeyNMT's model)")
    p.add_argument("--vocab-size", type=int, default=8000, help="joint sentencepiece pieces (JoeyNMT's: 8000)")
    p.add_argument("--max-train", type=int, default=0, help="only the first N training pairs (0: all)")
    p.add_argument("--decode-sents", type=int, default=0, help="decode only the first N test sentences (0: all)")
    p.add_argument("--decode-tokens", type=int, default=6000, help="padded source tokens per decoding batch")
    p.add_argument("--skip-train", action="store_true", help="decode the model already in --work")
    p.add_argument("--train-only", action="store_true", help="measure training throughput only")
    p.add_argument("--resume", action="store_true", help="continue training the run in --work")
    p.add_argument("--joeynmt-venv", default=None, help="run JoeyNMT side by side from this venv")
    p.add_argument("--quiet", action="store_true")
    p.add_argument("--json", type=Path, default=None, help="also write the figures here")
    p.add_argument("--smoke", action="store_true",
                   help="400 pairs, 300 pieces, tiny preset, 3 updates, 8 test sentences: checks the script")
    args = p.parse_args(argv)
    if args.smoke:
        args.max_train, args.vocab_size, args.preset, args.max_steps = 400, 300, "tiny", 3
        args.decode_sents, args.warmup, args.quiet = 8, 10, True
    if (args.skip_train or args.resume) and args.work is None:
        p.error("--skip-train and --resume continue an earlier run: name its folder with --work")
    header()
    from seqkit.threads import use_threads

    use_threads(args.threads)
    joey_py = joeynmt_python(args.joeynmt_venv)
    with work_folder(args.work, "nmt") as work:
        corpus, tok = prepare(args, work)
        ours: dict = {"device": args.device if args.device != "cpu" else f"cpu x{args.threads} threads"}
        if not args.skip_train:
            ours.update(train_seqkit(args, corpus, tok, work))
        if not args.train_only:
            ours.update(decode_seqkit(args, corpus, work))
        if joey_py is not None:
            joey, joey_label = run_joeynmt(args, work, joey_py), "JoeyNMT 2.3 (measured in this run)"
        else:
            joey = joey_reference(args.shared)
            joey_label = f"JoeyNMT 2.3 (documented in {JOEY_DOC}, idle 2-core CPU, 60 min; NOT re-run here)"

    rows = []

    def row(name, ours_v, joey_v, fmt="{:,.1f}"):
        cells = [fmt.format(v) if isinstance(v, (int, float)) else "-" for v in (ours_v, joey_v)]
        rows.append([name, *cells, f"{ours_v / joey_v:.2f}x" if ours_v and joey_v else "-"])

    print()
    params = f", {ours['parameters']:,} parameters" if "parameters" in ours else ""
    print(f"Multi30k {args.src}->{args.tgt}, Transformer ({args.preset} preset){params}")
    print(f"seqkit: {ours['device']}, amp {ours.get('amp', '-')}; reference: {joey_label}")
    if "train_tokens_per_s" in ours:
        row("training target tokens/s (wall)", ours["train_tokens_per_s"], joey.get("train_tokens_per_s"))
        row("training target tokens per CPU-second", ours["train_tokens_per_cpu_s"], None)
        row(f"updates in {args.train_seconds:.0f} s budget", ours["updates"], None, "{:,.0f}")
    if not args.train_only:
        row(f"beam-5 sentences/s (wall, {ours['sentences']} sents)", ours["beam5_sents_per_s"],
            joey.get("beam5_sents_per_s"), "{:,.2f}")
        row("beam-5 sentences per CPU-second", ours["beam5_sents_per_cpu_s"], None, "{:,.2f}")
        budget = "" if args.skip_train else f" after {args.train_seconds:.0f} s"
        row(f"test BLEU{budget} (JoeyNMT: after 60 min)", ours["beam5_bleu"], joey.get("beam5_bleu"), "{:.2f}")
    table(["figure", "seqkit", "JoeyNMT", "ratio"], rows)
    if not args.train_only:
        print(ours["bleu_text"])
        print(f"signature: {ours['bleu_signature']}")
    report = {"seqkit": ours, "joeynmt": joey, "joeynmt_source": joey_label, "args": {
        k: str(v) for k, v in vars(args).items()}}
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    return report


if __name__ == "__main__":
    main(sys.argv[1:])
