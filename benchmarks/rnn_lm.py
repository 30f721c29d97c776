"""PTB word LM, Zaremba et al. 2014 "small": seqkit's RNN LM vs a plain ``nn.LSTM`` loop, side by side.

Model and training (both sides identical): 2x200 LSTM, no dropout, init U(-0.1, 0.1), SGD lr 1 on
the loss summed over the 20 time steps (averaged over the batch of 20), global-norm clip 5, lr halved
after every epoch from epoch ``--halve-after`` + 1 on (4: epochs 1-4 at lr 1, the issue's wording and
TensorFlow's tutorial; 5: Zaremba's Lua code, which halves at the end of epochs 5, 6, ...), 13 epochs.
Test perplexity on one stream (batch 1, full history), as Zaremba's code reports it.

What it prints:

1. **throughput**: each side in its own process, built once, taking turns in rounds of
   ``--speed-steps`` updates: the plain loop (what a user writes by hand, after PyTorch's
   word_language_model example), the same loop with seqkit's malloc setting
   (:mod:`seqkit.train.host_memory`), and seqkit (``RNNLM`` + ``LMBatches`` + the shared ``Trainer``);
   wall-clock tokens/s, medians and their ratios;
2. **full runs** (``--runs plain,seqkit,random``): validation perplexity after every epoch, test
   perplexity, training tokens/s; ``random`` is seqkit with random sampling (state reset every batch)
   for the sequential-vs-random comparison at equal epochs.

Self-contained: needs only seqkit and the PTB text files. Examples::

    python benchmarks/rnn_lm.py --device cuda                         # the full 13 epochs on a GPU
    nice -n 10 python benchmarks/rnn_lm.py --epochs 1 --max-steps 300  # a short CPU check
    python benchmarks/rnn_lm.py --smoke     # 20,000 PTB tokens, a few updates: checks the script
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from _common import header, shared_data, table
from torch import nn

from seqkit.data import LMBatches
from seqkit.lm.rnn import RNNLM, RNNLMConfig
from seqkit.lm.rnn.train import LMStep, RNNTrainConfig, encode_stream, make_schedule, train_rnn_lm
from seqkit.text import Vocab
from seqkit.train import Trainer

V_EMBED = HIDDEN = 200
LAYERS, BATCH, STEPS, LR, CLIP, INIT = 2, 20, 20, 1.0, 5.0, 0.1


def load_ptb(folder: Path, tokens: int = 0) -> tuple[Vocab, dict[str, torch.Tensor]]:
    """Word ids of the three PTB splits: each line's words then ``<eos>``; ``<unk>`` is vocab id 0.
    ``tokens``: only the lines that hold the first ``tokens`` words of the training set and a tenth of
    that of the others (0: all); the vocabulary is that of the training lines read."""
    from seqkit.io import read_lines

    lines = {s: read_lines(folder / f"ptb.{s}.txt") for s in ("train", "valid", "test")}
    if tokens:
        lines = {s: _first_words(v, tokens if s == "train" else max(tokens // 10, 4 * STEPS)) for s, v in lines.items()}
    vocab = Vocab([line.split() for line in lines["train"]])
    return vocab, {s: encode_stream(v, str.split, vocab, eos_per_line=True) for s, v in lines.items()}


def _first_words(lines: list[str], words: int) -> list[str]:
    """The first lines of ``lines`` that hold at least ``words`` words together."""
    total = 0
    for i, line in enumerate(lines):
        total += len(line.split()) + 1
        if total >= words:
            return lines[:i + 1]
    return lines


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


# --------------------------------------------------------------------------------------------------
# The plain loop: what a user writes by hand with nn.LSTM (PyTorch's word_language_model example)
# --------------------------------------------------------------------------------------------------

class PlainLSTM(nn.Module):
    def __init__(self, vocab_size: int) -> None:
        super().__init__()
        self.encoder = nn.Embedding(vocab_size, V_EMBED)
        self.rnn = nn.LSTM(V_EMBED, HIDDEN, LAYERS)
        self.decoder = nn.Linear(HIDDEN, vocab_size)
        for p in self.parameters():
            nn.init.uniform_(p, -INIT, INIT)

    def forward(self, x, hidden):  # x: (T, B)
        out, hidden = self.rnn(self.encoder(x), hidden)
        return self.decoder(out), hidden  # (T, B, V)


def batchify(ids: torch.Tensor, bsz: int, device) -> torch.Tensor:
    n = ids.numel() // bsz
    return ids[: n * bsz].view(bsz, n).t().contiguous().to(device)  # (N, B)


class PlainRun:
    """Zaremba's training loop written out with nn.LSTM, one update at a time."""

    def __init__(self, vocab_size: int, train_ids: torch.Tensor, device: torch.device, halve_after: int):
        self.model = PlainLSTM(vocab_size).to(device)
        self.opt = torch.optim.SGD(self.model.parameters(), lr=LR)
        self.data = batchify(train_ids, BATCH, device)
        self.device, self.halve_after, self.V = device, halve_after, vocab_size
        self.pos, self.hidden, self.epoch = 0, None, 0

    def batches_per_epoch(self) -> int:
        return (self.data.shape[0] - 1) // STEPS

    def start_epoch(self, epoch: int) -> None:
        self.epoch, self.pos, self.hidden = epoch, 0, None
        for g in self.opt.param_groups:
            g["lr"] = LR * 0.5 ** max(0, epoch + 1 - self.halve_after)

    def update(self) -> float:
        x = self.data[self.pos:self.pos + STEPS]
        y = self.data[self.pos + 1:self.pos + 1 + STEPS]
        self.pos += STEPS
        self.model.train()
        if self.hidden is not None:
            self.hidden = tuple(h.detach() for h in self.hidden)
        out, self.hidden = self.model(x, self.hidden)
        loss = F.cross_entropy(out.view(-1, self.V), y.reshape(-1)) * STEPS
        self.opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(self.model.parameters(), CLIP)
        self.opt.step()
        return loss.item() / STEPS

    @torch.no_grad()
    def evaluate(self, ids: torch.Tensor, bsz: int) -> float:
        self.model.eval()
        data, hidden, total, count = batchify(ids, bsz, self.device), None, 0.0, 0
        for i in range(0, data.shape[0] - 1, 50):
            x, y = data[i:i + 50], data[i + 1:i + 51]
            x = x[: y.shape[0]]
            out, hidden = self.model(x, hidden)
            total += F.cross_entropy(out.view(-1, self.V), y.reshape(-1), reduction="sum").item()
            count += y.numel()
        return math.exp(total / count)


