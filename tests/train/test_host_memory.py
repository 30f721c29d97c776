"""keep_freed_memory: big buffers freed at the end of a step stay with the process for the next one."""

from __future__ import annotations

import os
import platform
import subprocess
import sys

import pytest

pytestmark = pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="glibc's mallopt only")

# Three "steps" that each allocate four 16 MB buffers (an RNN LM's logits, softmax, gradients) and free
# them; then glibc's own account (mallinfo2) of the freed memory it still holds. (What glibc keeps
# without the setting depends on the process's history: sometimes it trims after every step, as in
# the PTB LSTM's training, sometimes not, so only the setting's side is asserted.)
PROBE = """
import ctypes, torch
from seqkit.train.host_memory import keep_freed_memory
class MallInfo2(ctypes.Structure):
    _fields_ = [(n, ctypes.c_size_t) for n in ("arena", "ordblks", "smblks", "hblks", "hblkhd",
                                               "usmblks", "fsmblks", "uordblks", "fordblks", "keepcost")]
libc = ctypes.CDLL("libc.so.6")
libc.mallinfo2.restype = MallInfo2
active = keep_freed_memory()
assert keep_freed_memory() == active  # idempotent
for _ in range(3):
    buffers = [torch.ones(4 << 20) for _ in range(4)]
    del buffers
print(active, libc.mallinfo2().fordblks >> 20)
"""


def _probe(setting: str) -> tuple[bool, int]:
    env = {**os.environ, "SEQKIT_KEEP_FREED_MEMORY": setting}
    out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, env=env, check=True)
    active, kept_mb = out.stdout.split()
    return active == "True", int(kept_mb)


def test_freed_buffers_are_kept_for_the_next_step():
    active, kept_mb = _probe("1")
    assert active and kept_mb >= 64


def test_can_be_turned_off():
    active, _ = _probe("0")
    assert not active
