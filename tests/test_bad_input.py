"""Every command, every kind of bad input: exit status 2, one short message naming the path, no
traceback, nothing half-written, no stray temporary file -- and BOM/CRLF input gives byte-identical
results to clean input."""

from __future__ import annotations

import errno
import json
import pickle
from pathlib import Path

import pytest

from seqkit.cli import main

TEXT = "the cat sat on the mat\nthe dog sat on the log\na cat and a dog\n" * 20


def _no_tmp(root: Path) -> list[str]:
    return [str(p) for p in root.rglob("*") if p.name.endswith(".tmp")]


def bad(capsys, args: list, named: str | Path | None, root: Path | None = None) -> str:
    """Run the command; it must fail cleanly: status 2, <= 3 lines, no traceback, ``named`` in them."""
    capsys.readouterr()
    status = main([str(a) for a in args])
    out, err = capsys.readouterr()
    assert status == 2, (args, out, err)
    assert "Traceback" not in err and err.startswith("error: "), err
    assert 1 <= len(err.strip().splitlines()) <= 3, err
    if named is not None:
        assert str(named) in err, err
    if root is not None:
        assert _no_tmp(root) == []
    return err


@pytest.fixture
def files(tmp_path):
    d = tmp_path / "in"
    d.mkdir()
    (d / "good.txt").write_text(TEXT, encoding="utf-8")
    (d / "empty.txt").write_bytes(b"")
    (d / "latin1.txt").write_bytes("caf\xe9 au lait\n".encode("latin-1"))
    (d / "nul.txt").write_bytes(b"the cat\x00sat\n" * 3)
    (d / "bom_crlf.txt").write_bytes(b"\xef\xbb\xbf" + TEXT.replace("\n", "\r\n").encode("utf-8"))
    (d / "folder").mkdir()
    (d / "pickled.bin").write_bytes(pickle.dumps({"x": 1}))
    return d


# -- text input ----------------------------------------------------------------------------------
@pytest.mark.parametrize("command", [
    ["tokenize"], ["vocab", "build", "-o", "OUT/v.json"], ["vocab", "spm", "-o", "OUT/m.model", "--vocab-size", "20"],
    ["vocab", "bpe", "-o", "OUT/b.json"], ["lm", "ngram", "train", "-o", "OUT/m.arpa", "--discount-fallback"],
    ["w2v", "train", "-o", "OUT/v.txt", "--min-freq", "1", "--epochs", "1", "--threads", "1"],
])
@pytest.mark.parametrize("kind", ["empty.txt", "latin1.txt", "folder", "missing.txt"])
def test_bad_text_files(capsys, files, tmp_path, command, kind):
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    args = [c.replace("OUT", str(out_dir)) for c in command]
    path = files / kind
    if command[0] == "w2v" and kind == "latin1.txt":
        pytest.skip("word2vec counts words; a latin-1 line is refused below in the corpus reader test")
    err = bad(capsys, [*args, path], path, tmp_path)
    if kind == "latin1.txt":
        assert ":1:" in err and "invalid UTF-8" in err  # the file and the line
    assert list(out_dir.iterdir()) == []  # nothing half-written


def test_word2vec_names_the_bad_line(capsys, files, tmp_path):
    bad(capsys, ["w2v", "train", files / "latin1.txt", "-o", tmp_path / "v.txt", "--min-freq", "1"],
        f"{files / 'latin1.txt'}:1")


def test_nul_bytes_in_ngram_training_text(capsys, files, tmp_path):
    bad(capsys, ["lm", "ngram", "train", files / "nul.txt", "-o", tmp_path / "m.arpa"], f"{files / 'nul.txt'}:1")


@pytest.mark.parametrize("stdin_bytes", [b"caf\xe9\n", b"ok\n\xff\xfe\n"])
def test_invalid_utf8_on_stdin(capsys, files, tmp_path, monkeypatch, stdin_bytes):
    import io
    import sys

    for command in (["tokenize"], ["bleu", files / "good.txt"]):
        monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(stdin_bytes)))
        err = bad(capsys, command, "<stdin>")
        assert "invalid UTF-8" in err


