"""Convolution and pooling from scratch: d2l's worked examples and equality with torch.nn.functional."""

from __future__ import annotations

import pytest
import torch
from torch.nn import functional as F

from seqkit.errors import SeqkitError
from seqkit.vision.conv import (
    Conv2D,
    conv2d,
    corr2d,
    corr2d_multi_in,
    corr2d_multi_in_out,
    corr2d_multi_in_out_1x1,
    pool2d,
)


def test_corr2d_d2l_example():
    X = torch.arange(9.0).reshape(3, 3)
    K = torch.tensor([[0.0, 1.0], [2.0, 3.0]])
    assert corr2d(X, K).tolist() == [[19.0, 25.0], [37.0, 43.0]]


def test_edge_detection_d2l():
    X = torch.ones((6, 8))
    X[:, 2:6] = 0
    Y = corr2d(X, torch.tensor([[1.0, -1.0]]))
    assert Y[0].tolist() == [0.0, 1.0, 0.0, 0.0, 0.0, -1.0, 0.0]
    assert corr2d(X.t(), torch.tensor([[1.0, -1.0]])).abs().sum() == 0  # vertical edges only


def test_conv2d_layer_learns_the_edge_kernel():
    torch.manual_seed(0)
    X = torch.ones((6, 8))
    X[:, 2:6] = 0
    Y = corr2d(X, torch.tensor([[1.0, -1.0]]))
    conv = Conv2D((1, 2))
    for _ in range(60):  # d2l's loop (plain gradient descent); lr 1e-2 as our layer also learns a bias
        loss = ((conv(X) - Y) ** 2).sum()
        conv.zero_grad()
        loss.backward()
        with torch.no_grad():
            for p in conv.parameters():
                p -= 1e-2 * p.grad
    torch.testing.assert_close(conv.weight.detach(), torch.tensor([[1.0, -1.0]]), atol=0.01, rtol=0)


def test_multi_in_d2l_example():
    X = torch.tensor([[[0.0, 1.0, 2.0], [3.0, 4.0, 5.0], [6.0, 7.0, 8.0]],
                      [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0], [7.0, 8.0, 9.0]]])
    K = torch.tensor([[[0.0, 1.0], [2.0, 3.0]], [[1.0, 2.0], [3.0, 4.0]]])
    assert corr2d_multi_in(X, K).tolist() == [[56.0, 72.0], [104.0, 120.0]]
    K3 = torch.stack((K, K + 1, K + 2), 0)
    Y = corr2d_multi_in_out(X, K3)
    assert Y.shape == (3, 2, 2)
    assert Y[1].tolist() == [[76.0, 100.0], [148.0, 172.0]]


def test_1x1_equals_general_correlation():
    g = torch.Generator().manual_seed(0)
    X = torch.normal(0, 1, (3, 3, 3), generator=g)
    K = torch.normal(0, 1, (2, 3, 1, 1), generator=g)
    torch.testing.assert_close(corr2d_multi_in_out_1x1(X, K), corr2d_multi_in_out(X, K))


@pytest.mark.parametrize("stride,padding,kernel", [(1, 0, 3), (1, 1, 3), (2, 1, 3), ((3, 4), (0, 1), (3, 5)),
                                                   (1, 2, 5), (2, 0, 1)])
def test_conv2d_equals_torch(stride, padding, kernel):
    g = torch.Generator().manual_seed(1)
    kh, kw = (kernel, kernel) if isinstance(kernel, int) else kernel
    X = torch.normal(0, 1, (2, 3, 8, 9), generator=g)
    W = torch.normal(0, 1, (4, 3, kh, kw), generator=g)
    b = torch.normal(0, 1, (4,), generator=g)
    ours = conv2d(X, W, b, stride=stride, padding=padding)
    theirs = F.conv2d(X, W, b, stride=stride, padding=padding)
    assert ours.shape == theirs.shape
    torch.testing.assert_close(ours, theirs, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("size,stride,padding", [(2, None, 0), (3, 1, 0), (3, 2, 1), ((2, 3), (2, 3), (1, 1))])
def test_pooling_equals_torch(size, stride, padding):
    X = torch.normal(0, 1, (2, 3, 7, 8), generator=torch.Generator().manual_seed(2))
    torch.testing.assert_close(pool2d(X, size, "max", stride, padding),
                               F.max_pool2d(X, size, stride=stride, padding=padding))
    torch.testing.assert_close(pool2d(X, size, "avg", stride, padding),
                               F.avg_pool2d(X, size, stride=stride, padding=padding), atol=1e-6, rtol=1e-6)


def test_pool2d_d2l_example():
    X = torch.arange(9.0).reshape(3, 3)
    assert pool2d(X, 2).tolist() == [[4.0]]  # stride defaults to the window, as in torch
    assert pool2d(X, 2, stride=1).tolist() == [[4.0, 5.0], [7.0, 8.0]]
    assert pool2d(X, 2, "avg", stride=1).tolist() == [[2.0, 3.0], [5.0, 6.0]]


def test_errors():
    with pytest.raises(SeqkitError, match="larger than the input"):
        corr2d(torch.ones(2, 2), torch.ones(3, 3))
    with pytest.raises(SeqkitError, match="channels"):
        corr2d_multi_in(torch.ones(2, 3, 3), torch.ones(3, 2, 2))
    with pytest.raises(SeqkitError, match="pooling mode"):
        pool2d(torch.ones(3, 3), 2, "median")
