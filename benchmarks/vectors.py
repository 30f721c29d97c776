"""Vector loading: seqkit.load_vectors against gensim's load_word2vec_format(no_header=True).

Generates (once) a GloVe-format text file of N x D random vectors whose tokens include non-ASCII
words, tokens with U+00A0 inside and duplicates, then loads it in fresh processes:

* gensim ``KeyedVectors.load_word2vec_format(path, no_header=True)``;
* seqkit ``load_vectors(path)``, first load (parse + write the cache);
* seqkit again, from the cache (memory-mapped).

For each: wall time (median of --repeat runs) and peak RSS above the process's RSS after imports
(``VmHWM`` read in the child itself), and the ratios seqkit / gensim. Targets: first load <= 0.5x
gensim's time, cached <= 0.05x, memory above baseline <= 1.2x the float32 matrix. Also checks that both
loaders give the same vectors.

The file is generated into a fresh temporary folder (``--work`` to choose it) and removed with it;
``--file PATH`` keeps it there for the next run (generated only when missing).

    nice -n 10 python benchmarks/vectors.py [--rows 400000 --dim 100 --repeat 3]
    python benchmarks/vectors.py --smoke      # 2,000 x 10: checks the script, measures nothing
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

import numpy as np
from _common import header, installed, skipped, table, work_folder

CHILD = r"""
import json, os, sys, time
mode, path = sys.argv[1], sys.argv[2]
import numpy as np
if mode == "gensim":
    from gensim.models import KeyedVectors
else:
    from seqkit.embeddings.vectors import load_vectors
def rss_kb():
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
base = rss_kb()
t = time.perf_counter()
if mode == "gensim":
    kv = KeyedVectors.load_word2vec_format(path, no_header=True)
    keys, vecs = kv.index_to_key, kv.vectors
else:
    kv = load_vectors(path, cache=mode != "seqkit-nocache")
    keys, vecs = kv.index_to_key, kv.vectors
seconds = time.perf_counter() - t
# VmHWM, not getrusage's ru_maxrss: Linux folds the high-water mark of the process that spawned this
# one (before exec) into ru_maxrss, so a big parent would inflate it
with open("/proc/self/status") as fh:
    peak = next(int(line.split()[1]) for line in fh if line.startswith("VmHWM:"))
probe = ["w0", "caf\u00e95", "new\u00a0york7", "w13", "w%d" % (int(sys.argv[3]) - 1)]
# gensim keeps a None key and a zero row for each duplicate token: count real keys only
print(json.dumps({"seconds": seconds, "peak_above_base_mb": (peak - base) / 1024,
                  "n": sum(k is not None for k in keys),
                  "dim": int(vecs.shape[1]), "probe": {k: np.asarray(kv[k]).tolist() for k in probe if k in kv},
                  "report": str(getattr(kv, "load_report", ""))}))
"""


def generate(path: Path, rows: int, dim: int, seed: int = 0) -> None:
    """GloVe-style lines: 5-decimal numbers; ~1% non-ASCII tokens, ~0.5% with U+00A0, 9 duplicates of
    row 13's token (every 40,000th row; every rows/10-th in a smaller file)."""
    rng = np.random.default_rng(seed)
    every = min(40_000, max(rows // 10, 20))
    tmp = path.with_suffix(".part")
    with open(tmp, "w", encoding="utf-8") as fh:
        for a in range(0, rows, 20000):
            n = min(20000, rows - a)
            vals = np.char.mod("%.5f", rng.normal(0, 0.4, (n, dim)).round(5))
            lines = []
            for j in range(n):
                i = a + j
                if i % 97 == 5:
                    tok = f"café{i}"
                elif i % 211 == 7:
                    tok = f"new\u00a0york{i}"
                elif i % every == 13 and i > 13:
                    tok = "w13"  # a duplicate of row 13's token
                else:
                    tok = f"w{i}"
                lines.append(tok + " " + " ".join(vals[j]))
            fh.write("\n".join(lines) + "\n")
    os.replace(tmp, path)


def run(mode: str, path: Path, rows: int, env: dict) -> dict:
    out = subprocess.run([sys.executable, "-c", CHILD, mode, str(path), str(rows)], capture_output=True, text=True,
                         env=env, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=400_000)
    ap.add_argument("--dim", type=int, default=100)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--file", type=Path, default=None, help="keep the generated file here (default: in --work)")
    ap.add_argument("--work", type=Path, default=None, help="scratch folder (default: a new temporary one, removed)")
    ap.add_argument("--smoke", action="store_true", help="2,000 x 10, one repeat: checks the script end to end")
    args = ap.parse_args()
    if args.smoke:
        args.rows, args.dim, args.repeat = 2000, 10, 1
    header(["gensim"])
    modes = [("gensim", "gensim"), ("seqkit", "seqkit"), ("seqkit", "seqkit-cached")]
    if not installed("gensim"):
        skipped("gensim", fix="pip install gensim")
        modes = modes[1:]
    with work_folder(args.work, "vectors") as work:
        path = args.file or work / f"glove_{args.rows}x{args.dim}.txt"
        if not path.exists():
            print(f"generating {path} ...", flush=True)
            generate(path, args.rows, args.dim)
        matrix_mb = args.rows * args.dim * 4 / 2**20
        print(f"file: {path} ({path.stat().st_size / 2**20:.0f} MB), float32 matrix {matrix_mb:.1f} MB")
        results: dict[str, list[dict]] = {key: [] for _, key in modes}
        for r in range(args.repeat):
            env = {**os.environ, "SEQKIT_CACHE": str(work / f"cache{r}")}  # each repeat parses afresh
            for mode, key in modes:
                res = run(mode, path, args.rows, env)
                results[key].append(res)
                print(f"  {key:<14} {res['seconds']:7.2f} s  peak +{res['peak_above_base_mb']:.1f} MB  "
                      f"{res['n']} rows", flush=True)

    s = results["seqkit"][0]
    g = results["gensim"][0] if "gensim" in results else None
    med = {m: statistics.median(r["seconds"] for r in rs) for m, rs in results.items()}
    mem = {m: max(r["peak_above_base_mb"] for r in rs) for m, rs in results.items()}
    print(f"seqkit report: {s['report']}")
    gensim_s = med.get("gensim")
    table(["loader", "median s", "x gensim", "peak MB above baseline", "x matrix"],
          [[m, f"{med[m]:.3f}", f"{med[m] / gensim_s:.4f}" if gensim_s else "-", f"{mem[m]:.1f}",
            f"{mem[m] / matrix_mb:.3f}"] for m in results])
    if g is not None:
        same = (g["probe"].keys() == s["probe"].keys() and g["n"] == s["n"]
                and all(np.array_equal(g["probe"][k], s["probe"][k]) for k in g["probe"]))
        print(f"rows: gensim {g['n']}, seqkit {s['n']}; same vectors on probed keys {sorted(g['probe'])}: {same}")
        print(f"targets: load <= 0.5x -> {med['seqkit'] / gensim_s:.3f}; cached <= 0.05x -> "
              f"{med['seqkit-cached'] / gensim_s:.4f}; memory <= 1.2x matrix -> {mem['seqkit'] / matrix_mb:.3f}")
    else:
        print(f"targets: memory <= 1.2x matrix -> {mem['seqkit'] / matrix_mb:.3f} (no gensim: no time ratios)")


if __name__ == "__main__":
    main()