# -- outputs ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("command", [
    ["vocab", "build", "IN", "-o", "OUT"], ["lm", "ngram", "train", "IN", "-o", "OUT", "--discount-fallback"],
    ["w2v", "train", "IN", "-o", "OUT", "--min-freq", "1", "--epochs", "1", "--threads", "1"],
    ["vocab", "spm", "IN", "-o", "OUT", "--vocab-size", "20"],
])
def test_outputs_in_missing_folders_or_on_folders_are_refused(capsys, files, tmp_path, command):
    good = files / "good.txt"
    missing = tmp_path / "no" / "such" / "folder" / "out.txt"
    args = [str(good) if c == "IN" else c for c in command]
    bad(capsys, [str(missing) if c == "OUT" else c for c in args], missing.parent)
    assert not (tmp_path / "no").exists()  # no tree created
    bad(capsys, [str(files / "folder") if c == "OUT" else c for c in args], files / "folder")


@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EROFS, errno.EACCES])
def test_file_system_errors_while_writing_are_one_line(capsys, files, tmp_path, monkeypatch, code):
    import os

    real_replace = os.replace

    def failing_replace(src, dst, *a, **k):
        if str(dst).startswith(str(tmp_path / "out")):
            raise OSError(code, os.strerror(code))
        return real_replace(src, dst, *a, **k)

    (tmp_path / "out").mkdir()
    monkeypatch.setattr(os, "replace", failing_replace)
    target = tmp_path / "out" / "v.json"
    err = bad(capsys, ["vocab", "build", files / "good.txt", "-o", target], target, tmp_path)
    assert {errno.ENOSPC: "no space left", errno.EROFS: "read-only", errno.EACCES: "permission denied"}[code] in err
    assert not target.exists()


def test_a_full_stdout_is_one_line(tmp_path):
    import subprocess
    import sys

    src = tmp_path / "a.txt"
    src.write_text("a b c\n")
    with open("/dev/full", "w") as full:
        proc = subprocess.run([sys.executable, "-m", "seqkit.cli", "tokenize", str(src)], stdout=full,
                              stderr=subprocess.PIPE, text=True)
    assert proc.returncode == 2 and proc.stderr.strip().splitlines() == [
        "error: <stdout>: no space left on the device; fix: free some space, or write somewhere else"]


# -- bad values ------------------------------------------------------------------------------------
@pytest.mark.parametrize("args, named", [
    (["vision", "summary", "lenet", "--classes", "0"], "--classes"),
    (["bleu", "IN", "-i", "IN", "IN2", "--paired-bs", "--paired-bs-n", "x"], "--paired-bs-n"),
    (["lm", "ngram", "sample", "MODEL", "-n", "-5"], "--num"),
    (["lm", "ngram", "sample", "MODEL", "--temperature", "-1"], "--temperature"),
    (["recipe", "run", "nmt_transformer", "train.epochs=-1"], "train.epochs"),
    (["recipe", "run", "nmt_transformer", "train.lr=0"], "train.lr"),
    (["recipe", "run", "lm_rnn", "train.epochs=-1"], "epochs"),
    (["recipe", "run", "nmt_transformer", "run_dir=/no/such/parent/run"], "run_dir"),
])
def test_bad_values_are_refused(capsys, files, tmp_path, args, named):
    model = tmp_path / "m.arpa"
    assert main(["lm", "ngram", "train", str(files / "good.txt"), "-o", str(model), "--order", "2",
                 "--discount-fallback"]) == 0
    args = [str(files / "good.txt") if a == "IN" else str(model) if a == "MODEL" else a for a in args]
    bad(capsys, args, named)
    assert not Path("/no").exists()


def test_run_dir_that_is_a_file(capsys, tmp_path):
    f = tmp_path / "file"
    f.write_text("x")
    bad(capsys, ["recipe", "run", "lm_ngram", f"run_dir={f}"], f)


def test_lm_rnn_train_max_time_takes_a_float(capsys, tmp_path):
    assert main(["recipe", "validate", "lm_rnn", "train.max_time=60.0", "train.epochs=2.0"]) == 0


# -- corrupt run files -------------------------------------------------------------------------------
def corrupt(path: Path, content) -> Path:
    """Damage ``path``: ``"truncate"`` (half of it), ``"pickle"`` (a pickled dict), bytes or a JSON object."""
    if content == "truncate":
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    elif content == "pickle":
        path.write_bytes(pickle.dumps({"embedding.weight": [1.0]}))
    elif isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(json.dumps(content))
    return path


