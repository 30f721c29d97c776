"""Resume keeps the run's records exact: metrics.jsonl, best-N, validations and throughput totals
equal an uninterrupted run's wherever it was killed, and resuming a finished run adds nothing."""

from __future__ import annotations

import json

import pytest
import torch
from train_toy_helpers import ToyBatches, toy_model, toy_step

from seqkit.train import Trainer, load_state, save_state


class Kill(RuntimeError):
    pass


def _valid(model):
    x, y = next(ToyBatches(seed=7).epoch(0))
    return {"neg_mse": -float(((model(x).squeeze(-1) - y) ** 2).mean())}


def _fit(run_dir, kill=None, resume=False, valid_calls=None, **fit_kwargs):
    """2 epochs of 7 updates, at most 12: checkpoints every 4 updates and at the epoch end, a log line
    every 3 (so log intervals span checkpoints), validation at the epoch end and at the end.
    ``kill(where, at)`` may raise: in an update, in a validation, or after a record was written."""
    model = toy_model(0)
    opt = torch.optim.Adam(model.parameters(), lr=0.05)
    kill = kill or (lambda where, at: None)
    valid_calls = [] if valid_calls is None else valid_calls

    def step_fn(m, batch):
        kill("update", trainer.step + 1)
        return toy_step(m, batch)

    def valid_fn(m):
        valid_calls.append(trainer.step)
        kill("valid", trainer.step)
        return _valid(m)

    trainer = Trainer(model, opt, step_fn, clip_norm=1.0, run_dir=run_dir, log_every=3,
                      ckpt_every_steps=4, progress=False, plot=False,
                      log_fn=lambda r: kill(f"{r['split']} record", r["step"]))
    torch.manual_seed(123)
    kwargs = {"epochs": 2, "max_steps": 12, "valid_fn": valid_fn, "monitor": "neg_mse", **fit_kwargs}
    return trainer.fit(ToyBatches(n_batches=7), resume=resume, **kwargs)


def _records(run_dir):
    """metrics.jsonl without the wall-clock figures (rates, MFU, times)."""
    lines = (run_dir / "metrics.jsonl").read_text().splitlines()
    return [{k: v for k, v in json.loads(line).items() if not k.endswith("_per_s") and k not in ("mfu", "time")}
            for line in lines]


def _killer(where, at):
    def kill(w, a):
        if (w, a) == (where, at):
            raise Kill(f"killed: {w} at {a}")
    return kill


@pytest.mark.parametrize("where,at", [
    ("update", 10),        # records of update 9 logged after the checkpoint at 8
    ("valid", 7),          # the epoch-end validation dies; update 6 logged after the checkpoint at 4
    ("valid record", 7),   # the epoch-end validation was logged, its checkpoint not written
    ("train record", 12),  # update 12 logged, its checkpoint not written
    ("valid record", 12),  # the final validation was logged after the checkpoint at 12, then the kill
])
def test_killed_and_resumed_run_has_the_uninterrupted_records(tmp_path, where, at):
    full = _fit(tmp_path / "full")
    with pytest.raises(Kill):
        _fit(tmp_path / "cut", kill=_killer(where, at))
    resumed = _fit(tmp_path / "cut", resume=True)
    assert _records(tmp_path / "cut") == _records(tmp_path / "full")  # record by record, exact floats
    assert [r["step"] for r in _records(tmp_path / "full") if r["split"] == "valid"] == [7, 12]
    assert resumed.items == full.items == 12 * 4  # item totals summed over both sessions
    assert resumed.steps == 12 and resumed.last_valid == full.last_valid
    for name in ("best.json", "last.json"):
        assert (tmp_path / "cut/checkpoints" / name).read_text() == (tmp_path / "full/checkpoints" / name).read_text()


def test_resuming_a_finished_run_does_not_validate_again(tmp_path):
    first = _fit(tmp_path, valid_every=4)  # validations at 4, 8, 12; the last checkpoint is final
    calls = []
    again = _fit(tmp_path, resume=True, valid_every=4, valid_calls=calls)
    assert calls == [] and again.steps == 12 and again.stopped == "max_steps"
    records = [(r["split"], r["step"]) for r in _records(tmp_path)]
    assert len(records) == len(set(records)) and ("valid", 12) in records
    best = json.loads((tmp_path / "checkpoints/best.json").read_text())
    assert len({r["step"] for r in best}) == len(best) == 3
    assert all((tmp_path / "checkpoints" / r["file"]).is_file() for r in best)
    assert sorted(p.name for p in (tmp_path / "checkpoints").glob("best-step-*")) == sorted(r["file"] for r in best)
    # The summary of the resumed run is the run's: same items, a real rate, the last validation.
    assert again.items == first.items == 48 and again.items_per_s > 0
    assert again.train_seconds == first.train_seconds
    assert again.last_valid == first.last_valid and again.best_step == first.best_step


def test_resuming_a_run_stopped_early_stays_stopped(tmp_path):
    scores = iter([1.0, 0.5, 0.7])

    def fit(resume, valid_fn):
        model = toy_model(0)
        t = Trainer(model, torch.optim.SGD(model.parameters(), lr=0.0), toy_step, run_dir=tmp_path,
                    progress=False, plot=False)
        return t.fit(ToyBatches(n_batches=2), epochs=10, valid_fn=valid_fn, monitor="acc",
                     early_stopping=2, resume=resume)

    assert fit(False, lambda m: {"acc": next(scores)}).steps == 6
    res = fit(True, lambda m: pytest.fail("validated again"))
    assert res.stopped == "early_stopping" and res.steps == 6 and res.best_step == 2


def test_a_checkpoint_written_before_the_new_state_keys_still_resumes(tmp_path):
    _fit(tmp_path, valid_every=4)
    last = json.loads((tmp_path / "checkpoints/last.json").read_text())
    state_file = tmp_path / "checkpoints" / last["state"]
    state = load_state(state_file)
    for key in ("items", "train_seconds", "window", "metrics_bytes", "last_valid", "last_valid_step"):
        del state[key]
    save_state(state_file, state)
    calls = []
    res = _fit(tmp_path, resume=True, valid_every=4, valid_calls=calls)
    # Without the last validation's step it validates again, but the best-N list stays sound.
    assert calls == [12] and res.steps == 12
    best = json.loads((tmp_path / "checkpoints/best.json").read_text())
    assert len({r["step"] for r in best}) == len(best) == 3
    assert all((tmp_path / "checkpoints" / r["file"]).is_file() for r in best)
