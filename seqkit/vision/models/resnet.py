"""ResNet (He et al. 2016): residual blocks with batch norm (d2l 8.6)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn
from torch.nn import functional as F

from seqkit.vision.models.common import is_small, output_shape, scaled

#: ResNet-18: (residual blocks, channels) per stage; with the stem conv and the dense layer, 18 layers.
RESNET18: tuple[tuple[int, int], ...] = ((2, 64), (2, 128), (2, 256), (2, 512))
#: A small ResNet for 8x8-28x28 images: one block per stage, 16-32-64 channels.
RESNET_SMALL: tuple[tuple[int, int], ...] = ((1, 16), (1, 32), (1, 64))


class Residual(nn.Module):
    """Two 3x3 conv + batch-norm layers whose output is added to the (possibly projected) input.

    With ``stride=2`` the block halves H and W; then (or when the channels change) a 1x1 conv with
    the same stride projects the shortcut. Input (N, C_in, H, W) -> (N, C_out, H / stride, W / stride).
    """

    def __init__(self, in_channels: int, out_channels: int, use_1x1conv: bool = False, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1, stride=stride)
        self.conv2 = nn.Conv2d(out_channels, out_channels, kernel_size=3, padding=1)
        self.conv3 = nn.Conv2d(in_channels, out_channels, kernel_size=1, stride=stride) if use_1x1conv else None
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.bn2 = nn.BatchNorm2d(out_channels)

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        Y = F.relu(self.bn1(self.conv1(X)))
        Y = self.bn2(self.conv2(Y))
        shortcut = self.conv3(X) if self.conv3 is not None else X
        return F.relu(Y + shortcut)


def resnet_block(in_channels: int, out_channels: int, num_residuals: int, first_block: bool = False) -> nn.Sequential:
    """A stage of ``num_residuals`` blocks; every stage but the first starts by halving H and W."""
    blocks = []
    for i in range(num_residuals):
        if i == 0 and not first_block:
            blocks.append(Residual(in_channels, out_channels, use_1x1conv=True, stride=2))
        else:
            blocks.append(Residual(out_channels if i else in_channels, out_channels,
                                   use_1x1conv=(i == 0 and in_channels != out_channels)))
    return nn.Sequential(*blocks)


def resnet(arch: Sequence[Sequence[int]] = RESNET18, in_channels: int = 1, num_classes: int = 10,
           resolution: int | tuple[int, int] = 96, width: float = 1.0) -> nn.Sequential:
    """A ResNet from ``(num_residuals, channels)`` stages.

    Stem: at 64 pixels and above, d2l's 7x7 stride-2 conv + BN + ReLU + 3x3 stride-2 max pool; below,
    a 3x3 stride-1 conv + BN + ReLU (small images cannot afford a 4x reduction up front).
    Then the stages, global average pooling and one dense layer. Input (N, C, H, W) -> (N, num_classes).
    """
    c0 = scaled(arch[0][1], width)
    if is_small(resolution):
        stem = nn.Sequential(nn.Conv2d(in_channels, c0, kernel_size=3, padding=1), nn.BatchNorm2d(c0), nn.ReLU())
    else:
        stem = nn.Sequential(nn.Conv2d(in_channels, c0, kernel_size=7, stride=2, padding=3), nn.BatchNorm2d(c0),
                             nn.ReLU(), nn.MaxPool2d(kernel_size=3, stride=2, padding=1))
    stages, c_in = [], c0
    for i, (num_residuals, channels) in enumerate(arch):
        c_out = scaled(channels, width)
        stages.append(resnet_block(c_in, c_out, num_residuals, first_block=(i == 0)))
        c_in = c_out
    model = nn.Sequential(stem, *stages, nn.AdaptiveAvgPool2d((1, 1)), nn.Flatten(), nn.Linear(c_in, num_classes))
    output_shape(model, in_channels, resolution, "ResNet")
    return model


def resnet18(in_channels: int = 1, num_classes: int = 10, resolution: int | tuple[int, int] = 96,
             width: float = 1.0) -> nn.Sequential:
    """d2l's ResNet-18 (11.2M parameters at width 1 on one input channel)."""
    return resnet(RESNET18, in_channels, num_classes, resolution, width)


def resnet_small(in_channels: int = 1, num_classes: int = 10, resolution: int | tuple[int, int] = 28,
                 width: float = 1.0) -> nn.Sequential:
    """A three-stage, one-block-per-stage ResNet (16-32-64 channels) that trains in seconds on a CPU."""
    return resnet(RESNET_SMALL, in_channels, num_classes, resolution, width)
