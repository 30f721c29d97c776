"""seqkit's default CPU thread count against the best fixed count, on a quiet machine and beside one
and two busy processes, in one run.

Workloads (each measured the same way under every setting):

- ``translate``: beam-5 search over 300 bundled en->fr test sentences (``Translator.translate``) with a
  tiny Transformer (``--run RUN_DIR`` uses a trained run's model folder instead of a fresh one;
  an untrained model decodes to the length cap, the same work at every setting);
- ``nmt-train``: 15 training updates of the tiny Transformer on batches of 3,000 tokens;
- ``w2v-train``: one epoch of skip-gram on gensim's bundled Lee corpus (the C kernel, N worker threads);
- ``ngram-ppl``: perplexity of a 3-gram Kneser-Ney model over the same text (numpy; threads do not
  matter to it, it is here to show the default costs nothing).

Settings: ``default`` is what a command does when the user gives no ``--threads``
(:func:`seqkit.threads.choose_threads`, decided under the load: the free cores for torch's threads,
every usable core for word2vec's independent workers), against fixed 1 and 2 threads. The
load is ``--load`` busy Python processes (``while True: pass``) started before the measurement. Each
figure is the best of ``--repeats`` timings, taken in turns (default, 1, 2, default, 1, 2, ...). Prints items/s and default / best-fixed per workload and
load; the goal is >= 0.90 everywhere.

A second table puts the README's Python example (``train_nmt`` called as it stands, nothing about
threads set) beside the command doing the same training (``seqkit recipe run nmt_transformer``, the
tiny preset, the same token budget and updates), each in a fresh process beside ``--readme-load`` busy
processes: the library must choose threads as the command does (goal: >= 0.8x the command's tokens/s).

    python benchmarks/threads.py                 # loads 0, 1, 2 on this machine, ~6 minutes
    python benchmarks/threads.py --smoke         # load 0, 1 thread, small workloads: checks the script
    python benchmarks/threads.py --readme-only   # only the README example vs the command (beside 1 busy process)
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
from _common import header, table


def busy(n: int) -> list[subprocess.Popen]:
    procs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(n)]
    if procs:
        time.sleep(1.0)  # let them reach the run queue
    return procs


def workloads(args) -> dict:
    import seqkit as sk
    from seqkit.lm.ngram import NGramLM
    from seqkit.seq2seq.presets import build_model, model_config
    from seqkit.seq2seq.training import NMTStep
    from seqkit.seq2seq.translator import Translator
    from seqkit.text import SentencePieceTokenizer
    from seqkit.threads import use_threads

    corpus = sk.data.load("seqkit-en-fr")
    src = list(corpus.test.src[:args.sents])
    if args.run:
        translator = Translator.from_run(args.run, beam=5)
        tok, model = translator.tokenizer, translator.model
    else:
        n = 2000 if args.smoke else None  # sentencepiece on the whole corpus: a few seconds
        tok = SentencePieceTokenizer.train(list(corpus.train.src[:n]) + list(corpus.train.tgt[:n]),
                                           vocab_size=500 if args.smoke else 2000)
        torch.manual_seed(0)
        model = build_model(model_config("transformer", "tiny"), len(tok))
        translator = Translator(model, tok, beam=5, max_len_a=1.0, max_len_b=5)
    batches = sk.data.ParallelBatches(tok.encode_ids_batch(list(corpus.train.src[:3000])),
                                      tok.encode_ids_batch(list(corpus.train.tgt[:3000])), max_tokens=3000)
    train_batches = list(batches.epoch(0))[:args.steps]
    step = NMTStep(0.1)
    opt = torch.optim.Adam(model.parameters(), lr=1e-4)

    def translate(threads: int | None) -> float:
        use_threads(threads)
        started = time.perf_counter()
        translator.translate(src)
        return len(src) / (time.perf_counter() - started)

    def nmt_train(threads: int | None) -> float:
        use_threads(threads)
        model.train()
        tokens, started = 0, time.perf_counter()
        for batch in train_batches:
            out = step(model, batch)
            opt.zero_grad()
            out.loss.backward()
            opt.step()
            tokens += out.n_items
        model.eval()
        return tokens / (time.perf_counter() - started)

    from gensim.test.utils import datapath

    lee = datapath("lee_background.cor")

    def w2v(threads: int | None) -> float:  # None: Word2Vec's own choice
        from seqkit.embeddings import Word2Vec

        model_ = Word2Vec(lee, dim=100, min_freq=5, epochs=1, threads=threads, seed=1, compute_loss=False)
        return model_.stats.words_per_sec

    lines = [line for line in sk.io.read_lines(lee) if line.strip()][: 30 if args.smoke else None]
    lm = NGramLM.train(lines, order=3, smoothing="mkn")

    def ngram(threads: int | None) -> float:
        use_threads(threads)
        started = time.perf_counter()
        scores = lm.score_corpus(lines * 30)
        return scores.n_tokens / (time.perf_counter() - started)

    return {"translate (sent/s)": translate, "nmt-train (tok/s)": nmt_train, "w2v-train (words/s)": w2v,
            "ngram-ppl (tok/s)": ngram}


README_TRAINING = """
import json, sys
import seqkit as sk
from seqkit.seq2seq import NMTTrainConfig, build_model, model_config, train_nmt

