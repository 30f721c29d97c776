"""Checkpoint files: atomic pairs, best-N bookkeeping, one clear line for corrupt or truncated files."""

from __future__ import annotations

import json

import pytest
import torch
from train_toy_helpers import ToyBatches, toy_model, toy_step

from seqkit.errors import SeqkitError
from seqkit.train import CheckpointManager, Trainer, load_state, load_weights, save_state, save_weights


def test_weights_round_trip_with_tied_parameters(tmp_path):
    emb = torch.nn.Embedding(5, 3)
    proj = torch.nn.Linear(3, 5, bias=False)
    proj.weight = emb.weight  # tied, as in the Transformer
    model = torch.nn.ModuleDict({"emb": emb, "proj": proj})
    save_weights(tmp_path / "w.safetensors", model.state_dict())
    loaded = load_weights(tmp_path / "w.safetensors")
    assert torch.equal(loaded["emb.weight"], emb.weight) and torch.equal(loaded["proj.weight"], emb.weight)


def test_truncated_weights_give_one_clear_line(tmp_path):
    path = tmp_path / "w.safetensors"
    save_weights(path, {"a": torch.arange(100.0)})
    path.write_bytes(path.read_bytes()[:-50])
    with pytest.raises(SeqkitError) as err:
        load_weights(path)
    message = str(err.value)
    assert message.startswith(f"{path}: corrupt or truncated weights file") and "\n" not in message
    assert "fix: delete it" in message


def test_garbage_state_gives_one_clear_line(tmp_path):
    path = tmp_path / "s.pt"
    save_state(path, {"step": 3, "x": torch.ones(2)})
    assert load_state(path)["step"] == 3
    path.write_bytes(path.read_bytes()[:40])
    with pytest.raises(SeqkitError, match="corrupt or truncated trainer state") as err:
        load_state(path)
    assert "\n" not in str(err.value)
    path.write_bytes(b"not a checkpoint at all")
    with pytest.raises(SeqkitError, match="corrupt or truncated trainer state"):
        load_state(path)


def test_resume_from_corrupt_checkpoint_names_the_file(tmp_path):
    model = toy_model()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    Trainer(model, opt, toy_step, run_dir=tmp_path, progress=False, plot=False).fit(ToyBatches(n_batches=2))
    last = json.loads((tmp_path / "checkpoints/last.json").read_text())
    weights = tmp_path / "checkpoints" / last["weights"]
    weights.write_bytes(weights.read_bytes()[:100])
    t = Trainer(toy_model(), torch.optim.SGD(model.parameters(), lr=0.1), toy_step, run_dir=tmp_path,
                progress=False)
    with pytest.raises(SeqkitError, match=r"step-00000002\.safetensors: corrupt or truncated"):
        t.fit(ToyBatches(n_batches=2), epochs=2, resume=True)


def test_resume_into_a_different_model_is_a_clear_error(tmp_path):
    model = toy_model()
    Trainer(model, torch.optim.SGD(model.parameters(), lr=0.1), toy_step, run_dir=tmp_path,
            progress=False, plot=False).fit(ToyBatches(n_batches=2))
    other = torch.nn.Sequential(torch.nn.Linear(5, 8), torch.nn.Tanh(), torch.nn.Dropout(), torch.nn.Linear(8, 1))
    t = Trainer(other, torch.optim.SGD(other.parameters(), lr=0.1), toy_step, run_dir=tmp_path, progress=False)
    with pytest.raises(SeqkitError, match="checkpoint does not fit this model"):
        t.fit(ToyBatches(n_batches=2), epochs=2, resume=True)


def test_best_n_keeps_the_top_scores_and_old_last_pairs_are_removed(tmp_path):
    mgr = CheckpointManager(tmp_path, keep_best=2, mode="max")
    w = {"a": torch.zeros(1)}
    results = [mgr.update_best(step, score, {"a": torch.full((1,), float(step))})
               for step, score in [(1, 10.0), (2, 12.0), (3, 11.0), (4, 9.0), (5, 12.0)]]
    assert results == [True, True, False, False, False]  # a tie does not displace the earlier best
    assert [(r["step"], r["score"]) for r in mgr.best] == [(2, 12.0), (5, 12.0)]
    assert sorted(p.name for p in tmp_path.glob("best-step-*")) == ["best-step-00000002.safetensors",
                                                                   "best-step-00000005.safetensors"]
    assert load_weights(tmp_path / "best.safetensors")["a"].item() == 2.0
    mgr.save_last(7, w, {"step": 7})
    mgr.save_last(9, w, {"step": 9})
    assert sorted(p.name for p in tmp_path.glob("step-*")) == ["step-00000009.safetensors",
                                                              "step-00000009.state.pt"]
    low = CheckpointManager(tmp_path / "min", keep_best=1, mode="min")
    assert low.update_best(1, 5.0, w) and low.update_best(2, 4.0, w) and not low.update_best(3, 4.5, w)


