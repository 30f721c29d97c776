"""The command line: recipe subcommands and the one-line error contract (no tracebacks)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from seqkit.cli import main
from seqkit.recipes.pipeline import Run, stage


@stage("test.cli_echo", uses=("echo",))
def _echo(run: Run) -> dict:
    """Write the configured message."""
    run.path("message.txt").write_text(run.cfg.echo.message)
    return {"files": ["message.txt"]}


@pytest.fixture
def recipe_file(tmp_path):
    path = tmp_path / "echo.yaml"
    path.write_text("description: echo a message\nstages: [test.cli_echo]\necho:\n  message: hi\n  times: 1\n")
    return path


def test_recipe_run_show_validate(recipe_file, tmp_path, capsys):
    run_dir = tmp_path / "run"
    assert main(["recipe", "run", str(recipe_file), "echo.message=hello", f"run_dir={run_dir}"]) == 0
    assert (run_dir / "message.txt").read_text() == "hello"
    out = capsys.readouterr().out
    assert f"run directory: {run_dir}" in out and f"results in {run_dir}" in out
    assert main(["recipe", "show", str(recipe_file), "echo.times=3"]) == 0
    assert "times: 3" in capsys.readouterr().out
    assert main(["recipe", "validate", str(recipe_file)]) == 0
    assert "ok (1 stages" in capsys.readouterr().out


def test_recipe_cp_refuses_to_overwrite(recipe_file, tmp_path, capsys):
    dest = tmp_path / "copy.yaml"
    assert main(["recipe", "cp", str(recipe_file), str(dest)]) == 0
    assert dest.read_text() == recipe_file.read_text()
    assert main(["recipe", "cp", str(recipe_file), str(dest)]) == 2
    assert "destination exists" in capsys.readouterr().err


@pytest.mark.parametrize(
    "args, message",
    [
        (["recipe", "run", "no_such_recipe"], "unknown recipe 'no_such_recipe'"),
        (["recipe", "run", "{recipe}", "echo.mesage=x"], "unknown key 'echo.mesage'"),
        (["recipe", "run", "{recipe}", "echo.times=two"], "'echo.times' must be an integer"),
    ],
)
def test_bad_input_is_one_line_exit_2(args, message, recipe_file, capsys):
    args = [a.replace("{recipe}", str(recipe_file)) for a in args]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err
    assert err.count("\n") == 1 and "Traceback" not in err


def test_console_entry_point_runs_as_module():
    proc = subprocess.run([sys.executable, "-m", "seqkit.cli", "--help"], capture_output=True, text=True)
    assert proc.returncode == 0
    for command in ("recipe", "bleu", "translate", "tokenize", "data", "lm", "w2v", "vision"):
        assert command in proc.stdout
