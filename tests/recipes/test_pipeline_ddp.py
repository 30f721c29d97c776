"""A recipe under torchrun: rank 0 alone prepares and reports, every rank trains, one writer."""

from __future__ import annotations

import json
import os

import torch
from gloo import run_ranks

from seqkit.recipes.pipeline import run_pipeline, stage


@stage("test.prepare", uses=("data",))
def _prepare(run):
    with open(run.dir.parent / "prepare_calls.txt", "a") as fh:  # counts calls across processes
        fh.write(f"{run.rank}\n")
    (run.path("prepared.txt")).write_text("42")
    run.log("prepared")
    return {"value": 42, "files": ["prepared.txt"]}


@stage("test.train", uses=("train",), distributed=True)
def _train(run):
    ones = torch.ones(1)
    torch.distributed.all_reduce(ones)  # hangs unless every rank is here
    seen = {"rank": run.rank, "world": int(ones.item()), "prepared": run.results["test.prepare"]["value"],
            "file": (run.dir / "prepared.txt").read_text()}
    (run.dir.parent / f"train_rank{run.rank}.json").write_text(json.dumps(seen))
    run.log(f"trained on {seen['world']} ranks")
    return seen


@stage("test.report", uses=("train",))
def _report(run):
    with open(run.dir.parent / "report_calls.txt", "a") as fh:
        fh.write(f"{run.rank}\n")
    return {"reported": True}


CONFIG = {"stages": ["test.prepare", "test.train", "test.report"], "data": {"n": 1}, "train": {"k": 2},
          "seed": 0, "device": "cpu"}


def _worker(rank: int, world: int, root: str) -> None:
    run_pipeline(dict(CONFIG), run_dir=os.path.join(root, "run"), echo=False)


def _spawn(root) -> None:
    run_ranks(_worker, root)


def test_rank0_prepares_and_reports_every_rank_trains(tmp_path):
    _spawn(tmp_path)
    assert (tmp_path / "prepare_calls.txt").read_text().split() == ["0"]
    assert (tmp_path / "report_calls.txt").read_text().split() == ["0"]
    for rank in (0, 1):
        seen = json.loads((tmp_path / f"train_rank{rank}.json").read_text())
        assert seen == {"rank": rank, "world": 2, "prepared": 42, "file": "42"}
    log = (tmp_path / "run" / "log.txt").read_text()
    assert log.count("[test.prepare] prepared") == 1 and log.count("trained on 2 ranks") == 1

    # A second run into the same directory: nothing changed, so every rank skips every stage.
    _spawn(tmp_path)
    assert (tmp_path / "prepare_calls.txt").read_text().split() == ["0"]
    assert (tmp_path / "report_calls.txt").read_text().split() == ["0"]
    assert (tmp_path / "run" / "log.txt").read_text().count("unchanged, skipped") == 3
