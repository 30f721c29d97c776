"""How many CPU threads a command computes with -- decided in one place.

An explicit count wins (``--threads N``, ``threads=N``, or ``SEQKIT_THREADS``). Otherwise seqkit uses
the cores that are free *now*: the CPUs this process may run on minus the other tasks the kernel has
runnable at this moment (``/proc/loadavg``'s instantaneous count, the least of a few samples, so a
short blip does not count). Measured on a 2-core machine (``benchmarks/threads.py``, figures in
``docs/benchmarks.md``): beam search runs 1.3x and NMT training 1.7x faster with 2 threads when the
machine is quiet, and 2.2x *slower* with 2 than with 1 when another process keeps one core busy --
torch's threads wait for each other in a spin loop, so a thread without a core of its own stalls
every parallel region. Torch's default (all cores) is right only on an idle machine. Workers that
never wait for each other (word2vec's Hogwild threads) take every usable core instead.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

ENV = "SEQKIT_THREADS"


@dataclass(frozen=True)
class ThreadChoice:
    """The count and why: ``"requested"``, ``"SEQKIT_THREADS"`` or ``"free cores"``."""

    threads: int
    reason: str
    cores: int
    busy: int = 0

    def __str__(self) -> str:
        if self.reason == "usable cores":
            return f"{self.threads} independent worker thread(s): {self.cores} usable cores"
        if self.reason == "free cores":
            return f"{self.threads} thread(s): {self.cores} cores, {self.busy} busy with other work"
        return f"{self.threads} thread(s) ({self.reason})"


def usable_cores() -> int:
    """CPUs this process may run on (its affinity mask, e.g. a container's or taskset's share)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def busy_cores(samples: int = 5, interval: float = 0.01) -> int:
    """Other runnable tasks right now (the least of ``samples`` readings), not counting this one."""
    counts = []
    for i in range(samples):
        try:
            with open("/proc/loadavg", encoding="ascii") as fh:
                running = int(fh.read().split()[3].split("/")[0])
        except (OSError, ValueError, IndexError):
            return 0  # not Linux: no instantaneous figure, assume a quiet machine
        counts.append(max(0, running - 1))  # the reading counts the process that reads
        if i + 1 < samples:
            time.sleep(interval)
    return min(counts)


def choose_threads(requested: int | None = None, *, independent: bool = False) -> ThreadChoice:
    """How many threads to compute with: ``requested`` (> 0), else ``$SEQKIT_THREADS``, else the free
    cores (at least 1) -- or, for ``independent`` workers that never wait for each other (word2vec's
    Hogwild threads), every usable core: under load each extra thread only adds to this process's
    share of the CPU."""
    from seqkit.errors import SeqkitError

    cores = usable_cores()
    if requested is not None:
        if isinstance(requested, bool) or int(requested) < 1:
            raise SeqkitError(f"threads must be >= 1, got {requested}", fix="give a positive count, or leave it unset")
        return ThreadChoice(int(requested), "requested", cores)
    env = os.environ.get(ENV, "").strip()
    if env:
        if not env.isdigit() or int(env) < 1:
            raise SeqkitError(f"{ENV}={env!r} is not a positive integer", fix=f"unset {ENV} or give e.g. {ENV}=2")
        return ThreadChoice(int(env), ENV, cores)
    if independent:
        return ThreadChoice(cores, "usable cores", cores)
    busy = busy_cores()
    return ThreadChoice(max(1, cores - busy), "free cores", cores, busy)


def use_threads(requested: int | None = None) -> ThreadChoice:
    """:func:`choose_threads` and set torch's intra-op thread count to it; returns the choice."""
    choice = choose_threads(requested)
    import torch

    if torch.get_num_threads() != choice.threads:
        torch.set_num_threads(choice.threads)
    return choice
