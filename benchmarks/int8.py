"""int8 paths for seqkit's decoder on x86 CPUs, side by side in one process: what ``--quantize int8`` chose.

Each way of running a Transformer in int8 is timed on the same decoding steps, interleaved (every
round times each way once; the median of ``--repeats`` rounds), one thread:

* ``float32``: the model as trained;
* ``quantize_dynamic``: torch's ``torch.ao.quantization.quantize_dynamic`` over the ``nn.Linear`` layers
  (per-row int8 weights, ``reduce_range`` activations; the tied output projection made a Linear first),
  what ``--quantize int8`` ran before;
* ``fbgemm``: seqkit's :class:`~seqkit.seq2seq.int8.Int8Linear` with fbgemm's kernel for every call, full
  activation range (on a CPU with VNNI; otherwise reduce_range as torch does);
* ``onednn``: the same with oneDNN's kernel for every call;
* ``chosen``: ``quantize_model`` (``--quantize int8``): on a CPU with AVX512-VNNI and one thread, seqkit's
  own kernels for every call (:mod:`seqkit.seq2seq.linear_kernel`, activations quantized per row) and the
  decoder stack of a step in one C call (:mod:`seqkit.seq2seq.decoder_kernel`); otherwise fbgemm for outputs
  below ``WIDE_OUTPUTS`` numbers, oneDNN from there (the output projection only); the embedding lookup from
  the projection's int8 rows;
* ``chosen, float embed``: the same with the float32 embedding table kept.

The workloads: ``decode_step`` at beam 5 for batches of 1 (latency), 32 and 150 sentences (150: about
what the default ``batch_tokens`` 3000 holds of Multi30k) and at beam 1 for 32, ``--steps`` steps from
an encoded batch (random source ids of ``--src-len`` pieces; an untrained model of the shape of ``--run``
or the Multi30k base model: the time of a step does not depend on the weights); then the output
projection alone by rows; then a shortlist's projection built per batch (``--candidates`` rows): the
int8 rows gathered and packed again (what seqkit does) against the float rows quantized and packed.
Last, the size of each model's tensors, and each way's largest log-probability difference from float32
on the first step.

    python benchmarks/int8.py [--run runs/m30k] [--repeats 7]
    python benchmarks/int8.py --smoke      # a tiny model, one round: checks the script
"""

from __future__ import annotations

import argparse
import copy
import statistics
import sys
import time
import warnings
from pathlib import Path

import torch
from _common import header, table
from torch import nn

WAYS = ["float32", "quantize_dynamic", "fbgemm", "onednn", "dual, every layer", "chosen", "chosen, float embed"]