corpus = sk.data.load("seqkit-en-fr")
tok = sk.text.SentencePieceTokenizer.train(corpus.train.src + corpus.train.tgt, vocab_size=2000)
model = build_model(model_config("transformer", "tiny"), vocab_size=len(tok), seed=0)
cfg = NMTTrainConfig(lr=1e-3, warmup=200, max_tokens=4096, max_steps=int(sys.argv[1]), progress=False)
out = train_nmt(model, tok, corpus.train.src, corpus.train.tgt, cfg=cfg, seed=0)
print(json.dumps({"tokens_per_s": out.result.items_per_s, "steps": out.result.steps}))
"""


def readme_vs_cli(steps: int, load: int) -> tuple[float, float]:
    """Training tokens/s of the README's Python example and of the same training as a command, each in a
    fresh process (SEQKIT_THREADS unset) beside ``load`` busy processes."""
    env = {k: v for k, v in os.environ.items() if k not in ("SEQKIT_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")}
    work = Path(tempfile.mkdtemp(prefix="seqkit-bench-threads-"))
    procs = busy(load)
    try:
        library = subprocess.run([sys.executable, "-c", README_TRAINING, str(steps)], env=env, check=True,
                                 capture_output=True, text=True)
        lib = json.loads(library.stdout.strip().splitlines()[-1])["tokens_per_s"]
        run = work / "run"
        subprocess.run([sys.executable, "-m", "seqkit", "recipe", "run", "nmt_transformer", f"run_dir={run}",
                        "model.preset=tiny", "spm.vocab_size=2000", "train.lr=0.001", "train.warmup=200",
                        "train.max_tokens=4096", f"train.max_steps={steps}", "train.valid_every=null",
                        "train.progress=false", "data.max_test=5"], env=env, check=True, capture_output=True)
        records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
        cli = next(r["train_tokens_per_s"] for r in records if "train_tokens_per_s" in r)
    finally:
        for p in procs:
            p.kill()
            p.wait()
        shutil.rmtree(work, ignore_errors=True)
    return lib, cli


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--loads", default="0,1,2", help="busy processes beside the measurement, per condition")
    ap.add_argument("--fixed", default="1,2", help="fixed thread counts to compare with")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--run", default=None, help="a trained nmt run (its model folder) for translate")
    ap.add_argument("--sents", type=int, default=300, help="test sentences translated per timing")
    ap.add_argument("--steps", type=int, default=15, help="training updates per timing")
    ap.add_argument("--readme-steps", type=int, default=150, help="updates of the README example vs the command")
    ap.add_argument("--readme-load", type=int, default=1, help="busy processes beside that comparison")
    ap.add_argument("--readme-only", action="store_true", help="only the README example vs the command")
    ap.add_argument("--smoke", action="store_true", help="load 0, 1 thread, 20 sentences, 2 updates: checks the script")
    args = ap.parse_args()
    if args.smoke:
        args.loads, args.fixed, args.repeats, args.sents, args.steps = "0", "1", 1, 20, 2
        args.readme_steps, args.readme_load = 3, 0
    header()
    from seqkit.threads import choose_threads

    os.environ.pop("SEQKIT_THREADS", None)
    if args.readme_only:
        args.loads = ""
    work = workloads(args) if args.loads else {}
    fixed = [int(x) for x in args.fixed.split(",")]
    for fn in work.values():  # warm up (kernel compile, allocator)
        fn(1)
    rows = []
    for load in (int(x) for x in args.loads.split(",") if x):
        procs = busy(load)
        try:
            for name, fn in work.items():
                chosen = choose_threads(independent=name.startswith("w2v")).threads  # what the default does

                settings = [None, *fixed]
                runs = {n: [] for n in settings}
                for _ in range(args.repeats):  # interleaved, so drift in the machine's speed hits all alike
                    for n in settings:
                        runs[n].append(fn(n))
                default = max(runs[None])
                figures = {n: max(runs[n]) for n in fixed}
                top = max(figures.values())
                rows.append((load, name, chosen, default, figures, default / top))
                print(f"load {load}: {name:<22} default {chosen} thr {default:10,.1f}   "
                      + "   ".join(f"{n} thr {v:10,.1f}" for n, v in figures.items())
                      + f"   default/best {default / top:.2f}", flush=True)
        finally:
            for p in procs:
                p.kill()
                p.wait()
    if rows:
        print()
        table(["load", "workload", "default (threads)", *(f"{n} thread{'s' if n > 1 else ''}" for n in fixed),
               "default / best"],
              [[load, name, f"{default:,.1f} ({chosen})", *(f"{figures[n]:,.1f}" for n in fixed), f"{r:.2f}"]
               for load, name, chosen, default, figures, r in rows])
        worst = min(r[5] for r in rows)
        print(f"\nworst default / best fixed: {worst:.2f} (goal >= 0.90) on {os.cpu_count()} CPUs, torch "
              f"{torch.__version__}")
    lib, cli = readme_vs_cli(args.readme_steps, args.readme_load)
    print()
    table(["busy processes", "README example (tok/s)", "seqkit recipe run (tok/s)", "example / command"],
          [[args.readme_load, f"{lib:,.0f}", f"{cli:,.0f}", f"{lib / cli:.2f}"]])
    print(f"\n{args.readme_steps} updates of the tiny Transformer each; goal: example / command >= 0.80")


if __name__ == "__main__":
    main()
