"""Every CNN builds for small and large inputs and has d2l's block shapes."""

from __future__ import annotations

import pytest
import torch

from seqkit.errors import SeqkitError
from seqkit.vision.models import (
    MODELS,
    DenseBlock,
    Inception,
    Residual,
    build_model,
    transition_block,
    vgg,
    vgg_block,
)
from seqkit.vision.shapes import count_params

SMALL = {"alexnet": {"width": 0.125, "hidden": 64}, "vgg11": {"width": 0.125, "hidden": 64},
         "nin": {"width": 0.125}, "googlenet": {"width": 0.125}, "resnet18": {"width": 0.125},
         "densenet": {"width": 0.25}}


@pytest.mark.parametrize("name", sorted(MODELS))
@pytest.mark.parametrize("channels,resolution", [(1, 28), (3, 16)])
def test_every_model_maps_images_to_logits(name, channels, resolution):
    if name.startswith("lenet") and resolution < 28:
        resolution = 12  # LeNet's two 5x5 convs need at least 12 pixels
    model = build_model(name, in_channels=channels, num_classes=7, resolution=resolution, **SMALL.get(name, {}))
    model.eval()
    with torch.no_grad():
        out = model(torch.randn(2, channels, resolution, resolution))
    assert out.shape == (2, 7)


def test_paper_sized_inputs():
    # 224x224 uses the papers' strided stems; AlexNet's first dense layer then sees 256 x 5 x 5 = 6400.
    alex = build_model("alexnet", resolution=224)
    assert next(m for m in alex if isinstance(m, torch.nn.Linear)).in_features == 6400
    assert count_params(alex) == 46_764_746  # d2l 8.1's AlexNet on 1x224x224, 10 classes, counted by hand
    assert count_params(build_model("resnet18", resolution=96)) == 11_178_378


def test_d2l_block_shapes():
    X = torch.randn(4, 3, 6, 6)
    assert Residual(3, 3)(X).shape == (4, 3, 6, 6)
    assert Residual(3, 6, use_1x1conv=True, stride=2)(X).shape == (4, 6, 3, 3)
    blk = DenseBlock(2, 3, 10)
    Y = blk(torch.randn(4, 3, 8, 8))
    assert Y.shape == (4, 23, 8, 8)
    assert transition_block(23, 10)(Y).shape == (4, 10, 4, 4)
    assert Inception(192, 64, (96, 128), (16, 32), 32)(torch.randn(1, 192, 12, 12)).shape == (1, 256, 12, 12)
    assert vgg_block(2, 3, 8)(torch.randn(1, 3, 10, 10)).shape == (1, 8, 5, 5)


def test_vgg_keeps_the_blocks_that_fit():
    small = vgg(resolution=28, width=0.125, hidden=32)
    assert sum(1 for m in small.modules() if isinstance(m, torch.nn.MaxPool2d)) == 4  # 28->14->7->3->1
    full = vgg(resolution=224, width=0.125, hidden=32)
    assert sum(1 for m in full.modules() if isinstance(m, torch.nn.MaxPool2d)) == 5


def test_errors_name_the_fix():
    with pytest.raises(SeqkitError, match="resize"):
        build_model("lenet", resolution=8)
    with pytest.raises(SeqkitError, match="unknown model"):
        build_model("lenet6")
    with pytest.raises(SeqkitError, match="bad options"):
        build_model("lenet", width=2.0)
