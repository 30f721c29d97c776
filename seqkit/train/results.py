"""What a training step and a whole fit give back: :class:`StepOutput` (a ``step_fn``'s result for one
micro-batch), :class:`FitResult` (how :meth:`~seqkit.train.Trainer.fit` ended) and its log line."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

import torch


@dataclass
class StepOutput:
    """What ``step_fn`` returns for one micro-batch.

    Attributes:
        loss: scalar tensor, the mean loss over the micro-batch's ``n_items`` (with grad).
        n_items: how many items the mean is over (target tokens, words, images); weights the
            micro-batch within an update and counts throughput.
        metrics: extra per-item means to log (floats or 0-d tensors), e.g. ``{"nll": ...}``.
    """

    loss: torch.Tensor
    n_items: int | float
    metrics: dict[str, Any] = field(default_factory=dict)


@dataclass
class FitResult:
    """How a :meth:`Trainer.fit` call ended."""

    steps: int
    epochs_done: int
    stopped: str  # "epochs", "max_steps", "max_time" or "early_stopping"
    best_score: float | None
    best_step: int | None
    last_valid: dict[str, float] | None
    train_seconds: float  # training time and items summed over the resumed sessions of the run
    items: float
    items_per_s: float
    best_path: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def fit_summary(result: FitResult, item_name: str = "items") -> str:
    """One line describing a finished fit, for logs."""
    best = f", best {result.best_score:.4g} @ {result.best_step}" if result.best_score is not None else ""
    return (f"{result.steps} updates, {result.epochs_done} epochs, stopped by {result.stopped}{best}, "
            f"{result.items_per_s:,.0f} {item_name}/s")
