"""One owner of the run directory: the lock, the config checked before anything is written, the model
folder that is swapped in whole, decode settings from the caller."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from seqkit.cli import main
from seqkit.errors import SeqkitError
from seqkit.recipes.pipeline import RunLock, run_pipeline, stage

REPO = Path(__file__).resolve().parents[2]


@stage("test.write_marker", uses=("marker",))
def _write_marker(run):
    """A stage for these tests: writes marker.txt."""
    run.path("marker.txt").write_text(str(run.cfg.marker))
    return {"files": ["marker.txt"]}


def _holder(run_dir: Path) -> subprocess.Popen:
    """Another process that holds the lock of ``run_dir`` until it is killed."""
    code = ("import sys, time\nfrom seqkit.recipes.pipeline import RunLock\n"
            f"lock = RunLock({str(run_dir)!r}).acquire()\nprint('locked', flush=True)\ntime.sleep(600)\n")
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "locked"
    return proc


def test_a_second_run_into_a_held_directory_stops_at_once_naming_the_holder(tmp_path, capsys):
    run_dir = tmp_path / "run"
    holder = _holder(run_dir)
    try:
        cfg = {"stages": ["test.write_marker"], "marker": 1, "run_dir": str(run_dir)}
        with pytest.raises(SeqkitError) as err:
            run_pipeline(cfg, echo=False)
        message = str(err.value)
        assert "in use by another seqkit run" in message and f"pid {holder.pid}" in message
        assert not (run_dir / "marker.txt").exists() and not (run_dir / "config.yaml").exists()
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    # the holder died without releasing: its lock is taken over, and the log says so
    run = run_pipeline(cfg, echo=False)
    assert (run_dir / "marker.txt").read_text() == "1"
    log = (run_dir / "log.txt").read_text()
    assert f"took over the lock of a run that ended without releasing it (pid {holder.pid}" in log
    # a run that ended normally leaves nothing to take over
    run_pipeline({**cfg, "marker": 2}, echo=False)
    assert log.count("took over") == (run_dir / "log.txt").read_text().count("took over")
    assert run.dir == run_dir


def test_the_lock_is_exclusive_within_one_process_too(tmp_path):
    with RunLock(tmp_path):
        with pytest.raises(SeqkitError, match=f"pid {os.getpid()}"):
            RunLock(tmp_path).acquire()
    RunLock(tmp_path).acquire().release()  # released on exit


BAD_VALUES = [
    ("model.preset=nope", "model.preset: must be one of tiny, small, base, big, iwslt, got 'nope'"),
    ("train.optimizer=nope", "train.optimizer: must be one of adam, adamw, got 'nope'"),
    ("train.lr=-1", "train.lr: must be > 0, got -1"),
    ("decode.beam=0", "decode.beam: must be >= 1, got 0"),
    ("device=tpu", "device: must be auto, cpu, cuda, cuda:N or mps, got 'tpu'"),
    ("model.d_model=100 model.n_heads=3", "model.d_model: must be a multiple of model.n_heads (100 % 3 = 1)"),
    ("data=ptb", "data.name: 'ptb' is a language-modelling corpus; a translation recipe needs a parallel one"),
]


@pytest.mark.parametrize("overrides, expected", BAD_VALUES)
def test_recipe_validate_and_run_refuse_bad_values_before_any_run_directory(overrides, expected, tmp_path, capsys):
    run_dir = tmp_path / "run"
    args = overrides.split() + [f"run_dir={run_dir}"]
    assert main(["recipe", "validate", "nmt_transformer", *args]) == 2
    err = capsys.readouterr().err
    assert f"error: {expected}" in err
    assert main(["recipe", "run", "nmt_transformer", *args]) == 2
    assert expected in capsys.readouterr().err
    assert not run_dir.exists()


def test_every_problem_is_its_own_line(capsys):
    assert main(["recipe", "validate", "nmt_transformer", "train.lr=-1", "decode.beam=0", "device=tpu"]) == 2
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 3 and all(line.startswith("error: ") for line in lines)


def test_good_overrides_validate(capsys):
    assert main(["recipe", "validate", "nmt_transformer", "model.preset=base", "decode.alpha=0.6"]) == 0
    assert "ok" in capsys.readouterr().out


# -- with a trained run ------------------------------------------------------------------------------
def _tiny_nmt(run_dir: Path, tmp: Path, **more) -> OmegaConf:
    from seqkit.recipes.config import load_recipe

    en = (REPO / "data/en-fr/train.en").read_text(encoding="utf-8").splitlines()
    fr = (REPO / "data/en-fr/train.fr").read_text(encoding="utf-8").splitlines()
    o = {"run_dir": str(run_dir), "device": "cpu", "data.src": "en", "data.tgt": "fr", "spm.vocab_size": 200,
         "train.max_steps": 4, "train.max_time": None, "train.valid_every": 2, "train.ckpt_every_steps": 2,
         "train.max_tokens": 1500, "train.progress": False, "train.warmup": 2, "train.amp": "none",
         "decode.beam": 2, "model.d_model": 32, "model.d_ff": 64, "model.n_enc_layers": 1,
         "model.n_dec_layers": 1, **more}
    for split, (a, b) in {"train": (0, 200), "valid": (200, 220), "test": (220, 230)}.items():
        (tmp / f"{split}.en").write_text("\n".join(en[a:b]) + "\n", encoding="utf-8")
        (tmp / f"{split}.fr").write_text("\n".join(fr[a:b]) + "\n", encoding="utf-8")
        o[f"data.{split}"] = [str(tmp / f"{split}.en"), str(tmp / f"{split}.fr")]
    return load_recipe("nmt_transformer", [f"{k}={json.dumps(v) if not isinstance(v, str) else v}"
                                           for k, v in o.items()])[1]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("owner")
    cfg = _tiny_nmt(tmp / "run", tmp)
    return run_pipeline(cfg, "nmt_transformer", echo=False), tmp


def test_decode_settings_come_from_the_caller_not_from_training(trained):
    run, tmp = trained
    from seqkit.seq2seq.translator import Translator

    assert "decode" not in json.loads((run.dir / "model" / "model.json").read_text())
    cfg = OmegaConf.create((run.dir / "config.yaml").read_text())
    cfg.decode.alpha, cfg.decode.max_len_b = 0.6, 3
    again = run_pipeline(cfg, "nmt_transformer", echo=False)
    assert again.results["nmt.decode"]["decode"]["alpha"] == 0.6
    assert again.results["nmt.decode"]["decode"]["max_len_b"] == 3
    src = (run.dir / "data" / "test.src").read_text(encoding="utf-8").splitlines()
    expected = Translator.from_run(run.dir, beam=2, alpha=0.6, max_len_b=3).translate(src)
    assert (run.dir / "test.hyp").read_text(encoding="utf-8").splitlines() == expected
    assert "alpha 0.6" in (run.dir / "log.txt").read_text()


def test_a_failed_retrain_with_another_tokenizer_leaves_the_old_model_whole(trained, tmp_path, monkeypatch):
    import shutil

    import seqkit.recipes.nmt as nmt_stages
    from seqkit.io import sha256_file
    from seqkit.seq2seq.translator import Translator

    run, _ = trained
    run_dir = tmp_path / "run"
    shutil.copytree(run.dir, run_dir)
    before = {name: sha256_file(run_dir / "model" / name) for name in ("spm.model", "model.safetensors")}
    hyps = Translator.from_run(run_dir, beam=2).translate(["The cat eats."])

    def dies(*args, **kwargs):
        raise RuntimeError("killed in the middle of training")

    monkeypatch.setattr(nmt_stages, "train_nmt", dies)
    cfg = OmegaConf.create((run_dir / "config.yaml").read_text())
    cfg.run_dir, cfg.spm.model_type = str(run_dir), "bpe"
    with pytest.raises(RuntimeError, match="killed"):
        run_pipeline(cfg, "nmt_transformer", echo=False)
    assert sha256_file(run_dir / "spm.model") != before["spm.model"]  # the new tokenizer was trained ...
    after = {name: sha256_file(run_dir / "model" / name) for name in ("spm.model", "model.safetensors")}
    assert after == before  # ... but the model folder is the old set, whole
    assert Translator.from_run(run_dir, beam=2).translate(["The cat eats."]) == hyps
    assert not [p for p in run_dir.iterdir() if p.name.startswith(".model.")]  # no half-built folder left


def test_translate_refuses_a_tokenizer_that_is_not_the_weights_one(trained, tmp_path, capsys):
    import shutil

    from seqkit.text import SentencePieceTokenizer

    run, _ = trained
    mixed = tmp_path / "mixed"
    shutil.copytree(run.dir / "model", mixed)
    lines = (run.dir / "data" / "train.src").read_text(encoding="utf-8").splitlines()
    SentencePieceTokenizer.train(lines, vocab_size=200, model_type="bpe").save(mixed / "spm.model")
    src = tmp_path / "src.txt"
    src.write_text("The cat eats.\n")
    code = subprocess.run([sys.executable, "-m", "seqkit.cli", "translate", "--run", str(mixed)], stdin=open(src),
                          capture_output=True, text=True, cwd=REPO)
    assert code.returncode == 2 and code.stdout == ""
    err = code.stderr.strip().splitlines()
    assert len(err) == 1 and "spm.model is not the tokenizer these weights were trained with" in err[0]


@pytest.mark.parametrize("recipe, overrides, expected", [
    ("lm_rnn", "data=multi30k", "data.name: 'multi30k' is a parallel corpus; a language model needs an LM corpus"),
    ("lm_rnn", "model.cell=bilstm", "model: unknown RNN cell 'bilstm'"),
    ("lm_rnn", "train.lr=0", "train: lr must be > 0"),
    ("lm_rnn", "generate.temperature=-1", "generate.temperature: must be >= 0, got -1"),
    ("lm_ngram", "model.order=0", "model.order: must be >= 1, got 0"),
    ("lm_ngram", "model.smoothing=nope", "model.smoothing: must be one of mle, addk"),
    ("vision_lenet", "train.optimizer=nope", "train.optimizer: must be one of sgd, momentum"),
    ("vision_lenet", "model.name=nope", "model.name: must be one of lenet,"),
    ("nmt_rnn_attention", "model.preset=big", "model.preset: must be one of tiny, small, base, got 'big'"),
])
def test_every_recipe_checks_its_values_first(recipe, overrides, expected, tmp_path, capsys):
    run_dir = tmp_path / "run"
    assert main(["recipe", "run", recipe, *overrides.split(), f"run_dir={run_dir}"]) == 2
    assert f"error: {expected}" in capsys.readouterr().err
    assert not run_dir.exists()


def test_word2vec_checks_its_values_first(tmp_path, capsys):
    run_dir = tmp_path / "run"
    assert main(["recipe", "run", "word2vec", "word2vec.dim=0", "word2vec.backend=x", f"run_dir={run_dir}"]) == 2
    err = capsys.readouterr().err.splitlines()
    assert err == ["error: word2vec.dim: must be >= 1, got 0",
                   "error: word2vec.backend: must be one of auto, kernel, torch, got 'x'"]
    assert not run_dir.exists()


def test_the_recipe_can_average_the_best_checkpoints(trained, tmp_path):
    import shutil

    import torch

    from seqkit.train import average_weights, best_checkpoints, load_weights

    run, _ = trained
    run_dir = tmp_path / "run"
    shutil.copytree(run.dir, run_dir)
    cfg = OmegaConf.create((run_dir / "config.yaml").read_text())
    cfg.run_dir, cfg.train.average_best = str(run_dir), 2
    run = run_pipeline(cfg, "nmt_transformer", echo=False)
    best = best_checkpoints(run_dir / "train" / "checkpoints", 2)
    assert len(best) == 2
    # the run records what it averaged, both validation scores, and which weights it kept
    record = json.loads((run_dir / "stages" / "nmt.train.json").read_text())["result"]["average"]
    assert record == run.results["nmt.train"]["average"]
    assert record["kind"] == "best" and record["checkpoints"] == [p.name for p in best]
    n_valid = len((run_dir / "data" / "valid.src").read_text().splitlines())
    assert record["judged_on"] == f"{n_valid:,} validation sentences, beam {cfg.decode.beam}"
    model = load_weights(run_dir / "model" / "model.safetensors")
    if record["valid_bleu_average"] >= record["valid_bleu_best"]:
        assert record["chosen"] == "average"
        expected = average_weights(best)
        assert f"model = the mean of {best[0].name}, {best[1].name} (on {record['judged_on']}" in (
            run_dir / "log.txt").read_text()
    else:
        assert record["chosen"] == "best"
        expected = load_weights(best[0])
    assert all(torch.equal(model[k], expected[k]) for k in expected)


def test_seqkit_average_the_last_checkpoints_of_a_run(tmp_path, capsys):
    import torch

    from seqkit.train import average_weights, load_weights

    run_dir = tmp_path / "run"
    cfg = _tiny_nmt(run_dir, tmp_path, **{"train.keep_last": 2, "train.max_steps": 6})
    run_pipeline(cfg, "nmt_transformer", echo=False)
    steps = sorted(p.name for p in (run_dir / "train" / "checkpoints").glob("step-*.safetensors"))
    assert steps == ["step-00000004.safetensors", "step-00000006.safetensors"]
    out = tmp_path / "last2.safetensors"
    assert main(["average", "--run", str(run_dir), "--last", "2", "-o", str(out)]) == 0
    expected = average_weights([run_dir / "train" / "checkpoints" / s for s in steps])
    got = load_weights(out)
    assert all(torch.equal(got[k], expected[k]) for k in expected)
