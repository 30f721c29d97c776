"""A tiny regression task for trainer tests: a dropout MLP and a seeded batch source."""

from __future__ import annotations

import torch
from torch import nn

from seqkit.train import StepOutput


class ToyBatches:
    """``n_batches`` batches of ``batch_size`` rows per epoch, order shuffled deterministically per epoch."""

    def __init__(self, n_batches: int = 8, batch_size: int = 4, dim: int = 5, seed: int = 0) -> None:
        g = torch.Generator().manual_seed(seed)
        self.x = torch.randn(n_batches * batch_size, dim, generator=g)
        self.y = (self.x @ torch.randn(dim, 1, generator=g)).squeeze(1)
        self.n_batches, self.batch_size, self.seed = n_batches, batch_size, seed

    def __len__(self) -> int:
        return self.n_batches

    def epoch(self, e: int, start: int = 0):
        order = torch.randperm(len(self.x), generator=torch.Generator().manual_seed(self.seed * 1000 + e))
        for b in range(start, self.n_batches):
            idx = order[b * self.batch_size:(b + 1) * self.batch_size]
            yield self.x[idx], self.y[idx]


def toy_model(seed: int = 0, dropout: float = 0.2) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(5, 16), nn.Tanh(), nn.Dropout(dropout), nn.Linear(16, 1))


def toy_step(model: nn.Module, batch) -> StepOutput:
    x, y = batch
    pred = model(x).squeeze(-1)
    loss = ((pred - y) ** 2).mean()
    return StepOutput(loss, len(y), {"abs_err": (pred - y).abs().mean()})
