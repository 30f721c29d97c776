"""The one place that turns names into training objects: devices and optimizers.

Every trainer (NMT, RNN LM, vision, word2vec's torch backend) builds its optimizer with
:func:`build_optimizer` and its schedule with :func:`seqkit.train.build_schedule`, and resolves its
device with :func:`resolve_device`, so a name means the same thing everywhere.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch

from seqkit.errors import SeqkitError

#: torch's optimizers by name; ``scratch=True`` picks :mod:`seqkit.optim`'s from-scratch ones instead.
TORCH_OPTIMIZERS = ("sgd", "adam", "adamw")


def resolve_device(device: str | torch.device | None = "auto") -> torch.device:
    """``"auto"`` or ``None`` -> CUDA when a GPU is visible, else the CPU; otherwise what was asked for."""
    if device is None or (isinstance(device, str) and device in ("", "auto")):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(device)
    except (RuntimeError, TypeError):
        raise SeqkitError(f"unknown device {device!r}", fix="use auto, cpu, cuda, cuda:N or mps") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise SeqkitError(f"device '{device}' requested but no CUDA GPU is visible", fix="use device=cpu or auto")
    return device


def build_optimizer(name: str, params: Iterable[Any], lr: float, *, scratch: bool = False,
                    betas: tuple[float, float] | list[float] | None = None, eps: float | None = None,
                    momentum: float = 0.0, weight_decay: float = 0.0) -> torch.optim.Optimizer:
    """An optimizer by name.

    ``sgd`` (with ``momentum``), ``adam`` and ``adamw`` are torch's (``foreach`` kernels); with
    ``scratch=True`` the name picks one of :mod:`seqkit.optim`'s from-scratch optimizers (``sgd``,
    ``momentum``, ``adagrad``, ``rmsprop``, ``adadelta``, ``adam``, ``yogi``) for the optimizer chapter.
    """
    if scratch:
        from seqkit.optim import OPTIMIZERS

        if name not in OPTIMIZERS:
            raise SeqkitError(f"unknown optimizer {name!r}", fix=f"use one of: {', '.join(OPTIMIZERS)}")
        options = {"weight_decay": weight_decay} if weight_decay else {}
        try:
            return OPTIMIZERS[name](params, lr=lr, **options)
        except TypeError as exc:
            raise SeqkitError(f"bad options for optimizer {name!r}: {exc}") from None
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=momentum, weight_decay=weight_decay, foreach=True)
    if name in ("adam", "adamw"):
        cls = torch.optim.Adam if name == "adam" else torch.optim.AdamW
        extra = {"betas": tuple(betas)} if betas is not None else {}
        if eps is not None:
            extra["eps"] = eps
        return cls(params, lr=lr, weight_decay=weight_decay, foreach=True, **extra)
    raise SeqkitError(f"unknown optimizer {name!r}", fix=f"use one of: {', '.join(TORCH_OPTIMIZERS)}")
