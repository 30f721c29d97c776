"""The optimizers of d2l chapter 12, from scratch, as ``torch.optim.Optimizer`` subclasses.

Each ``step`` is the textbook update written out on plain tensors, so it can be read next to the
formula. Where PyTorch has the same optimizer the update is arranged exactly as torch's (where the
epsilon goes, how the bias correction is applied), and ``tests/optim/test_optim_optimizers.py``
checks they agree to 1e-6 over 100 steps. Differences from d2l's listings, on purpose:

* AdaGrad and RMSProp add ``eps`` *after* the square root (torch, Keras); d2l adds it inside.
* ``weight_decay`` adds ``wd * p`` to the gradient (L2 regularization), as torch does.

Notation: g the gradient, t the step count (from 1), lr the learning rate.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch.optim import Optimizer


class _ScratchOptimizer(Optimizer):
    """Shared loop: for each parameter with a gradient, call ``update(p, g, state, group)``."""

    def __init__(self, params: Iterable, **defaults) -> None:
        if defaults.get("lr", 0.0) < 0.0:
            raise ValueError(f"invalid learning rate: {defaults['lr']}")
        super().__init__(params, defaults)

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                g = p.grad
                if group.get("weight_decay", 0.0):
                    g = g.add(p, alpha=group["weight_decay"])
                self.update(p, g, self.state[p], group)
        return loss

    def update(self, p: torch.Tensor, g: torch.Tensor, state: dict, group: dict) -> None:  # pragma: no cover
        raise NotImplementedError


class SGD(_ScratchOptimizer):
    """Gradient descent: p <- p - lr * g (d2l 12.4)."""

    def __init__(self, params: Iterable, lr: float = 0.01, weight_decay: float = 0.0) -> None:
        super().__init__(params, lr=lr, weight_decay=weight_decay)

    def update(self, p, g, state, group):
        p.add_(g, alpha=-group["lr"])


class Momentum(_ScratchOptimizer):
    """Heavy-ball momentum (d2l 12.6): v <- beta * v + g;  p <- p - lr * v.

    Equal to ``torch.optim.SGD(momentum=beta)`` (no dampening, no Nesterov); v starts at the first g.
    """

    def __init__(self, params: Iterable, lr: float = 0.01, beta: float = 0.9, weight_decay: float = 0.0) -> None:
        super().__init__(params, lr=lr, beta=beta, weight_decay=weight_decay)

    def update(self, p, g, state, group):
        if "v" not in state:
            state["v"] = g.clone()
        else:
            state["v"].mul_(group["beta"]).add_(g)
        p.add_(state["v"], alpha=-group["lr"])


class AdaGrad(_ScratchOptimizer):
    """AdaGrad (d2l 12.7): s <- s + g^2;  p <- p - lr * g / (sqrt(s) + eps).

    Each coordinate's step shrinks with the total squared gradient it has seen. Equal to
    ``torch.optim.Adagrad`` (eps 1e-10, no lr decay).
    """

    def __init__(self, params: Iterable, lr: float = 0.01, eps: float = 1e-10, weight_decay: float = 0.0) -> None:
        super().__init__(params, lr=lr, eps=eps, weight_decay=weight_decay)

    def update(self, p, g, state, group):
        s = state.setdefault("s", torch.zeros_like(p))
        s.addcmul_(g, g)
        p.addcdiv_(g, s.sqrt().add_(group["eps"]), value=-group["lr"])


class RMSProp(_ScratchOptimizer):
    """RMSProp (d2l 12.8): s <- gamma * s + (1 - gamma) * g^2;  p <- p - lr * g / (sqrt(s) + eps).

    AdaGrad with a leaky average, so the step size does not decay to zero. Equal to
    ``torch.optim.RMSprop(alpha=gamma)``.
    """

    def __init__(self, params: Iterable, lr: float = 0.01, gamma: float = 0.99, eps: float = 1e-8,
                 weight_decay: float = 0.0) -> None:
        super().__init__(params, lr=lr, gamma=gamma, eps=eps, weight_decay=weight_decay)

    def update(self, p, g, state, group):
        s = state.setdefault("s", torch.zeros_like(p))
        s.mul_(group["gamma"]).addcmul_(g, g, value=1 - group["gamma"])
        p.addcdiv_(g, s.sqrt().add_(group["eps"]), value=-group["lr"])


class AdaDelta(_ScratchOptimizer):
    """AdaDelta (d2l 12.9): no learning rate of its own, the step is scaled by past step sizes.

    s <- rho * s + (1 - rho) * g^2;  g' <- sqrt(delta + eps) / sqrt(s + eps) * g;
    delta <- rho * delta + (1 - rho) * g'^2;  p <- p - lr * g'   (lr = 1 is the paper's method).
    Equal to ``torch.optim.Adadelta``.
    """

    def __init__(self, params: Iterable, lr: float = 1.0, rho: float = 0.9, eps: float = 1e-6,
                 weight_decay: float = 0.0) -> None:
        super().__init__(params, lr=lr, rho=rho, eps=eps, weight_decay=weight_decay)

    def update(self, p, g, state, group):
        rho, eps = group["rho"], group["eps"]
        s = state.setdefault("s", torch.zeros_like(p))
        delta = state.setdefault("delta", torch.zeros_like(p))
        s.mul_(rho).addcmul_(g, g, value=1 - rho)
        g_rescaled = delta.add(eps).sqrt_().div_(s.add(eps).sqrt_()).mul_(g)
        delta.mul_(rho).addcmul_(g_rescaled, g_rescaled, value=1 - rho)
        p.add_(g_rescaled, alpha=-group["lr"])


class Adam(_ScratchOptimizer):
    """Adam (d2l 12.10): momentum on g and leaky average of g^2, both bias-corrected.

    v <- b1 * v + (1 - b1) * g;  s <- b2 * s + (1 - b2) * g^2;
    p <- p - lr * (v / (1 - b1^t)) / (sqrt(s / (1 - b2^t)) + eps).  Equal to ``torch.optim.Adam``.
    """

    def __init__(self, params: Iterable, lr: float = 0.001, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0.0) -> None:
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay)

    def second_moment(self, s: torch.Tensor, g: torch.Tensor, beta2: float) -> None:
        """Adam: s <- b2 * s + (1 - b2) * g^2 (in place)."""
        s.mul_(beta2).addcmul_(g, g, value=1 - beta2)

    def update(self, p, g, state, group):
        beta1, beta2 = group["betas"]
        if not state:
            state["t"], state["v"], state["s"] = 0, torch.zeros_like(p), torch.zeros_like(p)
        state["t"] += 1
        t, v, s = state["t"], state["v"], state["s"]
        v.lerp_(g, 1 - beta1)
        self.second_moment(s, g, beta2)
        # torch's arrangement: divide sqrt(s) by sqrt(1 - b2^t) and fold 1 / (1 - b1^t) into the step.
        denom = (s.sqrt() / (1 - beta2 ** t) ** 0.5).add_(group["eps"])
        p.addcdiv_(v, denom, value=-group["lr"] / (1 - beta1 ** t))


class Yogi(Adam):
    """Yogi (Zaheer et al. 2018; d2l 12.10.3): Adam whose second moment moves additively.

    s <- s + (1 - b2) * g^2 * sign(g^2 - s), so s cannot blow past g^2 when gradients are sparse or
    large. Everything else, bias correction included, is Adam's. PyTorch has no Yogi; the tests
    compare with d2l's listing written out by hand. d2l uses eps = 1e-3.
    """

    def __init__(self, params: Iterable, lr: float = 0.01, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-3, weight_decay: float = 0.0) -> None:
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay)

    def second_moment(self, s: torch.Tensor, g: torch.Tensor, beta2: float) -> None:
        g2 = g * g
        s.addcmul_(g2, torch.sign(g2 - s), value=1 - beta2)


#: name -> class, for configs and the CLI.
OPTIMIZERS: dict[str, type[Optimizer]] = {
    "sgd": SGD, "momentum": Momentum, "adagrad": AdaGrad, "rmsprop": RMSProp,
    "adadelta": AdaDelta, "adam": Adam, "yogi": Yogi,
}
