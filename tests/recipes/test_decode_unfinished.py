"""A running or killed run decodes: the model folder is written at the first validation and kept
current; `--checkpoint last` takes the newest step checkpoint (fairseq/JoeyNMT users decode any
checkpoint of a run)."""

from __future__ import annotations

import json

import pytest
import torch

from seqkit.cli import main
from seqkit.seq2seq.translator import Translator
from seqkit.train import CheckpointManager, load_weights

TINY = ["device=cpu", "spm.vocab_size=300", "train.max_steps=6", "train.max_time=null", "train.ckpt_every_steps=2",
        "train.valid_every=3", "train.max_tokens=1500", "train.warmup=2", "train.progress=false", "train.amp=none",
        "decode.beam=2", "decode.heatmaps=0", "model.d_model=32", "model.d_ff=64", "model.n_enc_layers=1",
        "model.n_dec_layers=1", "data.max_train=300", "data.max_valid=20", "data.max_test=10"]


def test_a_killed_run_decodes_its_best_and_its_last_checkpoint(tmp_path, capsys, monkeypatch):
    real = CheckpointManager.save_last

    def save_then_interrupt(self, step, weights, state):  # Ctrl-C right after update 4's checkpoint
        path = real(self, step, weights, state)
        if step == 4:
            raise KeyboardInterrupt
        return path

    run = tmp_path / "run"
    monkeypatch.setattr(CheckpointManager, "save_last", save_then_interrupt)
    assert main(["recipe", "run", "nmt_transformer", f"run_dir={run}", *TINY]) == 130
    monkeypatch.undo()
    # the validation at update 3 was the first, so the best: the model folder holds its weights
    checkpoints = run / "train" / "checkpoints"
    assert json.loads((checkpoints / "best.json").read_text())[0]["step"] == 3
    best = load_weights(run / "model" / "model.safetensors")
    assert all(torch.equal(best[k], v) for k, v in load_weights(checkpoints / "best-step-00000003.safetensors").items())
    last = json.loads((checkpoints / "last.json").read_text())
    assert last["step"] == 4
    src = tmp_path / "src.txt"
    src.write_text("The cat sleeps.\nA house.\n", encoding="utf-8")
    capsys.readouterr()
    outs = {}
    for which in ("best", "last", str(checkpoints / last["weights"])):
        assert main(["translate", "--run", str(run), "--checkpoint", which, "-i", str(src), "--beam", "2"]) == 0
        outs[which] = capsys.readouterr().out.splitlines()
        assert len(outs[which]) == 2
    assert outs["last"] == outs[str(checkpoints / last["weights"])]
    # the Python API names them the same way, and "last" really is update 4's weights
    model = Translator.from_run(run, weights="last").model
    step4 = load_weights(checkpoints / last["weights"])
    assert all(torch.equal(p, step4[k]) for k, p in model.state_dict().items())


def test_checkpoint_names_are_checked(tmp_path, capsys):
    from seqkit.seq2seq.model_folder import checkpoint_weights

    with pytest.raises(Exception, match="run directory not found"):
        checkpoint_weights(tmp_path / "none", "last")
    with pytest.raises(Exception, match="checkpoint not found"):
        checkpoint_weights(tmp_path, str(tmp_path / "nope.safetensors"))
    assert checkpoint_weights(tmp_path, "best") is None and checkpoint_weights(tmp_path, None) is None
