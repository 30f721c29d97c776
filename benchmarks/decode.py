"""Decoding benchmark: seqkit's own CPU decoder against CTranslate2, on the same weights.

One run, side by side, on a trained Transformer run (``--run``, e.g. the nmt_transformer recipe on
Multi30k de->en) and a test set (default: Multi30k test_2016_flickr from ``$SEQKIT_DATA``):

* seqkit float32 (its Translator's oneDNN-packed layers, :mod:`seqkit.seq2seq.packed`; the ``seqkit fp32
  unpacked`` row runs the model's own ``nn.Linear`` layers: what packing gains), and seqkit int8 (``Translator(quantize="int8")``: :mod:`seqkit.seq2seq.int8`, per-row
  int8 weights in every Linear layer, the output projection and the embedding; ``benchmarks/int8.py``
  compares the int8 paths);
* CTranslate2 float32 and int8 (``seqkit export ct2 --quantization ...`` of the same weights);

each also with a vocabulary shortlist (``+vmap`` rows: ``seqkit shortlist build``'s defaults learned
from the run's training data, or ``--vmap FILE``; seqkit's ``--shortlist``, CTranslate2's
``use_vmap``; ``--no-shortlist`` leaves them out), at beam 1 and 5 and 1 and 2 threads: sentences/s and target tokens/s (the pieces of the outputs, with
``<eos>``), the median of ``--repeats`` timed passes (the engines take turns, one pass each per round), and sacreBLEU (13a, detokenized, cased) of each.
Both engines decode with the same settings (alpha 1, output cap 1.5 * source + 10); the length penalty
is CTranslate2's ``L ** alpha`` (seqkit's ``length_penalty="d2l"``) and CTranslate2's beam search runs
with patience 2 (see ``CT2Translator``) so that the float32 outputs can be equal, not just close; the
``ct2 int8 p1`` row is CTranslate2 with its default patience 1, and ``seqkit int8 p1`` seqkit's search with
the same rule (the decode setting ``patience``; seqkit's default is its exact stop): the last column compares
every row with that one. ``--profile`` adds a torch.profiler table of seqkit's beam-5 float32 decoding.

    python benchmarks/decode.py --run runs/m30k --repeats 3 [--profile]
    python benchmarks/decode.py --run runs/m30k --threads 1 --batch 32,1 --sents 200   # batch-32 and latency rows
    python benchmarks/decode.py --smoke     # an untrained tiny model, 12 bundled sentences: checks the script

Without CTranslate2 (``pip install ctranslate2``) the script says ``skipped: ctranslate2 not installed``
and times seqkit's engines alone. The exports go into a fresh temporary folder (``--work`` to keep them).
"""

from __future__ import annotations

import argparse
import gzip
import statistics
import sys
import time
from pathlib import Path

import torch
from _common import REPO, header, installed, shared_data, skipped, table, work_folder

from seqkit.errors import SeqkitError
from seqkit.seq2seq.shortlist import describe

HERE = Path(__file__).resolve().parent


def _read(path: Path) -> list[str]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as fh:
        return [line.rstrip("\n") for line in fh]


def _time_round_robin(calls: dict, repeats: int) -> dict:
    """``{name: (median wall-clock seconds of repeats calls, the last result)}``, after one warm-up call of
    each. The engines take turns (one call each per round), so a machine whose speed drifts during the
    run (a shared host, a changing clock) slows every engine alike instead of the ones timed last."""
    out = {name: fn() for name, fn in calls.items()}
    times: dict[str, list[float]] = {name: [] for name in calls}
    for _ in range(repeats):
        for name, fn in calls.items():
            t0 = time.perf_counter()
            out[name] = fn()
            times[name].append(time.perf_counter() - t0)
    return {name: (statistics.median(times[name]), out[name]) for name in calls}


def smoke_model(work: Path) -> Path:
    """An untrained tiny Transformer's model folder (sentencepiece on 2,000 lines of the bundled en-fr
    corpus): it decodes to the length cap, which is all the smoke test needs."""
    from seqkit.io import atomic_dir, read_lines
    from seqkit.seq2seq.model_folder import save_model_dir
    from seqkit.seq2seq.presets import build_model, model_config
    from seqkit.text import SentencePieceTokenizer

    lines = read_lines(REPO / "data/en-fr/train.en")[:1000] + read_lines(REPO / "data/en-fr/train.fr")[:1000]
    tok = SentencePieceTokenizer.train(lines, work / "spm", vocab_size=300)
    torch.manual_seed(0)
    cfg = model_config("transformer", "tiny", d_model=64, d_ff=128, n_enc_layers=1, n_dec_layers=1)
    model = build_model(cfg, len(tok))
    with atomic_dir(work / "model", "model") as folder:
        save_model_dir(folder, cfg, len(tok), work / "spm.model", model.state_dict(), src="en", tgt="fr")
    return work / "model"


