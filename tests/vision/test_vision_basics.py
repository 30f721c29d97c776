"""Softmax/cross-entropy done right, linear regression, MLP, weight decay, dropout and K-fold from scratch."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.nn import functional as F

from seqkit.errors import SeqkitError
from seqkit.vision.basics import (
    MLPScratch,
    accuracy,
    cross_entropy,
    dropout_layer,
    k_fold,
    k_fold_split,
    log_softmax,
    polynomial_data,
    softmax,
    squared_loss,
    synthetic_data,
    train_linreg,
)


def test_softmax_of_integers_does_not_overflow():
    p = softmax(torch.tensor([100, 101, 102]))
    assert p.dtype == torch.float32
    torch.testing.assert_close(p, torch.tensor([0.09003057, 0.24472847, 0.66524096]))
    # d2l's exp(X) / sum would be inf / inf = nan here
    p = softmax(torch.tensor([[1000.0, 1001.0, 1002.0], [-1000.0, 0.0, 1000.0]]))
    assert torch.isfinite(p).all()
    torch.testing.assert_close(p.sum(1), torch.ones(2))
    torch.testing.assert_close(p[1], torch.tensor([0.0, 0.0, 1.0]))


def test_cross_entropy_equals_torch_and_accepts_integers():
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(6, 5, generator=g) * 30
    y = torch.tensor([0, 4, 2, 2, 1, 3])
    torch.testing.assert_close(cross_entropy(logits, y), F.cross_entropy(logits, y))
    torch.testing.assert_close(cross_entropy(logits, y, reduction="none"), F.cross_entropy(logits, y, reduction="none"))
    int_logits = torch.tensor([[100, 101, 102]])
    assert cross_entropy(int_logits, torch.tensor([2])).item() == pytest.approx(-torch.log(torch.tensor(0.66524096)).item())
    # a probability that underflows to 0 still gives a finite loss (d2l's -log(y_hat[y]) gives inf)
    assert cross_entropy(torch.tensor([[0.0, 200.0]]), torch.tensor([0])).item() == pytest.approx(200.0)
    torch.testing.assert_close(log_softmax(logits), F.log_softmax(logits, dim=-1))
    with pytest.raises(SeqkitError, match="integer class labels"):
        cross_entropy(logits, y.float())


def test_accuracy_counts_correct_rows():
    # d2l 4.1: y_hat = [[0.1, 0.3, 0.6], [0.3, 0.2, 0.5]], y = [0, 2] -> 1 correct
    assert accuracy(torch.tensor([[0.1, 0.3, 0.6], [0.3, 0.2, 0.5]]), torch.tensor([0, 2])) == 1


def test_linear_regression_recovers_d2l_parameters():
    true_w, true_b = torch.tensor([2.0, -3.4]), 4.2
    X, y = synthetic_data(true_w, true_b, 1000, generator=torch.Generator().manual_seed(0))
    assert X.shape == (1000, 2) and y.shape == (1000, 1)
    w, b, history = train_linreg(X, y, lr=0.03, epochs=3, batch_size=10)
    # d2l prints errors of order 1e-4 after 3 epochs and a final loss of ~5e-5
    assert (w.flatten() - true_w).abs().max() < 0.01
    assert abs(b.item() - true_b) < 0.01
    assert history[-1] < 1e-4 < history[0]


def test_third_order_fit_recovers_d2l_polynomial():
    # d2l 3.6 ("normal" fit, 3rd-order features): weight ~ [5.019, 1.218, -3.422, 5.571]
    x, features, y = polynomial_data(200, generator=torch.Generator().manual_seed(0))
    assert features.shape == (200, 20)
    torch.testing.assert_close(features[:, 3], x[:, 0] ** 3 / 6)
    w, b, history = train_linreg(features[:, 1:4], y, lr=0.05, epochs=100, batch_size=10)
    torch.testing.assert_close(torch.cat([b, w.flatten()]), torch.tensor([5.0, 1.2, -3.4, 5.6]), atol=0.05, rtol=0)
    assert history[-1] < 0.01  # the noise floor is 0.1^2 / 2 = 0.005


def test_mlp_scratch_fits_the_polynomial_from_raw_x():
    from seqkit.optim import Adam

    g = torch.Generator().manual_seed(0)
    x, _, y = polynomial_data(200, generator=g)
    x_test, _, y_test = polynomial_data(200, generator=g)
    torch.manual_seed(0)
    mlp = MLPScratch((1, 64, 64, 1), sigma=0.5)
    opt = Adam(mlp.parameters(), lr=0.01)
    for _ in range(300):
        loss = squared_loss(mlp(x), y).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    baseline = float(squared_loss(torch.full_like(y_test, float(y.mean())), y_test).mean())
    assert loss.item() < 0.05
    assert squared_loss(mlp(x_test), y_test).mean().item() < 0.02 * baseline


def test_weight_decay_shrinks_weights_and_helps_high_dimensional_regression():
    # d2l 5.5: 20 training examples, 200 inputs, y = 0.05 + sum(0.01 x) + noise
    g = torch.Generator().manual_seed(0)
    true_w = torch.ones(200) * 0.01
    X_train, y_train = synthetic_data(true_w, 0.05, 20, generator=g)
    X_test, y_test = synthetic_data(true_w, 0.05, 100, generator=g)
    results = {}
    for lambd in (0.0, 3.0):
        w, b, _ = train_linreg(X_train, y_train, lr=0.003, epochs=100, batch_size=5, lambd=lambd, init_std=1.0)
        test_loss = float(((X_test @ w + b - y_test) ** 2 / 2).mean())
        results[lambd] = (float(w.norm()), test_loss)
    # here: ||w|| 3.60 -> 0.18, test loss 6.86 -> 0.21 (d2l's run: 13.97 -> 0.36)
    assert results[3.0][0] < 0.1 * results[0.0][0]
    assert results[3.0][1] < 0.1 * results[0.0][1]


def test_dropout_layer_d2l_cases():
    X = torch.arange(16, dtype=torch.float32).reshape(2, 8)
    assert torch.equal(dropout_layer(X, 0.0), X)
    assert torch.equal(dropout_layer(X, 1.0), torch.zeros_like(X))
    Y = dropout_layer(X, 0.5, generator=torch.Generator().manual_seed(0))
    kept = Y != 0
    torch.testing.assert_close(Y[kept], 2 * X[kept])
    big = dropout_layer(torch.ones(100_000), 0.3, generator=torch.Generator().manual_seed(1))
    assert big.mean().item() == pytest.approx(1.0, abs=0.01)  # expectation unchanged
    assert (big == 0).float().mean().item() == pytest.approx(0.3, abs=0.01)
    with pytest.raises(SeqkitError):
        dropout_layer(X, 1.5)


def test_mlp_scratch_equals_nn_sequential_and_learns():
    torch.manual_seed(0)
    mlp = MLPScratch((784, 256, 10), sigma=0.1)
    ref = nn.Sequential(nn.Flatten(), nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 10))
    with torch.no_grad():
        ref[1].weight.copy_(mlp.weights[0].T)
        ref[1].bias.copy_(mlp.biases[0])
        ref[3].weight.copy_(mlp.weights[1].T)
        ref[3].bias.copy_(mlp.biases[1])
    X = torch.randn(4, 1, 28, 28)
    torch.testing.assert_close(mlp(X), ref(X), atol=1e-5, rtol=1e-5)
    # dropout only in training mode
    drop = MLPScratch((8, 16, 16, 2), dropouts=(0.5, 0.5))
    drop.eval()
    Z = torch.randn(3, 8)
    assert torch.equal(drop(Z), drop(Z))


def test_mlp_scratch_with_dropout_trains_on_digits():
    """d2l 5.2/5.6's MLP (ReLU hidden layers, from-scratch dropout) through the shared trainer."""
    from seqkit.vision.data import load_images
    from seqkit.vision.training import train_classifier

    data = load_images("digits")  # 8x8, offline; d2l uses Fashion-MNIST
    torch.manual_seed(0)
    mlp = MLPScratch((64, 256, 256, 10), dropouts=(0.2, 0.5), sigma=0.1)
    result = train_classifier(mlp, data, epochs=5, batch_size=64, optimizer="sgd", lr=0.1)
    assert result["test_acc"] > 0.9


def test_k_fold_splits_partition_the_data():
    X, y = torch.arange(23).reshape(23, 1).float(), torch.arange(23)
    seen = []
    for i in range(5):
        X_tr, y_tr, X_va, y_va = k_fold_split(5, i, X, y)
        assert len(X_tr) + len(X_va) == 23 and len(X_va) in (4, 5)
        assert set(y_tr.tolist()).isdisjoint(y_va.tolist())
        seen += y_va.tolist()
    assert sorted(seen) == list(range(23))  # every example validated exactly once
    train_mean, valid_mean = k_fold(5, X, y, lambda a, b, c, d: (float(len(a)), float(len(c))))
    assert (train_mean, valid_mean) == (23 * 4 / 5, 23 / 5)
    with pytest.raises(SeqkitError):
        k_fold_split(1, 0, X, y)
