"""A run's saved config.yaml is the truth on resume: the Ctrl-C hint's command continues the same run
(its overrides, its tokenizer, its recipe), other values are refused, budgets may change."""

from __future__ import annotations

import json
import re
import shlex
import shutil
from pathlib import Path

import pytest
import torch

from seqkit.cli import main
from seqkit.train import CheckpointManager, load_weights

STOP_AFTER = 4  # the interrupted runs stop right after the checkpoint of this update
STEPS = 6

# Not the recipe's defaults: a resume that dropped them would train another model on another tokenizer.
TINY = {"device": "cpu", "spm.vocab_size": 300, "train.max_steps": STEPS, "train.max_time": None,
        "train.ckpt_every_steps": 2, "train.valid_every": 3, "train.log_every": 1, "train.max_tokens": 1500, "train.warmup": 2,
        "train.progress": False, "train.amp": "none", "decode.beam": 2, "decode.heatmaps": 0,
        "model.d_model": 32, "model.d_ff": 64, "model.n_enc_layers": 1, "model.n_dec_layers": 1,
        "data.max_train": 300, "data.max_valid": 20, "data.max_test": 10}


def _args(**values) -> list[str]:
    return [f"{k}={json.dumps(v) if not isinstance(v, str) else v}" for k, v in values.items()]


def _run(recipe: str, run_dir: Path, **values) -> int:
    return main(["recipe", "run", recipe, f"run_dir={run_dir}", *_args(**values)])


def _interrupt(recipe: str, run_dir: Path, **values) -> str:
    """Run the recipe, press Ctrl-C (a KeyboardInterrupt) right after the checkpoint of update
    STOP_AFTER, and return the command the run printed to continue."""
    real = CheckpointManager.save_last

    def save_then_interrupt(self, step, weights, state):
        path = real(self, step, weights, state)
        if step == STOP_AFTER:
            raise KeyboardInterrupt
        return path

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(CheckpointManager, "save_last", save_then_interrupt)
        assert _run(recipe, run_dir, **values) == 130
    log = (run_dir / "log.txt").read_text(encoding="utf-8")
    found = re.search(rf"interrupted; the last checkpoint is at update {STOP_AFTER}; continue with: (.*)$", log,
                      re.MULTILINE)
    assert found, log[-2000:]
    return found.group(1)


def _printed(command: str) -> list[str]:
    """The CLI arguments of a printed shell command (as a shell would split it)."""
    argv = shlex.split(command)
    assert argv[0] == "seqkit"
    return argv[1:]


def _same_weights(a: Path, b: Path) -> None:
    wa, wb = load_weights(a), load_weights(b)
    assert wa.keys() == wb.keys()
    for name in wa:
        assert torch.equal(wa[name], wb[name]), name


def _train_losses(run_dir: Path) -> dict[int, float]:
    lines = (run_dir / "train" / "metrics.jsonl").read_text(encoding="utf-8").splitlines()
    return {r["step"]: r["loss"] for r in map(json.loads, lines) if r.get("split") == "train"}


def _one_error_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("error: ")
    return lines[0]


@pytest.fixture(scope="module")
def bundled(tmp_path_factory):
    """The bundled en->fr corpus with TINY overrides: a whole run, and the same run interrupted (its
    folder has a space in its name); ``pristine`` is a copy of the interrupted folder for the tests
    that change it."""
    tmp = tmp_path_factory.mktemp("resume")
    assert _run("nmt_transformer", tmp / "whole", **TINY) == 0
    cut = tmp / "cut run"
    command = _interrupt("nmt_transformer", cut, **TINY)
    shutil.copytree(cut, tmp / "pristine")
    return {"whole": tmp / "whole", "cut": cut, "command": command, "pristine": tmp / "pristine"}


def _copy(bundled, dest: Path) -> Path:
    shutil.copytree(bundled["pristine"], dest)
    return dest


def test_the_printed_command_continues_the_same_run_bit_for_bit(bundled):
    cut, whole = bundled["cut"], bundled["whole"]
    assert bundled["command"] == f"seqkit recipe run nmt_transformer {shlex.quote(f'run_dir={cut}')} resume=true"
    config = (cut / "config.yaml").read_bytes()
    spm = (cut / "spm.model").read_bytes()
    assert main(_printed(bundled["command"])) == 0
    assert (cut / "config.yaml").read_bytes() == config  # nothing of the run changed: not rewritten
    assert (cut / "spm.model").read_bytes() == spm  # the run's tokenizer, not a new one
    assert "resumed with config.yaml as it is" in (cut / "log.txt").read_text(encoding="utf-8")
    steps = [json.loads(line)["step"] for line in (cut / "train/metrics.jsonl").read_text().splitlines()
             if '"train"' in line]
    assert steps == list(range(1, STEPS + 1))  # continued from update 4, not started again
    assert json.loads((cut / "train/checkpoints/last.json").read_text())["step"] == STEPS
    _same_weights(whole / "train/checkpoints/step-00000006.safetensors",
                  cut / "train/checkpoints/step-00000006.safetensors")
    _same_weights(whole / "model/model.safetensors", cut / "model/model.safetensors")
    assert _train_losses(cut) == _train_losses(whole)
    assert (cut / "test.hyp").read_text(encoding="utf-8") == (whole / "test.hyp").read_text(encoding="utf-8")
    assert json.loads((cut / "run.json").read_text())["recipe"] == "nmt_transformer"


