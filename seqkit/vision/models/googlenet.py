"""GoogLeNet (Szegedy et al. 2014): stacked Inception blocks (d2l 8.4)."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from seqkit.vision.models.common import is_small, output_shape, scaled


class Inception(nn.Module):
    """Four parallel paths concatenated on channels; spatial size unchanged.

    Path 1: 1x1 conv (c1). Path 2: 1x1 (c2[0]) then 3x3 (c2[1]). Path 3: 1x1 (c3[0]) then 5x5 (c3[1]).
    Path 4: 3x3 max pool then 1x1 (c4). Input (N, C_in, H, W) -> (N, c1 + c2[1] + c3[1] + c4, H, W).
    """

    def __init__(self, in_channels: int, c1: int, c2: tuple[int, int], c3: tuple[int, int], c4: int) -> None:
        super().__init__()
        self.b1_1 = nn.Conv2d(in_channels, c1, kernel_size=1)
        self.b2_1 = nn.Conv2d(in_channels, c2[0], kernel_size=1)
        self.b2_2 = nn.Conv2d(c2[0], c2[1], kernel_size=3, padding=1)
        self.b3_1 = nn.Conv2d(in_channels, c3[0], kernel_size=1)
        self.b3_2 = nn.Conv2d(c3[0], c3[1], kernel_size=5, padding=2)
        self.b4_1 = nn.MaxPool2d(kernel_size=3, stride=1, padding=1)
        self.b4_2 = nn.Conv2d(in_channels, c4, kernel_size=1)
        self.out_channels = c1 + c2[1] + c3[1] + c4

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b1 = F.relu(self.b1_1(x))
        b2 = F.relu(self.b2_2(F.relu(self.b2_1(x))))
        b3 = F.relu(self.b3_2(F.relu(self.b3_1(x))))
        b4 = F.relu(self.b4_2(self.b4_1(x)))
        return torch.cat((b1, b2, b3, b4), dim=1)


# (c1, (c2 reduce, c2), (c3 reduce, c3), c4) for each Inception block, per stage (d2l's numbers).
_STAGE3 = [(64, (96, 128), (16, 32), 32), (128, (128, 192), (32, 96), 64)]
_STAGE4 = [(192, (96, 208), (16, 48), 64), (160, (112, 224), (24, 64), 64), (128, (128, 256), (24, 64), 64),
           (112, (144, 288), (32, 64), 64), (256, (160, 320), (32, 128), 128)]
_STAGE5 = [(256, (160, 320), (32, 128), 128), (384, (192, 384), (48, 128), 128)]


def _inceptions(in_channels: int, specs: list, width: float) -> tuple[list[nn.Module], int]:
    blocks = []
    for c1, (r2, c2), (r3, c3), c4 in specs:
        block = Inception(in_channels, scaled(c1, width), (scaled(r2, width), scaled(c2, width)),
                          (scaled(r3, width), scaled(c3, width)), scaled(c4, width))
        blocks.append(block)
        in_channels = block.out_channels
    return blocks, in_channels


def googlenet(in_channels: int = 1, num_classes: int = 10, resolution: int | tuple[int, int] = 96,
              width: float = 1.0) -> nn.Sequential:
    """GoogLeNet: stem, 9 Inception blocks in three stages, global average pool, one dense layer.

    At 64 pixels and above the stem is the paper's 7x7 stride-2 conv + pool followed by 1x1 and 3x3
    convs + pool (d2l trains it on 96x96); below 64 it is a single 3x3 stride-1 conv and 3x3 conv
    without pooling. ``width`` scales every channel count. Input (N, C, H, W) -> (N, num_classes).
    """
    c64, c192 = scaled(64, width), scaled(192, width)
    if is_small(resolution):
        stem = [nn.Conv2d(in_channels, c64, kernel_size=3, padding=1), nn.ReLU(),
                nn.Conv2d(c64, c192, kernel_size=3, padding=1), nn.ReLU()]
    else:
        stem = [nn.Conv2d(in_channels, c64, kernel_size=7, stride=2, padding=3), nn.ReLU(),
                nn.MaxPool2d(kernel_size=3, stride=2, padding=1),
                nn.Conv2d(c64, c64, kernel_size=1), nn.ReLU(),
                nn.Conv2d(c64, c192, kernel_size=3, padding=1), nn.ReLU(),
                nn.MaxPool2d(kernel_size=3, stride=2, padding=1)]
    b3, c = _inceptions(c192, _STAGE3, width)
    b4, c = _inceptions(c, _STAGE4, width)
    b5, c = _inceptions(c, _STAGE5, width)
    model = nn.Sequential(
        nn.Sequential(*stem),
        nn.Sequential(*b3, nn.MaxPool2d(kernel_size=3, stride=2, padding=1)),
        nn.Sequential(*b4, nn.MaxPool2d(kernel_size=3, stride=2, padding=1)),
        nn.Sequential(*b5, nn.AdaptiveAvgPool2d((1, 1)), nn.Flatten()),
        nn.Linear(c, num_classes),
    )
    output_shape(model, in_channels, resolution, "GoogLeNet")
    return model
