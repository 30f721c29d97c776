"""The CNNs of the course, LeNet to DenseNet, each sized by input channels and resolution.

``build_model(name, in_channels, num_classes, resolution, **options)`` builds one by name;
``MODELS`` lists the names (also what ``seqkit vision summary MODEL`` accepts).
"""

from __future__ import annotations

import functools
from collections.abc import Callable

from torch import nn

from seqkit.errors import SeqkitError
from seqkit.vision.models.alexnet import alexnet
from seqkit.vision.models.densenet import DenseBlock, conv_block, densenet, transition_block
from seqkit.vision.models.googlenet import Inception, googlenet
from seqkit.vision.models.lenet import lenet
from seqkit.vision.models.nin import nin, nin_block
from seqkit.vision.models.resnet import (
    RESNET18,
    RESNET_SMALL,
    Residual,
    resnet,
    resnet18,
    resnet_block,
    resnet_small,
)
from seqkit.vision.models.vgg import VGG11, vgg, vgg_block

#: name -> builder(in_channels=, num_classes=, resolution=, **options)
MODELS: dict[str, Callable[..., nn.Module]] = {
    "lenet": lenet,
    "lenet-relu": functools.partial(lenet, activation="relu", pool="max"),
    "lenet-bn": functools.partial(lenet, batch_norm=True),
    "alexnet": alexnet,
    "vgg11": vgg,
    "nin": nin,
    "googlenet": googlenet,
    "resnet18": resnet18,
    "resnet-small": resnet_small,
    "densenet": densenet,
}


def build_model(name: str, in_channels: int = 1, num_classes: int = 10,
                resolution: int | tuple[int, int] = 28, **options) -> nn.Module:
    """Build the model ``name`` (see :data:`MODELS`) for (in_channels, resolution) images."""
    if name not in MODELS:
        raise SeqkitError(f"unknown model {name!r}", fix=f"use one of: {', '.join(MODELS)}")
    try:
        return MODELS[name](in_channels=in_channels, num_classes=num_classes, resolution=resolution, **options)
    except TypeError as exc:
        raise SeqkitError(f"bad options for model {name!r}: {exc}", fix="drop the options this model lacks") from None


__all__ = [
    "MODELS", "build_model", "lenet", "alexnet", "vgg", "vgg_block", "VGG11", "nin", "nin_block",
    "googlenet", "Inception", "resnet", "resnet18", "resnet_small", "resnet_block", "Residual", "RESNET18",
    "RESNET_SMALL", "densenet", "DenseBlock", "conv_block", "transition_block",
]