def test_a_changed_value_is_refused_in_one_line_and_a_budget_is_accepted(bundled, tmp_path, capsys):
    run_dir = _copy(bundled, tmp_path / "run")
    config = (run_dir / "config.yaml").read_text(encoding="utf-8")
    base = ["recipe", "run", "nmt_transformer", f"run_dir={run_dir}", "resume=true"]
    capsys.readouterr()
    assert main([*base, "spm.vocab_size=400"]) == 2
    out, err = capsys.readouterr()
    line = _one_error_line(err)
    assert "spm.vocab_size" in line and "300" in line and "400" in line, line
    assert (run_dir / "config.yaml").read_text(encoding="utf-8") == config
    assert main([*base, "model.preset=small", "seed=3"]) == 2
    line = _one_error_line(capsys.readouterr().err)
    assert "model.preset tiny -> small" in line and "seed 0 -> 3" in line, line
    # another recipe's name is refused: the run is a Transformer, whatever name is typed
    assert main(["recipe", "run", "nmt_rnn_attention", f"run_dir={run_dir}", "resume=true"]) == 2
    line = _one_error_line(capsys.readouterr().err)
    assert "nmt_transformer" in line and "nmt_rnn_attention" in line, line

    # a budget may change: the run goes on to 8 updates, and config.yaml records the new budget only
    assert main([*base, "train.max_steps=8", "threads=1"]) == 0
    capsys.readouterr()
    assert json.loads((run_dir / "train/checkpoints/last.json").read_text())["step"] == 8
    after = (run_dir / "config.yaml").read_text(encoding="utf-8")
    changed = sorted(set(after.splitlines()) ^ set(config.splitlines()))
    assert changed == ["  max_steps: 6", "  max_steps: 8", "threads: 1", "threads: null"], changed
    assert sorted(_train_losses(run_dir)) == list(range(1, 9))


def test_a_swapped_tokenizer_is_refused(bundled, tmp_path, capsys):
    from seqkit.text import SentencePieceTokenizer

    run_dir = _copy(bundled, tmp_path / "run")
    ours = SentencePieceTokenizer.load(run_dir / "spm.model")
    lines = (run_dir / "data/train.tgt").read_text(encoding="utf-8").splitlines()
    other = SentencePieceTokenizer.train(lines, vocab_size=len(ours), model_type="bpe")
    assert len(other) == len(ours)  # same size: only the recorded hash can tell
    other.save(run_dir / "spm.model")
    capsys.readouterr()
    assert main(["recipe", "run", "nmt_transformer", f"run_dir={run_dir}", "resume=true"]) == 2
    line = _one_error_line(capsys.readouterr().err)
    assert "spm.model" in line and "trained with" in line, line
    assert json.loads((run_dir / "train/checkpoints/last.json").read_text())["step"] == STOP_AFTER


def test_nothing_to_resume_is_one_line_with_the_fix(tmp_path, capsys):
    assert main(["recipe", "run", "nmt_transformer", f"run_dir={tmp_path / 'none'}", "resume=true"]) == 2
    line = _one_error_line(capsys.readouterr().err)
    assert "config.yaml" in line and "fix:" in line, line
    assert not (tmp_path / "none").exists()
    assert main(["recipe", "run", "nmt_transformer", "resume=true"]) == 2
    line = _one_error_line(capsys.readouterr().err)
    assert "run_dir" in line and "fix:" in line, line

    # a run folder with its config but no checkpoint: start it again, with the overrides it had
    run_dir = tmp_path / "started"
    run_dir.mkdir()
    from seqkit.recipes.config import load_recipe, to_yaml

    _, cfg = load_recipe("nmt_transformer", [f"run_dir={run_dir}", "spm.vocab_size=300", "data=multi30k"])
    (run_dir / "config.yaml").write_text(to_yaml(cfg), encoding="utf-8")
    assert main(["recipe", "run", "nmt_transformer", f"run_dir={run_dir}", "resume=true"]) == 2
    line = _one_error_line(capsys.readouterr().err)
    assert "no training checkpoint" in line and "spm.vocab_size=300" in line and "data.name=multi30k" in line