# --------------------------------------------------------------------------------------------------
# seqkit: the library path (RNNLM + LMBatches + Trainer)
# --------------------------------------------------------------------------------------------------

def seqkit_model(vocab_size: int, seed: int) -> RNNLM:
    torch.manual_seed(seed)
    return RNNLM(RNNLMConfig(vocab_size=vocab_size, embed_dim=V_EMBED, hidden_size=HIDDEN, num_layers=LAYERS,
                             cell="lstm", dropout=0.0, init_range=INIT, backend="torch"))


def train_config(args, sampling: str) -> RNNTrainConfig:
    return RNNTrainConfig(batch_size=BATCH, num_steps=STEPS, sampling=sampling, epochs=args.epochs,
                          max_steps=args.max_steps, lr=LR, clip_norm=CLIP, loss="time_sum", schedule="halve",
                          halve_after=args.halve_after, eval_batch_size=10, test_batch_size=1,
                          log_every=10**9)


class SpeedSide:
    """One side of the throughput comparison, built once and trained on in rounds of ``k`` updates.

    ``plain``: the hand-written loop; ``plain+alloc``: the same loop after
    :func:`seqkit.train.host_memory.keep_freed_memory` (what seqkit's trainer does to glibc's malloc on
    a CPU), so the table separates that gain from the rest of seqkit; ``seqkit``: ``RNNLM`` +
    ``LMBatches`` + ``Trainer``.
    """

    def __init__(self, side: str, vocab_size: int, train_ids: torch.Tensor, device: torch.device) -> None:
        self.side, self.device = side, device
        if side == "seqkit":
            model = seqkit_model(vocab_size, 0)
            cfg = train_config(argparse.Namespace(epochs=10**6, max_steps=None, halve_after=4), "sequential")
            opt = torch.optim.SGD(model.parameters(), lr=LR)
            self.batches = LMBatches(train_ids, BATCH, STEPS, sampling="sequential", seed=0)
            self.trainer = Trainer(model, opt, LMStep("sequential", "time_sum"), scheduler=make_schedule(opt, cfg),
                                   clip_norm=CLIP, device=device, progress=False, item_name="tokens",
                                   log_every=10**9)
        else:
            if side == "plain+alloc":
                from seqkit.train.host_memory import keep_freed_memory

                keep_freed_memory()
            torch.manual_seed(0)
            self.run = PlainRun(vocab_size, train_ids, device, 4)
            self.run.start_epoch(0)

    def round(self, k: int) -> float:
        """Tokens/s of ``k`` more updates (wall clock)."""
        sync(self.device)
        t0 = time.perf_counter()
        if self.side == "seqkit":
            self.trainer.fit(self.batches, epochs=10**6, max_steps=self.trainer.step + k)
        else:
            for _ in range(k):
                if self.run.pos + STEPS >= self.run.data.shape[0]:
                    self.run.start_epoch(self.run.epoch + 1)
                self.run.update()
        sync(self.device)
        return k * BATCH * STEPS / (time.perf_counter() - t0)


