"""The lm_rnn recipe and the `seqkit lm rnn` CLI end to end on a tiny local corpus."""

from __future__ import annotations

import re

import pytest
from click.testing import CliRunner

from seqkit.cli import cli, main
from seqkit.errors import SeqkitError
from seqkit.io import load_json
from seqkit.recipes.config import load_recipe
from seqkit.recipes.pipeline import run_pipeline

TINY = ["the time traveller smiled", "the time machine", "he smiled at the time traveller"] * 40

FAST = ["model.embed_dim=8", "model.hidden_size=16", "model.num_layers=1", "train.batch_size=8",
        "train.num_steps=16", "train.epochs=2", "train.progress=false", "train.max_time=null",
        "generate.num_tokens=12", "device=cpu"]


@pytest.fixture
def corpus(tmp_path):
    path = tmp_path / "tiny.txt"
    path.write_text("\n".join(TINY) + "\n", encoding="utf-8")
    return path


def test_cli_train_runs_the_recipe_then_ppl_and_generate_read_the_run(tmp_path, corpus):
    run_dir = tmp_path / "run"
    runner = CliRunner()
    res = runner.invoke(cli, ["lm", "rnn", "train", str(corpus), "-o", str(run_dir), "--hidden-size", "16",
                              "--embed-dim", "8", "--num-layers", "1", "--epochs", "2", "--device", "cpu",
                              *[a for kv in FAST for a in ("--set", kv)]], standalone_mode=False)
    assert res.exit_code == 0, res.output
    lines = res.output.splitlines()
    valid = float(next(x for x in lines if x.startswith("valid perplexity: ")).split(": ")[1])
    sample = next(x for x in lines if x.startswith("sample: "))[len("sample: "):]
    data = load_json(run_dir / "data.json")
    scores = load_json(run_dir / "scores.json")
    assert data["level"] == "char" and data["eos_per_line"] is False
    assert data["valid_tokens"] > 0 and data["test_tokens"] == 0  # valid held out from train
    assert scores["epochs"] == 2 and valid == pytest.approx(scores["valid_ppl"], abs=0.01)
    assert valid < data["vocab_size"]  # better than a uniform guess
    assert sample.startswith("time traveller") and len(sample) == len("time traveller") + 12
    for name in ("model/rnn_lm.json", "model/rnn_lm.safetensors", "model/vocab.json", "model/data.json",
                 "vocab.json", "samples.txt", "train/metrics.jsonl"):
        assert (run_dir / name).is_file(), name

    res = runner.invoke(cli, ["lm", "rnn", "ppl", str(run_dir), str(corpus)], standalone_mode=False)
    assert res.exit_code == 0 and res.output.startswith("perplexity: ")
    res = runner.invoke(cli, ["lm", "rnn", "generate", str(run_dir), "--prefix", "the", "-n", "5"],
                        standalone_mode=False)
    assert res.exit_code == 0 and res.output.startswith("the") and len(res.output.strip()) == 8


def test_word_level_adds_eos_per_line(tmp_path, corpus):
    _, cfg = load_recipe("lm_rnn", [f"data.name={corpus}", "data.level=word", f"run_dir={tmp_path / 'run'}",
                                    "generate.prefix=the time", *FAST])
    run = run_pipeline(cfg, "lm_rnn", stages=["lm.rnn.data"], echo=False)
    data = run.results["lm.rnn.data"]
    assert data["eos_per_line"] is True
    # 13 words in 3 lines + 3 <eos>, 40 times; 10% held out as validation
    assert data["train_tokens"] + data["valid_tokens"] == 40 * 16
    assert data["vocab_size"] == 4 + 7  # reserved + the, time, traveller, smiled, machine, he, at


def test_empty_training_text_is_one_clear_error(tmp_path):
    empty = tmp_path / "empty.txt"
    empty.write_text("\n\n", encoding="utf-8")
    _, cfg = load_recipe("lm_rnn", [f"data.name={empty}", f"run_dir={tmp_path / 'r'}"])
    with pytest.raises(SeqkitError, match="empty"):
        run_pipeline(cfg, "lm_rnn", echo=False)


def test_cli_reports_a_missing_run_dir(tmp_path, capsys):
    assert main(["lm", "rnn", "generate", str(tmp_path)]) == 2
    assert "not an lm_rnn run directory" in capsys.readouterr().err


def test_a_parallel_corpus_is_refused(tmp_path):
    _, cfg = load_recipe("lm_rnn", ["data.name=seqkit-en-fr", f"run_dir={tmp_path}"])
    with pytest.raises(SeqkitError, match="is a parallel corpus; a language model needs an LM corpus"):
        run_pipeline(cfg, "lm_rnn", stages=["lm.rnn.data"], echo=False)


@pytest.mark.parametrize("progress", ["true", "false"])
def test_validation_is_reported_once(tmp_path, corpus, capsys, progress):
    """Each validation is one line on the console (the trainer's, or the run's without a progress
    display) and one in log.txt -- not two lines in two formats."""
    overrides = [o for o in FAST if not o.startswith("train.progress")] + [f"train.progress={progress}"]
    _, cfg = load_recipe("lm_rnn", [f"data.name={corpus}", f"run_dir={tmp_path / 'run'}", *overrides])
    capsys.readouterr()
    run_pipeline(cfg, "lm_rnn")
    out, err = capsys.readouterr()
    shown = re.compile(r"valid @ \d+|validation \d+ \(update")
    console = [line for line in (out + err).splitlines() if shown.search(line)]
    assert len(console) == 2, console  # two epochs, two validations
    logged = [line for line in (tmp_path / "run" / "log.txt").read_text().splitlines() if shown.search(line)]
    assert len(logged) == 2, logged