def test_the_restart_command_rebuilds_the_runs_config():
    """What the hint prints when there is no checkpoint yet: the recipe with the run's overrides."""
    from seqkit.recipes.config import load_recipe, to_container
    from seqkit.recipes.resume import start_command

    run_dir = "/tmp/a run"
    overrides = ["data=multi30k", "data.src=de", "data.train=[a b.de,b.en]", "train.lr=3e-4",
                 "decode.alpha=0.6", "train.max_time=null", "seed=7"]
    _, cfg = load_recipe("nmt_transformer", [f"run_dir={run_dir}", *overrides])
    command = start_command("nmt_transformer", run_dir, cfg)
    argv = _printed(command)
    assert argv[:3] == ["recipe", "run", "nmt_transformer"] and f"run_dir={run_dir}" in argv
    _, again = load_recipe("nmt_transformer", argv[3:])
    assert to_container(again) == to_container(cfg)


def test_lm_rnn_resumes_with_its_own_config_and_refuses_another_vocabulary(tmp_path, capsys):
    """The same contract in another recipe: word level on a local file, the printed command continues
    to the uninterrupted run's weights; a changed vocab.json is refused."""
    corpus = tmp_path / "tiny.txt"
    corpus.write_text("the time traveller smiled\nthe time machine\nhe smiled at the time traveller\n" * 40,
                      encoding="utf-8")
    values = {"data.name": str(corpus), "data.level": "word", "model.embed_dim": 8, "model.hidden_size": 16,
              "model.num_layers": 1, "train.batch_size": 4, "train.num_steps": 5, "train.max_steps": STEPS,
              "train.ckpt_every_steps": 2, "train.max_time": None, "train.progress": False, "train.log_every": 1,
              "generate.num_tokens": 5, "device": "cpu"}
    assert _run("lm_rnn", tmp_path / "whole", **values) == 0
    cut = tmp_path / "cut"
    command = _interrupt("lm_rnn", cut, **values)
    assert command == f"seqkit recipe run lm_rnn run_dir={cut} resume=true"
    shutil.copytree(cut, tmp_path / "swapped")
    config = (cut / "config.yaml").read_bytes()
    assert main(_printed(command)) == 0
    assert (cut / "config.yaml").read_bytes() == config
    _same_weights(tmp_path / "whole/model/rnn_lm.safetensors", cut / "model/rnn_lm.safetensors")
    assert _train_losses(cut) == _train_losses(tmp_path / "whole")

    swapped = tmp_path / "swapped"
    vocab = json.loads((swapped / "vocab.json").read_text(encoding="utf-8"))
    vocab["tokens"][0], vocab["tokens"][1] = vocab["tokens"][1], vocab["tokens"][0]
    (swapped / "vocab.json").write_text(json.dumps(vocab), encoding="utf-8")
    capsys.readouterr()
    assert main(["recipe", "run", "lm_rnn", f"run_dir={swapped}", "resume=true"]) == 2
    line = _one_error_line(capsys.readouterr().err)
    assert "vocab.json" in line and "trained with" in line, line


@pytest.mark.slow
def test_multi30k_de_en_resumes_with_the_printed_command(shared_data, tmp_path, monkeypatch):
    """The reported case: a ``data=multi30k data.src=de data.tgt=en`` run continues on Multi30k de->en
    with its own tokenizer, to the uninterrupted run's weights."""
    if not (shared_data / "multi30k").is_dir():
        pytest.skip(f"no multi30k/ in {shared_data}")
    monkeypatch.setenv("SEQKIT_DATA", str(shared_data))
    values = {**TINY, "data": "multi30k", "data.src": "de", "data.tgt": "en", "data.max_train": 1000}
    assert _run("nmt_transformer", tmp_path / "whole", **values) == 0
    cut = tmp_path / "cut"
    command = _interrupt("nmt_transformer", cut, **values)
    assert command == f"seqkit recipe run nmt_transformer run_dir={cut} resume=true"
    config = (cut / "config.yaml").read_bytes()
    assert main(_printed(command)) == 0
    assert (cut / "config.yaml").read_bytes() == config
    data = json.loads((cut / "stages/nmt.data.json").read_text())["result"]
    assert (data["src"], data["tgt"]) == ("de", "en")
    _same_weights(tmp_path / "whole/model/model.safetensors", cut / "model/model.safetensors")
    assert _train_losses(cut) == _train_losses(tmp_path / "whole")
