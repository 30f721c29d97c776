"""The from-scratch optimizers against torch.optim, d2l's printed trajectories and hand formulas."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from seqkit.optim import (
    SGD,
    AdaDelta,
    AdaGrad,
    Adam,
    Momentum,
    RMSProp,
    Yogi,
    f_2d,
    plot_trajectory_2d,
    trajectory_2d,
)


def _problem() -> tuple[nn.Module, torch.Tensor, torch.Tensor]:
    """A small MLP regression problem, identical each call."""
    g = torch.Generator().manual_seed(0)
    X = torch.randn(64, 5, generator=g)
    y = torch.sin(X.sum(dim=1, keepdim=True))
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(5, 8), nn.Tanh(), nn.Linear(8, 1))
    return model, X, y


def _run(make_opt, steps: int = 100) -> list[torch.Tensor]:
    model, X, y = _problem()
    opt = make_opt(model.parameters())
    for _ in range(steps):
        opt.zero_grad()
        ((model(X) - y) ** 2).mean().backward()
        opt.step()
    return [p.detach().clone() for p in model.parameters()]


PAIRS = {
    "sgd": (lambda p: SGD(p, lr=0.1), lambda p: torch.optim.SGD(p, lr=0.1)),
    "sgd+wd": (lambda p: SGD(p, lr=0.1, weight_decay=0.01), lambda p: torch.optim.SGD(p, lr=0.1, weight_decay=0.01)),
    "momentum": (lambda p: Momentum(p, lr=0.05, beta=0.9), lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9)),
    "adagrad": (lambda p: AdaGrad(p, lr=0.1), lambda p: torch.optim.Adagrad(p, lr=0.1)),
    "rmsprop": (lambda p: RMSProp(p, lr=0.01, gamma=0.9), lambda p: torch.optim.RMSprop(p, lr=0.01, alpha=0.9)),
    "adadelta": (lambda p: AdaDelta(p, rho=0.9), lambda p: torch.optim.Adadelta(p, lr=1.0, rho=0.9)),
    "adam": (lambda p: Adam(p, lr=0.01), lambda p: torch.optim.Adam(p, lr=0.01)),
    "adam+wd": (lambda p: Adam(p, lr=0.01, weight_decay=0.1),
                lambda p: torch.optim.Adam(p, lr=0.01, weight_decay=0.1)),
}


@pytest.mark.parametrize("name", sorted(PAIRS))
def test_matches_torch_optim_over_100_steps(name):
    ours, theirs = PAIRS[name]
    start = [p.detach().clone() for p in _problem()[0].parameters()]
    a, b = _run(ours), _run(theirs)
    moved = max(float((x - s).abs().max()) for x, s in zip(a, start))
    assert moved > 1e-2  # the problem really moves the weights
    for x, y in zip(a, b):
        torch.testing.assert_close(x, y, atol=1e-6, rtol=0)


def _yogi_reference(params, grads_fn, steps, lr=0.01, beta1=0.9, beta2=0.999, eps=1e-3):
    """d2l's ``yogi`` listing (12.10.3) on raw tensors."""
    states = [(torch.zeros_like(p), torch.zeros_like(p)) for p in params]
    for t in range(1, steps + 1):
        grads = grads_fn(params)
        for p, g, (v, s) in zip(params, grads, states):
            v[:] = beta1 * v + (1 - beta1) * g
            s[:] = s + (1 - beta2) * torch.sign(g ** 2 - s) * g ** 2
            v_hat, s_hat = v / (1 - beta1 ** t), s / (1 - beta2 ** t)
            p[:] -= lr * v_hat / (torch.sqrt(s_hat) + eps)
    return params


def test_yogi_matches_d2l_listing():
    model, X, y = _problem()

    def grads_fn(params):
        ps = [p.detach().requires_grad_() for p in params]
        h = torch.tanh(X @ ps[0].T + ps[1])
        loss = ((h @ ps[2].T + ps[3] - y) ** 2).mean()
        return torch.autograd.grad(loss, ps)

    ref = _yogi_reference([p.detach().clone() for p in model.parameters()], grads_fn, 100)
    ours = _run(lambda p: Yogi(p, lr=0.01))
    for x, r in zip(ours, ref):
        torch.testing.assert_close(x, r, atol=1e-6, rtol=0)


def test_yogi_first_step_by_hand():
    # t=1: v = 0.1 g, s = 0 + 0.001 * g^2 * sign(g^2) = 0.001 g^2; v_hat = g, s_hat = g^2
    # step = lr * g / (|g| + eps) = 0.01 * 2 / 2.001
    x = torch.tensor([1.0], requires_grad=True)
    opt = Yogi([x], lr=0.01)
    (x ** 2).sum().backward()
    opt.step()
    assert x.item() == pytest.approx(1.0 - 0.01 * 2 / 2.001, abs=1e-7)


def test_adagrad_first_step_is_lr_times_sign():
    # s = g^2, so the first step is lr * g / |g| whatever the gradient's scale.
    x = torch.tensor([3.0, -0.001], requires_grad=True)
    opt = AdaGrad([x], lr=0.5)
    (x[0] ** 2 * 10 + x[1] ** 2).backward()
    opt.step()
    torch.testing.assert_close(x.detach(), torch.tensor([2.5, -0.001 + 0.5]))


def test_d2l_printed_trajectories():
    # d2l 12.3 (gd, eta 0.1 on x1^2 + 2 x2^2): "epoch 20, x1: -0.057646, x2: -0.000073"
    x1, x2 = trajectory_2d(SGD, f=lambda a, b: a ** 2 + 2 * b ** 2, lr=0.1)[-1]
    assert (round(x1, 6), round(x2, 6)) == (-0.057646, -0.000073)
    # d2l 12.6 (f_2d, gd eta 0.4): "epoch 20, x1: -0.943467, x2: -0.000073"
    x1, x2 = trajectory_2d(SGD, lr=0.4)[-1]
    assert (round(x1, 6), round(x2, 6)) == (-0.943467, -0.000073)
    # d2l 12.6 (momentum, eta 0.6, beta 0.5): "epoch 20, x1: 0.007188, x2: 0.002553"
    x1, x2 = trajectory_2d(Momentum, lr=0.6, beta=0.5)[-1]
    assert (round(x1, 6), round(x2, 6)) == (0.007188, 0.002553)


@pytest.mark.parametrize("cls,opts", [(AdaGrad, {"lr": 0.4}), (RMSProp, {"lr": 0.4, "gamma": 0.9}),
                                      (Adam, {"lr": 0.5}), (Yogi, {"lr": 0.5}), (AdaDelta, {"eps": 1e-2})])
def test_each_optimizer_descends_f_2d(cls, opts):
    points = trajectory_2d(cls, steps=50, **opts)
    start, end = f_2d(*torch.tensor(points[0])), f_2d(*torch.tensor(points[-1]))
    assert end < 0.1 * start


def test_trajectory_png(tmp_path):
    out = tmp_path / "traj.png"
    plot_trajectory_2d(out, trajectory_2d(Momentum, lr=0.6, beta=0.5), title="momentum")
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_state_dict_round_trip():
    model, X, y = _problem()
    opt = Adam(model.parameters(), lr=0.01)
    ((model(X) - y) ** 2).mean().backward()
    opt.step()
    state = opt.state_dict()
    fresh = Adam(model.parameters(), lr=0.01)
    fresh.load_state_dict(state)
    assert fresh.state_dict()["state"][0]["t"] == 1
