"""VGG (Simonyan & Zisserman 2014): repeated blocks of 3x3 convolutions and a 2x2 max pool (d2l 8.2)."""

from __future__ import annotations

from collections.abc import Sequence

from torch import nn

from seqkit.vision.models.common import as_hw, flat_features, scaled

#: VGG-11: (number of convs, output channels) per block.
VGG11: tuple[tuple[int, int], ...] = ((1, 64), (1, 128), (2, 256), (2, 512), (2, 512))


def vgg_block(num_convs: int, in_channels: int, out_channels: int) -> nn.Sequential:
    """``num_convs`` 3x3 padding-1 convs with ReLU (size kept), then a 2x2 stride-2 max pool (size halved)."""
    layers: list[nn.Module] = []
    for i in range(num_convs):
        layers += [nn.Conv2d(in_channels if i == 0 else out_channels, out_channels, kernel_size=3, padding=1),
                   nn.ReLU()]
    layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
    return nn.Sequential(*layers)


def vgg(arch: Sequence[Sequence[int]] = VGG11, in_channels: int = 1, num_classes: int = 10,
        resolution: int | tuple[int, int] = 224, width: float = 1.0, hidden: int = 4096,
        dropout: float = 0.5) -> nn.Sequential:
    """VGG from an architecture list of ``(num_convs, channels)`` blocks.

    Each block halves the resolution, so blocks that would shrink the image below 1x1 are dropped
    (a 28x28 input keeps the first four blocks of VGG-11). ``width`` scales every conv channel count
    (d2l trains VGG-11 with a quarter of the channels and keeps ``hidden=4096``). Input (N, C, H, W) -> logits (N, num_classes).
    """
    size = min(as_hw(resolution))
    blocks, c_in = [], in_channels
    for num_convs, channels in arch:
        if size // 2 < 1:
            break
        c_out = scaled(channels, width)
        blocks.append(vgg_block(num_convs, c_in, c_out))
        c_in, size = c_out, size // 2
    features = nn.Sequential(*blocks, nn.Flatten())
    n_flat = flat_features(features, in_channels, resolution, "VGG")
    return nn.Sequential(
        *features,
        nn.Linear(n_flat, hidden), nn.ReLU(), nn.Dropout(dropout),
        nn.Linear(hidden, hidden), nn.ReLU(), nn.Dropout(dropout),
        nn.Linear(hidden, num_classes),
    )