def shortlist(args: argparse.Namespace, run: Path, work: Path) -> Path | None:
    """The vmap file of the ``+vmap`` rows: ``--vmap``, else ``seqkit shortlist build``'s defaults
    learned from the run's training data (the smoke model: from the bundled en-fr training pairs)."""
    from seqkit.seq2seq.shortlist import shortlist_for_run

    if args.vmap is not None:
        return args.vmap
    options = {"src": REPO / "data/en-fr/train.en", "tgt": REPO / "data/en-fr/train.fr", "top_k": 20,
               "frequent": 50} if args.smoke else {}  # the smoke model's 300 pieces: a smaller shortlist
    try:
        learned = shortlist_for_run(run, **options)
    except SeqkitError as exc:
        skipped("shortlist", f"not learned ({exc})", fix="give --vmap FILE for the +vmap rows")
        return None
    return learned.save(work / "vmap.txt")


def main(argv: list[str] | None = None) -> list[dict]:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--run", type=Path, default=None, help="a trained nmt_transformer run (or model folder)")
    p.add_argument("--data", type=Path, default=shared_data())
    p.add_argument("--src", default=None, help="source file [default: multi30k test_2016_flickr.de]")
    p.add_argument("--ref", default=None, help="reference file [default: multi30k test_2016_flickr.en]")
    p.add_argument("--sents", type=int, default=0, help="only the first N sentences (0: all)")
    p.add_argument("--beams", default="1,5")
    p.add_argument("--threads", default="1,2")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--batch", default="all",
                   help="sentences per call, comma-separated: all (the engine batches the whole set), 32, 1 "
                        "(one sentence at a time: latency)")
    p.add_argument("--work", "--workdir", dest="work", type=Path, default=None,
                   help="keep the CTranslate2 exports here (default: a new temporary folder, removed)")
    p.add_argument("--profile", action="store_true", help="profile seqkit's beam-5 float32 decoding")
    p.add_argument("--vmap", type=Path, default=None,
                   help="the shortlist of the +vmap rows [default: learned from the run's training data]")
    p.add_argument("--no-shortlist", action="store_true", help="leave out the +vmap rows")
    p.add_argument("--smoke", action="store_true",
                   help="an untrained tiny model, 12 bundled en-fr sentences, beams 1,2, one thread: checks the script")
    args = p.parse_args(argv)
    if args.smoke:
        args.src, args.ref = str(REPO / "data/en-fr/test.en"), str(REPO / "data/en-fr/test.fr")
        args.sents, args.beams, args.threads, args.repeats, args.batch = 12, "1,2", "1", 1, "all,4"
    elif args.run is None:
        p.error("--run is required (or --smoke)")
    header(["ctranslate2"])
    with work_folder(args.work, "decode") as work:
        return decode(args, work)


