"""Network in Network (Lin et al. 2013): conv blocks with 1x1 "per-pixel MLPs", global average pool (d2l 8.3)."""

from __future__ import annotations

from torch import nn

from seqkit.vision.models.common import is_small, output_shape, scaled


def nin_block(in_channels: int, out_channels: int, kernel_size: int, stride: int, padding: int) -> nn.Sequential:
    """One conv followed by two 1x1 convs, each with ReLU."""
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, kernel_size, stride, padding), nn.ReLU(),
        nn.Conv2d(out_channels, out_channels, kernel_size=1), nn.ReLU(),
        nn.Conv2d(out_channels, out_channels, kernel_size=1), nn.ReLU(),
    )


def nin(in_channels: int = 1, num_classes: int = 10, resolution: int | tuple[int, int] = 224,
        width: float = 1.0, dropout: float = 0.5) -> nn.Sequential:
    """NiN: no dense layers; the last block has one channel per class and is averaged over space.

    The stem is the paper's 11x11 stride-4 block at 224 pixels, a 3x3 stride-1 block below 64.
    Input (N, C, H, W) -> logits (N, num_classes).
    """
    c1, c2, c3 = (scaled(c, width) for c in (96, 256, 384))
    stem = nin_block(in_channels, c1, 3, 1, 1) if is_small(resolution) else nin_block(in_channels, c1, 11, 4, 0)
    model = nn.Sequential(
        stem, nn.MaxPool2d(3, stride=2),
        nin_block(c1, c2, kernel_size=5, stride=1, padding=2), nn.MaxPool2d(3, stride=2),
        nin_block(c2, c3, kernel_size=3, stride=1, padding=1), nn.MaxPool2d(3, stride=2),
        nn.Dropout(dropout),
        nin_block(c3, num_classes, kernel_size=3, stride=1, padding=1),
        nn.AdaptiveAvgPool2d((1, 1)),
        nn.Flatten(),
    )
    output_shape(model, in_channels, resolution, "NiN")  # fail early, with a fix, on too small inputs
    return model
