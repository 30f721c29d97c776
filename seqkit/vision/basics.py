"""The course's basics done right: softmax and cross-entropy, linear regression, an MLP, weight
decay, dropout and K-fold cross-validation, from scratch (d2l chapters 3-5).

Fixes to d2l's listings, on purpose:

* ``softmax`` subtracts the row maximum before ``exp`` (d2l's ``X.exp()`` overflows to ``nan`` for
  ``[100, 101, 102]`` in float16 and for ``[1000, ...]`` in float32) and accepts integer tensors.
* ``cross_entropy`` works from logits with log-sum-exp instead of ``-log(softmax(x)[y])``, which is
  ``inf`` as soon as a probability underflows to 0.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import torch
from torch import nn

from seqkit.errors import SeqkitError

# ---------------------------------------------------------------- softmax and cross-entropy


def _float(X: torch.Tensor) -> torch.Tensor:
    X = torch.as_tensor(X)
    return X if X.is_floating_point() else X.to(torch.get_default_dtype())


def log_softmax(X: torch.Tensor, dim: int = -1) -> torch.Tensor:
    """log softmax along ``dim``: x - max - log(sum(exp(x - max))). Integer input is cast to float."""
    X = _float(X)
    shifted = X - X.amax(dim=dim, keepdim=True)
    return shifted - shifted.exp().sum(dim=dim, keepdim=True).log()


def softmax(X: torch.Tensor, dim: int = -1) -> torch.Tensor:
    """Numerically stable softmax along ``dim`` (rows of a (N, q) matrix by default).

    >>> softmax(torch.tensor([100, 101, 102])).tolist()  # integers, and no overflow
    [0.09003057330846786, 0.2447284758090973, 0.6652409434318542]
    """
    X = _float(X)
    e = (X - X.amax(dim=dim, keepdim=True)).exp()
    return e / e.sum(dim=dim, keepdim=True)


def cross_entropy(logits: torch.Tensor, y: torch.Tensor, reduction: str = "mean") -> torch.Tensor:
    """Cross-entropy of integer class labels ``y`` (N,) under ``logits`` (N, q); equal to ``F.cross_entropy``.

    Returns the mean over the batch (``reduction="mean"``), the sum, or the (N,) losses ("none").
    """
    y = torch.as_tensor(y)
    if y.is_floating_point():
        raise SeqkitError("cross_entropy expects integer class labels", fix="pass y as a LongTensor")
    losses = -log_softmax(logits, dim=-1).gather(-1, y.long().unsqueeze(-1)).squeeze(-1)
    return {"mean": losses.mean, "sum": losses.sum, "none": lambda: losses}[reduction]()


def accuracy(logits: torch.Tensor, y: torch.Tensor) -> int:
    """Number of rows of ``logits`` (N, q) whose arg max equals the label ``y`` (N,)."""
    return int((logits.argmax(dim=-1) == y).sum())


# ---------------------------------------------------------------- linear regression (d2l 3.2)


def synthetic_data(w: torch.Tensor, b: float, num_examples: int, noise: float = 0.01,
                   generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """y = Xw + b + N(0, noise^2), X ~ N(0, 1): X (num_examples, len(w)), y (num_examples, 1)."""
    X = torch.normal(0.0, 1.0, (num_examples, len(w)), generator=generator)
    y = X @ w + b
    y = y + torch.normal(0.0, noise, y.shape, generator=generator)
    return X, y.reshape(-1, 1)


def polynomial_data(num_examples: int, max_degree: int = 20, noise: float = 0.1,
                    generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """d2l's under/over-fitting data: y = 5 + 1.2 x - 3.4 x^2/2! + 5.6 x^3/3! + N(0, noise^2), x ~ N(0, 1).

    Returns (x (N, 1), features (N, max_degree) with column i = x^i / i!, y (N, 1)). Dividing by i!
    keeps the large powers from dominating the gradients.
    """
    x = torch.normal(0.0, 1.0, (num_examples, 1), generator=generator)
    powers = torch.arange(max_degree, dtype=x.dtype)
    features = x ** powers / torch.exp(torch.lgamma(powers + 1))  # x^i / i!
    true_w = torch.zeros(max_degree, dtype=x.dtype)
    true_w[:4] = torch.tensor([5.0, 1.2, -3.4, 5.6])
    y = features @ true_w + torch.normal(0.0, noise, (num_examples,), generator=generator)
    return x, features, y.reshape(-1, 1)


def data_iter(batch_size: int, X: torch.Tensor, y: torch.Tensor,
              generator: torch.Generator | None = None) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Shuffled minibatches of (X, y); the last one may be smaller."""
    order = torch.randperm(len(X), generator=generator)
    for i in range(0, len(X), batch_size):
        idx = order[i:i + batch_size]
        yield X[idx], y[idx]


