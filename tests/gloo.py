"""Running code on several gloo ranks on this machine: what the tests of code that runs under torchrun share."""

from __future__ import annotations

import datetime
import os
import time
import uuid

import torch
import torch.multiprocessing as mp
from limits import HANG_S

from seqkit.train.distributed import end_process


def join_gloo(rank: int, world: int, rendezvous: str) -> None:
    """Set the environment torchrun would (``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``), one torch thread,
    and join the gloo group through the file ``rendezvous``.

    A file in the test's own folder, not a TCP port: no port picked by one test run can be taken (or
    joined) by another run on the same machine. A peer that never comes, or dies, is an error after
    tests/limits.HANG_S instead of a hang.
    """
    os.environ.update(RANK=str(rank), WORLD_SIZE=str(world), LOCAL_RANK=str(rank))
    torch.set_num_threads(1)
    torch.distributed.init_process_group("gloo", init_method=f"file://{rendezvous}", rank=rank, world_size=world,
                                         timeout=datetime.timedelta(seconds=HANG_S))


def run_ranks(worker, folder, world: int = 2) -> None:
    """Run ``worker(rank, world, folder)`` (a module-level function) in ``world`` spawned processes
    joined in one gloo group (its rendezvous file in ``folder``); raise if one fails, or if they are
    not done after tests/limits.HANG_S (a stuck rank fails the test, not CI).

    Each call gets a rendezvous file of its own: ranks that leave through ``end_process`` can leave the
    file behind, and a second group joining it would read the first group's (closed) addresses.

    A rank that finished leaves through :func:`seqkit.train.distributed.end_process`, as the
    ``seqkit`` command does under torchrun: after ``destroy_process_group`` the interpreter's own
    shutdown can abort a process that joined a gloo group (SIGABRT, about once in 40 runs).
    """
    rendezvous = os.path.join(str(folder), f"rendezvous-{uuid.uuid4().hex}")
    ctx = mp.start_processes(_rank_main, args=(worker, world, str(folder), rendezvous), nprocs=world, join=False,
                             start_method="spawn")
    deadline = time.monotonic() + HANG_S
    while not ctx.join(timeout=5):
        if time.monotonic() > deadline:
            for proc in ctx.processes:
                proc.kill()
            raise AssertionError(f"{world} ranks of {worker.__name__} did not finish within {HANG_S} s")


def _rank_main(rank: int, worker, world: int, folder: str, rendezvous: str) -> None:
    join_gloo(rank, world, rendezvous)
    try:
        worker(rank, world, folder)
    except BaseException:
        torch.distributed.destroy_process_group()
        raise
    end_process(0)
