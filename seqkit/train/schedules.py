"""Learning-rate schedules: the one place seqkit keeps them.

Every schedule wraps an optimizer and sets ``param_group["lr"]`` itself. The :class:`~seqkit.train.Trainer`
calls three hooks, each a no-op unless a schedule needs it:

- :meth:`Schedule.step` after every optimizer update (warmup, inverse square root, cosine);
- :meth:`Schedule.on_epoch_end` after every epoch (halve after epoch ``k``);
- :meth:`Schedule.on_validation` with the monitored score (reduce on plateau).

Schedules are plain objects with ``state_dict`` / ``load_state_dict`` (ints and floats only), so a
resumed run continues the schedule exactly. A ``torch.optim.lr_scheduler`` object works too: the
trainer calls its ``step()`` after every update.
"""

from __future__ import annotations

import math
from typing import Any

import torch

from seqkit.errors import SeqkitError


class Schedule:
    """Base class: remembers each group's base learning rate and the update count."""

    def __init__(self, optimizer: torch.optim.Optimizer) -> None:
        self.optimizer = optimizer
        self.base_lrs = [g.get("initial_lr", g["lr"]) for g in optimizer.param_groups]
        for group, lr in zip(optimizer.param_groups, self.base_lrs):
            group["initial_lr"] = lr
        self.num_updates = 0
        self._apply()

    def factor(self, num_updates: int) -> float:
        """Multiplier of the base learning rate after ``num_updates`` updates."""
        return 1.0

    def _apply(self) -> None:
        f = self.factor(self.num_updates)
        for group, lr in zip(self.optimizer.param_groups, self.base_lrs):
            group["lr"] = lr * f

    def step(self) -> None:
        self.num_updates += 1
        self._apply()

    def on_epoch_end(self, epoch: int) -> None:  # noqa: B027 - optional hook
        """Called after epoch ``epoch`` (0-based) has finished."""

    def on_validation(self, score: float) -> None:  # noqa: B027 - optional hook
        """Called with the monitored validation score."""

    def get_last_lr(self) -> list[float]:
        return [g["lr"] for g in self.optimizer.param_groups]

    def state_dict(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if k != "optimizer"}

    def load_state_dict(self, state: dict) -> None:
        self.__dict__.update(state)
        self._apply()


class Constant(Schedule):
    """The base learning rate, unchanged."""


class WarmupInverseSqrt(Schedule):
    """Linear warmup to the base rate over ``warmup`` updates, then decay as ``1/sqrt(step)``.

    ``lr(s) = base * min(s / warmup, sqrt(warmup / s))`` (fairseq's ``inverse_sqrt``, JoeyNMT's
    ``warmupinversesquareroot``): the peak ``base`` is reached at ``s = warmup``.
    """

    def __init__(self, optimizer: torch.optim.Optimizer, warmup: int = 4000) -> None:
        if warmup < 1:
            raise SeqkitError(f"warmup must be >= 1, got {warmup}", fix="set train.warmup to a positive count")
        self.warmup = warmup
        super().__init__(optimizer)

    def factor(self, num_updates: int) -> float:
        s = max(num_updates, 1)
        return min(s / self.warmup, math.sqrt(self.warmup / s))


class Noam(Schedule):
    """Vaswani et al.'s schedule: ``factor * d_model^-0.5 * min(s^-0.5, s * warmup^-1.5)``.

    The optimizer's own ``lr`` is ignored (taken as 1): the schedule alone sets the rate.
    """

    def __init__(self, optimizer: torch.optim.Optimizer, d_model: int, warmup: int = 4000,
                 scale: float = 1.0) -> None:
        self.d_model, self.warmup, self.scale = d_model, warmup, scale
        for group in optimizer.param_groups:
            group["initial_lr"] = 1.0
        super().__init__(optimizer)

    def factor(self, num_updates: int) -> float:
        s = max(num_updates, 1)
        return self.scale * self.d_model ** -0.5 * min(s ** -0.5, s * self.warmup ** -1.5)


class WarmupCosine(Schedule):
    """Linear warmup, then half a cosine from the base rate down to ``min_lr`` at ``total`` updates."""

    def __init__(self, optimizer: torch.optim.Optimizer, total: int, warmup: int = 0,
                 min_lr: float = 0.0) -> None:
        if total <= warmup:
            raise SeqkitError(f"cosine schedule needs total ({total}) > warmup ({warmup})")
        self.total, self.warmup, self.min_lr = total, warmup, min_lr
        super().__init__(optimizer)

    def factor(self, num_updates: int) -> float:
        if num_updates < self.warmup:
            return (num_updates + 1) / self.warmup
        t = min((num_updates - self.warmup) / (self.total - self.warmup), 1.0)
        base = self.base_lrs[0]
        floor = self.min_lr / base if base else 0.0
        return floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * t))


class HalveAfterEpoch(Schedule):
    """Multiply the rate by ``factor`` after every epoch from epoch ``start`` on (1-based).

    Zaremba et al.'s small PTB model: ``lr=1``, halved after each epoch once 4 epochs are done
    (``start=4``: epochs 1-4 run at 1, epoch 5 at 0.5, epoch 6 at 0.25 ...).
    """

    def __init__(self, optimizer: torch.optim.Optimizer, start: int, factor: float = 0.5) -> None:
        self.start, self.decay, self.epochs_done = start, factor, 0
        super().__init__(optimizer)

    def factor(self, num_updates: int) -> float:
        return self.decay ** max(0, self.epochs_done - self.start + 1)

    def on_epoch_end(self, epoch: int) -> None:
        self.epochs_done = epoch + 1
        self._apply()


