"""Training through the shared Trainer, the CLI, and the recipes (the full recipes are slow)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from gloo import run_ranks

from seqkit.cli import main
from seqkit.vision.data import load_images
from seqkit.vision.models import build_model
from seqkit.vision.training import classify_step, evaluate, init_cnn, train_classifier


def test_classify_step_contract():
    model = build_model("lenet-relu", resolution=12)
    X, y = torch.randn(5, 1, 12, 12), torch.tensor([0, 1, 2, 3, 4])
    out = classify_step(model, (X, y))
    assert out.n_items == 5 and out.loss.requires_grad
    torch.testing.assert_close(out.loss, torch.nn.functional.cross_entropy(model(X), y))
    assert 0.0 <= float(out.metrics["acc"]) <= 1.0


def test_short_training_run_learns_and_writes_curves(tmp_path):
    data = load_images("digits", resolution=12)
    torch.manual_seed(0)
    model = init_cnn(build_model("lenet-relu", resolution=12))
    before = evaluate(model, data.X_test, data.y_test)["acc"]
    result = train_classifier(model, data, epochs=3, batch_size=64, optimizer="adam", lr=0.01, run_dir=tmp_path)
    assert result["test_acc"] > 0.85 > before
    assert result["examples_per_s"] > 0 and result["epochs"] == 3
    records = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert {r["split"] for r in records} == {"train", "valid"}
    assert any("images_per_s" in r and "acc" in r for r in records if r["split"] == "train")
    assert (tmp_path / "curves.png").read_bytes()[:4] == b"\x89PNG"


def _split_worker(rank: int, world: int, folder: str) -> None:

    data = load_images("digits", resolution=12)
    torch.manual_seed(0)
    model = init_cnn(build_model("lenet-relu", resolution=12))
    result = evaluate(model, data.X_test, data.y_test, batch_size=128, split_ranks=True)
    (Path(folder) / f"rank{rank}.json").write_text(json.dumps(result))


def test_evaluate_split_over_two_ranks_equals_one_process(tmp_path):
    """Each rank scores every second batch of 128 test images; the sums over the ranks give one
    process's accuracy exactly and its loss up to float64 summation order."""

    run_ranks(_split_worker, tmp_path)
    data = load_images("digits", resolution=12)
    assert len(data.X_test) > 2 * 128  # three batches or more: both ranks score some
    torch.manual_seed(0)
    model = init_cnn(build_model("lenet-relu", resolution=12))
    one = evaluate(model, data.X_test, data.y_test, batch_size=128)
    for rank in (0, 1):
        got = json.loads((tmp_path / f"rank{rank}.json").read_text())
        assert got["acc"] == one["acc"] and got["loss"] == pytest.approx(one["loss"], rel=1e-12)


def test_resume_equals_an_uninterrupted_run(tmp_path):
    data = load_images("digits", resolution=12)
    data.X_train, data.y_train = data.X_train[:256], data.y_train[:256]
    finals = []
    for name, stops in (("straight", [3]), ("resumed", [2, 3])):
        torch.manual_seed(0)
        model = init_cnn(build_model("lenet-relu", resolution=12))
        for epochs in stops:  # a second call resumes from the checkpoint of the first
            result = train_classifier(model, data, epochs=epochs, optimizer="momentum", lr=0.05,
                                      run_dir=tmp_path / name, resume=epochs != stops[0])
        finals.append((result["test_loss"], [p.detach().clone() for p in model.parameters()]))
    assert finals[0][0] == finals[1][0]
    for a, b in zip(finals[0][1], finals[1][1]):
        assert torch.equal(a, b)


def test_cli_summary_lenet_total(capsys):
    assert main(["vision", "summary", "lenet", "--input", "1x28x28"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[-1].split()[0] == "total" and out[-1].split()[-1] == "61,706"
    assert main(["vision", "summary", "lenet", "--input", "1x8x8"]) == 2  # too small for LeNet
    assert "resize" in capsys.readouterr().err


def test_cli_bad_shape_is_one_line(capsys):
    assert main(["vision", "summary", "lenet", "--input", "axb"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "1x28x28" in err[0]


def test_cli_trajectory(tmp_path, capsys):
    out = tmp_path / "t.png"
    assert main(["vision", "trajectory", "sgd", "--lr", "0.4", "--out", str(out)]) == 0
    assert "x1: -0.943467" in capsys.readouterr().out
    assert out.is_file()
    assert main(["vision", "trajectory", "momentum", "--lr", "0.6", "-o", "beta=0.5", "--out", str(out)]) == 0
    assert "x1: 0.007188, x2: 0.002553" in capsys.readouterr().out  # d2l 12.6's printout
    assert main(["vision", "trajectory", "momentum", "--lr", "0.6", "-o", "beta"]) == 2


def test_recipe_runs_end_to_end_quickly(tmp_path, capsys):
    from seqkit.recipes.config import load_recipe
    from seqkit.recipes.pipeline import run_pipeline

    _, cfg = load_recipe("vision_lenet", ["model.name=lenet-relu", "data.resolution=12", "train.epochs=1",
                                          f"run_dir={tmp_path}"])
    run = run_pipeline(cfg, "vision_lenet")
    assert 0.0 <= run.results["vision.evaluate"]["test_acc"] <= 1.0
    assert "test acc" in capsys.readouterr().out
    assert (tmp_path / "model" / "model.safetensors").is_file() and (tmp_path / "train" / "curves.png").is_file()


@pytest.mark.slow
@pytest.mark.parametrize("recipe,target", [("vision_lenet", 0.97), ("vision_resnet", 0.98)])
def test_recipes_reach_their_accuracy(tmp_path, recipe, target):
    from seqkit.recipes.config import load_recipe
    from seqkit.recipes.pipeline import run_pipeline

    _, cfg = load_recipe(recipe, [f"run_dir={tmp_path}"])
    run = run_pipeline(cfg, recipe)
    assert run.results["vision.evaluate"]["test_acc"] >= target
