"""Training: one :class:`Trainer` for every model, checkpoints, LR schedules, AMP, DDP, progress, plots.

The contract the other packages code against is in :mod:`seqkit.train.trainer`'s docstring.
"""

from seqkit.train.builders import build_optimizer, resolve_device
from seqkit.train.checkpoint import (
    CheckpointManager,
    average_weights,
    best_checkpoints,
    check_trained_with,
    last_checkpoints,
    load_state,
    load_weights,
    save_state,
    save_weights,
)
from seqkit.train.plots import plot_metrics, read_metrics
from seqkit.train.results import FitResult, StepOutput, fit_summary
from seqkit.train.schedules import (
    Constant,
    HalveAfterEpoch,
    Noam,
    ReduceOnPlateau,
    Schedule,
    WarmupCosine,
    WarmupInverseSqrt,
    build_schedule,
    schedule_from,
)
from seqkit.train.trainer import Trainer, move_to

__all__ = [
    "CheckpointManager", "average_weights", "best_checkpoints", "check_trained_with", "last_checkpoints", "Constant", "FitResult", "HalveAfterEpoch", "Noam", "ReduceOnPlateau",
    "Schedule", "StepOutput", "Trainer", "WarmupCosine", "WarmupInverseSqrt", "build_optimizer", "build_schedule", "schedule_from",
    "fit_summary", "load_state", "load_weights", "move_to", "plot_metrics", "read_metrics",
    "resolve_device", "save_state", "save_weights",
]
