"""spm.sampling in the NMT recipe: bad values are one line each before anything runs, a sampled run
resumes bit for bit, a changed sampling setting is refused on resume, and turning sampling on does not
train the tokenizer again."""

from __future__ import annotations

import json
import re

import pytest
import torch

from seqkit.cli import main
from seqkit.train import CheckpointManager, load_weights

TINY = {"device": "cpu", "spm.vocab_size": 300, "train.max_steps": 6, "train.max_time": None,
        "train.ckpt_every_steps": 2, "train.valid_every": 3, "train.log_every": 1, "train.max_tokens": 1500,
        "train.warmup": 2, "train.progress": False, "train.amp": "none", "decode.beam": 2, "decode.heatmaps": 0,
        "model.d_model": 32, "model.d_ff": 64, "model.n_enc_layers": 1, "model.n_dec_layers": 1,
        "data.max_train": 60, "data.max_valid": 10, "data.max_test": 5, "spm.sampling.enabled": True}


def _args(**values) -> list[str]:
    return [f"{k}={json.dumps(v) if not isinstance(v, str) else v}" for k, v in values.items()]


def test_bad_sampling_values_are_one_line_each(tmp_path, capsys):
    run_dir = tmp_path / "run"
    assert main(["recipe", "run", "nmt_transformer", f"run_dir={run_dir}",
                 *_args(**{"spm.sampling.alpha": 2, "spm.sampling.nbest_size": 1})]) == 2
    err = capsys.readouterr().err.splitlines()
    assert err == ["error: spm.sampling.alpha: must be <= 1, got 2.0"], err  # then the range of nbest_size
    assert main(["recipe", "run", "nmt_transformer", f"run_dir={run_dir}",
                 *_args(**{"spm.sampling.nbest_size": 1})]) == 2
    assert capsys.readouterr().err.splitlines() == [
        "error: spm.sampling.nbest_size: must be -1 (every segmentation of a word, up to 256) or in [2, 256], got 1"]
    assert main(["recipe", "run", "nmt_transformer", f"run_dir={run_dir}",
                 *_args(**{"spm.model_type": "bpe", "spm.sampling.enabled": True, "spm.sampling.alpha": 1})]) == 2
    assert capsys.readouterr().err.splitlines() == [
        "error: spm.sampling.alpha: a bpe model's merge dropout rate must be < 1, got 1.0 (e.g. 0.1)"]
    assert not run_dir.exists()


def _interrupted(run_dir, stop_after: int) -> str:
    real = CheckpointManager.save_last

    def save_then_interrupt(self, step, weights, state):
        path = real(self, step, weights, state)
        if step == stop_after:
            raise KeyboardInterrupt
        return path

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(CheckpointManager, "save_last", save_then_interrupt)
        assert main(["recipe", "run", "nmt_transformer", f"run_dir={run_dir}", *_args(**TINY)]) == 130
    found = re.search(r"continue with: (.*)$", (run_dir / "log.txt").read_text(encoding="utf-8"), re.MULTILINE)
    return found.group(1)


def test_a_sampled_run_resumes_bit_for_bit_and_refuses_another_sampling(tmp_path, capsys):
    whole, cut = tmp_path / "whole", tmp_path / "cut"
    assert main(["recipe", "run", "nmt_transformer", f"run_dir={whole}", *_args(**TINY)]) == 0
    assert "subword sampling (unigram): alpha 0.1, nbest_size -1" in (whole / "log.txt").read_text(encoding="utf-8")
    _interrupted(cut, 4)
    base = ["recipe", "run", "nmt_transformer", f"run_dir={cut}", "resume=true"]
    capsys.readouterr()
    assert main([*base, "spm.sampling.alpha=0.3"]) == 2
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(err) == 1 and "spm.sampling.alpha" in err[0] and "0.1" in err[0] and "0.3" in err[0], err
    assert main(base) == 0
    for name in ("train/checkpoints/step-00000006.safetensors", "model/model.safetensors"):
        a, b = load_weights(whole / name), load_weights(cut / name)
        assert all(torch.equal(a[k], b[k]) for k in a), name
    losses = [{r["step"]: r["loss"] for r in map(json.loads, (d / "train/metrics.jsonl").read_text().splitlines())
               if r.get("split") == "train"} for d in (whole, cut)]
    assert losses[0] == losses[1] and sorted(losses[0]) == list(range(1, 7))
    # the run's record says what was averaged (the recipe's default: the best 5, the choice on validation)
    record = json.loads((whole / "stages" / "nmt.train.json").read_text())["result"]["average"]
    assert record["kind"] == "best" and record["n"] == 5 and record["chosen"] in ("average", "best")

    # sampling off for the same run folder: the tokenizer stages are not run again, training is
    spm_record = (whole / "stages" / "nmt.spm.json").read_bytes()
    assert main(["recipe", "run", "nmt_transformer", f"run_dir={whole}",
                 *_args(**{**TINY, "spm.sampling.enabled": False})]) == 0
    assert (whole / "stages" / "nmt.spm.json").read_bytes() == spm_record
    assert "subword sampling" not in (whole / "log.txt").read_text(encoding="utf-8").split("[nmt.train]")[-1]