@pytest.fixture(scope="module")
def rnn_run(tmp_path_factory):
    """A tiny trained RNN LM model folder (as the lm_rnn recipe writes it)."""
    from seqkit.io import save_json
    from seqkit.lm.rnn import RNNLM, save_rnn_lm
    from seqkit.text import Vocab

    run = tmp_path_factory.mktemp("rnn")
    folder = run / "model"
    vocab = Vocab(list("the cat sat"))
    save_rnn_lm(RNNLM(vocab_size=len(vocab), embed_dim=4, hidden_size=4, num_layers=1), folder)
    vocab.save(folder / "vocab.json")
    save_json(folder / "data.json", {"tokenizer": {"name": "char", "options": {}}, "eos_per_line": False})
    return run


@pytest.mark.parametrize("name, content", [
    ("data.json", {"eos_per_line": False}),
    ("rnn_lm.json", {"embed_dim": 4}),
    ("rnn_lm.json", b"{not json"),
    ("rnn_lm.safetensors", "truncate"),
    ("rnn_lm.safetensors", "pickle"),
    ("vocab.json", b"\x00\x01garbage"),
])
def test_corrupt_rnn_lm_files(capsys, rnn_run, tmp_path, files, name, content):
    import shutil

    run = tmp_path / "run"
    shutil.copytree(rnn_run, run)
    path = corrupt(run / "model" / name, content)
    bad(capsys, ["lm", "rnn", "generate", run, "--prefix", "the", "-n", "3"], path)
    bad(capsys, ["lm", "rnn", "ppl", run, files / "good.txt"], path)


@pytest.fixture(scope="module")
def nmt_model(tmp_path_factory):
    """A tiny untrained translation model folder (model.json, spm.model, model.safetensors)."""
    from seqkit.io import atomic_dir
    from seqkit.seq2seq.model_folder import save_model_dir
    from seqkit.seq2seq.presets import build_model, model_config
    from seqkit.text import SentencePieceTokenizer

    root = tmp_path_factory.mktemp("nmt")
    tok = SentencePieceTokenizer.train(TEXT.splitlines() * 3, vocab_size=30, model_type="char")
    tok.save(root / "spm.model")
    cfg = model_config("transformer", "tiny", d_model=16, d_ff=16, n_enc_layers=1, n_dec_layers=1, n_heads=2)
    model = build_model(cfg, len(tok))
    with atomic_dir(root / "run" / "model", "model") as folder:
        save_model_dir(folder, cfg, len(tok), root / "spm.model", model.state_dict())
    return root / "run"


@pytest.mark.parametrize("name, content", [
    ("model.json", {"vocab_size": 30}),
    ("model.json", "unknown-arch"),
    ("model.safetensors", "truncate"),
    ("model.safetensors", "pickle"),
    ("spm.model", b"not a sentencepiece model"),
])
def test_corrupt_translation_model_files(capsys, nmt_model, tmp_path, name, content, monkeypatch):
    import io
    import shutil
    import sys

    run = tmp_path / "run"
    shutil.copytree(nmt_model, run)
    info = json.loads((run / "model" / "model.json").read_text())
    if content == "unknown-arch":
        content = {**info, "model": {**info["model"], "arch": "lstm9000"}}
    elif isinstance(content, dict):
        content = {**content, "tokenizer_sha256": info["tokenizer_sha256"]}
    path = corrupt(run / "model" / name, content)
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"the cat\n")))
    bad(capsys, ["translate", "--run", run], path.parent if name == "spm.model" else path)


