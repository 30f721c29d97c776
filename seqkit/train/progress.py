"""What training shows while it runs: a tqdm bar with loss, items/s, learning rate and MFU.

When the output is not a terminal (a log file, a pipe, a batch job), a bar redrawn with carriage
returns would fill the log with half-lines: then one plain line is printed per log interval instead.

MFU (model FLOPs utilisation, as in nanoGPT's ``estimate_mfu`` and the PaLM paper) is the share of
the hardware's peak the model's useful arithmetic reaches: ``flops_per_item * items_per_s / peak``.
``flops_per_item`` comes from the model (for a Transformer about ``6 * parameters`` per target token
for a training step, forward plus backward); the peak is a table look-up on GPUs and an estimate from
the core count and vector width on CPUs -- good enough to see whether a change moved the needle.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO

import torch
from tqdm.auto import tqdm

# Dense bf16 tensor-core peaks (FLOP/s) of common GPUs, no sparsity.
_GPU_PEAKS = {"H200": 989e12, "H100": 989e12, "A100": 312e12, "L40S": 362e12, "L4": 121e12,
              "A10": 125e12, "V100": 125e12, "T4": 65e12, "RTX 4090": 165e12, "RTX 3090": 71e12}


def estimate_peak_flops(device: torch.device, amp: str | None = None) -> float | None:
    """Peak FLOP/s of ``device``, or ``None`` when it is not known: the GPUs of the published table
    only. A CPU's peak depends on its clock under load and its vector units, which seqkit cannot
    read reliably, so no MFU is shown there (pass ``Trainer(peak_flops=...)`` to have one)."""
    if device.type == "cuda":
        name = torch.cuda.get_device_name(device)
        for key, peak in _GPU_PEAKS.items():
            if key in name:
                return peak if amp == "bf16" else peak / 2  # tf32 is about half the bf16 rate
    return None


def _is_terminal(stream: TextIO) -> bool:
    """Whether ``stream`` shows a redrawn bar: a terminal, or a notebook (tqdm draws a widget there)."""
    if any(cls.__module__ == "tqdm.notebook" for cls in tqdm.__mro__):
        return True
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # no isatty, or a closed stream
        return False


class Progress:
    """A tqdm bar over optimizer updates (on the main process; silent elsewhere or when disabled).

    ``update(n_updates, loss=..., items=..., seconds=..., lr=...)`` advances the bar and refreshes
    the postfix with the running loss, items/s and learning rate, plus MFU when ``flops_per_item``
    and a peak are known. When ``file`` (default ``sys.stderr``) is not a terminal there is no bar:
    ``log(step, ...)``, called once per log interval, prints one plain line instead.
    """

    def __init__(self, total: int | None, *, enabled: bool = True, unit: str = "step",
                 item_name: str = "items", flops_per_item: float | None = None,
                 peak_flops: float | None = None, initial: int = 0, desc: str = "train",
                 file: TextIO | None = None) -> None:
        self.item_name, self.flops_per_item, self.peak = item_name, flops_per_item, peak_flops
        self.file = file if file is not None else sys.stderr
        self.total, self.desc = total, desc
        self.plain = enabled and not _is_terminal(self.file)
        self.bar = tqdm(total=total, initial=initial, unit=unit, desc=desc, dynamic_ncols=True,
                        disable=not enabled or self.plain, file=self.file, leave=False, mininterval=1.0)
        self._items, self._seconds, self._t = 0.0, 0.0, time.perf_counter()

    def update(self, n: int, *, loss: float, items: float, seconds: float, lr: float,
               extra: dict[str, float] | None = None) -> dict[str, float]:
        """Advance by ``n`` updates; returns the figures shown (``loss``, ``items_per_s``, ``lr``, ``mfu``)."""
        self._items += items
        self._seconds += seconds
        rate = self._items / self._seconds if self._seconds > 0 else 0.0
        shown = {"loss": loss, f"{self.item_name}_per_s": rate, "lr": lr}
        if self.flops_per_item and self.peak:
            shown["mfu"] = self.flops_per_item * rate / self.peak
        if extra:
            shown.update(extra)
        if not self.bar.disable:
            post = {"loss": f"{loss:.3f}", f"{self.item_name}/s": f"{rate:,.0f}", "lr": f"{lr:.2e}"}
            if "mfu" in shown:
                post["mfu"] = f"{100 * shown['mfu']:.1f}%"
            self.bar.set_postfix(post, refresh=False)
            self.bar.update(n)
        return shown

    def log(self, step: int, *, loss: float, lr: float, rate: float, mfu: float | None = None) -> None:
        """One plain line for a log interval (only without a bar: the bar shows these figures)."""
        if not self.plain:
            return
        of = f"/{self.total}" if self.total else ""
        line = f"{self.desc} {step}{of}: loss {loss:.4f}, lr {lr:.2e}, {rate:,.0f} {self.item_name}/s"
        if mfu is not None:
            line += f", mfu {100 * mfu:.1f}%"
        self.write(line)

    def reset_rate(self) -> None:
        """Start a fresh items/s window (after a validation, so it does not count as training time)."""
        self._items, self._seconds = 0.0, 0.0

    def write(self, message: str) -> None:
        if self.plain:
            print(message, file=self.file, flush=True)
        elif not self.bar.disable:
            self.bar.write(message, file=self.file)

    def close(self) -> None:
        self.bar.close()
