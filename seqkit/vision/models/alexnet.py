"""AlexNet (Krizhevsky et al. 2012), single-tower as in d2l 8.1."""

from __future__ import annotations

from torch import nn

from seqkit.vision.models.common import flat_features, is_small, scaled


def alexnet(in_channels: int = 1, num_classes: int = 10, resolution: int | tuple[int, int] = 224,
            width: float = 1.0, hidden: int = 4096, dropout: float = 0.5) -> nn.Sequential:
    """Five conv layers (96, 256, 384, 384, 256 channels x ``width``), three 3x3 stride-2 max pools,
    two dense layers of ``hidden`` units with dropout.

    At 224x224 the stem is the paper's 11x11 stride-4 conv; below 64 pixels it is a 3x3 stride-1
    conv so that small images survive the three pools. Input (N, C, H, W) -> logits (N, num_classes).
    """
    c1, c2, c3, c4 = (scaled(c, width) for c in (96, 256, 384, 256))
    stem = (nn.Conv2d(in_channels, c1, kernel_size=3, padding=1) if is_small(resolution)
            else nn.Conv2d(in_channels, c1, kernel_size=11, stride=4, padding=1))
    features = nn.Sequential(
        stem, nn.ReLU(), nn.MaxPool2d(kernel_size=3, stride=2),
        nn.Conv2d(c1, c2, kernel_size=5, padding=2), nn.ReLU(), nn.MaxPool2d(kernel_size=3, stride=2),
        nn.Conv2d(c2, c3, kernel_size=3, padding=1), nn.ReLU(),
        nn.Conv2d(c3, c3, kernel_size=3, padding=1), nn.ReLU(),
        nn.Conv2d(c3, c4, kernel_size=3, padding=1), nn.ReLU(), nn.MaxPool2d(kernel_size=3, stride=2),
        nn.Flatten(),
    )
    n_flat = flat_features(features, in_channels, resolution, "AlexNet")
    return nn.Sequential(
        *features,
        nn.Linear(n_flat, hidden), nn.ReLU(), nn.Dropout(dropout),
        nn.Linear(hidden, hidden), nn.ReLU(), nn.Dropout(dropout),
        nn.Linear(hidden, num_classes),
    )