def test_translate_works_on_the_intact_model(capsys, nmt_model, monkeypatch):
    import io
    import sys

    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"the cat\n\n")))
    assert main(["translate", "--run", str(nmt_model), "--beam", "1"]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 2


# -- byte-order marks and CRLF ---------------------------------------------------------------------
@pytest.mark.parametrize("command, output", [
    (["vocab", "build", "IN", "-o", "OUT"], "v.json"),
    (["lm", "ngram", "train", "IN", "-o", "OUT", "--order", "3", "--discount-fallback"], "m.arpa"),
    (["w2v", "train", "IN", "-o", "OUT", "--min-freq", "1", "--epochs", "1", "--threads", "1", "--dim", "8"], "v.txt"),
    (["vocab", "spm", "IN", "-o", "OUT", "--vocab-size", "20"], "m.model"),
])
def test_bom_and_crlf_give_byte_identical_results(capsys, files, tmp_path, command, output):
    outs = []
    for name in ("good.txt", "bom_crlf.txt"):
        out = tmp_path / name / output
        out.parent.mkdir()
        assert main([str(files / name) if c == "IN" else str(out) if c == "OUT" else c for c in command]) == 0
        outs.append(out.read_bytes())
    assert outs[0] == outs[1]


def test_bom_and_crlf_tokenize_identically(capsys, files):
    outputs = []
    for name in ("good.txt", "bom_crlf.txt"):
        assert main(["tokenize", str(files / name)]) == 0
        outputs.append(capsys.readouterr().out)
    assert outputs[0] == outputs[1]


def test_bom_and_crlf_parallel_data_reads_identically(files, tmp_path):
    from seqkit.data import load

    clean = load([str(files / "good.txt"), str(files / "good.txt")])
    marked = load([str(files / "bom_crlf.txt"), str(files / "bom_crlf.txt")])
    assert list(clean.train.src) == list(marked.train.src)


# -- leftovers of a killed run -----------------------------------------------------------------------
def test_a_run_removes_what_a_killed_run_left(tmp_path):
    from seqkit.recipes.pipeline import run_pipeline, stage

    @stage("test.noop_leftovers")
    def _noop(run):
        """Does nothing."""
        return {}

    run_dir = tmp_path / "run"
    (run_dir / "train" / "checkpoints").mkdir(parents=True)
    (run_dir / "train" / "checkpoints" / ".best.safetensors.tmp").write_bytes(b"half")
    (run_dir / ".config.yaml.abc123.tmp").write_text("half")
    (run_dir / ".model.xyz.tmp").mkdir()
    (run_dir / ".lock").write_text("")  # what a killed run leaves too (the kernel dropped its lock)
    run_pipeline({"stages": ["test.noop_leftovers"], "run_dir": str(run_dir)}, echo=False)
    assert _no_tmp(run_dir) == [] and not (run_dir / ".model.xyz.tmp").exists()
    assert "removed 3 temporary file(s)" in (run_dir / "log.txt").read_text()


def test_a_full_disk_in_the_middle_of_training_is_one_line(capsys, files, tmp_path, monkeypatch):
    import os

    real_replace = os.replace
    run_dir = tmp_path / "run"

    def disk_full_at_checkpoint(src, dst, *a, **k):
        if "checkpoints" in str(dst) and "step-00000003" in str(dst):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_replace(src, dst, *a, **k)

    monkeypatch.setattr(os, "replace", disk_full_at_checkpoint)
    err = bad(capsys, ["lm", "rnn", "train", files / "good.txt", "-o", run_dir, "--hidden-size", "8",
                       "--embed-dim", "4", "--num-layers", "1", "--device", "cpu",
                       "--set", "train.max_steps=5", "--set", "train.ckpt_every_steps=1",
                       "--set", "train.batch_size=2", "--set", "train.num_steps=5", "--set", "train.progress=false"],
              "step-00000003", run_dir)
    assert "no space left" in err
    assert (run_dir / "train" / "checkpoints" / "last.json").is_file()  # the last complete checkpoint stays


def test_glove_dimension_is_the_majority_and_skips_are_reported(capsys, tmp_path):
    from seqkit.embeddings import load_vectors

    path = tmp_path / "g.txt"
    path.write_text("odd 0.1 0.2 0.3\n" + "".join(f"w{i} 0.{i} 0.{i + 1}\n" for i in range(1, 6)))
    kv = load_vectors(path)
    assert (len(kv), kv.vector_size, kv.load_report.wrong_dim) == (5, 2, 1)
    assert main(["w2v", "similar", str(path), "w1", "-n", "1"]) == 0
    err = capsys.readouterr().err
    assert "skipped 1 lines with the wrong dimension (line 1: more than 2 numbers on the line)" in err


def test_a_tar_member_named_like_a_folder(tmp_path):
    import io
    import tarfile

    from seqkit.data.download import extract
    from seqkit.errors import SeqkitError

    archive = tmp_path / "evil.tar"
    with tarfile.open(archive, "w") as tf:
        info = tarfile.TarInfo(".")
        info.size = 2
        tf.addfile(info, io.BytesIO(b"hi"))
    with pytest.raises(SeqkitError, match="archive member '.' is a file named like a folder"):
        extract(archive, tmp_path / "out")


def test_ctrl_c_names_the_last_checkpoint_and_the_resume_command(capsys, files, tmp_path, monkeypatch):
    import seqkit.lm.rnn.train as rnn_train

    real = rnn_train.LMStep.__call__
    calls = [0]

    def interrupted(self, model, batch):
        calls[0] += 1
        if calls[0] == 4:
            raise KeyboardInterrupt
        return real(self, model, batch)

    monkeypatch.setattr(rnn_train.LMStep, "__call__", interrupted)
    run_dir = tmp_path / "run"
    status = main(["lm", "rnn", "train", str(files / "good.txt"), "-o", str(run_dir), "--hidden-size", "8",
                   "--embed-dim", "4", "--num-layers", "1", "--device", "cpu", "--set", "train.max_steps=9",
                   "--set", "train.ckpt_every_steps=2", "--set", "train.batch_size=2", "--set",
                   "train.num_steps=5", "--set", "train.progress=false"])
    out, err = capsys.readouterr()
    assert status == 130 and err.strip() == "interrupted"
    assert (f"interrupted; the last checkpoint is at update 2; continue with: seqkit recipe run lm_rnn "
            f"run_dir={run_dir} resume=true") in out


def test_corrupt_ids_vision_and_cache_files(capsys, files, tmp_path):
    import numpy as np

    from seqkit.embeddings.vector_cache import load_cache
    from seqkit.errors import SeqkitError
    from seqkit.train import load_weights

    ids = tmp_path / "ids.safetensors"
    ids.write_bytes(pickle.dumps({"train": [1, 2, 3]}))
    with pytest.raises(SeqkitError, match="corrupt or truncated weights file") as err:
        load_weights(ids)
    assert str(ids) in str(err.value)
    # a vector cache holding an object array (pickled on save) is not loaded: it is rebuilt
    cache = tmp_path / "cache"
    cache.mkdir()
    np.save(cache / "vectors.npy", np.array([{"x": 1}], dtype=object), allow_pickle=True)
    (cache / "meta.json").write_text(json.dumps({"version": 10**6}))
    assert load_cache(cache) is None
    # a vision run whose model.json lacks its name
    run_dir = tmp_path / "vision"
    assert main(["recipe", "run", "vision_lenet", f"run_dir={run_dir}", "train.epochs=1", "data.resolution=12",
                 "model.name=lenet-relu"]) == 0
    info = json.loads((run_dir / "model" / "model.json").read_text())
    del info["name"]
    (run_dir / "model" / "model.json").write_text(json.dumps(info))
    (run_dir / "stages" / "vision.evaluate.json").unlink()  # training is kept, evaluation runs again
    bad(capsys, ["recipe", "run", "vision_lenet", f"run_dir={run_dir}", "train.epochs=1", "data.resolution=12",
                 "model.name=lenet-relu"], run_dir / "model" / "model.json")


def test_lm_rnn_generate_refuses_a_negative_count(capsys, rnn_run):
    bad(capsys, ["lm", "rnn", "generate", rnn_run, "-n", "-5"], "--num-tokens")


@pytest.mark.parametrize("content", [b"garbage{", b"[1, 2]", pickle.dumps({"fingerprint": 1}),
                                     b'{"fingerprint": 5, "result": [1]}'])
def test_a_damaged_stage_record_makes_the_stage_run_again(tmp_path, content):
    from seqkit.recipes.pipeline import run_pipeline, stage

    calls = []

    @stage("test.counted")
    def _counted(run):
        """Counts its runs."""
        calls.append(1)
        return {"n": len(calls)}

    cfg = {"stages": ["test.counted"], "run_dir": str(tmp_path / "run")}
    run_pipeline(cfg, echo=False)
    run_pipeline(cfg, echo=False)
    assert len(calls) == 1  # unchanged: skipped
    (tmp_path / "run" / "stages" / "test.counted.json").write_bytes(content)
    run = run_pipeline(cfg, echo=False)
    assert len(calls) == 2 and run.results["test.counted"] == {"n": 2}
    assert "stages/test.counted.json is unreadable: the stage runs again" in (tmp_path / "run" / "log.txt").read_text()