def speed_worker(side: str, args: argparse.Namespace, conn) -> None:
    """A process holding one side: answers each ``k`` it receives with the tokens/s of ``k`` updates."""
    if args.threads:
        torch.set_num_threads(args.threads)
    vocab, ids = load_ptb(args.data, args.tokens)
    vocab_size = len(vocab)
    runner = SpeedSide(side, vocab_size, ids["train"], torch.device(args.device))
    runner.round(5)  # warm-up (allocator, oneDNN/cuDNN plans)
    conn.send("ready")
    while (k := conn.recv()) is not None:
        conn.send(runner.round(k))


def speed_comparison(args: argparse.Namespace) -> dict:
    """Each side in its own process (a process-wide setting in one cannot help another); the sides take
    turns, one round at a time, alternating who goes first, so drifts in machine load hit all alike."""
    import multiprocessing as mp

    ctx = mp.get_context("spawn")
    sides = ("plain", "plain+alloc", "seqkit")
    conns, procs = {}, []
    for side in sides:
        parent, child = ctx.Pipe()
        proc = ctx.Process(target=speed_worker, args=(side, args, child), daemon=True)
        proc.start()
        conns[side], procs = parent, procs + [proc]
    for side in sides:
        if conns[side].recv() != "ready":
            raise RuntimeError(f"speed worker {side} failed to start")
    got: dict[str, list[float]] = {side: [] for side in sides}
    try:
        for r in range(args.speed_rounds):
            for side in sides[r % len(sides):] + sides[:r % len(sides)]:
                conns[side].send(args.speed_steps)
                got[side].append(conns[side].recv())
            print(f"  round {r + 1}: " + "  ".join(f"{s} {got[s][-1]:,.0f}" for s in sides) + " tokens/s",
                  flush=True)
    finally:
        for side in sides:
            conns[side].send(None)
        for proc in procs:
            proc.join(timeout=30)
    med = {side: statistics.median(v) for side, v in got.items()}
    print(f"throughput (median of {args.speed_rounds} rounds x {args.speed_steps} updates, tokens/s): "
          + ", ".join(f"{s} {med[s]:,.0f}" for s in sides), flush=True)
    table(["side", "train tokens/s (median)", "vs plain"],
          [[side, f"{med[side]:,.0f}", f"{med[side] / med['plain']:.3f}x"] for side in sides])
    print(f"ratio seqkit / plain nn.LSTM loop: {med['seqkit'] / med['plain']:.3f}; "
          f"seqkit / plain loop with the same malloc setting: {med['seqkit'] / med['plain+alloc']:.3f}",
          flush=True)
    return {"tokens_per_s": got, "ratio_of_medians": med["seqkit"] / med["plain"],
            "ratio_vs_plain_alloc": med["seqkit"] / med["plain+alloc"]}


# --------------------------------------------------------------------------------------------------
# Full runs
# --------------------------------------------------------------------------------------------------

def full_plain(args, vocab_size, ids, device) -> dict:
    torch.manual_seed(args.seed)
    run = PlainRun(vocab_size, ids["train"], device, args.halve_after)
    per_epoch, tokens, seconds, done = [], 0, 0.0, 0
    for epoch in range(args.epochs):
        run.start_epoch(epoch)
        n = run.batches_per_epoch()
        if args.max_steps is not None:
            n = min(n, args.max_steps - done)
        sync(device)
        t0 = time.perf_counter()
        for _ in range(n):
            run.update()
        sync(device)
        seconds += time.perf_counter() - t0
        tokens += n * BATCH * STEPS
        done += n
        per_epoch.append(run.evaluate(ids["valid"], 10))
        print(f"  plain   epoch {epoch + 1}: valid ppl {per_epoch[-1]:.2f}  ({tokens / seconds:,.0f} tokens/s)",
              flush=True)
        if args.max_steps is not None and done >= args.max_steps:
            break
    return {"valid_ppl_per_epoch": per_epoch, "test_ppl": run.evaluate(ids["test"], 1),
            "tokens_per_s": tokens / seconds}


