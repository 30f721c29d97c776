"""Several processes with ``torchrun``: DDP with gloo on CPU and NCCL on GPU.

``torchrun --nproc-per-node 2 -m seqkit.cli ...`` sets ``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK`` and the
rendezvous variables; :func:`init_from_env` starts the process group from them (a plain single
process sees ``WORLD_SIZE`` unset and stays single). The :class:`~seqkit.train.Trainer` then wraps
the model in ``DistributedDataParallel``, gives every rank its share of each update's batches, and
normalises gradients by the global item count, so 2 processes give the same update as 1 process
seeing the same global batch.

Evaluation is split too: every rank calls the trainer's ``valid_fn``, which takes its :func:`shard` of
the work (decoding batches, loss batches, rows) and puts the pieces back together with
:func:`gather_shards` (or sums them with :func:`all_reduce_sum`), so every rank ends with the numbers
one process computes.
"""

from __future__ import annotations

import datetime
import itertools
import logging
import os
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TypeVar

import torch
import torch.distributed as dist

from seqkit.errors import SeqkitError

T = TypeVar("T")


@dataclass(frozen=True)
class DistInfo:
    """Where this process stands: ``rank`` of ``world_size``, and its ``local_rank`` on the host."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1


def init_from_env(device: torch.device | None = None, timeout: datetime.timedelta | None = None) -> DistInfo:
    """Join the process group that ``torchrun`` describes in the environment (once), or stay single.

    ``timeout`` bounds every collective (torch's default when ``None``); the recipe runner passes a
    long one, because ranks wait in a barrier while rank 0 prepares data or a tokenizer.
    """
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return DistInfo()
    rank, local = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
    if not dist.is_initialized():
        cuda = (device is None or device.type == "cuda") and torch.cuda.is_available()
        backend = "nccl" if cuda else "gloo"
        if cuda:
            torch.cuda.set_device(local)
        dist.init_process_group(backend=backend, **({"timeout": timeout} if timeout else {}))
    return DistInfo(rank=rank, world_size=world, local_rank=local)


def current() -> DistInfo:
    """The info of an already-initialised process group, or the single-process default."""
    if dist.is_available() and dist.is_initialized():
        return DistInfo(dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", "0")))
    return DistInfo()


def all_reduce_sum(values: list[float], device: torch.device) -> list[float]:
    """Sum a few numbers over all ranks (identity in a single process)."""
    if not (dist.is_available() and dist.is_initialized()):
        return list(values)
    t = torch.tensor(values, dtype=torch.float64, device=device)
    dist.all_reduce(t)
    return t.tolist()


def shard(items: Iterable[T]) -> list[T]:
    """This rank's share of ``items``: every ``world_size``-th one, starting at its rank (all of them in
    a single process). :func:`gather_shards` puts the shares back in order.

    A stride, not contiguous blocks: what seqkit splits (decoding and loss batches) comes sorted by
    length, so a stride gives every rank the same mix of short and long work, where blocks would leave
    the last rank all the long sentences; and no share is more than one item longer than another.
    """
    info = current()
    return list(itertools.islice(items, info.rank, None, info.world_size))


def gather_shards(mine: list[T]) -> list[T]:
    """Every rank's :func:`shard` share, interleaved back into the original order, on every rank.

    Every rank gets the whole list (``all_gather_object``), so the code after it is the same on all
    ranks; what is gathered is evaluation output (translations, a few numbers), small beside the
    work. Every rank must call it, one with an empty share too. Identity in a single process.
    """
    info = current()
    if not info.enabled:
        return list(mine)
    parts: list[list[T]] = [[] for _ in range(info.world_size)]
    dist.all_gather_object(parts, list(mine))
    n = sum(len(p) for p in parts)
    if [len(p) for p in parts] != [len(range(r, n, info.world_size)) for r in range(info.world_size)]:
        raise SeqkitError(f"ranks gathered shares of sizes {[len(p) for p in parts]}, which no shard() of "
                          f"{n} items gives", fix="give gather_shards what shard() returned, on every rank")
    return [parts[i % info.world_size][i // info.world_size] for i in range(n)]


def broadcast_object(obj, src: int = 0):
    """Rank ``src``'s Python object on every rank (identity in a single process)."""
    if not (dist.is_available() and dist.is_initialized()):
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=src)
    return box[0]


def barrier() -> None:
    """Wait for every rank (no-op in a single process)."""
    if dist.is_available() and dist.is_initialized():
        dist.barrier()


def end_process(status: int) -> None:
    """End a process that joined a process group, now, with exit status ``status`` (returns at once
    when it joined none).

    ``destroy_process_group`` drops torch's references to the group, but the C++ group (and gloo's
    worker threads) lives on until the interpreter shuts down; a worker thread that touches a Python
    object then aborts the process ("terminate called without an active exception", SIGABRT) about
    once in 40 runs here, after all its work is done -- and ``torchrun`` takes a failed rank for a
    failed job and stops the ranks still working. So: destroy the group, flush what Python buffers
    (standard streams, logging handlers), and leave with ``os._exit``, before the shutdown that aborts.
    seqkit writes its files atomically and closes them, so nothing is lost by skipping it.
    """
    if not (dist.is_available() and dist.is_initialized()):
        return
    dist.destroy_process_group()
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        try:
            if stream is not None:
                stream.flush()
        except (OSError, ValueError):  # a closed or full stream: nothing more can be said there
            pass
    os._exit(status)
