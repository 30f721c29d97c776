"""Decoding benchmark: seqkit's own CPU decoder against CTranslate2, on the same weights.

One run, side by side, on a trained Transformer run (``--run``, e.g. the nmt_transformer recipe on
Multi30k de->en) and a test set (default: Multi30k test_2016_flickr from ``$SEQKIT_DATA``):

* seqkit float32, and seqkit int8 (``Translator(quantize="int8")``: torch's dynamic quantization of
  the Linear layers, ``torch.ao.quantization.quantize_dynamic``, per-row int8 weights);
* CTranslate2 float32 and int8 (``seqkit export ct2 --quantization ...`` of the same weights);

at beam 1 and 5 and 1 and 2 threads: sentences/s and target tokens/s (the pieces of the outputs, with
``<eos>``), the median of ``--repeats`` timed passes, and sacreBLEU (13a, detokenized, cased) of each.
Both engines decode with the same settings (alpha 1, output cap 1.5 * source + 10); the length penalty
is CTranslate2's ``L ** alpha`` (seqkit's ``length_penalty="d2l"``) and CTranslate2's beam search runs
with patience 2 (see ``CT2Translator``) so that the float32 outputs can be equal, not just close; the
``ct2 int8 p1`` row is CTranslate2 with its default patience 1. ``--profile`` adds a torch.profiler table of seqkit's beam-5 float32 decoding.

    python benchmarks/decode.py --run runs/m30k --repeats 3 [--profile]
"""

from __future__ import annotations

import argparse
import gzip
import os
import statistics
import sys
import time
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent


def _read(path: Path) -> list[str]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as fh:
        return [line.rstrip("\n") for line in fh]


def _time(fn, repeats: int) -> tuple[float, object]:
    """Median wall-clock seconds of ``repeats`` calls (after one warm-up call) and the last result."""
    out = fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def main(argv: list[str] | None = None) -> list[dict]:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--run", required=True, type=Path, help="a trained nmt_transformer run (or model folder)")
    p.add_argument("--data", type=Path, default=Path(os.environ.get("SEQKIT_DATA", HERE.parent.parent / "shared/data")))
    p.add_argument("--src", default=None, help="source file [default: multi30k test_2016_flickr.de]")
    p.add_argument("--ref", default=None, help="reference file [default: multi30k test_2016_flickr.en]")
    p.add_argument("--sents", type=int, default=0, help="only the first N sentences (0: all)")
    p.add_argument("--beams", default="1,5")
    p.add_argument("--threads", default="1,2")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--workdir", type=Path, default=Path("/tmp/seqkit-decode-bench"))
    p.add_argument("--profile", action="store_true", help="profile seqkit's beam-5 float32 decoding")
    args = p.parse_args(argv)

    from seqkit.metrics import bleu
    from seqkit.seq2seq.engines import CT2Translator
    from seqkit.seq2seq.export import export_ct2
    from seqkit.seq2seq.translator import Translator

    src = _read(Path(args.src) if args.src else args.data / "multi30k/test_2016_flickr.de.gz")
    ref = _read(Path(args.ref) if args.ref else args.data / "multi30k/test_2016_flickr.en.gz")
    if args.sents:
        src, ref = src[: args.sents], ref[: args.sents]
    exports = {q: export_ct2(args.run, args.workdir / f"ct2-{q}", q) for q in ("float32", "int8")}
    common = dict(alpha=1.0, max_len_a=1.5, max_len_b=10, length_penalty="d2l")
    rows: list[dict] = []
    outputs: dict[tuple, list[str]] = {}
    for threads in [int(t) for t in args.threads.split(",")]:
        torch.set_num_threads(threads)
        engines = {
            "seqkit float32": Translator.from_run(args.run, **common),
            "seqkit int8": Translator.from_run(args.run, quantize="int8", **common),
            "ct2 float32": CT2Translator(exports["float32"], threads=threads, **common),
            "ct2 int8": CT2Translator(exports["int8"], threads=threads, **common),
            # CTranslate2's own default stopping (patience 1): faster, ends some searches early
            "ct2 int8 p1": CT2Translator(exports["int8"], threads=threads, patience=1.0, **common),
        }
        for beam in [int(b) for b in args.beams.split(",")]:
            for name, engine in engines.items():
                def run(engine=engine, beam=beam):
                    return [hyps[0] for hyps in engine.translate_scored(src, beam=beam)]

                seconds, hyps = _time(run, args.repeats)
                texts = [h.text for h in hyps]
                outputs[(name, beam, threads)] = texts
                tokens = sum(len(h.pieces) + 1 for h in hyps)
                rows.append({"engine": name, "beam": beam, "threads": threads, "sents_per_s": len(src) / seconds,
                             "tokens_per_s": tokens / seconds, "bleu": bleu(texts, [ref]).score})
                print(f"{name:15s} beam {beam} threads {threads}: {rows[-1]['sents_per_s']:8.1f} sent/s "
                      f"{rows[-1]['tokens_per_s']:9.0f} tok/s  BLEU {rows[-1]['bleu']:.2f}", file=sys.stderr)

    print("| engine | beam | threads | sentences/s | target tokens/s | BLEU | / ct2 int8 (tok/s) |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for r in rows:
        ct2 = next(x for x in rows if x["engine"] == "ct2 int8" and x["beam"] == r["beam"]
                   and x["threads"] == r["threads"])
        print(f"| {r['engine']} | {r['beam']} | {r['threads']} | {r['sents_per_s']:,.1f} | {r['tokens_per_s']:,.0f} "
              f"| {r['bleu']:.2f} | {r['tokens_per_s'] / ct2['tokens_per_s']:.2f} |")
    for beam in [int(b) for b in args.beams.split(",")]:
        t = int(args.threads.split(",")[0])
        a, b = outputs[("seqkit float32", beam, t)], outputs[("ct2 float32", beam, t)]
        print(f"beam {beam}: float32 outputs equal in {sum(x == y for x, y in zip(a, b))} of {len(a)} sentences")

    if args.profile:
        from torch.profiler import ProfilerActivity, profile

        torch.set_num_threads(1)
        translator = Translator.from_run(args.run, **common)
        with profile(activities=[ProfilerActivity.CPU]) as prof:
            translator.translate_scored(src[:200], beam=5)
        print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=15))
    return rows


if __name__ == "__main__":
    main()
