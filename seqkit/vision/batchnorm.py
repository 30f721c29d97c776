"""Batch normalization from scratch (d2l 8.5), equal to ``nn.BatchNorm1d`` / ``nn.BatchNorm2d``.

Two things differ from d2l's listing, so that the numbers match PyTorch's layers exactly:

* the moving variance is updated with the *unbiased* batch variance (divide by m - 1), as torch
  does, while the batch itself is normalized with the biased one (divide by m);
* ``momentum`` means the weight of the new batch (torch's 0.1), not of the old average (d2l's 0.9).
"""

from __future__ import annotations

import torch
from torch import nn

from seqkit.errors import SeqkitError


def batch_norm(X: torch.Tensor, gamma: torch.Tensor, beta: torch.Tensor, moving_mean: torch.Tensor,
               moving_var: torch.Tensor, eps: float = 1e-5, momentum: float = 0.1,
               training: bool = True) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Normalize ``X`` per feature/channel, then scale by ``gamma`` and shift by ``beta``.

    Args:
        X: (N, C) after a dense layer, or (N, C, H, W) after a conv layer (statistics over N, H, W).
        gamma, beta: shape (1, C) or (1, C, 1, 1).
        moving_mean, moving_var: same shape as gamma; the running statistics used in eval mode.
        training: use the batch's statistics (and update the running ones) or the running ones.

    Returns:
        (Y like X, new moving_mean, new moving_var).
    """
    if not training:
        X_hat = (X - moving_mean) / torch.sqrt(moving_var + eps)
    else:
        if X.dim() not in (2, 4):
            raise SeqkitError(f"batch norm expects a 2-D or 4-D input, got {X.dim()}-D")
        dims = (0,) if X.dim() == 2 else (0, 2, 3)
        n = X.numel() // X.shape[1]
        if n < 2:
            raise SeqkitError("batch norm in training mode needs more than one value per channel",
                              fix="use a batch size above 1")
        mean = X.mean(dim=dims, keepdim=True)
        var = ((X - mean) ** 2).mean(dim=dims, keepdim=True)
        X_hat = (X - mean) / torch.sqrt(var + eps)
        with torch.no_grad():
            moving_mean = (1.0 - momentum) * moving_mean + momentum * mean
            moving_var = (1.0 - momentum) * moving_var + momentum * var * (n / (n - 1))
    return gamma * X_hat + beta, moving_mean, moving_var


class BatchNorm(nn.Module):
    """A batch-norm layer for ``num_features`` features (``num_dims=2``) or channels (``num_dims=4``).

    Parameters ``weight`` (gamma, ones) and ``bias`` (beta, zeros); buffers ``running_mean`` (zeros)
    and ``running_var`` (ones), named as in torch so state dicts load into either.
    """

    def __init__(self, num_features: int, num_dims: int = 4, eps: float = 1e-5, momentum: float = 0.1) -> None:
        super().__init__()
        shape = (1, num_features) if num_dims == 2 else (1, num_features, 1, 1)
        self.shape, self.eps, self.momentum = shape, eps, momentum
        self.weight = nn.Parameter(torch.ones(shape))
        self.bias = nn.Parameter(torch.zeros(shape))
        self.register_buffer("running_mean", torch.zeros(shape))
        self.register_buffer("running_var", torch.ones(shape))

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        Y, mean, var = batch_norm(X, self.weight, self.bias, self.running_mean, self.running_var,
                                  eps=self.eps, momentum=self.momentum, training=self.training)
        if self.training:
            self.running_mean.copy_(mean)
            self.running_var.copy_(var)
        return Y