def torch_dynamic(model: nn.Module) -> nn.Module:
    """What ``--quantize int8`` did before: torch's dynamic quantization of the Linear layers, the tied
    projection made a Linear of its own first."""
    from torch.ao.quantization import per_channel_dynamic_qconfig, quantize_dynamic

    model = copy.deepcopy(model)
    model.out_proj = nn.Linear(model.embed.embedding_dim, model.embed.num_embeddings, bias=False)
    model.out_proj.weight = nn.Parameter(model.embed.weight.detach().clone(), requires_grad=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return quantize_dynamic(model, {nn.Linear: per_channel_dynamic_qconfig}, dtype=torch.qint8, inplace=True)


def kernels(model: nn.Module, how: str) -> nn.Module:
    """``model`` (int8) with every Int8Linear packed again: ``fbgemm`` or ``onednn`` for every call, or
    ``dual`` (oneDNN from WIDE_OUTPUTS numbers, as the output projection runs) in every layer."""
    from seqkit.seq2seq.int8 import Int8Linear

    model = copy.deepcopy(model)  # a copy decodes through Python (no step kernel)
    for m in model.modules():
        if isinstance(m, Int8Linear):
            m.small = None  # torch's kernels only
            dual = Int8Linear(m.rows, m.scales, m.bias, m.vnni, wide=True)
            m.narrow, m.wide = {"fbgemm": (dual.narrow, None), "onednn": (dual.narrow if dual.wide is None else dual.wide, None),
                                "dual": (dual.narrow, dual.wide)}[how]
    return model


def ways(model: nn.Module) -> dict[str, nn.Module]:
    from seqkit.seq2seq.packed import fast_steps
    from seqkit.seq2seq.translator import quantize_model

    chosen = quantize_model(model, "int8")
    float_embed = copy.deepcopy(chosen)
    float_embed.embed = copy.deepcopy(model.embed)
    fast_steps(float_embed, [float_embed])  # its own step kernel (a copy has none)
    return {"float32": model, "quantize_dynamic": torch_dynamic(model), "fbgemm": kernels(chosen, "fbgemm"),
            "onednn": kernels(chosen, "onednn"), "dual, every layer": kernels(chosen, "dual"), "chosen": chosen,
            "chosen, float embed": float_embed}


def steps(model: nn.Module, batch: int, beam: int, n_steps: int, src_len: int, vocab: int) -> torch.Tensor:
    """``n_steps`` decoding steps of ``batch`` sentences x ``beam`` rows (the beams reordered each step)."""
    g = torch.Generator().manual_seed(batch * 100 + beam)
    src = torch.randint(4, vocab, (batch, src_len), generator=g)
    state = model.encode(src, torch.full((batch,), src_len)).reserve(n_steps + 1)
    if beam > 1:
        state = state.expand(beam)
    rows = torch.arange(batch * beam)
    for _ in range(n_steps):
        log_probs, state, _ = model.decode_step(torch.randint(4, vocab, (batch * beam,), generator=g), state)
        state = state.select(rows)
    return log_probs


def interleaved(fns: dict[str, object], repeats: int, clock=time.perf_counter) -> dict[str, float]:
    """Median seconds of each function over ``repeats`` rounds, each round calling each once (after one
    untimed round)."""
    times: dict[str, list[float]] = {name: [] for name in fns}
    for r in range(repeats + 1):
        for name, fn in fns.items():
            t0 = clock()
            fn()
            if r:
                times[name].append(clock() - t0)
    return {name: statistics.median(t) for name, t in times.items()}


def nbytes(model: nn.Module) -> int:
    """Bytes of the model's tensors: parameters, buffers and the int8 layers' rows, scales and packed weights
    (a packed weight counted as its int8 rows)."""
    from seqkit.seq2seq.int8 import Int8Embedding, Int8Linear

    seen, total = set(), 0
    tensors = [*model.parameters(), *model.buffers()]
    for m in model.modules():
        if isinstance(m, Int8Linear):
            tensors += [t for t in (m._rows, m.scales, m.bias) if t is not None]
            total += m.in_features * m.out_features * (1 + (m.wide is not None))  # the packed copies
            if m.small is not None:  # and seqkit's kernel's
                total += m.small.packed.nbytes + m.small.rowsum.nbytes
        elif isinstance(m, Int8Embedding):
            tensors += [m.rows, m.scales]
        elif isinstance(m, torch.ao.nn.quantized.dynamic.Linear):
            w, b = m._weight_bias()
            total += w.numel() + 8 * w.shape[0] + (4 * b.numel() if b is not None else 0)
    for t in tensors:
        if t.untyped_storage().data_ptr() not in seen:
            seen.add(t.untyped_storage().data_ptr())
            total += t.untyped_storage().nbytes()
    return total


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--run", type=Path, default=None, help="a Transformer run or model folder: its shape")
    p.add_argument("--repeats", type=int, default=7)
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--src-len", type=int, default=16)
    p.add_argument("--candidates", type=int, default=1085, help="shortlist rows per batch (Multi30k's default)")
    p.add_argument("--clock", choices=["wall", "cpu"], default="wall",
                   help="wall-clock time, or this thread's CPU time (steadier on a busy machine; one thread)")
    p.add_argument("--smoke", action="store_true", help="a tiny model, one round, 3 steps: checks the script")
    args = p.parse_args(argv)
    header()
    from seqkit.seq2seq.int8 import WIDE_OUTPUTS, has_vnni, quantize_rows
    from seqkit.seq2seq.transformer import Transformer
    from seqkit.threads import use_threads
    from seqkit.train.host_memory import keep_freed_memory

    use_threads(1)
    keep_freed_memory("cpu")  # as the Translator does: big buffers reused, not page-faulted in each step
    clock = time.thread_time if args.clock == "cpu" else time.perf_counter
    torch.manual_seed(0)
    if args.run is not None:
        from seqkit.seq2seq.model_folder import open_model_folder

        model = open_model_folder(args.run).build_model()
    elif args.smoke:
        model = Transformer(300, d_model=64, d_ff=128, n_enc_layers=1, n_dec_layers=1)
    else:
        model = Transformer(8000)  # the Multi30k base model's shape: d 256, 3+3 layers, FFN 1024
    model.eval()
    if args.smoke:
        args.repeats, args.steps, args.candidates = 1, 3, 50
    vocab, d = model.embed.num_embeddings, model.embed.embedding_dim
    print(f"model: vocabulary {vocab:,}, d_model {d}; VNNI: {has_vnni()}; oneDNN from {WIDE_OUTPUTS:,} outputs; "
          f"{args.repeats} interleaved rounds, medians of {args.clock} time", flush=True)
    models = ways(model)
    rows = []
    with torch.inference_mode():
        for batch, beam in ((1, 5), (32, 5), (150, 5), (32, 1)):
            t = interleaved({name: (lambda m=m, b=batch, k=beam: steps(m, b, k, args.steps, args.src_len, vocab))
                             for name, m in models.items()}, args.repeats, clock)
            rows.append([f"decode_step x{args.steps}, batch {batch} beam {beam} (ms)"]
                        + [f"{1e3 * t[w]:.1f}" for w in WAYS])
            print(" ".join(rows[-1]), file=sys.stderr, flush=True)
        proj = {name: m.out_proj if m.out_proj is not None else (lambda h, w=m.embed.weight: h @ w.T)
                for name, m in models.items() if name != "chosen, float embed"}
        for n in (5, 40, 160, 750):
            h = torch.randn(n, d)
            reps = max(3, 2_000 // n)
            t = interleaved({name: (lambda f=f, h=h, reps=reps: [f(h) for _ in range(reps)])
                             for name, f in proj.items()}, args.repeats, clock)
            rows.append([f"output projection, {n} rows (us)"] + [f"{1e6 * t[w] / reps:.0f}" if w in t else "-"
                                                                 for w in WAYS])
        ids = torch.randperm(vocab)[: min(args.candidates, vocab)].sort().values
        chosen, weight = models["chosen"].out_proj, model.embed.weight
        t = interleaved({"gathered int8 rows": lambda: chosen.select(ids),
                         "float rows quantized": lambda: type(chosen)(*quantize_rows(weight.index_select(0, ids)), None,
                                                                      chosen.vnni, wide=chosen.wide is not None)},
                        args.repeats, clock)
        first = {name: steps(m, 4, 5, 1, args.src_len, vocab) for name, m in models.items()}
    rows.append(["model tensors (MB)"] + [f"{nbytes(models[w]) / 2**20:.1f}" for w in WAYS])
    rows.append(["largest log-prob change from float32, first step"]
                + [f"{(first[w] - first['float32']).abs().max():.4f}" for w in WAYS])
    table(["workload", *WAYS], rows)
    print()
    table(["shortlist projection per batch", "ms"], [[name, f"{1e3 * s:.2f}"] for name, s in t.items()])


if __name__ == "__main__":
    main()
