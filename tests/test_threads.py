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


@pytest.fixture
def torch_starts_with_four(monkeypatch):
    """A process whose torch starting count is 4 and whose free cores are 2 (another task is busy)."""
    import torch

    monkeypatch.setattr(th, "physical_cores", lambda: 4)
    monkeypatch.setattr(th, "_applied", None)
    monkeypatch.setattr(th, "_library_choice", None)
    monkeypatch.setattr(th, "choose_threads", lambda requested=None, **_: th.ThreadChoice(
        requested or 2, "requested" if requested else "free cores", 4, 0 if requested else 2))
    for name in th.TORCH_ENVS:
        monkeypatch.delenv(name, raising=False)
    torch.set_num_threads(4)  # as torch starts
    return torch


def test_library_calls_use_the_cli_policy_unless_the_caller_chose(torch_starts_with_four, monkeypatch):
    torch = torch_starts_with_four
    with th.library_threads() as n:  # torch's starting count: nobody chose, the free cores apply
        assert n == 2 and torch.get_num_threads() == 2
    assert torch.get_num_threads() == 4  # and the caller's count comes back
    with th.library_threads(3) as n:  # an explicit count wins
        assert n == 3 and torch.get_num_threads() == 3
    torch.set_num_threads(1)  # the caller chose
    with th.library_threads() as n:
        assert n == 1 and torch.get_num_threads() == 1
    torch.set_num_threads(4)
    monkeypatch.setenv("OMP_NUM_THREADS", "4")  # chosen through torch's own variable
    with th.library_threads() as n:
        assert n == 4
    monkeypatch.delenv("OMP_NUM_THREADS")
    monkeypatch.setattr(th, "_applied", 4)  # a command's --threads choice stands for the whole run
    with th.library_threads() as n:
        assert n == 4


def test_trainer_fit_computes_with_the_policy(torch_starts_with_four):
    from torch import nn

    from seqkit.train import StepOutput, Trainer

    torch = torch_starts_with_four
    seen = []
    model = nn.Linear(2, 1)

    def step(m, batch):
        seen.append(torch.get_num_threads())
        return StepOutput(loss=m(batch).pow(2).mean(), n_items=1)

    trainer = Trainer(model, torch.optim.SGD(model.parameters(), lr=0.1), step, progress=False, plot=False)
    trainer.fit([torch.ones(1, 2)] * 3, epochs=1)
    assert seen == [2, 2, 2] and torch.get_num_threads() == 4
    Trainer(model, torch.optim.SGD(model.parameters(), lr=0.1), step, progress=False, plot=False,
            threads=1).fit([torch.ones(1, 2)], epochs=1)
    assert seen[-1] == 1 and torch.get_num_threads() == 4


def test_ngram_scoring_takes_the_free_cores_for_a_large_corpus(monkeypatch):
    from seqkit.lm.ngram import model as ngram_model

    calls = []
    monkeypatch.setattr(ngram_model, "choose_threads", lambda: calls.append(1) or th.ThreadChoice(1, "free cores", 2, 1))
    lm = ngram_model.NGramLM.train([["a", "b"], ["b", "a"]] * 5, order=2, smoothing="addk")
    lm.score_corpus(["a b"] * 10)  # one block: no thread choice needed
    assert calls == []
    lm.score_corpus(["a b"] * 2001)
    assert calls == [1]
