"""Convolution and pooling from scratch (d2l chapter 7), written to be read, proven equal to torch.

Everything here is a *cross-correlation*, as in every deep-learning library: the kernel is not
flipped. The loops are the textbook ones; the fast path is ``F.conv2d`` / ``F.max_pool2d`` /
``F.avg_pool2d``, and ``tests/vision/test_vision_conv.py`` checks that both give the same numbers.
"""

from __future__ import annotations

import torch
from torch import nn

from seqkit.errors import SeqkitError


def _pair(value: int | tuple[int, int]) -> tuple[int, int]:
    return (value, value) if isinstance(value, int) else (int(value[0]), int(value[1]))


def corr2d(X: torch.Tensor, K: torch.Tensor, stride: int | tuple[int, int] = 1) -> torch.Tensor:
    """2-D cross-correlation of one channel.

    Args:
        X: input, shape (H, W).
        K: kernel, shape (kh, kw).
        stride: step between windows, (sh, sw) or one int.

    Returns:
        shape ((H - kh) // sh + 1, (W - kw) // sw + 1).
    """
    kh, kw = K.shape
    sh, sw = _pair(stride)
    if X.shape[0] < kh or X.shape[1] < kw:
        raise SeqkitError(f"kernel {kh}x{kw} is larger than the input {X.shape[0]}x{X.shape[1]}",
                          fix="pad the input or use a smaller kernel")
    out_h, out_w = (X.shape[0] - kh) // sh + 1, (X.shape[1] - kw) // sw + 1
    Y = X.new_zeros((out_h, out_w))
    for i in range(out_h):
        for j in range(out_w):
            Y[i, j] = (X[i * sh:i * sh + kh, j * sw:j * sw + kw] * K).sum()
    return Y


def pad2d(X: torch.Tensor, padding: int | tuple[int, int]) -> torch.Tensor:
    """Zero-pad the last two dimensions: (..., H, W) -> (..., H + 2ph, W + 2pw)."""
    ph, pw = _pair(padding)
    if ph == 0 and pw == 0:
        return X
    out = X.new_zeros((*X.shape[:-2], X.shape[-2] + 2 * ph, X.shape[-1] + 2 * pw))
    out[..., ph:ph + X.shape[-2], pw:pw + X.shape[-1]] = X
    return out


def corr2d_multi_in(X: torch.Tensor, K: torch.Tensor, stride: int | tuple[int, int] = 1) -> torch.Tensor:
    """Several input channels: correlate each channel with its kernel slice and sum.

    X: (C_in, H, W); K: (C_in, kh, kw) -> (H', W').
    """
    if X.shape[0] != K.shape[0]:
        raise SeqkitError(f"input has {X.shape[0]} channels but the kernel expects {K.shape[0]}")
    return sum(corr2d(x, k, stride) for x, k in zip(X, K))


def corr2d_multi_in_out(X: torch.Tensor, K: torch.Tensor, stride: int | tuple[int, int] = 1) -> torch.Tensor:
    """Several output channels: one multi-input correlation per output kernel.

    X: (C_in, H, W); K: (C_out, C_in, kh, kw) -> (C_out, H', W').
    """
    return torch.stack([corr2d_multi_in(X, k, stride) for k in K], 0)


def corr2d_multi_in_out_1x1(X: torch.Tensor, K: torch.Tensor) -> torch.Tensor:
    """A 1x1 convolution is a fully connected layer applied at every pixel: one matrix product.

    X: (C_in, H, W); K: (C_out, C_in, 1, 1) -> (C_out, H, W).
    """
    c_in, h, w = X.shape
    c_out = K.shape[0]
    Y = K.reshape(c_out, c_in) @ X.reshape(c_in, h * w)
    return Y.reshape(c_out, h, w)


def conv2d(X: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None = None,
           stride: int | tuple[int, int] = 1, padding: int | tuple[int, int] = 0) -> torch.Tensor:
    """Batched convolution with padding and stride, by the loops above (same contract as ``F.conv2d``).

    X: (N, C_in, H, W); weight: (C_out, C_in, kh, kw); bias: (C_out,) ->
    (N, C_out, (H + 2ph - kh) // sh + 1, (W + 2pw - kw) // sw + 1).
    """
    X = pad2d(X, padding)
    Y = torch.stack([corr2d_multi_in_out(x, weight, stride) for x in X], 0)
    if bias is not None:
        Y = Y + bias.reshape(1, -1, 1, 1)
    return Y


def pool2d(X: torch.Tensor, pool_size: int | tuple[int, int], mode: str = "max",
           stride: int | tuple[int, int] | None = None, padding: int | tuple[int, int] = 0) -> torch.Tensor:
    """Max or average pooling of (..., H, W), each channel on its own.

    ``stride`` defaults to the window size, as in torch. Max pooling pads with -inf so a padded cell
    never wins; average pooling pads with zeros and divides by the full window (torch's
    ``count_include_pad=True``).
    """
    ph, pw = _pair(pool_size)
    sh, sw = _pair(stride if stride is not None else pool_size)
    pad_h, pad_w = _pair(padding)
    if mode not in ("max", "avg"):
        raise SeqkitError(f"unknown pooling mode {mode!r}", fix="use 'max' or 'avg'")
    if pad_h or pad_w:
        fill = float("-inf") if mode == "max" else 0.0
        padded = X.new_full((*X.shape[:-2], X.shape[-2] + 2 * pad_h, X.shape[-1] + 2 * pad_w), fill)
        padded[..., pad_h:pad_h + X.shape[-2], pad_w:pad_w + X.shape[-1]] = X
        X = padded
    out_h, out_w = (X.shape[-2] - ph) // sh + 1, (X.shape[-1] - pw) // sw + 1
    Y = X.new_zeros((*X.shape[:-2], out_h, out_w))
    for i in range(out_h):
        for j in range(out_w):
            window = X[..., i * sh:i * sh + ph, j * sw:j * sw + pw]
            Y[..., i, j] = window.amax(dim=(-2, -1)) if mode == "max" else window.mean(dim=(-2, -1))
    return Y


class Conv2D(nn.Module):
    """d2l's from-scratch convolutional layer: a learnable kernel and scalar bias, one channel.

    forward: X (H, W) -> (H - kh + 1, W - kw + 1).
    """

    def __init__(self, kernel_size: int | tuple[int, int]) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.rand(_pair(kernel_size)))
        self.bias = nn.Parameter(torch.zeros(1))

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        return corr2d(X, self.weight) + self.bias
