"""``seqkit vision``: model summaries and the optimizer demo. Parsing and printing only."""

from __future__ import annotations

import click

from seqkit.cli.params import OUTPUT, threads_option
from seqkit.errors import SeqkitError


def parse_input_shape(text: str) -> tuple[int, int, int]:
    """``"1x28x28"`` -> (1, 28, 28): channels x height x width."""
    parts = text.lower().replace("*", "x").split("x")
    try:
        shape = tuple(int(p) for p in parts)
    except ValueError:
        shape = ()
    if len(shape) != 3 or min(shape) < 1:
        raise SeqkitError(f"bad input shape {text!r}", fix="write channels x height x width, e.g. 1x28x28")
    return shape


@click.group()
def vision() -> None:
    """CNN model summaries and the vision/optimization chapters."""


@vision.command("summary")
@click.argument("model")
@click.option("--input", "input_shape", default="1x28x28", show_default=True,
              help="input image size as CxHxW")
@click.option("--classes", default=10, show_default=True, type=click.IntRange(min=1), help="number of output classes")
@click.option("--width", type=click.FloatRange(min=0, min_open=True), default=None, help="channel width multiplier (models that have one)")
@threads_option
def summary_cmd(model: str, input_shape: str, classes: int, width: float | None, threads) -> None:
    """Print MODEL's layers with output shapes and parameter counts, and the total."""
    from seqkit.vision.models import build_model
    from seqkit.vision.shapes import summary

    c, h, w = parse_input_shape(input_shape)
    options = {"width": width} if width is not None else {}
    net = build_model(model, in_channels=c, num_classes=classes, resolution=(h, w), **options)
    click.echo(str(summary(net, (c, h, w))))


@vision.command("models")
def models_cmd() -> None:
    """List the model names ``summary`` and the recipes accept."""
    from seqkit.vision.models import MODELS

    for name in MODELS:
        click.echo(name)


@vision.command("trajectory")
@click.argument("optimizer")
@click.option("--lr", type=float, required=True, help="learning rate")
@click.option("--steps", default=20, show_default=True, type=click.IntRange(min=1))
@click.option("--option", "-o", "options", multiple=True, metavar="KEY=VALUE",
              help="another optimizer argument, e.g. -o beta=0.5 (momentum), -o gamma=0.9 (rmsprop)")
@click.option("--out", "out_png", default="trajectory.png", show_default=True, type=OUTPUT, help="PNG to write")
@threads_option
def trajectory_cmd(optimizer: str, lr: float, steps: int, options: tuple[str, ...], out_png: str, threads) -> None:
    """Run OPTIMIZER on f(x1, x2) = 0.1 x1^2 + 2 x2^2 from (-5, -2) and save the path over the contours."""
    from seqkit.optim import OPTIMIZERS, plot_trajectory_2d, trajectory_2d

    if optimizer not in OPTIMIZERS:
        raise SeqkitError(f"unknown optimizer {optimizer!r}", fix=f"use one of: {', '.join(OPTIMIZERS)}")
    kwargs = {}
    for item in options:
        key, sep, value = item.partition("=")
        try:
            kwargs[key.strip()] = float(value)
        except ValueError:
            sep = ""
        if not sep:
            raise SeqkitError(f"bad option {item!r}", fix="write KEY=NUMBER, e.g. -o beta=0.5")
    try:
        points = trajectory_2d(OPTIMIZERS[optimizer], steps=steps, lr=lr, **kwargs)
    except TypeError as exc:
        raise SeqkitError(f"bad option for {optimizer}: {exc}") from None
    plot_trajectory_2d(out_png, points, title=f"{optimizer}, lr {lr}")
    x1, x2 = points[-1]
    click.echo(f"step {steps}, x1: {x1:f}, x2: {x2:f}; wrote {out_png}")