def linreg(X: torch.Tensor, w: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """The linear model: (N, d) @ (d, 1) + b -> (N, 1)."""
    return X @ w + b


def squared_loss(y_hat: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Half squared error per example, shape of ``y_hat``."""
    return (y_hat - y.reshape(y_hat.shape)) ** 2 / 2


def sgd_(params: list[torch.Tensor], lr: float, batch_size: int) -> None:
    """Minibatch SGD on raw tensors (d2l's ``sgd``): p -= lr * grad / batch_size; grads zeroed.

    The optimizer-class version is :class:`seqkit.optim.SGD`.
    """
    with torch.no_grad():
        for p in params:
            p -= lr * p.grad / batch_size
            p.grad.zero_()


def l2_penalty(w: torch.Tensor) -> torch.Tensor:
    """Weight decay's penalty term: ||w||^2 / 2."""
    return (w ** 2).sum() / 2


def train_linreg(X: torch.Tensor, y: torch.Tensor, lr: float = 0.03, epochs: int = 3, batch_size: int = 10,
                 lambd: float = 0.0, init_std: float = 0.01, seed: int = 0
                 ) -> tuple[torch.Tensor, torch.Tensor, list[float]]:
    """Fit ``linreg`` to (X, y) by minibatch SGD on squared loss + ``lambd`` * L2 penalty (d2l 3.2, 5.5).

    Weights start at N(0, ``init_std``^2) (d2l 3.2 uses 0.01; the weight-decay chapter uses 1).

    Returns (w (d, 1), b (1,), the mean training loss after each epoch).
    """
    g = torch.Generator().manual_seed(seed)
    w = torch.normal(0.0, init_std, (X.shape[1], 1), generator=g).requires_grad_()
    b = torch.zeros(1, requires_grad=True)
    history = []
    for _ in range(epochs):
        for Xb, yb in data_iter(batch_size, X, y, generator=g):
            loss = squared_loss(linreg(Xb, w, b), yb) + lambd * l2_penalty(w)
            loss.sum().backward()
            sgd_([w, b], lr, len(Xb))
        with torch.no_grad():
            history.append(float(squared_loss(linreg(X, w, b), y).mean()))
    return w.detach(), b.detach(), history


# ---------------------------------------------------------------- MLP and dropout (d2l 5.2, 5.6)


def relu(X: torch.Tensor) -> torch.Tensor:
    return torch.maximum(X, torch.zeros_like(X))


def dropout_layer(X: torch.Tensor, p: float, generator: torch.Generator | None = None) -> torch.Tensor:
    """Zero each element with probability ``p`` and scale the rest by 1 / (1 - p) (expectation kept)."""
    if not 0.0 <= p <= 1.0:
        raise SeqkitError(f"dropout probability {p} is not in [0, 1]")
    if p == 1.0:
        return torch.zeros_like(X)
    if p == 0.0:
        return X
    mask = (torch.rand(X.shape, generator=generator, device=X.device) > p).to(X.dtype)
    return mask * X / (1.0 - p)


class MLPScratch(nn.Module):
    """An MLP from raw parameters: ``sizes = (inputs, hidden..., outputs)``, ReLU between layers,
    optional from-scratch dropout after each hidden layer (training mode only).

    Weights are stored (in, out) as in d2l. Input (N, ...) is flattened to (N, inputs); output (N, outputs).
    """

    def __init__(self, sizes: tuple[int, ...], dropouts: tuple[float, ...] = (), sigma: float = 0.01) -> None:
        super().__init__()
        self.weights = nn.ParameterList(nn.Parameter(torch.randn(a, b) * sigma) for a, b in zip(sizes, sizes[1:]))
        self.biases = nn.ParameterList(nn.Parameter(torch.zeros(b)) for b in sizes[1:])
        self.dropouts = tuple(dropouts) + (0.0,) * (len(sizes) - 2 - len(dropouts))

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        H = X.reshape(X.shape[0], -1)
        last = len(self.weights) - 1
        for i, (W, b) in enumerate(zip(self.weights, self.biases)):
            H = H @ W + b
            if i < last:
                H = relu(H)
                if self.training:
                    H = dropout_layer(H, self.dropouts[i])
        return H


# ---------------------------------------------------------------- K-fold cross-validation (d2l 5.7)


def k_fold_split(k: int, i: int, X: torch.Tensor, y: torch.Tensor
                 ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """The i-th of ``k`` folds: (X_train, y_train, X_valid, y_valid).

    Unlike d2l's ``get_k_fold_data`` (which drops the last ``n % k`` examples), fold sizes differ by at
    most one and every example is validated exactly once over the k folds.
    """
    n = len(X)
    if not 2 <= k <= n:
        raise SeqkitError(f"k-fold needs 2 <= k <= number of examples ({n}), got k={k}")
    if not 0 <= i < k:
        raise SeqkitError(f"fold index {i} is not in [0, {k})")
    bounds = [n * j // k for j in range(k + 1)]
    valid = torch.arange(bounds[i], bounds[i + 1])
    train = torch.cat([torch.arange(0, bounds[i]), torch.arange(bounds[i + 1], n)])
    return X[train], y[train], X[valid], y[valid]


def k_fold(k: int, X: torch.Tensor, y: torch.Tensor,
           train_and_score: Callable[[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor], tuple[float, float]]
           ) -> tuple[float, float]:
    """Average (train score, valid score) of ``train_and_score(X_tr, y_tr, X_va, y_va)`` over ``k`` folds."""
    train_sum = valid_sum = 0.0
    for i in range(k):
        train_score, valid_score = train_and_score(*k_fold_split(k, i, X, y))
        train_sum += train_score
        valid_sum += valid_score
    return train_sum / k, valid_sum / k