def full_seqkit(args, vocab_size, ids, device, sampling: str) -> dict:
    model = seqkit_model(vocab_size, args.seed)
    per_epoch: list[float] = []
    name = "seqkit" if sampling == "sequential" else "random"

    def log(record: dict) -> None:
        if record.get("split") == "valid":
            per_epoch.append(record["ppl"])
            print(f"  {name:7s} epoch {len(per_epoch)}: valid ppl {record['ppl']:.2f}", flush=True)

    res = train_rnn_lm(model, ids["train"], ids["valid"], ids["test"], train_config(args, sampling),
                       device=device, seed=args.seed, progress=False, plot=False, log_fn=log)
    return {"valid_ppl_per_epoch": per_epoch, "test_ppl": res["test_ppl"],
            "tokens_per_s": res["train_tokens_per_s"]}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=shared_data() / "ptb", help="folder with ptb.{train,valid,test}.txt")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    ap.add_argument("--epochs", type=int, default=13)
    ap.add_argument("--max-steps", type=int, default=None, help="cap on updates per full run (a partial run)")
    ap.add_argument("--halve-after", type=int, default=4)
    ap.add_argument("--speed-steps", type=int, default=100)
    ap.add_argument("--speed-rounds", type=int, default=5)
    ap.add_argument("--runs", default="plain,seqkit,random", help="full runs to do (comma list; '' for none)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", type=Path, default=None, help="also write the figures here")
    ap.add_argument("--tokens", type=int, default=0, help="only the first N training tokens, N/10 of valid and test")
    ap.add_argument("--smoke", action="store_true",
                    help="20,000 tokens, one speed round of 2 updates (at most), full runs of 3 updates: checks the script")
    args = ap.parse_args(argv)
    if args.smoke:  # --speed-rounds 0 leaves the throughput rounds (three more processes) out
        args.tokens, args.speed_steps, args.epochs, args.max_steps = 20_000, 2, 1, 3
        args.speed_rounds = min(args.speed_rounds, 1)
        args.threads = args.threads or 1
    header()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    vocab, ids = load_ptb(args.data, args.tokens)
    V = len(vocab)
    print(f"PTB: {len(ids['train']):,} / {len(ids['valid']):,} / {len(ids['test']):,} tokens, vocab {V:,}; "
          f"device {device}, torch {torch.__version__}, {torch.get_num_threads()} threads", flush=True)
    out: dict = {"device": str(device), "torch": torch.__version__, "args": {k: str(v) for k, v in vars(args).items()}}

    if args.speed_rounds > 0:
        out["speed"] = speed_comparison(args)

    # plain first: seqkit's trainer changes glibc's malloc for the rest of the process (host_memory)
    runs = sorted((r for r in args.runs.split(",") if r), key=lambda r: r != "plain")
    for run in runs:
        print(f"full run: {run}", flush=True)
        t0 = time.perf_counter()
        if run == "plain":
            out[run] = full_plain(args, V, ids, device)
        elif run in ("seqkit", "random"):
            out[run] = full_seqkit(args, V, ids, device, "sequential" if run == "seqkit" else "random")
        else:
            print(f"unknown run {run!r}", file=sys.stderr)
            return 2
        out[run]["seconds"] = time.perf_counter() - t0
        r = out[run]
        print(f"  {run}: valid ppl {r['valid_ppl_per_epoch'][-1]:.2f}, test ppl {r['test_ppl']:.2f}, "
              f"{r['tokens_per_s']:,.0f} training tokens/s, {r['seconds']:.0f} s in all", flush=True)
    if runs:
        print("\n| run | sampling | epochs | valid ppl (last) | test ppl | train tokens/s |")
        print("| --- | --- | --- | --- | --- | --- |")
        for run in runs:
            r = out[run]
            samp = "random" if run == "random" else "sequential"
            print(f"| {run} | {samp} | {len(r['valid_ppl_per_epoch'])} | {r['valid_ppl_per_epoch'][-1]:.2f} | "
                  f"{r['test_ppl']:.2f} | {r['tokens_per_s']:,.0f} |")
        if "plain" in out and "seqkit" in out:
            print(f"full-run throughput ratio seqkit/plain: {out['seqkit']['tokens_per_s'] / out['plain']['tokens_per_s']:.3f}")
        if "seqkit" in out and "random" in out:
            pairs = zip(out["seqkit"]["valid_ppl_per_epoch"], out["random"]["valid_ppl_per_epoch"])
            print("valid ppl by epoch, sequential vs random: " +
                  "; ".join(f"{i + 1}: {a:.1f} vs {b:.1f}" for i, (a, b) in enumerate(pairs)))
        if "seqkit" in out:
            print(f"Zaremba small target: test ppl <= 114.5 -> seqkit {out['seqkit']['test_ppl']:.2f}")
    if args.json:
        args.json.write_text(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
