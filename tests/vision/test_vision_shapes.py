"""The seed's facts about sizes and shapes, and d2l's worked shape examples."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from seqkit.errors import SeqkitError
from seqkit.vision.models import build_model
from seqkit.vision.shapes import (
    conv_output_size,
    conv_params,
    count_params,
    dense_params,
    layer_output_shape,
    multihead_attention_weights,
    receptive_field,
    summary,
)


def test_dense_layer_on_a_256x256_rgb_image_has_196609000_params():
    assert dense_params(3 * 256 * 256, 1000) == 196_609_000
    layer = nn.Linear(3 * 256 * 256, 1000, device="meta")  # no memory allocated for 196M floats
    assert count_params(layer) == 196_609_000


def test_conv_3_to_10_kernel_3_has_280_params():
    assert count_params(nn.Conv2d(3, 10, kernel_size=3)) == 280 == conv_params(3, 10, 3)


def test_conv_3_to_4_padding_2_maps_100_to_102():
    conv = nn.Conv2d(3, 4, kernel_size=3, padding=2)
    assert layer_output_shape(conv, (3, 100, 100)) == (4, 102, 102)
    assert conv(torch.zeros(1, 3, 100, 100)).shape == (1, 4, 102, 102)


def test_two_stacked_3x3_convs_see_5x5():
    assert receptive_field([nn.Conv2d(1, 1, 3), nn.ReLU(), nn.Conv2d(1, 1, 3)]) == 5
    assert receptive_field([(3, 1), (3, 1), (3, 1)]) == 7
    assert receptive_field([(3, 1), (2, 2), (3, 1)]) == 8  # a stride-2 pool doubles later growth


def test_2x2_stride_2_pool_halves_height_and_width():
    for pool in (nn.MaxPool2d(2, stride=2), nn.AvgPool2d(2, stride=2)):
        assert layer_output_shape(pool, (6, 28, 28)) == (6, 14, 14)
        assert pool(torch.zeros(1, 6, 28, 28)).shape == (1, 6, 14, 14)


class _PerHeadAttention(nn.Module):
    """h heads, each with its own d x d query/key/value maps, and an hd x d output map (no biases)."""

    def __init__(self, h: int, d: int) -> None:
        super().__init__()
        self.q = nn.ModuleList(nn.Linear(d, d, bias=False) for _ in range(h))
        self.k = nn.ModuleList(nn.Linear(d, d, bias=False) for _ in range(h))
        self.v = nn.ModuleList(nn.Linear(d, d, bias=False) for _ in range(h))
        self.out = nn.Linear(h * d, d, bias=False)


@pytest.mark.parametrize("h,d", [(1, 4), (2, 3), (8, 64)])
def test_multihead_attention_has_4hd2_weights(h, d):
    assert count_params(_PerHeadAttention(h, d)) == 4 * h * d * d == multihead_attention_weights(h, d)


def test_d2l_output_size_examples():
    # d2l 7.3: 8x8, kernel 3, padding 1 -> 8x8; kernel (5, 3), padding (2, 1) -> 8x8;
    # stride 2 -> 4x4; kernel (3, 5), padding (0, 1), stride (3, 4) -> 2x2
    assert conv_output_size(8, 3, padding=1) == 8
    assert (conv_output_size(8, 5, padding=2), conv_output_size(8, 3, padding=1)) == (8, 8)
    assert conv_output_size(8, 3, stride=2, padding=1) == 4
    assert (conv_output_size(8, 3, stride=3, padding=0), conv_output_size(8, 5, stride=4, padding=1)) == (2, 2)
    with pytest.raises(SeqkitError, match="does not fit"):
        conv_output_size(4, 5)


def test_lenet_summary_d2l():
    s = summary(build_model("lenet"), (1, 28, 28))
    assert s.total_params == 61_706
    shapes = [r.output_shape for r in s.rows]
    # d2l 7.6's layer-by-layer printout
    assert shapes == [(6, 28, 28), (6, 28, 28), (6, 14, 14), (16, 10, 10), (16, 10, 10), (16, 5, 5), (400,),
                      (120,), (120,), (84,), (84,), (10,)]
    assert [r.params for r in s.rows if r.params] == [156, 2416, 48120, 10164, 850]
    assert [r.receptive_field for r in s.rows[:6]] == [5, 5, 6, 14, 14, 16]
    text = str(s).splitlines()
    assert text[-1].startswith("total") and text[-1].endswith("61,706")


def test_summary_of_a_branching_model_sums_to_total():
    model = build_model("resnet-small", resolution=16)
    s = summary(model, (1, 16, 16))
    assert sum(r.params for r in s.rows) == s.total_params == count_params(model)
    assert s.rows[-1].output_shape == (10,)
    assert all(r.receptive_field is None for r in s.rows)


def test_summary_reports_a_bad_input():
    with pytest.raises(SeqkitError, match="does not fit"):
        summary(build_model("lenet"), (3, 28, 28))
