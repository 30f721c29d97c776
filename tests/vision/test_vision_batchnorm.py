"""Batch norm from scratch equals nn.BatchNorm1d / nn.BatchNorm2d: outputs, gradients, running stats."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from seqkit.errors import SeqkitError
from seqkit.vision.batchnorm import BatchNorm


@pytest.mark.parametrize("shape,ref_cls", [((16, 5), nn.BatchNorm1d), ((4, 3, 5, 6), nn.BatchNorm2d)])
def test_equals_torch_batchnorm(shape, ref_cls):
    g = torch.Generator().manual_seed(0)
    C = shape[1]
    ours, ref = BatchNorm(C, num_dims=len(shape)), ref_cls(C)
    with torch.no_grad():  # non-trivial gamma/beta, copied into both
        gamma, beta = torch.rand(C, generator=g) + 0.5, torch.randn(C, generator=g)
        ours.weight.copy_(gamma.reshape(ours.shape))
        ours.bias.copy_(beta.reshape(ours.shape))
        ref.weight.copy_(gamma)
        ref.bias.copy_(beta)
    for _ in range(3):  # training: batch statistics, running statistics updated
        X = torch.randn(shape, generator=g) * 3 + 2
        X1, X2 = X.clone().requires_grad_(), X.clone().requires_grad_()
        Y1, Y2 = ours(X1), ref(X2)
        torch.testing.assert_close(Y1, Y2, atol=1e-5, rtol=1e-5)
        w = torch.randn(shape, generator=g)
        (Y1 * w).sum().backward()
        (Y2 * w).sum().backward()
        torch.testing.assert_close(X1.grad, X2.grad, atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(ours.running_mean.flatten(), ref.running_mean, atol=1e-6, rtol=1e-6)
    torch.testing.assert_close(ours.running_var.flatten(), ref.running_var, atol=1e-6, rtol=1e-6)
    torch.testing.assert_close(ours.weight.grad.flatten(), ref.weight.grad, atol=1e-4, rtol=1e-4)
    ours.eval()
    ref.eval()
    X = torch.randn(shape, generator=g)
    torch.testing.assert_close(ours(X), ref(X), atol=1e-5, rtol=1e-5)


def test_training_output_is_standardized():
    bn = BatchNorm(2, num_dims=2)
    Y = bn(torch.tensor([[1.0, 10.0], [3.0, 30.0]]))
    torch.testing.assert_close(Y.mean(0), torch.zeros(2))
    torch.testing.assert_close(Y.pow(2).mean(0), torch.ones(2) * (1 / (1 + 1e-5 / 1)), atol=1e-4, rtol=0)


def test_state_dict_loads_into_torch():
    ours = BatchNorm(3, num_dims=4)
    ours(torch.randn(2, 3, 4, 4))
    ref = nn.BatchNorm2d(3)
    state = {k: v.flatten() for k, v in ours.state_dict().items()}
    ref.load_state_dict(state, strict=False)
    torch.testing.assert_close(ref.running_mean, ours.running_mean.flatten())


def test_single_value_per_channel_is_an_error():
    with pytest.raises(SeqkitError, match="batch size"):
        BatchNorm(3, num_dims=2)(torch.randn(1, 3))
