"""Commands that never compute with PyTorch do not import it (its import alone takes seconds)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

PROBE = r"""
import json, sys
from seqkit.cli import main
rc = main(sys.argv[1:])
print(json.dumps({"rc": rc, "torch": "torch" in sys.modules}))
"""
EN = Path(__file__).resolve().parents[1] / "data" / "en-fr" / "train.en"


@pytest.mark.parametrize("args", [
    ["lm", "ngram", "train", "--order", "3", "{text}", "-o", "{out}/m.arpa"],
    ["lm", "ngram", "ppl", "{out}/m.arpa", "{text}"],
    ["bleu", "{text}", "-i", "{text}"],
    ["tokenize", "--tokenizer", "whitespace", "{text}"],
    ["vocab", "build", "{text}", "-o", "{out}/vocab.json"],
])
def test_commands_without_torch_do_not_import_it(args, tmp_path):
    text = tmp_path / "train.en"
    text.write_text("".join(EN.read_text(encoding="utf-8").splitlines(keepends=True)[:2000]), encoding="utf-8")
    if args[2] == "ppl":  # scores the model the first case trains
        subprocess.run([sys.executable, "-c", PROBE, "lm", "ngram", "train", "--order", "3", str(text), "-o",
                        str(tmp_path / "m.arpa")], check=True, capture_output=True)
    argv = [a.format(text=text, out=tmp_path) for a in args]
    out = subprocess.run([sys.executable, "-c", PROBE, *argv], capture_output=True, text=True, timeout=300)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["rc"] in (0, None), out.stderr[-2000:]
    assert result["torch"] is False, f"`seqkit {' '.join(args[:3])}` imported torch"


def test_shortlist_build_does_not_import_torch(tmp_path):
    """It reads a model folder's tokenizer and the run's training text, and counts with numpy."""
    import torch
    from tiny_nmt import en_fr_lines, en_fr_tokenizer, save_run

    from seqkit.seq2seq.presets import build_model, model_config

    tokenizer = en_fr_tokenizer()
    cfg = model_config("transformer", "tiny", d_model=32, d_ff=64, n_heads=4, n_enc_layers=1, n_dec_layers=1)
    torch.manual_seed(0)
    run = save_run(tmp_path / "run", cfg, tokenizer, build_model(cfg, len(tokenizer)))
    (run / "data").mkdir()
    for side, lang in (("src", "en"), ("tgt", "fr")):
        (run / "data" / f"train.{side}").write_text("\n".join(en_fr_lines(f"train.{lang}", 300)) + "\n",
                                                     encoding="utf-8")
    out = subprocess.run([sys.executable, "-c", PROBE, "shortlist", "build", "--run", str(run), "--top-k", "5",
                          "--frequent", "20"], capture_output=True, text=True, timeout=300)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["rc"] in (0, None), out.stderr[-2000:]
    assert (run / "vmap.txt").read_text(encoding="utf-8").startswith("\t")  # the always-included line first
    assert result["torch"] is False, "`seqkit shortlist build` imported torch"
