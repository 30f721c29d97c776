"""d2l's factor and multi-step schedules (in seqkit.train.schedules) against torch's lr_scheduler."""

from __future__ import annotations

import pytest
import torch

from seqkit.train.schedules import Factor, MultiStep, WarmupCosine, build_schedule


def _lrs(make_ours, make_torch, epochs: int = 12) -> tuple[list[float], list[float]]:
    p = [torch.nn.Parameter(torch.zeros(1))]
    ours_opt, torch_opt = torch.optim.SGD(p, lr=0.5), torch.optim.SGD(p, lr=0.5)
    ours, theirs = make_ours(ours_opt), make_torch(torch_opt)
    a, b = [], []
    for e in range(epochs):
        a.append(ours_opt.param_groups[0]["lr"])
        b.append(torch_opt.param_groups[0]["lr"])
        ours.on_epoch_end(e)
        torch_opt.step()
        theirs.step()
    return a, b


def test_factor_equals_exponential_lr():
    a, b = _lrs(lambda o: Factor(o, factor=0.9), lambda o: torch.optim.lr_scheduler.ExponentialLR(o, gamma=0.9))
    assert a == pytest.approx(b, abs=1e-12)
    assert a[:3] == pytest.approx([0.5, 0.45, 0.405])


def test_factor_floor():
    p = [torch.nn.Parameter(torch.zeros(1))]
    opt = torch.optim.SGD(p, lr=1.0)
    sched = Factor(opt, factor=0.1, min_lr=0.05)
    for e in range(3):
        sched.on_epoch_end(e)
    assert opt.param_groups[0]["lr"] == pytest.approx(0.05)


def test_multistep_equals_multistep_lr():
    a, b = _lrs(lambda o: MultiStep(o, milestones=(3, 7), factor=0.5),
                lambda o: torch.optim.lr_scheduler.MultiStepLR(o, milestones=[3, 7], gamma=0.5))
    assert a == pytest.approx(b, abs=1e-12)
    assert a[2:4] == [0.5, 0.25] and a[7] == 0.125


def test_cosine_with_warmup_by_name():
    p = [torch.nn.Parameter(torch.zeros(1))]
    opt = torch.optim.SGD(p, lr=1.0)
    sched = build_schedule("cosine", opt, total=20, warmup=5)
    assert isinstance(sched, WarmupCosine)
    lrs = []
    for _ in range(20):
        lrs.append(opt.param_groups[0]["lr"])
        sched.step()
    assert lrs[0] == pytest.approx(0.2) and lrs[4] == pytest.approx(1.0)
    assert lrs[12] == pytest.approx(0.5 * (1 + torch.cos(torch.tensor(torch.pi * 7 / 15)).item()))
    assert isinstance(build_schedule("factor", opt, factor=0.5), Factor)
    assert isinstance(build_schedule("multistep", opt, milestones=[2]), MultiStep)
