"""The pipeline runner: run directories, fingerprints, skipping unchanged stages, force."""

from __future__ import annotations

import json

import pytest
from omegaconf import OmegaConf

from seqkit.errors import SeqkitError
from seqkit.recipes.pipeline import Run, get_stage, run_pipeline, stage

CALLS: list[str] = []


@stage("test.write", uses=("data",))
def _write(run: Run) -> dict:
    """Write the configured text, upper-cased, to the run directory."""
    CALLS.append("write")
    src = run.input(run.cfg.data.path)
    run.path("out.txt").write_text(src.read_text().upper())
    run.log_metrics({"chars": len(src.read_text())})
    return {"files": ["out.txt"], "chars": len(src.read_text())}


@stage("test.count", uses=("count",))
def _count(run: Run) -> dict:
    """Count words of the previous stage's output."""
    CALLS.append("count")
    words = run.path("out.txt").read_text().split()
    return {"words": len(words) * run.cfg.count.factor, "chars_seen": run.results["test.write"]["chars"]}


def _cfg(tmp_path, text="a b c", factor=1, force=False):
    src = tmp_path / "in.txt"
    src.write_text(text)
    return OmegaConf.create({"stages": ["test.write", "test.count"], "seed": 0, "force": force,
                             "data": {"path": str(src)}, "count": {"factor": factor}})


def test_run_dir_contents_and_results(tmp_path):
    CALLS.clear()
    run = run_pipeline(_cfg(tmp_path), "demo", run_dir=tmp_path / "run", echo=False)
    assert run.results["test.count"] == {"words": 3, "chars_seen": 5}
    for name in ("config.yaml", "versions.json", "log.txt", "metrics.jsonl", "stages/test.write.json"):
        assert (tmp_path / "run" / name).exists(), name
    record = json.loads((tmp_path / "run" / "metrics.jsonl").read_text().splitlines()[0])
    assert record["stage"] == "test.write" and record["chars"] == 5
    assert "torch" in json.loads((tmp_path / "run" / "versions.json").read_text())


def test_unchanged_stages_are_skipped_changed_ones_rerun(tmp_path):
    CALLS.clear()
    run_pipeline(_cfg(tmp_path), "demo", run_dir=tmp_path / "run", echo=False)
    run = run_pipeline(_cfg(tmp_path), "demo", run_dir=tmp_path / "run", echo=False)
    assert CALLS == ["write", "count"]  # second run skipped both
    assert run.results["test.count"]["words"] == 3
    run_pipeline(_cfg(tmp_path, factor=2), "demo", run_dir=tmp_path / "run", echo=False)
    assert CALLS == ["write", "count", "count"]  # only the stage whose section changed
    run_pipeline(_cfg(tmp_path, text="a b c d", factor=2), "demo", run_dir=tmp_path / "run", echo=False)
    assert CALLS[-2:] == ["write", "count"]  # input file changed: it and everything after rerun
    run_pipeline(_cfg(tmp_path, text="a b c d", factor=2, force=True), "demo", run_dir=tmp_path / "run",
                 echo=False)
    assert CALLS[-2:] == ["write", "count"]


def test_missing_output_file_forces_rerun(tmp_path):
    CALLS.clear()
    run_pipeline(_cfg(tmp_path), "demo", run_dir=tmp_path / "run", echo=False)
    (tmp_path / "run" / "out.txt").unlink()
    run_pipeline(_cfg(tmp_path), "demo", run_dir=tmp_path / "run", echo=False)
    # the regenerated file is identical, so the stage after it stays valid
    assert CALLS == ["write", "count", "write"]
    assert (tmp_path / "run" / "out.txt").read_text() == "A B C"


def test_unknown_stage():
    with pytest.raises(SeqkitError, match="unknown stage 'nope.nope'"):
        get_stage("nope.nope")
