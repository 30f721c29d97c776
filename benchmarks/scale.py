"""Corpora larger than memory (issue 15): prepare once, train from the memory map.

For each size in ``--pairs`` (default 500,000 and 5,000,000 pairs, about WMT14 en-de's 4.5 million) it

1. generates the corpus from the bundled English-French corpus (``data/en-fr``, 22,000 pairs): every
   line joins 1-4 pairs drawn with a seeded RNG, so the sentences are ~2.5x longer (~18 words, near
   WMT's ~23) and the sides stay translations of each other. It is written as shards of 500,000 pairs
   (``train.000.en`` ...) in a temporary folder (``--work``), never into the repository;
2. prepares the shards as one corpus (``seqkit.data.prepared.prepare_files`` with a glob,
   ``--workers`` processes), training its one sentencepiece model (2,000 pieces) on a uniform sample of
   200,000 sentences first: wall time (sample + training + encoding), disk size, and the time of a
   second call, which must re-use the folder;
3. trains a tiny Transformer (2+2 layers, d_model 128) for ``--steps`` updates from the prepared corpus
   in a fresh process, twice: bucketing over the whole corpus (``pool_pairs`` unset) and within pools of
   ``--pool-pairs`` pairs. Each process reports its peak RSS (``VmHWM``), its RSS once the model is
   built and the corpus opened (the baseline: "above the model" is the difference), and the time from
   the start of the process to the end of the first update (imports, opening the corpus, planning,
   one update). The time to plan an epoch of the whole corpus is measured on its own in this process.

Then, on Multi30k de->en (``$SEQKIT_DATA/multi30k``), it trains the same model for ``--steps`` updates
twice, from the lists of strings (the in-memory path) and from a prepared copy, alternating
``--repeats`` times, and prints the median target tokens/s of each and their ratio. Both see the same
batches (tests/seq2seq/test_train_prepared.py proves the weights equal).

Usage: ``python benchmarks/scale.py [--pairs 500000 5000000] [--steps 30] [--workers 2] [--pool-pairs 500000]
[--work DIR]``; ``--smoke`` (3,000 pairs in pools of 1,000 only, 300 pieces, 2 updates, the first 1,000
Multi30k pairs) checks the script end to end and measures nothing.
Timings depend on the load of the machine; the figures in docs/benchmarks.md say under which.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))  # this checkout's seqkit, in the training process too
from _common import header, shared_data, table  # noqa: E402  (after the path: this checkout's seqkit)

MODEL = dict(d_model=128, d_ff=512, n_heads=4, n_enc_layers=2, n_dec_layers=2, dropout=0.1)
MAX_TOKENS = 4096


SHARD = 500_000


def generate(out: Path, n_pairs: int, seed: int = 15) -> tuple[str, str]:
    """``out/train.NNN.en``, ``out/train.NNN.fr``: ``n_pairs`` lines in shards of :data:`SHARD`, each
    line 1-4 bundled pairs joined; returns the two globs."""
    base_en = (ROOT / "data/en-fr/train.en").read_text(encoding="utf-8").splitlines()
    base_fr = (ROOT / "data/en-fr/train.fr").read_text(encoding="utf-8").splitlines()
    rng = np.random.default_rng(seed)
    out.mkdir(parents=True, exist_ok=True)
    block = 100_000
    for shard, first in enumerate(range(0, n_pairs, SHARD)):
        with open(out / f"train.{shard:03d}.en", "w", encoding="utf-8") as en, \
                open(out / f"train.{shard:03d}.fr", "w", encoding="utf-8") as fr:
            for begin in range(first, min(first + SHARD, n_pairs), block):
                n = min(block, n_pairs - begin)
                parts = rng.integers(1, 5, n)
                picks = rng.integers(0, len(base_en), int(parts.sum()))
                ends = np.cumsum(parts)
                starts = ends - parts
                en.write("".join(" ".join(base_en[j] for j in picks[s:e]) + "\n" for s, e in zip(starts, ends)))
                fr.write("".join(" ".join(base_fr[j] for j in picks[s:e]) + "\n" for s, e in zip(starts, ends)))
    return str(out / "train.*.en"), str(out / "train.*.fr")


def _status(field: str) -> int:
    """A ``/proc/self/status`` field in bytes (VmHWM: peak RSS, VmRSS: current)."""
    with open("/proc/self/status", encoding="ascii") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    return 0


def child(args: argparse.Namespace) -> None:
    """Train ``--steps`` updates (from ``--prepared`` or the Multi30k lists) and print one JSON line."""
    t_start = float(args.t0)
    import torch

    from seqkit.data.prepared import PreparedCorpus
    from seqkit.seq2seq.presets import build_model, model_config
    from seqkit.seq2seq.training import NMTTrainConfig, train_nmt
    from seqkit.text import SentencePieceTokenizer

    torch.set_num_threads(args.threads)
    tok = SentencePieceTokenizer.load(args.spm, num_threads=1)
    if args.prepared:
        train_src, train_tgt = PreparedCorpus.open(args.prepared), None
    else:
        from seqkit.io import iter_lines

        train_src = list(iter_lines(args.src))
        train_tgt = list(iter_lines(args.tgt))
    torch.manual_seed(0)
    model = build_model(model_config("transformer", "tiny", **MODEL), len(tok))
    rss_model = _status("VmRSS")
    first: list[float] = []

    def log_fn(record: dict) -> None:
        if not first and record.get("split") == "train":
            first.append(time.time() - t_start)

    cfg = NMTTrainConfig(lr=5e-4, warmup=100, max_tokens=MAX_TOKENS, max_steps=args.steps, log_every=1,
                         progress=False, amp="none", pool_pairs=args.pool)
    out = train_nmt(model, tok, train_src, train_tgt, cfg=cfg, seed=0, max_len=args.max_len, log_fn=log_fn)
    # VmHWM counts the pages of the memory map the batches touched too (page cache the kernel can
    # drop); RssAnon is the process's own memory at the end
    print(json.dumps({"peak_rss": _status("VmHWM"), "rss_model": rss_model, "rss_anon": _status("RssAnon"),
                      "rss_file": _status("RssFile"), "first_update_s": first[0],
                      "tokens_per_s": out.result.items_per_s, "steps": out.result.steps,
                      "batches_per_epoch": len(out.batches)}))


def run_child(spm: Path, *, prepared: Path | None = None, src: Path | None = None, tgt: Path | None = None,
              steps: int, threads: int, max_len: int, pool_pairs: int | None = None) -> dict:
    cmd = [sys.executable, __file__, "--child", "--spm", str(spm), "--steps", str(steps), "--threads", str(threads),
           "--max-len", str(max_len)]
    cmd += ["--pool", str(pool_pairs)] if pool_pairs else []
    cmd += ["--prepared", str(prepared)] if prepared else ["--src", str(src), "--tgt", str(tgt)]
    env = {**os.environ, "SEQKIT_THREADS": str(threads)}
    t0 = time.time()
    proc = subprocess.run([*cmd, "--t0", repr(t0)], capture_output=True, text=True, env=env, cwd=ROOT)
    if proc.returncode != 0:
        raise SystemExit(f"training child failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pairs", type=int, nargs="*", default=[500_000, 5_000_000])
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--threads", type=int, default=1, help="torch threads of the training process")
    ap.add_argument("--repeats", type=int, default=3, help="alternating in-memory/prepared runs on Multi30k")
    ap.add_argument("--max-len", type=int, default=128)
    ap.add_argument("--pool-pairs", type=int, default=SHARD, help="the pooled runs' pool size (pairs)")
    ap.add_argument("--work", type=Path, default=None, help="scratch folder (default: a temporary one, removed)")
    ap.add_argument("--keep", action="store_true", help="keep the scratch folder")
    ap.add_argument("--skip-multi30k", action="store_true")
    ap.add_argument("--vocab-size", type=int, default=2000, help="sentencepiece pieces of the generated corpus")
    ap.add_argument("--multi30k-pairs", type=int, default=0, help="only the first N Multi30k pairs (0: all)")
    ap.add_argument("--smoke", action="store_true",
                    help="3,000 pairs, 300 pieces, 2 updates, 1,000 Multi30k pairs: checks the script")
    # the training process
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--t0", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--spm", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--prepared", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--src", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--tgt", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--pool", type=int, default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(args)
        return
    if args.smoke:
        args.pairs, args.steps, args.repeats, args.pool_pairs = [3000], 2, 1, 1000
        args.vocab_size, args.multi30k_pairs, args.workers = 300, 1000, 1
    header()

    from seqkit.data import ParallelBatches
    from seqkit.data.prepared import prepare_files
    from seqkit.text import SentencePieceTokenizer

    work = args.work or Path(tempfile.mkdtemp(prefix="seqkit-scale-"))
    work.mkdir(parents=True, exist_ok=True)
    rows = []
    try:
        spm = {"vocab_size": args.vocab_size, "input_sentence_size": 200_000, "seed": 15}
        for n in args.pairs:
            t = time.perf_counter()
            en, fr = generate(work / f"gen-{n}", n)
            gen_s = time.perf_counter() - t
            t = time.perf_counter()
            corpus = prepare_files(en, fr, None, work / f"prep-{n}", spm=spm, workers=args.workers, progress=True,
                                   total=n)
            prep_s = time.perf_counter() - t
            t = time.perf_counter()
            prepare_files(en, fr, None, work / f"prep-{n}", spm=spm, workers=args.workers, progress=False)
            reuse_s = time.perf_counter() - t
            text_mb = sum(p.stat().st_size for p in (work / f"gen-{n}").iterdir()) / 1e6
            spm_path = corpus.path / "spm.model"
            for pool in (args.pool_pairs,) if args.smoke else (None, args.pool_pairs):
                t = time.perf_counter()  # planning an epoch: filter, sort by length, greedy token budget
                ParallelBatches.from_prepared(corpus, max_tokens=MAX_TOKENS, seed=0, max_len=args.max_len,
                                              pool_pairs=pool).plan(0)
                plan_s = time.perf_counter() - t
                train = run_child(spm_path, prepared=corpus.path, steps=args.steps, threads=args.threads,
                                  max_len=args.max_len, pool_pairs=pool)
                rows.append({"pairs": n, "shards": len(list((work / f"gen-{n}").glob("*.en"))), "pool": pool,
                             "text_MB": text_mb, "gen_s": gen_s, "prepare_s": prep_s, "reuse_s": reuse_s,
                             "pieces": corpus.meta["src_tokens"] + corpus.meta["tgt_tokens"],
                             "disk_MB": corpus.disk_bytes() / 1e6, "plan_s": plan_s, **train})
                print(json.dumps(rows[-1]), flush=True)
            shutil.rmtree(work / f"gen-{n}", ignore_errors=True)  # the text is the big part; keep the disk free

        print()
        table(["pairs", "shards", "pool", "text MB", "prepare s", "re-use s", "disk MB", "plan s", "RSS model MB",
               "peak RSS MB", "above MB", "anon MB", "1st update s", "tokens/s"],
              [[f"{r['pairs']:,}", r["shards"], r["pool"] or "all", f"{r['text_MB']:.1f}", f"{r['prepare_s']:.1f}",
                f"{r['reuse_s']:.3f}", f"{r['disk_MB']:.1f}", f"{r['plan_s']:.2f}", f"{r['rss_model'] / 1e6:.0f}",
                f"{r['peak_rss'] / 1e6:.0f}", f"{(r['peak_rss'] - r['rss_model']) / 1e6:.0f}",
                f"{r['rss_anon'] / 1e6:.0f}", f"{r['first_update_s']:.1f}", f"{r['tokens_per_s']:.0f}"] for r in rows])

        if not args.skip_multi30k:
            data = shared_data() / "multi30k"
            src, tgt = data / "train.de.gz", data / "train.en.gz"
            if args.multi30k_pairs:  # the first N pairs, as plain files
                from seqkit.io import read_lines

                for name, path in (("src", src), ("tgt", tgt)):
                    cut = work / f"multi30k.{name}"
                    cut.write_text("".join(f"{line}\n" for line in read_lines(path)[:args.multi30k_pairs]),
                                   encoding="utf-8")
                src, tgt = work / "multi30k.src", work / "multi30k.tgt"
            spm = work / "multi30k.spm"
            tok = SentencePieceTokenizer.train([src, tgt], spm, vocab_size=8000 if not args.multi30k_pairs else 300,
                                               num_threads=args.workers)
            prepared = prepare_files(src, tgt, tok, work / "prep-multi30k", workers=args.workers, progress=False)
            rates: dict[str, list[float]] = {"in-memory": [], "prepared": []}
            for _ in range(args.repeats):
                for kind in rates:
                    r = run_child(tok.path, steps=args.steps, threads=args.threads, max_len=args.max_len,
                                  **({"prepared": prepared.path} if kind == "prepared" else {"src": src, "tgt": tgt}))
                    rates[kind].append(r["tokens_per_s"])
                    print(kind, json.dumps(r), flush=True)
            mem, prep = statistics.median(rates["in-memory"]), statistics.median(rates["prepared"])
            print(f"\nMulti30k, {args.steps} updates x {args.repeats}: in-memory {mem:,.0f} target tokens/s, "
                  f"prepared {prep:,.0f} (median), ratio {prep / mem:.3f}")
            table(["Multi30k training", "target tokens/s (median)", "prepared / in-memory"],
                  [["in-memory lists", f"{mem:,.0f}", ""], ["prepared", f"{prep:,.0f}", f"{prep / mem:.3f}x"]])
    finally:
        if args.work is None and not args.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
