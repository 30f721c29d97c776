"""n-gram LM benchmark: seqkit vs KenLM (lmplz + query/kenlm) vs NLTK, side by side on PTB.

    python benchmarks/ngram.py                      # orders 3 4 5, PTB from $SEQKIT_DATA or ../shared/data
    python benchmarks/ngram.py --orders 3 --repeats 1 --nltk-sentences 500
    python benchmarks/ngram.py --smoke              # 3,000 training lines, order 3: checks the script

Penn Treebank keeps ``<unk>`` as a word; KenLM refuses ``<unk>`` in its input, so ``<unk>`` is
renamed ``UNKW`` in the files given to both (the comparison is on identical text).

Peers (each skipped with a message when absent):

* KenLM ``lmplz``: ``pip download --no-binary kenlm --no-deps kenlm``, unpack, then
  ``cmake -B build -DCMAKE_BUILD_TYPE=Release && make -C build lmplz query`` (needs the Boost,
  zlib, bz2 and lzma headers); put ``build/bin`` on PATH or pass ``--kenlm-bin``.
* ``kenlm`` Python module (``pip install kenlm``): scores seqkit's ARPA (interop) and its own.
* NLTK (``pip install nltk``): ``KneserNeyInterpolated`` trained and scored on a small subset,
  since it scores only tens of tokens per second.

Printed: perplexity of each; build time from the training file to an ARPA file, wall and CPU
(lmplz is multi-threaded; CPU time also survives a loaded machine better), with seqkit's count +
estimate and ARPA write shown apart, and ``seqkit lm ngram train`` as typed (a new process, start-up
included) against lmplz; scoring tokens/s; ARPA interop both ways; the first load of an ARPA file
(parse + seqkit's binary copy) and one-thread scoring from text against the kenlm module; ratios; one
summary table, a row per order, with issue 26's three targets; then the start-up time of each command
that never uses PyTorch (n-gram train and ppl, bleu, tokenize, vocab build) on a tiny input. Times are
medians of ``--repeats`` runs; on a shared machine only the side-by-side ratios mean much.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from _common import header, installed, shared_data, skipped, table, work_folder

from seqkit.io import read_lines
from seqkit.lm.ngram import NGramLM
from seqkit.lm.ngram.vocab import pack

KENLM_PPL = {3: 148.28, 4: 142.72, 5: 141.19}  # lmplz + query, measured for the issue
LMPLZ_MEMORY = "1G"  # lmplz -S: ample for PTB; a percentage of RAM makes it slower (page faults)


def median_time(fn, repeats: int):
    times, out = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), out


def median_cpu(fn, repeats: int) -> tuple[float, float]:
    """Median (wall, CPU) seconds of fn(): CPU = this process's user+sys plus its children's
    (lmplz runs as a child), which a loaded shared machine distorts far less than wall time."""
    walls, cpus = [], []
    for _ in range(repeats):
        r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        c0, w0 = time.process_time(), time.perf_counter()
        fn()
        r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        walls.append(time.perf_counter() - w0)
        cpus.append(time.process_time() - c0 + (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime))
    return statistics.median(walls), statistics.median(cpus)


def ptb_dir(arg: str | None) -> Path:
    return Path(arg) if arg else shared_data() / "ptb"


def renamed_copy(src: Path, dst: Path, lines_cap: int = 0) -> list[str]:
    lines = [line.replace("<unk>", "UNKW") for line in read_lines(src)[:lines_cap or None]]
    dst.write_text("\n".join(lines) + "\n")
    return lines


def find_lmplz(arg: str | None) -> tuple[str | None, str | None]:
    folder = arg or os.environ.get("KENLM_BIN")
    lmplz = str(Path(folder) / "lmplz") if folder else shutil.which("lmplz")
    query = str(Path(folder) / "query") if folder else shutil.which("query")
    if lmplz and not Path(lmplz).exists():
        lmplz = None
    if query and not Path(query).exists():
        query = None
    return lmplz, query


def kenlm_perplexity(kenlm, arpa: Path, lines: list[str]) -> tuple[float, float]:
    """(perplexity, tokens/s) of ``kenlm.Model(arpa)`` over lines, </s> included."""
    with quiet_stderr():
        model = kenlm.Model(str(arpa))
    start = time.perf_counter()
    total = sum(model.score(line, bos=True, eos=True) for line in lines)
    took = time.perf_counter() - start
    n = sum(len(line.split()) + 1 for line in lines)
    return 10 ** (-total / n), n / took


def run_nltk(train: list[str], test: list[str], order: int, n_train: int, n_test_tokens: int) -> None:
    try:
        from nltk.lm import KneserNeyInterpolated
        from nltk.lm.preprocessing import pad_both_ends, padded_everygram_pipeline
        from nltk.util import everygrams
    except ImportError:
        skipped("nltk", fix="pip install nltk")
        return
    sub = [line.split() for line in train[:n_train]]
    start = time.perf_counter()
    grams, vocab = padded_everygram_pipeline(order, sub)
    nltk_lm = KneserNeyInterpolated(order)
    nltk_lm.fit(grams, vocab)
    fit_s = time.perf_counter() - start
    # NLTK scores by the full context; score the first n_test_tokens test tokens
    start, scored, logs = time.perf_counter(), 0, []
    for line in test:
        toks = list(pad_both_ends(line.split(), n=order))
        for gram in everygrams(toks, min_len=order, max_len=order):
            logs.append(nltk_lm.logscore(gram[-1], gram[:-1]))
            scored += 1
            if scored >= n_test_tokens:
                break
        if scored >= n_test_tokens:
            break
    nltk_speed = scored / (time.perf_counter() - start)
    ours = NGramLM.train(train[:n_train], order=order, smoothing="kn", discount_fallback=True)
    sample = test[:50]
    took, scored_ours = median_time(lambda: ours.score_corpus(sample * 20), 3)
    ours_speed = scored_ours.n_tokens / took
    finite = np.isfinite(logs)
    print(f"NLTK KneserNeyInterpolated order {order} on {n_train} training sentences: fit {fit_s:.1f} s, "
          f"scores {nltk_speed:,.0f} tokens/s ({finite.mean():.0%} of {scored} test tokens finite: "
          f"NLTK gives unseen words -inf); seqkit kn on the same subset: {ours_speed:,.0f} tokens/s "
          f"= {ours_speed / nltk_speed:,.0f}x")


@contextlib.contextmanager
def quiet_stderr():
    """Silence C-level stderr (kenlm prints a progress bar while loading an ARPA file)."""
    sys.stderr.flush()
    saved = os.dup(2)
    with open(os.devnull, "w") as null:
        os.dup2(null.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)


def bench_order(order: int, train: list[str], test: list[str], work: Path, repeats: int,
                lmplz: str | None, kenlm) -> dict:
    """Build, write, score and interop for one order; prints one block and returns its figures."""
    print(f"\n== order {order}, modified Kneser-Ney ==")
    build_s, lm = median_time(lambda: NGramLM.train(train, order=order, smoothing="mkn"), repeats)
    arpa = work / f"seqkit{order}.arpa"
    write_s, _ = median_time(lambda: lm.save_arpa(arpa), repeats)
    both_wall, both_cpu = median_cpu(
        lambda: NGramLM.train(read_lines(work / "train.txt"), order=order).save_arpa(arpa), repeats)
    packed = pack(test, lm.vocab)
    lm.score_packed(packed)  # builds the hash index once
    score_s, scores = median_time(lambda: lm.score_packed(packed), repeats)
    text_s, _ = median_time(lambda: lm.score_corpus(test, threads=1), repeats)  # one thread, as kenlm's loop
    ppl = scores.perplexity()
    print(f"seqkit: perplexity {ppl:.4f} (KenLM reference {KENLM_PPL.get(order, 'n/a')}); "
          f"build {build_s:.2f} s, + ARPA write {write_s:.2f} s; read file + build + write: "
          f"{both_wall:.2f} s wall, {both_cpu:.2f} s CPU")
    print(f"seqkit: scoring {scores.n_tokens / score_s:,.0f} tokens/s from ids, "
          f"{scores.n_tokens / text_s:,.0f} tokens/s from text, one thread ({scores.n_tokens} tokens)")
    out = {"order": order, "ppl": ppl, "ids_per_s": scores.n_tokens / score_s, "text_per_s": scores.n_tokens / text_s}
    command = [sys.executable, "-m", "seqkit", "lm", "ngram", "train", "--order", str(order), str(work / "train.txt"),
               "-o", str(work / f"command{order}.arpa")]
    command_s, command_cpu = median_cpu(lambda: subprocess.run(command, check=True, capture_output=True), repeats)
    print(f"seqkit lm ngram train --order {order} (the command as typed, start-up included): {command_s:.2f} s wall, "
          f"{command_cpu:.2f} s CPU")
    if lmplz:
        kenarpa = work / f"kenlm{order}.arpa"

        def run_lmplz():
            with open(work / "train.txt", "rb") as fin, open(kenarpa, "wb") as fout:
                subprocess.run([lmplz, "-o", str(order), "-S", LMPLZ_MEMORY, "-T", str(work)], stdin=fin,
                               stdout=fout, stderr=subprocess.DEVNULL, check=True)

        lmplz_s, lmplz_cpu = median_cpu(run_lmplz, repeats)
        out["build_ratio"] = both_wall / lmplz_s
        out["command_ratio"] = command_s / lmplz_s
        print(f"KenLM lmplz -S {LMPLZ_MEMORY}: {lmplz_s:.2f} s wall, {lmplz_cpu:.2f} s CPU; seqkit/lmplz "
              f"(file to ARPA) = {both_wall / lmplz_s:.2f}x wall, {both_cpu / lmplz_cpu:.2f}x CPU (target <= 2x); "
              f"the command as typed = {command_s / lmplz_s:.2f}x wall, {command_cpu / lmplz_cpu:.2f}x CPU "
              f"(target <= 1x)")
        their_ppl = out["lmplz_ppl"] = NGramLM.load_arpa(kenarpa).perplexity(test)
        print(f"interop lmplz ARPA -> seqkit: perplexity {their_ppl:.4f}; "
              f"seqkit vs lmplz model: {100 * (ppl / their_ppl - 1):+.4f}% (target within 0.2%)")
        if kenlm is not None:
            kp, kspeed = kenlm_perplexity(kenlm, kenarpa, test)
            print(f"KenLM (kenlm module) on its own ARPA: perplexity {kp:.4f}, "
                  f"{kspeed:,.0f} tokens/s (python loop over sentences)")
    if kenlm is not None:
        kp, kspeed = kenlm_perplexity(kenlm, arpa, test)
        out["kenlm_ppl"], out["text_vs_kenlm"] = kp, scores.n_tokens / text_s / kspeed
        print(f"interop seqkit ARPA -> kenlm: perplexity {kp:.4f} (seqkit {ppl:.4f}, diff {100 * (kp / ppl - 1):+.5f}%)")
        print(f"scoring speed seqkit/kenlm-module = {scores.n_tokens / text_s / kspeed:.2f}x (from text), "
              f"{scores.n_tokens / score_s / kspeed:.2f}x (from ids)")
        out.update(bench_load_and_score(arpa, test, kenlm, repeats))
    return out


def bench_load_and_score(arpa: Path, test: list[str], kenlm, repeats: int) -> dict:
    """ARPA load (first, then from seqkit's binary cache) and scoring from text, against kenlm.Model,
    alternating the two tools in each repeat so that load on the machine hits both alike."""
    from seqkit.lm.ngram import binary

    n = sum(len(line.split()) + 1 for line in test)
    NGramLM.train(test[:50], order=2, discount_fallback=True).score_corpus(test[:5])  # compiles the kernel first
    rows: dict[str, list[float]] = {k: [] for k in ("kenlm load", "seqkit first load", "seqkit cached load",
                                                    "kenlm score", "seqkit score 1t", "seqkit score 2t")}
    for _ in range(repeats):
        binary.cache_path(arpa).unlink(missing_ok=True)
        start = time.perf_counter()
        with quiet_stderr():
            model = kenlm.Model(str(arpa))
        rows["kenlm load"].append(time.perf_counter() - start)
        start = time.perf_counter()
        NGramLM.load_arpa(arpa)  # parses, writes the cache
        rows["seqkit first load"].append(time.perf_counter() - start)
        start = time.perf_counter()
        lm = NGramLM.load_arpa(arpa)
        rows["seqkit cached load"].append(time.perf_counter() - start)
        for _ in range(3):
            start = time.perf_counter()
            sum(model.score(line, bos=True, eos=True) for line in test)
            rows["kenlm score"].append(time.perf_counter() - start)
            start = time.perf_counter()
            lm.score_corpus(test, threads=1)
            rows["seqkit score 1t"].append(time.perf_counter() - start)
            start = time.perf_counter()
            lm.score_corpus(test, threads=2)
            rows["seqkit score 2t"].append(time.perf_counter() - start)
    med = {k: statistics.median(v) for k, v in rows.items()}
    print(f"ARPA load ({arpa.stat().st_size / 1e6:.0f} MB): kenlm.Model {med['kenlm load']:.2f} s; seqkit first "
          f"{med['seqkit first load']:.2f} s ({med['seqkit first load'] / med['kenlm load']:.2f}x), from its cache "
          f"{med['seqkit cached load']:.3f} s ({med['seqkit cached load'] / med['kenlm load']:.3f}x kenlm's time)")
    print(f"scoring from text: kenlm module {n / med['kenlm score']:,.0f} tokens/s; seqkit 1 thread "
          f"{n / med['seqkit score 1t']:,.0f} ({med['kenlm score'] / med['seqkit score 1t']:.2f}x), 2 threads "
          f"{n / med['seqkit score 2t']:,.0f} ({med['kenlm score'] / med['seqkit score 2t']:.2f}x)")
    print(f"targets: first load <= 2x kenlm's ({med['seqkit first load'] / med['kenlm load']:.2f}x); one-thread "
          f"scoring from text >= 1x kenlm's speed ({med['kenlm score'] / med['seqkit score 1t']:.2f}x)")
    return {"load_ratio": med["seqkit first load"] / med["kenlm load"],
            "score_ratio": med["kenlm score"] / med["seqkit score 1t"]}


#: the commands that never compute with PyTorch, each on a tiny input: their time is start-up
STARTUP_COMMANDS = {
    "seqkit lm ngram train": ["lm", "ngram", "train", "--order", "3", "{text}", "-o", "{work}/startup.arpa"],
    "seqkit lm ngram ppl": ["lm", "ngram", "ppl", "{work}/startup.arpa", "{text}"],
    "seqkit bleu": ["bleu", "{text}", "-i", "{text}"],
    "seqkit tokenize": ["tokenize", "--tokenizer", "whitespace", "{text}"],
    "seqkit vocab build": ["vocab", "build", "{text}", "-o", "{work}/startup-vocab.json"],
}


def bench_startup(test: list[str], work: Path, repeats: int) -> None:
    """Wall time of each non-neural command on 100 lines (start-up is nearly all of it), beside a bare
    ``python -c pass`` and ``import numpy``, which every seqkit command pays."""
    text = work / "startup.txt"
    text.write_text("\n".join(test[:100]) + "\n")
    runs = {"python -c pass": [sys.executable, "-c", "pass"],
            "python -c 'import numpy'": [sys.executable, "-c", "import numpy"]}
    for name, args in STARTUP_COMMANDS.items():
        runs[name] = [sys.executable, "-m", "seqkit", *(a.format(text=text, work=work) for a in args)]
    rows = []
    for name, command in runs.items():
        took, _ = median_time(lambda c=command: subprocess.run(c, check=True, capture_output=True), max(3, repeats))
        rows.append([name, f"{took:.3f}"])
    table(["command (100 lines)", "wall (s)"], rows)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ptb", help="folder with ptb.{train,valid,test}.txt")
    ap.add_argument("--orders", type=int, nargs="+", default=[3, 4, 5])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--kenlm-bin", help="folder with lmplz and query (default: PATH or $KENLM_BIN)")
    ap.add_argument("--nltk-sentences", type=int, default=2000, help="NLTK training subset (sentences; 0 skips NLTK)")
    ap.add_argument("--nltk-tokens", type=int, default=300, help="test tokens NLTK scores")
    ap.add_argument("--work", type=Path, default=None, help="scratch folder (default: a new temporary one, removed)")
    ap.add_argument("--lines", type=int, default=0, help="only the first N training and N/10 test lines (0: all)")
    ap.add_argument("--smoke", action="store_true", help="3,000 training lines, order 3, one repeat: checks the script")
    args = ap.parse_args()
    if args.smoke:
        args.lines, args.orders, args.repeats, args.nltk_sentences, args.nltk_tokens = 3000, [3], 1, 200, 50
    if args.lines:
        KENLM_PPL.clear()  # its figures are for the whole of PTB
    header(["kenlm", "nltk"])

    src = ptb_dir(args.ptb)
    if not (src / "ptb.train.txt").exists():
        print(f"PTB not found in {src}: pass --ptb or set SEQKIT_DATA")
        return 1
    lmplz, query = find_lmplz(args.kenlm_bin)
    kenlm = None
    if installed("kenlm"):
        import kenlm
    with work_folder(args.work, "ngram") as work:
        run(args, src, work, lmplz, kenlm)
    return 0


def run(args: argparse.Namespace, src: Path, work: Path, lmplz: str | None, kenlm) -> None:
    """Everything after the setup, in the run's work folder."""
    saved_cache = os.environ.get("SEQKIT_CACHE")
    os.environ["SEQKIT_CACHE"] = str(work / "cache")  # the ARPA caches of this run only
    try:
        train = renamed_copy(src / "ptb.train.txt", work / "train.txt", args.lines)
        test = renamed_copy(src / "ptb.test.txt", work / "test.txt", args.lines // 10)
        print(f"PTB (<unk> -> UNKW): {len(train)} training lines, {len(test)} test lines; repeats={args.repeats}")
        if lmplz is None:
            skipped("KenLM lmplz", "not installed", "not on PATH nor in --kenlm-bin: see this script's docstring to "
                    "build it; the build comparison is left out")
        if kenlm is None:
            skipped("kenlm", "not installed", "pip install kenlm; KenLM scoring and interop are left out")
        rows = [bench_order(order, train, test, work, args.repeats, lmplz, kenlm) for order in args.orders]
        if args.nltk_sentences > 0 and args.nltk_tokens > 0:
            print()
            run_nltk(train, test, 3, args.nltk_sentences, args.nltk_tokens)
        print()

        def num(r: dict, key: str, fmt: str) -> str:
            return format(r[key], fmt) if key in r else "-"

        table(["order", "seqkit test ppl", "lmplz test ppl", "kenlm on seqkit's ARPA", "build seqkit / lmplz (wall)",
               "scoring from ids (tokens/s)", "from text, 1 thread (tokens/s)", "from text / kenlm module",
               "train command / lmplz (target <= 1x)", "ARPA first load / kenlm (target <= 2x)",
               "1-thread scoring speed / kenlm (target >= 1x)"],
              [[r["order"], f"{r['ppl']:.4f}", num(r, "lmplz_ppl", ".4f"), num(r, "kenlm_ppl", ".4f"),
                num(r, "build_ratio", ".2f"), f"{r['ids_per_s']:,.0f}", f"{r['text_per_s']:,.0f}",
                num(r, "text_vs_kenlm", ".2f"), num(r, "command_ratio", ".2f"), num(r, "load_ratio", ".2f"),
                num(r, "score_ratio", ".2f")] for r in rows])
        print()
        bench_startup(test, work, args.repeats)
    finally:
        if saved_cache is None:
            os.environ.pop("SEQKIT_CACHE", None)
        else:
            os.environ["SEQKIT_CACHE"] = saved_cache


if __name__ == "__main__":
    sys.exit(main())