class ReduceOnPlateau(Schedule):
    """Multiply the rate by ``factor`` after ``patience`` validations without improvement."""

    def __init__(self, optimizer: torch.optim.Optimizer, mode: str = "max", factor: float = 0.5,
                 patience: int = 2, min_lr: float = 0.0) -> None:
        if mode not in ("max", "min"):
            raise SeqkitError(f"mode must be 'max' or 'min', got {mode!r}")
        self.mode, self.decay, self.patience, self.min_lr = mode, factor, patience, min_lr
        self.best: float | None = None
        self.bad, self.scale = 0, 1.0
        super().__init__(optimizer)

    def factor(self, num_updates: int) -> float:
        return self.scale

    def on_validation(self, score: float) -> None:
        better = self.best is None or (score > self.best if self.mode == "max" else score < self.best)
        if better:
            self.best, self.bad = score, 0
            return
        self.bad += 1
        if self.bad > self.patience:
            self.bad = 0
            base = self.base_lrs[0] or 1.0
            self.scale = max(self.scale * self.decay, self.min_lr / base)
            self._apply()


class Factor(Schedule):
    """Multiply the rate by ``factor`` after every epoch, never below ``min_lr`` (d2l's FactorScheduler).

    After epoch e (0-based) has finished the rate is ``max(min_lr, base * factor ** (e + 1))``; equal to
    ``torch.optim.lr_scheduler.ExponentialLR(gamma=factor)`` stepped once per epoch when ``min_lr=0``.
    """

    def __init__(self, optimizer: torch.optim.Optimizer, factor: float = 0.9, min_lr: float = 0.0) -> None:
        self.decay, self.min_lr, self.epochs_done = factor, min_lr, 0
        super().__init__(optimizer)

    def factor(self, num_updates: int) -> float:
        base = self.base_lrs[0] or 1.0
        return max(self.decay ** self.epochs_done, self.min_lr / base)

    def on_epoch_end(self, epoch: int) -> None:
        self.epochs_done = epoch + 1
        self._apply()


class MultiStep(Schedule):
    """Multiply the rate by ``factor`` once each listed epoch count is reached (d2l's MultiFactorScheduler).

    ``milestones=(15, 30)``: epochs 1-15 at the base rate, 16-30 at ``base * factor``, then
    ``base * factor ** 2``; equal to ``torch.optim.lr_scheduler.MultiStepLR`` stepped once per epoch.
    """

    def __init__(self, optimizer: torch.optim.Optimizer, milestones: list[int] | tuple[int, ...] = (),
                 factor: float = 0.5) -> None:
        self.milestones, self.decay, self.epochs_done = sorted(int(m) for m in milestones), factor, 0
        super().__init__(optimizer)

    def factor(self, num_updates: int) -> float:
        return self.decay ** sum(1 for m in self.milestones if self.epochs_done >= m)

    def on_epoch_end(self, epoch: int) -> None:
        self.epochs_done = epoch + 1
        self._apply()


def build_schedule(name: str | None, optimizer: torch.optim.Optimizer, **options) -> Schedule:
    """A schedule by name (``constant``, ``inverse_sqrt``, ``noam``, ``cosine``, ``halve``, ``plateau``,
    ``factor``, ``multistep``)."""
    table = {None: Constant, "constant": Constant, "inverse_sqrt": WarmupInverseSqrt, "noam": Noam,
             "cosine": WarmupCosine, "halve": HalveAfterEpoch, "plateau": ReduceOnPlateau,
             "factor": Factor, "multistep": MultiStep}
    if name not in table:
        names = ", ".join(k for k in table if k)
        raise SeqkitError(f"unknown learning-rate schedule {name!r}", fix=f"use one of: {names}")
    try:
        return table[name](optimizer, **options)
    except TypeError as exc:
        raise SeqkitError(f"bad options for schedule {name!r}: {exc}") from None


#: The schedule settings every trainer's config spells the same way (``schedule``, ``warmup``,
#: ``lr_factor``, ``patience``, ``halve_after``, ``milestones``), and the argument each schedule
#: takes them as. ``total``, ``d_model`` and ``mode`` come from the trainer, not the user.
SCHEDULE_SETTINGS: dict[str | None, dict[str, str]] = {
    None: {}, "constant": {},
    "inverse_sqrt": {"warmup": "warmup"},
    "noam": {"warmup": "warmup", "d_model": "d_model"},
    "cosine": {"warmup": "warmup", "total": "total"},
    "halve": {"halve_after": "start", "lr_factor": "factor"},
    "plateau": {"lr_factor": "factor", "patience": "patience", "mode": "mode"},
    "factor": {"lr_factor": "factor"},
    "multistep": {"milestones": "milestones", "lr_factor": "factor"},
}


def schedule_from(settings: Any, optimizer: torch.optim.Optimizer, **trainer_values: Any) -> Schedule:
    """The schedule a trainer's config names (``settings.schedule``), built from the settings it has
    of :data:`SCHEDULE_SETTINGS` plus ``trainer_values`` (``total``, ``d_model``, ``mode``); settings a
    schedule does not take are ignored, so one config shape serves every schedule."""
    name = getattr(settings, "schedule", None)
    if name not in SCHEDULE_SETTINGS:
        build_schedule(name, optimizer)  # the one "unknown schedule" error
    values = {key: getattr(settings, key, None) for key in ("warmup", "lr_factor", "patience", "halve_after",
                                                            "milestones")}
    values.update(trainer_values)
    kwargs = {arg: values[key] for key, arg in SCHEDULE_SETTINGS[name].items() if values.get(key) is not None}
    return build_schedule(name, optimizer, **kwargs)
