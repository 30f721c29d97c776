"""Sinusoidal positional encoding (Vaswani et al. 2017, section 3.5)."""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from seqkit.errors import SeqkitError


def sinusoid_table(max_len: int, d_model: int) -> Tensor:
    """(max_len, d_model): ``PE[p, 2i] = sin(p / 10000^(2i/d))``, ``PE[p, 2i+1] = cos(...)``."""
    pos = torch.arange(max_len, dtype=torch.float32).unsqueeze(1)
    inv_freq = torch.exp(torch.arange(0, d_model, 2, dtype=torch.float32) * (-math.log(10000.0) / d_model))
    table = torch.zeros(max_len, d_model)
    table[:, 0::2] = torch.sin(pos * inv_freq)
    table[:, 1::2] = torch.cos(pos * inv_freq)[:, : d_model // 2]
    return table


class SinusoidalPositions(nn.Module):
    """Adds positions ``offset .. offset+L-1`` to ``x`` (B, L, d).

    The table is a non-persistent buffer: it is rebuilt from ``max_len`` rather than saved with the
    weights.
    """

    def __init__(self, d_model: int, max_len: int = 1024) -> None:
        super().__init__()
        self.max_len = max_len
        self.register_buffer("table", sinusoid_table(max_len, d_model), persistent=False)

    def forward(self, x: Tensor, offset: int = 0) -> Tensor:
        end = offset + x.shape[1]
        if end > self.max_len:
            raise SeqkitError(f"sequence of {end} tokens is longer than the model's max_len {self.max_len}",
                              fix="shorten or split the input line")
        return x + self.table[offset:end].to(x.dtype)
