"""DenseNet (Huang et al. 2017): dense blocks that concatenate, transition blocks that shrink (d2l 8.7)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from seqkit.vision.models.common import is_small, output_shape, scaled


def conv_block(in_channels: int, out_channels: int) -> nn.Sequential:
    """The pre-activation unit: BN, ReLU, 3x3 padding-1 conv (spatial size unchanged)."""
    return nn.Sequential(nn.BatchNorm2d(in_channels), nn.ReLU(),
                         nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1))


class DenseBlock(nn.Module):
    """``num_convs`` conv blocks, each fed the concatenation of the input and all earlier outputs.

    Input (N, C, H, W) -> (N, C + num_convs * growth_rate, H, W).
    """

    def __init__(self, num_convs: int, in_channels: int, growth_rate: int) -> None:
        super().__init__()
        self.net = nn.ModuleList(conv_block(in_channels + i * growth_rate, growth_rate) for i in range(num_convs))
        self.out_channels = in_channels + num_convs * growth_rate

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        for blk in self.net:
            X = torch.cat((X, blk(X)), dim=1)
        return X


def transition_block(in_channels: int, out_channels: int) -> nn.Sequential:
    """BN, ReLU, 1x1 conv to ``out_channels``, 2x2 stride-2 average pool (halves H and W)."""
    return nn.Sequential(nn.BatchNorm2d(in_channels), nn.ReLU(),
                         nn.Conv2d(in_channels, out_channels, kernel_size=1),
                         nn.AvgPool2d(kernel_size=2, stride=2))


def densenet(in_channels: int = 1, num_classes: int = 10, resolution: int | tuple[int, int] = 96,
             num_convs_in_blocks: Sequence[int] = (4, 4, 4, 4), growth_rate: int = 32,
             width: float = 1.0) -> nn.Sequential:
    """DenseNet: stem, dense blocks separated by channel-halving transition blocks, BN/ReLU, pool, dense.

    Stem as in :func:`~seqkit.vision.models.resnet.resnet` (7x7 stride 2 + pool at 64 pixels and
    above, 3x3 stride 1 below). Input (N, C, H, W) -> (N, num_classes).
    """
    c = scaled(64, width)
    growth_rate = scaled(growth_rate, width)
    if is_small(resolution):
        layers: list[nn.Module] = [nn.Conv2d(in_channels, c, kernel_size=3, padding=1), nn.BatchNorm2d(c), nn.ReLU()]
    else:
        layers = [nn.Conv2d(in_channels, c, kernel_size=7, stride=2, padding=3), nn.BatchNorm2d(c), nn.ReLU(),
                  nn.MaxPool2d(kernel_size=3, stride=2, padding=1)]
    for i, num_convs in enumerate(num_convs_in_blocks):
        block = DenseBlock(num_convs, c, growth_rate)
        layers.append(block)
        c = block.out_channels
        if i != len(num_convs_in_blocks) - 1:
            layers.append(transition_block(c, c // 2))
            c //= 2
    model = nn.Sequential(*layers, nn.BatchNorm2d(c), nn.ReLU(), nn.AdaptiveAvgPool2d((1, 1)), nn.Flatten(),
                          nn.Linear(c, num_classes))
    output_shape(model, in_channels, resolution, "DenseNet")
    return model
