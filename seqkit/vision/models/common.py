"""Helpers the model builders share: sizing a network by its input resolution."""

from __future__ import annotations

import torch
from torch import nn

from seqkit.errors import SeqkitError

#: Below this resolution the models swap the paper's large, strided stem (e.g. AlexNet's 11x11
#: stride-4 convolution, made for 224x224 ImageNet crops) for a 3x3 stride-1 one, so that 28x28
#: (Fashion-)MNIST and resized 8x8 digits keep enough spatial extent to pool.
SMALL_INPUT = 64


def as_hw(resolution: int | tuple[int, int]) -> tuple[int, int]:
    return (resolution, resolution) if isinstance(resolution, int) else (int(resolution[0]), int(resolution[1]))


def is_small(resolution: int | tuple[int, int]) -> bool:
    return min(as_hw(resolution)) < SMALL_INPUT


def scaled(channels: int, width: float) -> int:
    """``channels`` times the width multiplier, at least 1 (d2l shrinks VGG by a ratio of 4)."""
    return max(1, int(round(channels * width)))


def output_shape(body: nn.Module, in_channels: int, resolution: int | tuple[int, int],
                 name: str) -> torch.Size:
    """Shape (C, H, W) that ``body`` produces for one input; a clear error when it does not fit."""
    h, w = as_hw(resolution)
    was_training = body.training
    body.eval()
    try:
        with torch.no_grad():
            out = body(torch.zeros(1, in_channels, h, w))
    except RuntimeError as exc:
        raise SeqkitError(f"{name} does not fit a {in_channels}x{h}x{w} input ({str(exc).splitlines()[0]})",
                          fix="resize the images to a larger resolution (e.g. 28x28)") from None
    finally:
        body.train(was_training)
    return out.shape[1:]


def flat_features(body: nn.Module, in_channels: int, resolution: int | tuple[int, int], name: str) -> int:
    """Number of features ``body`` hands to the classifier after flattening."""
    return int(torch.Size(output_shape(body, in_channels, resolution, name)).numel())
