"""Learning-rate schedules against hand-computed values."""

from __future__ import annotations

import math

import pytest
import torch

from seqkit.errors import SeqkitError
from seqkit.train import (
    HalveAfterEpoch,
    Noam,
    ReduceOnPlateau,
    WarmupCosine,
    WarmupInverseSqrt,
    build_schedule,
)


def _opt(lr=1.0):
    return torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=lr)


def _lrs(sched, n):
    out = []
    for _ in range(n):
        sched.step()
        out.append(sched.get_last_lr()[0])
    return out


def test_warmup_inverse_sqrt_peaks_at_warmup():
    s = WarmupInverseSqrt(_opt(5e-4), warmup=4)
    lrs = _lrs(s, 16)
    assert lrs[:4] == pytest.approx([1.25e-4, 2.5e-4, 3.75e-4, 5e-4])
    assert lrs[15] == pytest.approx(5e-4 * math.sqrt(4 / 16))  # 2.5e-4 at step 16


def test_noam_matches_the_paper_formula():
    s = Noam(_opt(), d_model=512, warmup=4000)
    lrs = _lrs(s, 4000)
    assert lrs[0] == pytest.approx(512 ** -0.5 * 4000 ** -1.5)
    assert lrs[-1] == pytest.approx(512 ** -0.5 * 4000 ** -0.5)  # peak ~ 7.0e-4
    assert lrs[-1] == pytest.approx(6.987712429686844e-04)


def test_cosine_with_warmup():
    s = WarmupCosine(_opt(1.0), total=10, warmup=2, min_lr=0.1)
    assert s.get_last_lr()[0] == pytest.approx(0.5)  # step 0 of 2 warmup steps
    lrs = _lrs(s, 10)
    assert lrs[1] == pytest.approx(1.0)  # warmup done, cosine at t=0
    assert lrs[5] == pytest.approx(0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * 4 / 8)))  # 0.55
    assert lrs[-1] == pytest.approx(0.1)


def test_halve_after_epoch_zaremba():
    s = HalveAfterEpoch(_opt(1.0), start=4)
    seen = []
    for epoch in range(7):
        seen.append(s.get_last_lr()[0])  # the rate used during epoch + 1
        s.on_epoch_end(epoch)
    assert seen == [1, 1, 1, 1, 0.5, 0.25, 0.125]


def test_reduce_on_plateau_and_state_round_trip():
    s = ReduceOnPlateau(_opt(1.0), mode="max", factor=0.5, patience=1)
    for score in [1.0, 2.0, 1.5, 1.9]:  # two validations without improvement > patience 1
        s.on_validation(score)
    assert s.get_last_lr()[0] == 0.5
    t = ReduceOnPlateau(_opt(1.0), mode="max", factor=0.5, patience=1)
    t.load_state_dict(s.state_dict())
    assert t.get_last_lr()[0] == 0.5 and t.best == 2.0


def test_build_schedule_errors():
    with pytest.raises(SeqkitError, match="unknown learning-rate schedule 'warm'"):
        build_schedule("warm", _opt())
    with pytest.raises(SeqkitError, match="bad options for schedule 'inverse_sqrt'"):
        build_schedule("inverse_sqrt", _opt(), warmpu=3)
    assert isinstance(build_schedule("inverse_sqrt", _opt(), warmup=3), WarmupInverseSqrt)


def test_one_set_of_schedule_settings_serves_every_schedule():
    import types

    from seqkit.train import schedule_from
    from seqkit.train.schedules import HalveAfterEpoch, ReduceOnPlateau, WarmupCosine

    settings = types.SimpleNamespace(schedule="inverse_sqrt", warmup=3, lr_factor=0.25, patience=1,
                                     halve_after=2, milestones=None)
    sched = schedule_from(settings, _opt())
    assert isinstance(sched, WarmupInverseSqrt) and sched.warmup == 3
    settings.schedule = "halve"
    sched = schedule_from(settings, _opt())
    assert isinstance(sched, HalveAfterEpoch) and (sched.start, sched.decay) == (2, 0.25)
    settings.schedule = "plateau"
    sched = schedule_from(settings, _opt(), mode="min")
    assert isinstance(sched, ReduceOnPlateau) and sched.mode == "min" and sched.patience == 1
    settings.schedule = "cosine"
    assert isinstance(schedule_from(settings, _opt(), total=10), WarmupCosine)
    settings.schedule = "nope"
    with pytest.raises(SeqkitError, match="unknown learning-rate schedule 'nope'"):
        schedule_from(settings, _opt())
