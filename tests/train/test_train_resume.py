"""Exact resume: a run killed mid-epoch and resumed gives the same losses and weights, bit for bit."""

from __future__ import annotations

import json

import pytest
import torch
from train_toy_helpers import ToyBatches, toy_model, toy_step

from seqkit.train import StepOutput, Trainer, WarmupInverseSqrt, load_weights


def _losses(run_dir):
    lines = (run_dir / "metrics.jsonl").read_text().splitlines()
    return {r["step"]: r["loss"] for r in map(json.loads, lines) if r["split"] == "train"}


def _trainer(run_dir, step_fn=toy_step, seed=0):
    model = toy_model(seed)
    opt = torch.optim.Adam(model.parameters(), lr=0.05)
    return Trainer(model, opt, step_fn, scheduler=WarmupInverseSqrt(opt, warmup=3), clip_norm=1.0,
                   run_dir=run_dir, log_every=1, ckpt_every_steps=4, progress=False, plot=False)


def _valid(model):
    b = ToyBatches(seed=7)
    x, y = next(b.epoch(0))
    return {"neg_mse": -float(((model(x).squeeze(-1) - y) ** 2).mean())}


class Crash(RuntimeError):
    pass


def test_resume_equals_uninterrupted_run_bitwise(tmp_path):
    batches = ToyBatches(n_batches=7)
    full = _trainer(tmp_path / "full")
    torch.manual_seed(123)
    res = full.fit(batches, epochs=3, valid_fn=_valid, valid_every=5, monitor="neg_mse")
    assert res.steps == 21 and res.stopped == "epochs"

    # The same run, killed by an exception during update 11 (last checkpoint: update 10).
    calls = {"n": 0}

    def crashing_step(model, batch):
        calls["n"] += 1
        if calls["n"] == 11:
            raise Crash("killed")
        return toy_step(model, batch)

    cut = _trainer(tmp_path / "cut", crashing_step)
    torch.manual_seed(123)
    with pytest.raises(Crash):
        cut.fit(batches, epochs=3, valid_fn=_valid, valid_every=5,
                                                      monitor="neg_mse")
    assert json.loads((tmp_path / "cut/checkpoints/last.json").read_text())["step"] == 10
    torch.manual_seed(999)  # a different RNG state: resume must restore the saved one
    resumed = _trainer(tmp_path / "cut", seed=5)  # different init: resume must load the weights
    res2 = resumed.fit(batches, epochs=3, valid_fn=_valid, valid_every=5, monitor="neg_mse", resume=True)
    assert res2.steps == 21
    assert _losses(tmp_path / "full") == _losses(tmp_path / "cut")  # exact float equality, steps 1..21
    for k, v in full.model.state_dict().items():
        assert torch.equal(v, resumed.model.state_dict()[k]), k
    best_full = json.loads((tmp_path / "full/checkpoints/best.json").read_text())
    best_cut = json.loads((tmp_path / "cut/checkpoints/best.json").read_text())
    assert best_full == best_cut and len(best_full) == 3  # validations at 5, 10, 15, 20, and 21
    w = load_weights(tmp_path / "cut/checkpoints/best.safetensors")
    assert torch.equal(w["3.weight"], load_weights(tmp_path / "full/checkpoints/best.safetensors")["3.weight"])


def test_stateful_step_fn_state_is_checkpointed(tmp_path):
    class Counting:
        def __init__(self):
            self.seen, self.epochs = 0, []

        def __call__(self, model, batch):
            self.seen += 1
            return toy_step(model, batch)

        def on_epoch_start(self, epoch):
            self.epochs.append(epoch)

        def state_dict(self):
            return {"seen": self.seen}

        def load_state_dict(self, state):
            self.seen = state["seen"]

    step = Counting()
    _trainer(tmp_path, step).fit(ToyBatches(n_batches=3), epochs=1)
    assert step.epochs == [0] and step.seen == 3
    step2 = Counting()
    _trainer(tmp_path, step2).fit(ToyBatches(n_batches=3), epochs=2, resume=True)
    assert step2.seen == 6 and step2.epochs == [1]  # epoch 0 not restarted


def test_max_steps_then_resume_continues(tmp_path):
    batches = ToyBatches(n_batches=5)
    _trainer(tmp_path / "a").fit(batches, epochs=2)
    t = _trainer(tmp_path / "b")
    assert t.fit(batches, epochs=2, max_steps=3).stopped == "max_steps"
    _trainer(tmp_path / "b").fit(batches, epochs=2, resume=True)
    assert _losses(tmp_path / "a") == _losses(tmp_path / "b")


def test_nan_loss_is_a_clear_error(tmp_path):
    def nan_step(model, batch):
        out = toy_step(model, batch)
        return StepOutput(out.loss * float("nan"), out.n_items)

    from seqkit.errors import SeqkitError

    with pytest.raises(SeqkitError, match="loss became nan at update 1"):
        _trainer(tmp_path, nan_step).fit(ToyBatches(), epochs=1)


def test_nan_found_late_still_names_its_update_and_never_reaches_a_checkpoint(tmp_path):
    """The trainer reads losses back in bulk (no GPU wait per update); a non-finite loss is still
    reported at its own update, and the checkpoint after it is not written."""
    calls = {"n": 0}

    def nan_at_5(model, batch):
        calls["n"] += 1
        out = toy_step(model, batch)
        return StepOutput(out.loss * float("nan"), out.n_items) if calls["n"] == 5 else out

    model = toy_model(0)
    opt = torch.optim.SGD(model.parameters(), lr=0.05)
    trainer = Trainer(model, opt, nan_at_5, run_dir=tmp_path, log_every=1000, ckpt_every_steps=4,
                      progress=False, plot=False)
    from seqkit.errors import SeqkitError

    with pytest.raises(SeqkitError, match="loss became nan at update 5"):
        trainer.fit(ToyBatches(n_batches=8), epochs=1)
    assert json.loads((tmp_path / "checkpoints/last.json").read_text())["step"] == 4
    weights = load_weights(tmp_path / "checkpoints/step-00000004.safetensors")
    assert all(torch.isfinite(w).all() for w in weights.values())


def test_updates_read_nothing_back_from_the_device_one_by_one(monkeypatch):
    """Loss, metrics and gradient norm stay tensors until a log line is due: on a GPU a read-back per
    update would make the host wait for the device every step."""
    reads = {"item": 0, "tolist": 0}
    item, tolist = torch.Tensor.item, torch.Tensor.tolist

    def counted(name, fn):
        def wrapper(self, *args, **kwargs):
            reads[name] += 1
            return fn(self, *args, **kwargs)
        return wrapper

    monkeypatch.setattr(torch.Tensor, "item", counted("item", item))
    monkeypatch.setattr(torch.Tensor, "tolist", counted("tolist", tolist))
    model = toy_model(0)
    trainer = Trainer(model, torch.optim.SGD(model.parameters(), lr=0.05), toy_step, clip_norm=1.0,
                      log_every=10, progress=False, plot=False)
    records = []
    trainer.log_fn = records.append
    trainer.fit(ToyBatches(n_batches=20), epochs=1)
    assert trainer.step == 20 and [r["step"] for r in records] == [10, 20]
    # two log lines: one bulk read each (loss + one metric), plus the grad norm of the logged update
    assert reads["tolist"] <= 4 and reads["item"] <= 2, reads
