"""LeNet-5 (LeCun et al. 1998) as in d2l 7.6, and the modern ReLU/max-pool variant."""

from __future__ import annotations

from torch import nn

from seqkit.vision.batchnorm import BatchNorm
from seqkit.vision.models.common import flat_features


def lenet(in_channels: int = 1, num_classes: int = 10, resolution: int | tuple[int, int] = 28,
          activation: str = "sigmoid", pool: str = "avg", batch_norm: bool = False) -> nn.Sequential:
    """LeNet: two 5x5 conv + pool stages, then dense layers of 120 and 84 units.

    The defaults are the chapter's network (sigmoid, average pooling); on a 1x28x28 input it has
    61,706 parameters. ``activation="relu", pool="max"`` gives the modern variant;
    ``batch_norm=True`` inserts the from-scratch :class:`~seqkit.vision.batchnorm.BatchNorm` after every
    conv and dense layer (d2l 8.5). The first dense layer is sized from ``resolution``.

    Input (N, in_channels, H, W) -> logits (N, num_classes).
    """
    act = {"sigmoid": nn.Sigmoid, "relu": nn.ReLU}[activation]
    pooling = {"avg": nn.AvgPool2d, "max": nn.MaxPool2d}[pool]

    def norm(n: int, dims: int) -> list[nn.Module]:
        return [BatchNorm(n, num_dims=dims)] if batch_norm else []

    features = nn.Sequential(
        nn.Conv2d(in_channels, 6, kernel_size=5, padding=2), *norm(6, 4), act(), pooling(kernel_size=2, stride=2),
        nn.Conv2d(6, 16, kernel_size=5), *norm(16, 4), act(), pooling(kernel_size=2, stride=2),
        nn.Flatten(),
    )
    n_flat = flat_features(features, in_channels, resolution, "LeNet")
    return nn.Sequential(
        *features,
        nn.Linear(n_flat, 120), *norm(120, 2), act(),
        nn.Linear(120, 84), *norm(84, 2), act(),
        nn.Linear(84, num_classes),
    )
