"""Progress figures (items/s, MFU), metrics reading and the PNG curves."""

from __future__ import annotations

import json

import pytest
import torch

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
