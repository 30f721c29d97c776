"""word2vec: seqkit against gensim, side by side, on the text8 prefix (and d2l's PTB check).

Settings (gensim's text8 settings): skip-gram, negative 5, window 5, min_freq 5, sample 1e-4,
100 dims, 5 epochs, 2 threads/workers. Both read the same gzipped file. For each:

* words/s = corpus tokens x epochs / training seconds (reading and vocabulary building excluded for
  both -- gensim trains from sentences held in memory, its fastest path; the end-to-end time with
  reading and vocabulary is printed too);
* quality judged by gensim's own evaluators on the file seqkit writes (word2vec binary, loaded with
  ``KeyedVectors.load_word2vec_format``): analogy accuracy on questions-words.txt with
  restrict_vocab=30000, Spearman on wordsim353.

Targets: words/s >= 1.0x gensim; analogy >= gensim - 0.5 points; Spearman >= gensim - 0.02.
The machine is shared: run under ``nice`` and compare the ratios, not the absolute numbers. Run r
uses seed ``--seed + r`` for both libraries, so the medians cover seed variance too.

    nice -n 10 python benchmarks/word2vec.py [--repeat 2] [--threads 2]
    nice -n 10 python benchmarks/word2vec.py --ptb          # d2l's PTB settings: neighbours of "chip"
    python benchmarks/word2vec.py --device cuda              # GPU check (torch trainer) vs gensim on CPU
    python benchmarks/word2vec.py --smoke                    # gensim's Lee corpus, 1 epoch: checks the script
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from _common import header, shared_data, table


def gensim_quality(path: Path, binary: bool = True) -> tuple[float, float]:
    from gensim.models import KeyedVectors
    from gensim.test.utils import datapath

    kv = KeyedVectors.load_word2vec_format(str(path), binary=binary)
    analogy, _ = kv.evaluate_word_analogies(datapath("questions-words.txt"), restrict_vocab=30000)
    _, (spearman, _), _ = kv.evaluate_word_pairs(datapath("wordsim353.tsv"))
    return 100 * analogy, float(spearman)


def run_gensim(corpus: Path, args, out: Path) -> dict:
    from gensim.models import Word2Vec
    from gensim.models.word2vec import LineSentence

    start = time.perf_counter()
    model = Word2Vec(vector_size=args.dim, window=5, negative=5, min_count=5, sample=1e-4, sg=1,
                     workers=args.gensim_workers or args.threads, epochs=args.epochs, seed=args.seed)
    sentences = list(LineSentence(str(corpus)))  # in memory: gensim's training does not re-read the file
    model.build_vocab(sentences)
    t_train = time.perf_counter()
    model.train(sentences, total_examples=model.corpus_count, epochs=args.epochs)
    end = time.perf_counter()
    model.wv.save_word2vec_format(str(out), binary=True)
    words = model.corpus_total_words * args.epochs
    return {"words_per_sec": words / (end - t_train), "total_s": end - start, "train_s": end - t_train,
            "vocab": len(model.wv)}


def run_seqkit(corpus: Path, args, out: Path) -> dict:
    from seqkit.embeddings import Word2Vec

    start = time.perf_counter()
    model = Word2Vec(corpus, dim=args.dim, window=5, negative=5, min_freq=5, sample=1e-4, sg=True,
                     epochs=args.epochs, threads=args.threads, seed=args.seed, device=args.device,
                     backend=args.backend, batch_size=args.batch_size)
    end = time.perf_counter()
    model.wv.save_word2vec_format(out, binary=True)
    return {"words_per_sec": model.stats.words_per_sec, "total_s": end - start, "train_s": model.stats.seconds,
            "vocab": len(model.wv), "backend": model.stats.backend}


def compare(args) -> None:
    corpus = args.corpus or shared_data() / "text8-prefix" / "text8.prefix.txt.gz"
    print(f"corpus {corpus}; sg, negative 5, window 5, min_freq 5, sample 1e-4, dim {args.dim}, "
          f"{args.epochs} epochs, {args.threads} threads; device {args.device}")
    rows: dict[str, list[dict]] = {"gensim": [], "seqkit": []}
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.repeat):
            for name, fn in (("gensim", run_gensim), ("seqkit", run_seqkit)):
                if name == "gensim" and args.skip_gensim:
                    continue
                out = Path(tmp) / f"{name}{r}.bin"
                res = fn(corpus, argparse.Namespace(**{**vars(args), "seed": args.seed + r}), out)
                res["analogy"], res["spearman"] = gensim_quality(out)
                rows[name].append(res)
                print(f"  run {r + 1} {name:<7} {res['words_per_sec'] / 1000:8.1f}k words/s  train "
                      f"{res['train_s']:6.1f} s  total {res['total_s']:6.1f} s  analogy {res['analogy']:5.2f}%  "
                      f"ws353 {res['spearman']:.4f}  vocab {res['vocab']}  {res.get('backend', '')}", flush=True)
    med = {n: {k: statistics.median(r[k] for r in rs) for k in ("words_per_sec", "total_s", "analogy", "spearman")}
           for n, rs in rows.items() if rs}
    s = med["seqkit"]
    print(f"\nmedians of {args.repeat} run(s)")
    rows = [[name, f"{m['words_per_sec']:,.0f}", f"{m['total_s']:.1f}", f"{m['analogy']:.2f}", f"{m['spearman']:.4f}"]
            for name, m in med.items()]
    if "gensim" in med:
        g = med["gensim"]
        rows.append(["seqkit / gensim", f"{s['words_per_sec'] / g['words_per_sec']:.2f}x", f"{s['total_s'] / g['total_s']:.2f}x",
                     f"{s['analogy'] - g['analogy']:+.2f} points", f"{s['spearman'] - g['spearman']:+.4f}"])
    table(["", "words/s", "total s", "analogy %", "ws353 Spearman"], rows)
    if "gensim" in med:
        print(f"targets: words/s >= 1.0x: {s['words_per_sec'] / g['words_per_sec']:.2f}x; analogy >= gensim - 0.5: "
              f"{s['analogy'] - g['analogy']:+.2f} points; ws353 >= gensim - 0.02: {s['spearman'] - g['spearman']:+.4f}")


def ptb(args) -> None:
    """d2l's word2vec chapter on PTB: embed 100, max window 5, 5 noise words, min_freq 10, subsampling
    t=1e-4, Adam lr 0.002, 5 epochs, batch 512 centre words (~3000 (centre, context) pairs: seqkit
    batches pairs)."""
    from seqkit.embeddings import Word2Vec

    corpus = args.corpus or shared_data() / "ptb" / "ptb.train.txt"
    model = Word2Vec(corpus, dim=100, window=5, negative=5, min_freq=10, sample=1e-4, epochs=args.epochs,
                     threads=args.threads, seed=args.seed, device=args.device, backend="torch",
                     optimizer="adam", alpha=0.002, batch_size=3072)
    near = model.wv.most_similar("chip", topn=10)
    wanted = {"microprocessor", "chips", "computer", "intel"}
    hits = sorted(wanted & {k for k, _ in near})
    print(f"PTB {len(model.wv)} words, {model.stats.words_per_sec / 1000:.0f}k words/s ({model.stats.backend}); "
          "nearest to 'chip': " + ", ".join(f"{k} {s:.3f}" for k, s in near))
    print(f"of {sorted(wanted)}: {len(hits)} in the top 10 ({', '.join(hits)}); target >= 2")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", type=Path, default=None)
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--dim", type=int, default=100)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--gensim-workers", type=int, default=None, help="default: --threads")
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--device", default="cpu", help="cpu or cuda (cuda uses the torch trainer)")
    ap.add_argument("--backend", default="auto", choices=["auto", "kernel", "torch"])
    ap.add_argument("--batch-size", type=int, default=None, help="torch trainer: pairs per step "
                    "(default 1024 on CPU, 65536 on CUDA)")
    ap.add_argument("--skip-gensim", action="store_true")
    ap.add_argument("--ptb", action="store_true", help="run d2l's PTB check instead")
    ap.add_argument("--smoke", action="store_true", help="gensim's Lee corpus, 1 epoch: checks the script")
    args = ap.parse_args()
    if args.smoke:
        from gensim.test.utils import datapath

        args.corpus, args.epochs, args.repeat = Path(datapath("lee_background.cor")), 1, 1
    header(["gensim"])
    ptb(args) if args.ptb else compare(args)


if __name__ == "__main__":
    main()
