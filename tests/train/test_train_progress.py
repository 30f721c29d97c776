"""Progress figures (items/s, MFU), plain lines off a terminal, metrics reading and the PNG curves."""

from __future__ import annotations

import io
import json

import pytest
import torch
from train_toy_helpers import ToyBatches, toy_model, toy_step

from seqkit.train import Trainer
from seqkit.train.amp import resolve_amp
from seqkit.train.plots import plot_metrics, read_metrics
from seqkit.train.progress import Progress


def test_progress_rate_and_mfu():
    bar = Progress(10, enabled=False, item_name="tokens", flops_per_item=6e6, peak_flops=1e12)
    shown = bar.update(1, loss=2.0, items=1000, seconds=0.5, lr=1e-3)
    shown = bar.update(1, loss=1.5, items=3000, seconds=1.5, lr=1e-3)
    assert shown["tokens_per_s"] == 2000.0  # 4000 tokens in 2 s
    assert shown["mfu"] == pytest.approx(6e6 * 2000 / 1e12)  # 1.2%
    bar.close()


def test_read_metrics_skips_a_line_cut_by_a_kill_and_plots(tmp_path):
    path = tmp_path / "metrics.jsonl"
    recs = [{"split": "train", "step": s, "loss": 3.0 / s, "lr": 1e-3} for s in range(1, 6)]
    recs.append({"split": "valid", "step": 5, "bleu": 12.5})
    path.write_text("".join(json.dumps(r) + "\n" for r in recs) + '{"split": "train", "ste')
    assert read_metrics(path) == recs
    png = plot_metrics(path, tmp_path / "curves.png")
    assert png.read_bytes()[:4] == b"\x89PNG"
    assert plot_metrics(tmp_path / "missing.jsonl", tmp_path / "x.png") is None


def test_amp_modes():
    from seqkit.errors import SeqkitError

    cpu = torch.device("cpu")
    assert resolve_amp(None, cpu) is None and resolve_amp("none", cpu) is None
    assert resolve_amp("bf16", cpu) == "bf16"
    with pytest.raises(SeqkitError, match="unknown amp mode 'fp8'"):
        resolve_amp("fp8", cpu)


def test_progress_prints_plain_lines_when_not_a_terminal():
    out = io.StringIO()  # a log file or a pipe: no isatty
    bar = Progress(20, item_name="tokens", file=out)
    for step in range(1, 21):
        bar.update(1, loss=1.0 / step, items=100, seconds=0.1, lr=1e-3)
        if step % 10 == 0:
            bar.log(step, loss=1.0 / step, lr=1e-3, rate=1000.0)
    bar.write("valid @ 20: bleu 12.5")
    bar.close()
    assert "\r" not in out.getvalue()
    assert out.getvalue().splitlines() == ["train 10/20: loss 0.1000, lr 1.00e-03, 1,000 tokens/s",
                                           "train 20/20: loss 0.0500, lr 1.00e-03, 1,000 tokens/s",
                                           "valid @ 20: bleu 12.5"]
    silent = io.StringIO()
    off = Progress(20, enabled=False, file=silent)
    off.log(10, loss=1.0, lr=1e-3, rate=1.0)
    off.write("x")
    assert silent.getvalue() == ""


def test_training_output_to_a_log_file_has_no_carriage_returns(capsys):
    model = toy_model()
    trainer = Trainer(model, torch.optim.SGD(model.parameters(), lr=0.05), toy_step, log_every=5,
                      progress=True, plot=False)
    trainer.fit(ToyBatches(n_batches=10), epochs=2, valid_fn=lambda m: {"acc": 1.0}, valid_every=10,
                monitor="acc")
    err = capsys.readouterr().err  # pytest's capture is not a terminal
    assert "\r" not in err
    lines = err.splitlines()
    assert [line.split(":")[0] for line in lines if line.startswith("train")] == [
        "train 5/20", "train 10/20", "train 15/20", "train 20/20"]
    assert "valid @ 10: acc 1" in lines and "valid @ 20: acc 1" in lines


def test_curves_put_loss_first_and_leave_constant_panels_out(tmp_path, monkeypatch):
    import json

    from seqkit.train import plots

    drawn = []
    real = plots.plot_metrics

    metrics = tmp_path / "metrics.jsonl"
    metrics.write_text("".join(json.dumps(r) + "\n" for r in [
        {"split": "train", "step": 1, "loss": 3.0, "lr": 0.001, "tokens_per_s": 10.0, "bleu_weight": 1.0},
        {"split": "train", "step": 2, "loss": 2.0, "lr": 0.001, "tokens_per_s": 12.0, "bleu_weight": 1.0},
        {"split": "valid", "step": 2, "loss": 2.5, "ppl": 12.2, "bleu": 10.0},
        {"split": "valid", "step": 4, "loss": 2.1, "ppl": 8.2, "bleu": 14.0},
    ]))
    import matplotlib.axes

    monkeypatch.setattr(matplotlib.axes.Axes, "set_title", lambda self, t, *a, **k: drawn.append(t))
    assert real(metrics, tmp_path / "curves.png") is not None
    assert drawn == ["loss", "ppl", "bleu", "tokens_per_s"]  # lr and bleu_weight never change: left out


def test_no_mfu_on_a_cpu():
    import torch

    from seqkit.train.progress import estimate_peak_flops

    assert estimate_peak_flops(torch.device("cpu"), "bf16") is None


def test_tensorboard_event_files_beside_the_metrics(tmp_path):
    """The trainer writes TensorBoard events in its run directory: every metric, by split and step."""
    import struct

    import torch
    from tensorboardX.proto import event_pb2

    from seqkit.train import StepOutput, Trainer

    model = torch.nn.Linear(2, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)

    def step(m, batch):
        x, y = batch
        return StepOutput(((m(x) - y) ** 2).mean(), len(x))

    data = [(torch.randn(4, 2), torch.randn(4, 1)) for _ in range(4)]
    Trainer(model, opt, step, run_dir=tmp_path, log_every=1, progress=False, plot=False).fit(
        data, epochs=1, valid_fn=lambda m: {"loss": 1.0}, monitor=None)
    (events,) = tmp_path.glob("events.out.tfevents.*")
    raw, tags = events.read_bytes(), []
    while raw:  # TFRecord: length, crc, data, crc
        (n,) = struct.unpack("<Q", raw[:8])
        event = event_pb2.Event.FromString(raw[12:12 + n])
        tags += [(v.tag, event.step) for v in event.summary.value]
        raw = raw[12 + n + 4:]
    assert [s for t, s in tags if t == "train/loss"] == [1, 2, 3, 4]
    assert ("valid/loss", 4) in tags


def test_validation_after_an_epoch_is_recorded_with_that_epoch(tmp_path):
    import json

    import torch
    from train_toy_helpers import ToyBatches, toy_model, toy_step

    from seqkit.train import Trainer

    model = toy_model()
    trainer = Trainer(model, torch.optim.SGD(model.parameters(), lr=0.01), toy_step, run_dir=tmp_path,
                      progress=False)
    trainer.fit(ToyBatches(n_batches=3), epochs=2, valid_fn=lambda m: {"loss": 1.0}, monitor="loss", mode="min")
    records = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert [(r["step"], r["epoch"]) for r in records if r.get("split") == "valid"] == [(3, 1), (6, 2)]
