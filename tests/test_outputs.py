"""Outputs: no command deletes or replaces a file or folder seqkit did not make (seqkit.outputs).

Folders written whole (atomic_dir) carry seqkit's marker; a folder of user files, a run directory and
the files inside one are refused with exit 2 and left byte-identical; a full standard output is exit 2
naming it, a closed pipe stays quiet.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from seqkit.cli import main
from seqkit.errors import SeqkitError
from seqkit.io import atomic_dir
from seqkit.outputs import MARKER, output_kind, write_marker

TEXT = "the cat sat on the mat\nthe dog sat on the log\na cat and a dog\n" * 20


def tree_hash(root: Path) -> str:
    """Names and bytes of everything under ``root`` (hidden files too)."""
    h = hashlib.sha256()
    for p in sorted(root.rglob("*")):
        h.update(str(p.relative_to(root)).encode())
        if p.is_file():
            h.update(p.read_bytes())
    return h.hexdigest()


def user_folder(path: Path) -> Path:
    path.mkdir(parents=True)
    (path / "notes.txt").write_text("my notes\n")
    (path / "sub").mkdir()
    (path / "sub" / "data.bin").write_bytes(os.urandom(64))
    return path


def refused(capsys, args: list, named) -> str:
    capsys.readouterr()
    status = main([str(a) for a in args])
    err = capsys.readouterr().err
    assert status == 2, err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    assert str(named) in err and "fix:" in err, err
    return err


def fake_run(root: Path) -> Path:
    """A run directory as the pipeline leaves it (config.yaml, versions.json, model/, spm.model)."""
    (root / "model").mkdir(parents=True)
    (root / "config.yaml").write_text("seed: 0\n")
    (root / "versions.json").write_text("{}\n")
    (root / "spm.model").write_bytes(b"spm")
    (root / "model" / "model.safetensors").write_bytes(b"weights")
    (root / "model" / "model.json").write_text("{}\n")
    return root


# -- atomic_dir ------------------------------------------------------------------------------------
def test_atomic_dir_never_replaces_a_folder_seqkit_did_not_make(tmp_path):
    mine = user_folder(tmp_path / "mine")
    before = tree_hash(mine)
    with pytest.raises(SeqkitError, match="not written by seqkit"), atomic_dir(mine, "ct2-export") as tmp:
        (tmp / "model.bin").write_bytes(b"x")
    assert tree_hash(mine) == before
    assert [p.name for p in tmp_path.iterdir()] == ["mine"]  # no temporary folder left

    out = tmp_path / "out"
    for content in (b"one", b"two"):  # missing, then seqkit's own export: replaced
        with atomic_dir(out, "ct2-export") as tmp:
            (tmp / "model.bin").write_bytes(content)
        assert (out / "model.bin").read_bytes() == content and output_kind(out) == "ct2-export"
    with pytest.raises(SeqkitError, match="holds a CTranslate2 export .*, not a prepared corpus"):
        with atomic_dir(out, "prepared-corpus"):
            pass
    assert (out / "model.bin").read_bytes() == b"two"
    empty = tmp_path / "empty"
    empty.mkdir()
    with atomic_dir(empty, "heatmaps") as tmp:
        (tmp / "00000.png").write_bytes(b"png")
    assert json.loads((empty / MARKER).read_text())["kind"] == "heatmaps"


def test_leftovers_of_a_killed_write_are_removed_by_the_next_one(tmp_path):
    out = tmp_path / "ct2"
    code = ("import os, sys\nfrom seqkit.io import atomic_dir\n"
            "with atomic_dir(sys.argv[1], 'ct2-export') as tmp:\n"
            "    open(os.path.join(tmp, 'model.bin'), 'wb').write(b'half')\n"
            "    os._exit(9)\n")
    subprocess.run([sys.executable, "-c", code, str(out)], check=False)
    left = [p.name for p in tmp_path.iterdir()]
    assert len(left) == 1 and left[0].startswith(".ct2.") and left[0].endswith(".tmp")  # what a kill leaves
    (tmp_path / ".ct2.999999999.old").mkdir()  # a swap killed half-way (no such process)
    (tmp_path / ".ct2.notes.tmp").mkdir()  # not seqkit's naming: a user's
    (tmp_path / ".ct2.keep").write_text("mine\n")
    live = tmp_path / f".ct2.{os.getppid()}.abcdefgh.tmp"  # a process that is alive: still writing
    live.mkdir()
    with atomic_dir(out, "ct2-export") as tmp:
        (tmp / "model.bin").write_bytes(b"whole")
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([".ct2.notes.tmp", ".ct2.keep", live.name, "ct2"])


# -- files -----------------------------------------------------------------------------------------
def test_a_file_inside_a_run_is_refused_and_left_as_it_was(tmp_path, capsys):
    from seqkit.train import save_weights

    torch = pytest.importorskip("torch")
    run = fake_run(tmp_path / "run")
    before = tree_hash(run)
    for name in ("a", "b"):
        save_weights(tmp_path / f"{name}.safetensors", {"w": torch.ones(2)})
    ckpts = [tmp_path / "a.safetensors", tmp_path / "b.safetensors"]
    (tmp_path / "text.txt").write_text(TEXT)
    for target, args in [
        (run / "model" / "model.safetensors", ["average", *ckpts, "-o"]),
        (run / "config.yaml", ["vocab", "build", tmp_path / "text.txt", "-o"]),
        (run / "spm.model", ["vocab", "spm", tmp_path / "text.txt", "--vocab-size", "20", "-o"]),
        (run / "hyp.txt", ["vocab", "build", tmp_path / "text.txt", "-o"]),  # new, but inside the run
    ]:
        refused(capsys, [*args, target], target)
    assert tree_hash(run) == before
    # a folder seqkit marked as its output is the output's own too
    export = tmp_path / "export"
    export.mkdir()
    write_marker(export, "ct2-export")
    refused(capsys, ["vocab", "build", tmp_path / "text.txt", "-o", export / "v.json"], export / "v.json")
    # an ordinary file the user names is overwritten, as -o always does
    plain = tmp_path / "avg.safetensors"
    plain.write_bytes(b"old")
    assert main(["average", *map(str, ckpts), "-o", str(plain)]) == 0
    assert plain.read_bytes() != b"old"


# -- folders ---------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    from seqkit.text import SentencePieceTokenizer

    root = tmp_path_factory.mktemp("pair")
    (root / "a.src").write_text(TEXT)
    (root / "a.tgt").write_text(TEXT.upper())
    (root / "b.src").write_text(TEXT[:200])
    (root / "b.tgt").write_text(TEXT[:200].upper())
    tok = SentencePieceTokenizer.train(TEXT.splitlines() + TEXT.upper().splitlines(), vocab_size=40,
                                       model_type="char")
    tok.save(root / "spm.model")
    return root


def _prepare(pair: Path, side: str, out: Path, *extra: str) -> list[str]:
    return ["data", "prepare", "--src", str(pair / f"{side}.src"), "--tgt", str(pair / f"{side}.tgt"),
            "--spm", str(pair / "spm.model"), "--workers", "1", "-o", str(out), *extra]


def test_data_prepare_refuses_user_folders_and_runs_and_replaces_its_own_only_with_force(pair, tmp_path, capsys):
    mine = user_folder(tmp_path / "mine")
    before = tree_hash(mine)
    refused(capsys, _prepare(pair, "a", mine), mine)
    assert tree_hash(mine) == before
    run = fake_run(tmp_path / "run")
    run_before = tree_hash(run)
    refused(capsys, _prepare(pair, "a", run), run)
    refused(capsys, _prepare(pair, "a", run / "prepared"), run / "prepared")
    assert tree_hash(run) == run_before

    out = tmp_path / "prep"
    assert main(_prepare(pair, "a", out)) == 0
    assert output_kind(out) == "prepared-corpus"
    assert main(_prepare(pair, "a", out)) == 0  # the same inputs: re-used as it is
    first = tree_hash(out)
    err = refused(capsys, _prepare(pair, "b", out), out)  # other inputs: only with --force
    assert "--force" in err and tree_hash(out) == first
    assert main(_prepare(pair, "b", out, "--force")) == 0
    assert tree_hash(out) != first
    refused(capsys, _prepare(pair, "a", mine, "--force"), mine)  # --force never replaces a user's folder
    assert tree_hash(mine) == before


def test_a_recipe_never_runs_in_a_folder_of_user_files(tmp_path, capsys):
    mine = user_folder(tmp_path / "mine")
    before = tree_hash(mine)
    refused(capsys, ["recipe", "run", "lm_ngram", f"run_dir={mine}"], mine)
    assert tree_hash(mine) == before


# -- translate: heatmaps and a full standard output ----------------------------------------------
@pytest.fixture(scope="module")
def nmt_run(tmp_path_factory):
    """A tiny untrained translation model folder inside a run-like folder."""
    from seqkit.seq2seq.model_folder import save_model_dir
    from seqkit.seq2seq.presets import build_model, model_config
    from seqkit.text import SentencePieceTokenizer

    root = tmp_path_factory.mktemp("nmt")
    tok = SentencePieceTokenizer.train(TEXT.splitlines() * 3, vocab_size=30, model_type="char")
    tok.save(root / "spm.model")
    cfg = model_config("transformer", "tiny", d_model=16, d_ff=16, n_enc_layers=1, n_dec_layers=1, n_heads=2)
    with atomic_dir(root / "run" / "model", "model") as folder:
        save_model_dir(folder, cfg, len(tok), root / "spm.model", build_model(cfg, len(tok)).state_dict())
    (root / "src.txt").write_text("the cat\na dog\n")
    return root


def test_heatmaps_refuse_a_user_folder_and_replace_their_own_with_force(nmt_run, tmp_path, capsys):
    args = ["translate", "--run", str(nmt_run / "run"), "-i", str(nmt_run / "src.txt"), "--max-len", "3",
            "--heatmaps"]
    mine = user_folder(tmp_path / "mine")
    before = tree_hash(mine)
    refused(capsys, [*args, mine], mine)
    refused(capsys, [*args, mine, "--force"], mine)
    assert tree_hash(mine) == before
    maps = tmp_path / "maps"
    assert main([*args, str(maps)]) == 0
    assert sorted(p.name for p in maps.iterdir()) == [MARKER, "00000.png", "00001.png"]
    err = refused(capsys, [*args, maps], maps)
    assert "--force" in err
    assert main([*args, str(maps), "--force"]) == 0


def _to_dev_full(args: list[str]) -> subprocess.CompletedProcess:
    with open("/dev/full", "w") as full:
        return subprocess.run([sys.executable, "-m", "seqkit.cli", *args], stdout=full, stderr=subprocess.PIPE,
                              text=True, timeout=120)


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
def test_a_full_standard_output_is_exit_2_naming_it(nmt_run, tmp_path):
    ref = tmp_path / "ref.txt"
    ref.write_text(TEXT)
    for args in (["translate", "--run", str(nmt_run / "run"), "-i", str(nmt_run / "src.txt"), "--max-len", "3"],
                 ["bleu", str(ref), "-i", str(ref)],
                 ["tokenize", str(ref)]):
        proc = _to_dev_full(args)
        lines = proc.stderr.strip().splitlines()
        assert proc.returncode == 2 and len(lines) == 1, (args, proc.stderr)
        assert lines[0].startswith("error: <stdout>: no space left on the device"), (args, proc.stderr)


def test_a_closed_pipe_is_quiet_and_not_an_error(tmp_path):
    ref = tmp_path / "ref.txt"
    ref.write_text(TEXT * 200)
    for args in (["bleu", str(ref), "-i", str(ref)], ["tokenize", str(ref)]):
        proc = subprocess.Popen([sys.executable, "-m", "seqkit.cli", *args], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE)
        proc.stdout.read(1)
        proc.stdout.close()  # `| head -c 1`
        err = proc.stderr.read().decode()
        assert proc.wait(timeout=120) == 0 and err == "", (args, err)
