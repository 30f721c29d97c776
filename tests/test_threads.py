"""The one place that picks CPU threads: an explicit count wins, then SEQKIT_THREADS, then free cores."""

from __future__ import annotations

import pytest

from seqkit import threads as th
from seqkit.cli import main
from seqkit.errors import SeqkitError


@pytest.fixture(autouse=True)
def _no_env(monkeypatch):
    monkeypatch.delenv("SEQKIT_THREADS", raising=False)


def test_explicit_count_wins(monkeypatch):
    monkeypatch.setenv("SEQKIT_THREADS", "3")
    assert th.choose_threads(2) == th.ThreadChoice(2, "requested", th.usable_cores())
    assert th.choose_threads().threads == 3 and th.choose_threads().reason == "SEQKIT_THREADS"
    with pytest.raises(SeqkitError, match="threads must be >= 1"):
        th.choose_threads(0)
    monkeypatch.setenv("SEQKIT_THREADS", "two")
    with pytest.raises(SeqkitError, match="SEQKIT_THREADS='two' is not a positive integer"):
        th.choose_threads()


@pytest.mark.parametrize("cores, running, expected", [(2, [1], 2), (2, [2], 1), (2, [3, 2, 3], 1), (4, [2, 5], 3),
                                                      (2, [9], 1)])
def test_free_cores_are_the_usable_ones_minus_the_other_runnable_tasks(monkeypatch, tmp_path, cores, running,
                                                                      expected):
    readings = iter(running * 5)
    real_open = open

    def fake_open(path, *a, **k):
        if path == "/proc/loadavg":
            path = tmp_path / "loadavg"
            path.write_text(f"0.50 0.40 0.30 {next(readings)}/300 12345\n")
        return real_open(path, *a, **k)

    monkeypatch.setattr("builtins.open", fake_open)
    monkeypatch.setattr(th, "usable_cores", lambda: cores)
    monkeypatch.setattr(th.time, "sleep", lambda s: None)
    choice = th.choose_threads()
    # the reading counts this process too; the least of the samples is taken
    assert choice.threads == expected and choice.busy == max(0, min(running) - 1)
    assert str(choice) == f"{expected} thread(s): {cores} cores, {choice.busy} busy with other work"


def test_use_threads_sets_torch(monkeypatch):
    import torch

    before = torch.get_num_threads()
    try:
        assert th.use_threads(1).threads == 1 and torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)


def test_commands_take_threads_and_recipes_log_it(capsys, tmp_path):
    import torch

    text = tmp_path / "t.txt"
    text.write_text("the cat sat\nthe dog sat\n" * 20)
    assert main(["lm", "ngram", "train", str(text), "-o", str(tmp_path / "m.arpa"), "--order", "2",
                 "--discount-fallback", "--threads", "1"]) == 0
    assert torch.get_num_threads() == 1
    assert main(["recipe", "validate", "lm_ngram", "threads=0"]) == 2
    assert "threads: must be an integer >= 1 or null" in capsys.readouterr().err
    run_dir = tmp_path / "run"
    assert main(["recipe", "run", "lm_ngram", f"data.name={text}", f"run_dir={run_dir}", "threads=1",
                 "model.discount_fallback=true", "stats.top=2"]) == 0
    assert "threads: 1 thread(s) (requested)" in (run_dir / "log.txt").read_text()
