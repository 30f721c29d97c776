"""Two gloo processes (DDP) give the same training as one process at the same global batch."""

from __future__ import annotations

import os

import torch
from gloo import run_ranks
from train_toy_helpers import ToyBatches, toy_model, toy_step

from seqkit.train import Trainer


class UnevenBatches(ToyBatches):
    """Batches of different sizes, so the update must weight micro-batches by their item counts."""

    def epoch(self, e: int, start: int = 0):
        for i, (x, y) in enumerate(super().epoch(e, start)):
            keep = 1 + (start + i) % self.batch_size
            yield x[:keep], y[:keep]


def _train(run_dir, accum_steps: int):
    torch.set_num_threads(1)
    model = toy_model(0, dropout=0.0)  # dropout draws differ per rank; the maths must not
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    trainer = Trainer(model, opt, toy_step, clip_norm=0.5, accum_steps=accum_steps, run_dir=run_dir,
                      log_every=1, progress=False, plot=False)
    trainer.fit(UnevenBatches(n_batches=8), epochs=2)
    return trainer


def _worker(rank: int, world: int, folder: str) -> None:
    run_dir = f"{folder}/ddp"
    trainer = _train(run_dir, accum_steps=1)
    if rank == 0:
        torch.save(trainer.model.state_dict(), os.path.join(run_dir, "final.pt"))


def test_two_gloo_processes_equal_one_process_with_accumulation(tmp_path):
    single = _train(tmp_path / "single", accum_steps=2)
    run_ranks(_worker, tmp_path)
    ddp = torch.load(tmp_path / "ddp" / "final.pt", weights_only=True)
    assert single.step == 8  # 2 epochs x 8 batches / 2 per update
    for name, value in single.model.state_dict().items():
        torch.testing.assert_close(ddp[name], value, rtol=1e-5, atol=1e-6)
    import json

    def losses(d):
        return [r["loss"] for r in map(json.loads, (d / "metrics.jsonl").read_text().splitlines())]

    torch.testing.assert_close(torch.tensor(losses(tmp_path / "ddp")), torch.tensor(losses(tmp_path / "single")))


def test_accumulation_equals_one_big_batch(tmp_path):
    """accum_steps=2 over batches of 3 and 1 rows == one batch of those 4 rows (item-weighted mean)."""
    torch.manual_seed(0)
    x, y = torch.randn(4, 5), torch.randn(4)
    a, b = toy_model(0, 0.0), toy_model(0, 0.0)
    ta = Trainer(a, torch.optim.SGD(a.parameters(), lr=0.1), toy_step, accum_steps=2, progress=False)
    ta.fit([(x[:3], y[:3]), (x[3:], y[3:])], epochs=1)
    tb = Trainer(b, torch.optim.SGD(b.parameters(), lr=0.1), toy_step, progress=False)
    tb.fit([(x, y)], epochs=1)
    for (name, va), vb in zip(a.state_dict().items(), b.state_dict().values()):
        torch.testing.assert_close(va, vb, rtol=1e-6, atol=1e-7, msg=name)
