"""Mixed precision: bf16 autocast where the hardware runs it fast, nothing otherwise.

bf16 keeps fp32's exponent range, so unlike fp16 it needs no loss scaling: autocast alone is enough.
On a GPU with bf16 support (Ampere and later) it is a clear win. On a CPU it helps only where the
cores have native bf16 dot products (``avx512_bf16`` or AMX); elsewhere oneDNN emulates it and
training gets slower, so ``"auto"`` turns it on for CPUs only when those flags are present.
"""

from __future__ import annotations

import contextlib
from functools import lru_cache

import torch

from seqkit.errors import SeqkitError

AMP_CHOICES = (None, "none", "bf16", "auto")


@lru_cache(maxsize=1)
def cpu_has_native_bf16() -> bool:
    """Whether ``/proc/cpuinfo`` lists ``avx512_bf16`` or ``amx_bf16`` (Linux; ``False`` elsewhere)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            flags = fh.read()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def resolve_amp(amp: str | None, device: torch.device) -> str | None:
    """``None`` or ``"bf16"``: what autocast mode to use for ``amp`` on ``device``."""
    if amp not in AMP_CHOICES:
        raise SeqkitError(f"unknown amp mode {amp!r}", fix="use none, bf16 or auto")
    if amp in (None, "none"):
        return None
    if device.type == "cuda":
        return "bf16" if torch.cuda.is_bf16_supported() else None
    if amp == "auto":
        return "bf16" if cpu_has_native_bf16() else None
    return "bf16"


def autocast(device: torch.device, amp: str | None):
    """A context manager running the forward pass under bf16 autocast (or doing nothing)."""
    if amp is None:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=torch.bfloat16)
