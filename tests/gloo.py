"""Joining a gloo process group on this machine: what the tests of code that runs under torchrun share."""

from __future__ import annotations

import datetime
import os

import torch
from limits import HANG_S


def join_gloo(rank: int, world: int, rendezvous: str) -> None:
    """Set the environment torchrun would (``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``), one torch thread,
    and join the gloo group through the file ``rendezvous``.

    A file in the test's own folder, not a TCP port: no port picked by one test run can be taken (or
    joined) by another run on the same machine. A peer that never comes, or dies, is an error after
    tests/limits.HANG_S instead of a hang. The caller destroys the group (``torch.distributed.destroy_process_group``).
    """
    os.environ.update(RANK=str(rank), WORLD_SIZE=str(world), LOCAL_RANK=str(rank))
    torch.set_num_threads(1)
    torch.distributed.init_process_group("gloo", init_method=f"file://{rendezvous}", rank=rank, world_size=world,
                                         timeout=datetime.timedelta(seconds=HANG_S))