def test_early_stopping_and_run_dir_outputs(tmp_path):
    model = toy_model()
    opt = torch.optim.SGD(model.parameters(), lr=0.0)  # lr 0: the score never improves
    scores = iter([1.0, 0.5, 0.7, 0.9, 2.0])
    t = Trainer(model, opt, toy_step, run_dir=tmp_path, progress=False, log_every=1)
    res = t.fit(ToyBatches(n_batches=2), epochs=10, valid_fn=lambda m: {"acc": next(scores)},
                monitor="acc", early_stopping=3)
    assert res.stopped == "early_stopping" and res.epochs_done == 4
    assert res.best_score == 1.0 and res.best_step == 2
    records = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert [r["acc"] for r in records if r["split"] == "valid"] == [1.0, 0.5, 0.7, 0.9]
    assert (tmp_path / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_missing_monitor_key_is_a_clear_error(tmp_path):
    model = toy_model()
    t = Trainer(model, torch.optim.SGD(model.parameters(), lr=0.1), toy_step, progress=False)
    with pytest.raises(SeqkitError, match="validation returned no 'bleu'"):
        t.fit(ToyBatches(n_batches=1), valid_fn=lambda m: {"loss": 1.0})


def test_best_n_never_lists_a_step_twice_nor_a_missing_file(tmp_path):
    mgr = CheckpointManager(tmp_path, keep_best=2, mode="max")
    w = {s: {"a": torch.full((1,), float(s))} for s in (1, 2, 3)}
    assert mgr.update_best(1, 10.0, w[1]) and mgr.update_best(2, 12.0, w[2])
    # A second score for a listed step (a resumed run validating its last step again) changes nothing,
    # even when it would rank first: no duplicate entry, no best file deleted.
    assert not mgr.update_best(2, 20.0, w[1]) and not mgr.update_best(1, 11.0, w[1])
    assert [(r["step"], r["score"]) for r in mgr.best] == [(2, 12.0), (1, 10.0)]
    assert json.loads((tmp_path / "best.json").read_text()) == mgr.best
    assert all((tmp_path / r["file"]).is_file() for r in mgr.best)
    assert load_weights(tmp_path / "best-step-00000002.safetensors")["a"].item() == 2.0
    # A run killed after a later validation pushed step 1 out (its file deleted) but before the next
    # checkpoint: the checkpoint's list still names it; loading it drops the entry.
    mgr.save_last(2, w[2], {"step": 2})
    assert mgr.update_best(3, 13.0, w[3]) and not (tmp_path / "best-step-00000001.safetensors").exists()
    resumed = CheckpointManager(tmp_path, keep_best=2, mode="max")
    resumed.load_last()
    assert [r["step"] for r in resumed.best] == [2]
    assert [r["step"] for r in json.loads((tmp_path / "best.json").read_text())] == [2]
    assert sorted(p.name for p in tmp_path.glob("best-step-*")) == ["best-step-00000002.safetensors"]
    assert load_weights(tmp_path / "best.safetensors")["a"].item() == 2.0


def test_averaged_weights_are_the_mean(tmp_path, capsys):
    import torch

    from seqkit.cli import main
    from seqkit.errors import SeqkitError
    from seqkit.train import average_weights, load_weights, save_weights

    a = {"w": torch.tensor([[1.0, 2.0], [3.0, 4.0]]), "n": torch.tensor([1, 3])}
    b = {"w": torch.tensor([[3.0, 0.0], [1.0, 8.0]]), "n": torch.tensor([3, 5])}
    save_weights(tmp_path / "a.safetensors", a)
    save_weights(tmp_path / "b.safetensors", b)
    mean = average_weights([tmp_path / "a.safetensors", tmp_path / "b.safetensors"])
    assert torch.equal(mean["w"], torch.tensor([[2.0, 1.0], [2.0, 6.0]]))
    assert torch.equal(mean["n"], torch.tensor([2, 4])) and mean["n"].dtype == torch.int64
    out = tmp_path / "avg.safetensors"
    assert main(["average", str(tmp_path / "a.safetensors"), str(tmp_path / "b.safetensors"), "-o", str(out)]) == 0
    assert torch.equal(load_weights(out)["w"], mean["w"])
    save_weights(tmp_path / "c.safetensors", {"w": torch.zeros(3)})
    with pytest.raises(SeqkitError, match="not of the same model"):
        average_weights([tmp_path / "a.safetensors", tmp_path / "c.safetensors"])
