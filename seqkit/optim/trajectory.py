"""d2l's 2-D optimization demo: run an optimizer on f(x1, x2) and draw its path over f's contours."""

from __future__ import annotations

import os
from collections.abc import Callable

import torch
from torch.optim import Optimizer


def f_2d(x1: torch.Tensor, x2: torch.Tensor) -> torch.Tensor:
    """The ill-conditioned quadratic of d2l 12.6: f = 0.1 x1^2 + 2 x2^2 (minimum at the origin)."""
    return 0.1 * x1 ** 2 + 2 * x2 ** 2


def trajectory_2d(optimizer_cls: type[Optimizer], f: Callable = f_2d, start: tuple[float, float] = (-5.0, -2.0),
                  steps: int = 20, **options) -> list[tuple[float, float]]:
    """Minimize ``f(x1, x2)`` from ``start`` with ``steps`` updates of ``optimizer_cls(**options)``.

    The same optimizer classes that train networks drive the point (autograd gives the gradient),
    so the picture shows exactly what they do. Returns the ``steps + 1`` points visited.
    """
    x = torch.tensor(start, dtype=torch.float64, requires_grad=True)
    opt = optimizer_cls([x], **options)
    points = [tuple(x.tolist())]
    for _ in range(steps):
        opt.zero_grad()
        f(x[0], x[1]).backward()
        opt.step()
        points.append(tuple(x.tolist()))
    return points


def plot_trajectory_2d(path: str | os.PathLike, points: list[tuple[float, float]], f: Callable = f_2d,
                       title: str = "") -> None:
    """Save the contour plot of ``f`` with the path of ``points`` over it as a PNG (d2l's ``show_trace_2d``)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from seqkit.io import atomic_write

    xs = torch.tensor(points)
    # d2l's window (x1 in [-5.5, 1], x2 in [-3, 1]), widened to keep every point in view.
    lo1, hi1 = min(-5.5, float(xs[:, 0].min()) - 0.5), max(1.0, float(xs[:, 0].max()) + 0.5)
    lo2, hi2 = min(-3.0, float(xs[:, 1].min()) - 0.5), max(1.0, float(xs[:, 1].max()) + 0.5)
    x1, x2 = torch.meshgrid(torch.arange(lo1, hi1, 0.1), torch.arange(lo2, hi2, 0.1), indexing="ij")
    fig, ax = plt.subplots(figsize=(4.5, 3.5))
    ax.contour(x1.numpy(), x2.numpy(), f(x1, x2).numpy(), colors="#1f77b4")
    ax.plot(xs[:, 0].numpy(), xs[:, 1].numpy(), "-o", color="#ff7f0e", markersize=3)
    ax.set_xlabel("x1")
    ax.set_ylabel("x2")
    if title:
        ax.set_title(title)
    fig.tight_layout()
    with atomic_write(path, "wb") as fh:
        fig.savefig(fh, format="png", dpi=100)
    plt.close(fig)
