"""seqkit's sentencepiece and jieba wrappers vs calling the libraries directly.

Same data, same model, same threads, side by side in one process; prints the median time of
several repeats and the ratio seqkit / library (target: <= 1.10). Data: Multi30k (de+en) for
sentencepiece, the Chinese side of cmn-eng for jieba, read from ``$SEQKIT_DATA`` or
``../shared/data``.

    python benchmarks/tokenizers.py [--repeats 5] [--threads 2]
    python benchmarks/tokenizers.py --smoke    # 2,000 lines, 500 pieces, one repeat: checks the script
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from _common import header, shared_data, table

from seqkit.io import read_lines
from seqkit.text import JiebaTokenizer, SentencePieceTokenizer


def data_dir() -> Path:
    path = shared_data()
    if not path.is_dir():
        raise SystemExit(f"no corpora at {path}: set SEQKIT_DATA")
    return path


def median_time(fn: Callable[[], object], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def compare(rows: list, name: str, ours: Callable[[], object], theirs: Callable[[], object],
            n_lines: int, repeats: int, normalize: Callable[[object], object] = lambda x: x) -> None:
    assert ours() == normalize(theirs()), f"{name}: outputs differ"
    # interleave so background load on the shared machine hits both sides alike
    t_ours, t_theirs = [], []
    for _ in range(repeats):
        t_theirs.append(median_time(theirs, 1))
        t_ours.append(median_time(ours, 1))
    a, b = statistics.median(t_ours), statistics.median(t_theirs)
    rows.append((name, n_lines / a, n_lines / b, a / b))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2, help="sentencepiece batch threads")
    parser.add_argument("--vocab-size", type=int, default=8000)
    parser.add_argument("--lines", type=int, default=0, help="only the first N lines of each corpus (0: all)")
    parser.add_argument("--smoke", action="store_true", help="2,000 lines, 500 pieces, one repeat: checks the script")
    args = parser.parse_args()
    if args.smoke:
        args.lines, args.vocab_size, args.repeats = 2000, 500, 1
    header(["sentencepiece", "jieba"])
    cap = args.lines or None
    data = data_dir()
    rows: list = []

    # -- sentencepiece: a joint de+en model, as in the NMT recipe --------------------------------
    import sentencepiece as spm

    m30k = data / "multi30k"
    train = read_lines(m30k / "train.de.gz")[:cap] + read_lines(m30k / "train.en.gz")[:cap]
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        ours = SentencePieceTokenizer.train(train, Path(tmp) / "spm", vocab_size=args.vocab_size,
                                            model_type="bpe", num_threads=args.threads)
        print(f"trained a joint {args.vocab_size}-piece BPE model on {len(train)} lines in "
              f"{time.perf_counter() - start:.1f} s")
        ours = SentencePieceTokenizer.load(Path(tmp) / "spm.model", num_threads=args.threads)
        sp = spm.SentencePieceProcessor(model_file=str(Path(tmp) / "spm.model"))
    lines = train
    ids = sp.encode(lines, num_threads=args.threads)
    pieces = sp.encode(lines, out_type=str, num_threads=args.threads)
    n = len(lines)
    compare(rows, "spm encode_batch (pieces)", lambda: ours.encode_batch(lines),
            lambda: sp.encode(lines, out_type=str, num_threads=args.threads), n, args.repeats)
    compare(rows, "spm encode_ids_batch", lambda: ours.encode_ids_batch(lines),
            lambda: sp.encode(lines, num_threads=args.threads), n, args.repeats)
    compare(rows, "spm decode_ids_batch", lambda: ours.decode_ids_batch(ids),
            lambda: sp.decode(ids, num_threads=args.threads), n, args.repeats)
    compare(rows, "spm decode_batch (pieces)", lambda: ours.decode_batch(pieces),
            lambda: sp.decode_pieces(pieces, num_threads=args.threads), n, args.repeats)
    few = lines[:5000]
    compare(rows, "spm encode, line by line", lambda: [ours.encode(x) for x in few],
            lambda: [sp.encode(x, out_type=str) for x in few], len(few), args.repeats)

    # -- jieba on the Chinese side of cmn-eng ----------------------------------------------------
    import jieba

    zh = [line.split("\t")[1] for line in read_lines(data / "cmn-eng" / "cmn.txt")[:cap]]
    def drop_spaces(batch):  # seqkit drops the whitespace tokens jieba emits for spaces
        return [[w for w in toks if not w.isspace()] for toks in batch]

    ours_jb = JiebaTokenizer()
    jieba.setLogLevel(60)
    jieba.initialize()
    compare(rows, "jieba accurate", lambda: ours_jb.encode_batch(zh), lambda: [jieba.lcut(x) for x in zh],
            len(zh), args.repeats, drop_spaces)
    search = JiebaTokenizer(mode="search")
    compare(rows, "jieba search", lambda: search.encode_batch(zh),
            lambda: [jieba.lcut_for_search(x) for x in zh], len(zh), args.repeats, drop_spaces)
    no_hmm = JiebaTokenizer(hmm=False)
    compare(rows, "jieba accurate, no HMM", lambda: no_hmm.encode_batch(zh),
            lambda: [jieba.lcut(x, HMM=False) for x in zh], len(zh), args.repeats, drop_spaces)

    print(f"\nmedian of {args.repeats} interleaved runs; {args.threads} sentencepiece threads; "
          "shared 2-core machine, absolute numbers are noisy, ratios are what counts")
    table(["task", "seqkit lines/s", "library lines/s", "seqkit / library time"],
          [[name, f"{ours_rate:,.0f}", f"{lib_rate:,.0f}", f"{ratio:.3f}"] for name, ours_rate, lib_rate, ratio in rows])


if __name__ == "__main__":
    main()