def decode(args: argparse.Namespace, work: Path) -> list[dict]:
    from seqkit.metrics import bleu
    from seqkit.seq2seq.translator import Translator
    from seqkit.threads import use_threads

    run = args.run or smoke_model(work)
    src = _read(Path(args.src) if args.src else args.data / "multi30k/test_2016_flickr.de.gz")
    ref = _read(Path(args.ref) if args.ref else args.data / "multi30k/test_2016_flickr.en.gz")
    if args.sents:
        src, ref = src[: args.sents], ref[: args.sents]
    vmap = None if args.no_shortlist else shortlist(args, run, work)
    ct2 = installed("ctranslate2")
    if ct2:
        from seqkit.seq2seq.engines import CT2Translator
        from seqkit.seq2seq.export import export_ct2

        exports = {q: export_ct2(run, work / f"ct2-{q}", q, vmap=vmap) for q in ("float32", "int8")}
    else:
        skipped("ctranslate2", fix="pip install ctranslate2: the CTranslate2 rows and the ratio column are left out")
    common = dict(alpha=1.0, max_len_a=1.5, max_len_b=10, length_penalty="d2l")
    rows: list[dict] = []
    outputs: dict[tuple, list[str]] = {}
    for threads in [int(t) for t in args.threads.split(",")]:
        use_threads(threads)
        engines = {
            "seqkit float32": Translator.from_run(run, shortlist=vmap, **common),
            # the model's own nn.Linear layers (MKL), not the oneDNN-packed copy: what packing gains
            "seqkit fp32 unpacked": Translator.from_run(run, shortlist=vmap, pack=False, **common),
            "seqkit int8": Translator.from_run(run, quantize="int8", shortlist=vmap, **common),
            # CTranslate2's stopping rule in seqkit's search (decode setting patience): like for like with ct2 int8 p1
            "seqkit int8 p1": Translator.from_run(run, quantize="int8", shortlist=vmap, patience=1.0, **common),
        }
        if ct2:
            engines.update({
                "ct2 float32": CT2Translator(exports["float32"], threads=threads, **common),
                "ct2 int8": CT2Translator(exports["int8"], threads=threads, **common),
                # CTranslate2's own default stopping (patience 1): faster, ends some searches early
                "ct2 int8 p1": CT2Translator(exports["int8"], threads=threads, patience=1.0, **common),
            })
        if vmap is not None:  # the same engines, each batch scoring its shortlist's candidates only
            engines.update({f"{name} +vmap": (engine, True) for name, engine in list(engines.items())
                            if not name.endswith(("p1", "unpacked"))})
        for beam, batch in [(int(b), c) for b in args.beams.split(",") for c in args.batch.split(",")]:
            size = len(src) if batch == "all" else int(batch)
            calls = {}
            for name, engine in engines.items():
                engine, short = engine if isinstance(engine, tuple) else (engine, False)

                def translate(engine=engine, beam=beam, short=short, size=size):
                    return [hyps[0] for i in range(0, len(src), size)
                            for hyps in engine.translate_scored(src[i:i + size], beam=beam, shortlist=short)]

                calls[name] = translate
            for name, (seconds, hyps) in _time_round_robin(calls, args.repeats).items():
                texts = [h.text for h in hyps]
                outputs[(name, beam, threads, batch)] = texts
                tokens = sum(len(h.pieces) + 1 for h in hyps)
                rows.append({"engine": name, "beam": beam, "threads": threads, "batch": batch,
                             "sents_per_s": len(src) / seconds, "tokens_per_s": tokens / seconds,
                             "bleu": bleu(texts, [ref]).score})
                print(f"{name:15s} beam {beam} threads {threads} batch {batch}: {rows[-1]['sents_per_s']:8.1f} sent/s "
                      f"{rows[-1]['tokens_per_s']:9.0f} tok/s  BLEU {rows[-1]['bleu']:.2f}", file=sys.stderr)

    def vs_ct2(r: dict, peer: str = "ct2 int8") -> str:  # a +vmap row against CTranslate2 with the same vmap
        peer = f"{peer} +vmap" if r["engine"].endswith("+vmap") else peer
        base = next((x for x in rows if x["engine"] == peer and x["beam"] == r["beam"]
                     and x["threads"] == r["threads"] and x["batch"] == r["batch"]), None)
        return f"{r['tokens_per_s'] / base['tokens_per_s']:.2f}" if base else "-"

    table(["engine", "beam", "threads", "batch", "sentences/s", "target tokens/s", "BLEU",
           "/ ct2 int8 (+vmap) (tok/s)", "/ ct2 int8 p1 (tok/s)"],
          [[r["engine"], r["beam"], r["threads"], r["batch"], f"{r['sents_per_s']:,.1f}", f"{r['tokens_per_s']:,.0f}",
            f"{r['bleu']:.2f}", vs_ct2(r), vs_ct2(r, "ct2 int8 p1")] for r in rows])
    if ct2:
        for beam in [int(b) for b in args.beams.split(",")]:
            t = int(args.threads.split(",")[0])
            batch = args.batch.split(",")[0]
            a, b = outputs[("seqkit float32", beam, t, batch)], outputs[("ct2 float32", beam, t, batch)]
            print(f"beam {beam}: float32 outputs equal in {sum(x == y for x, y in zip(a, b))} of {len(a)} sentences")

    if vmap is not None:
        from seqkit.seq2seq.shortlist import Shortlist

        pieces = Translator.from_run(run).tokenizer.pieces()
        print(f"+vmap rows: {vmap}: {describe(Shortlist.load(vmap, pieces))}")
    if args.profile:
        from torch.profiler import ProfilerActivity, profile

        use_threads(1)
        translator = Translator.from_run(run, **common)
        started = time.perf_counter()
        with profile(activities=[ProfilerActivity.CPU]) as prof:
            translator.translate_scored(src[:200], beam=5)
        wall = time.perf_counter() - started
        averages = prof.key_averages()
        print(averages.table(sort_by="self_cpu_time_total", row_limit=15))
        operators = sum(e.self_cpu_time_total for e in averages) / 1e6
        print(f"torch operators {operators:.2f} s of {wall:.2f} s under the profiler; the rest is Python and the "
              "C attention kernels (seqkit.seq2seq.attention_kernel, not operators)")
    return rows


if __name__ == "__main__":
    main()
