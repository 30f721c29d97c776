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

The library follows the same policy (:func:`library_threads`, around the entry points that compute:
``Trainer.fit``, the translators, n-gram scoring, word2vec) unless the caller chose torch's thread count
itself -- ``torch.set_num_threads``, ``OMP_NUM_THREADS`` / ``MKL_NUM_THREADS``, or a command's
``--threads`` -- in which case that count stands.
"""

from __future__ import annotations

import functools
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

ENV = "SEQKIT_THREADS"
TORCH_ENVS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS")  # torch reads these for its starting count
_applied: int | None = None  # the count use_threads last gave torch (a command's choice, for the whole run)
_library_choice: int | None = None  # the library's own choice, made once per process as a command makes it


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
    global _applied
    choice = choose_threads(requested)
    import torch

    if torch.get_num_threads() != choice.threads:
        torch.set_num_threads(choice.threads)
    _applied = choice.threads
    return choice


@functools.cache
def physical_cores() -> int:
    """Physical cores among the usable CPUs (hyper-threads of one core count once): the count torch
    starts with when nothing sets it."""
    cpus = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else range(usable_cores())
    cores = set()
    for cpu in cpus:
        topology = f"/sys/devices/system/cpu/cpu{cpu}/topology/"
        try:
            with open(topology + "physical_package_id") as package, open(topology + "core_id") as core:
                cores.add((package.read().strip(), core.read().strip()))
        except OSError:
            return usable_cores()
    return max(1, len(cores))


def caller_chose_threads() -> bool:
    """Whether torch's thread count is somebody's choice rather than torch's starting count: set by
    ``torch.set_num_threads`` (it differs from the physical cores), by ``OMP_NUM_THREADS`` /
    ``MKL_NUM_THREADS``, or by a command's thread choice (:func:`use_threads`). A caller who set exactly
    torch's starting count is taken as not having chosen."""
    import torch

    current = torch.get_num_threads()
    return any(os.environ.get(name, "").strip() for name in TORCH_ENVS) or current == _applied \
        or current != physical_cores()


@contextmanager
def library_threads(requested: int | None = None) -> Iterator[int]:
    """Torch's thread count for one library call, by the CLI's policy: ``requested`` (or
    ``$SEQKIT_THREADS``) when given; else the caller's own count when they chose one
    (:func:`caller_chose_threads`); else the free cores, looked at once per process (as a command looks
    once: no 40 ms of load sampling on every call). The caller's count is put back afterwards. Yields
    the count in force."""
    global _library_choice
    import torch

    before = torch.get_num_threads()
    if requested is None and not os.environ.get(ENV, "").strip():
        if caller_chose_threads():
            yield before
            return
        if _library_choice is None:
            _library_choice = choose_threads().threads
        threads = _library_choice
    else:
        threads = choose_threads(requested).threads
    torch.set_num_threads(threads)
    try:
        yield threads
    finally:
        torch.set_num_threads(before)


def computes(method: Callable) -> Callable:
    """A library method that computes with torch under :func:`library_threads`, with the count its
    object was given (its ``threads`` attribute; ``None``: the policy's)."""

    @functools.wraps(method)
    def with_threads(self, *args, **kwargs):
        with library_threads(getattr(self, "threads", None)):
            return method(self, *args, **kwargs)

    return with_threads
