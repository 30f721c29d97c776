"""Every NMT run keeps validation BLEU against wall-clock time, with its picture."""

from __future__ import annotations

import json
import random

from seqkit.seq2seq.presets import build_model, model_config
from seqkit.seq2seq.training import NMTTrainConfig, train_nmt
from seqkit.text import SentencePieceTokenizer
from seqkit.train.plots import plot_against_time


def _reverse_task(seed: int, n: int, dropout: float):
    """``(src, tgt, tokenizer, model config)``: reverse ``n`` sequences of letters, a 1+1-layer model."""
    rng = random.Random(seed)
    src = [" ".join(rng.choice("abcdef") for _ in range(rng.randint(1, 5))) for _ in range(n)]
    tgt = [" ".join(s.split()[::-1]) for s in src]
    tok = SentencePieceTokenizer.train(src + tgt, vocab_size=12, model_type="char")
    mcfg = model_config("transformer", "tiny", d_model=32, d_ff=64, n_heads=2, n_enc_layers=1, n_dec_layers=1,
                        dropout=dropout)
    return src, tgt, tok, mcfg


def test_validations_record_their_time_and_the_run_draws_bleu_against_time(tmp_path):
    src, tgt, tok, mcfg = _reverse_task(3, 200, dropout=0.0)
    cfg = NMTTrainConfig(lr=1e-2, warmup=5, max_tokens=200, max_steps=30, valid_every=10, valid_max_sents=20,
                         amp="none", progress=False)
    train_nmt(build_model(mcfg, len(tok)), tok, src[:180], tgt[:180], src[180:], tgt[180:], cfg=cfg,
              run_dir=tmp_path)
    records = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    valid = [r for r in records if r["split"] == "valid"]
    assert [r["step"] for r in valid] == [10, 20, 30]
    times = [r["time"] for r in valid]
    assert all(t > 0 for t in times) and times == sorted(times)  # seconds since the run began
    picture = tmp_path / "bleu_time.png"
    assert picture.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_no_timed_validation_draws_nothing(tmp_path):
    (tmp_path / "m.jsonl").write_text('{"split": "train", "step": 1, "loss": 2.0}\n'
                                      '{"split": "valid", "step": 2, "bleu": 3.0}\n')  # an older run: no time
    assert plot_against_time(tmp_path / "m.jsonl", tmp_path / "b.png") is None and not (tmp_path / "b.png").exists()


def test_a_seed_makes_two_trainings_in_one_process_equal():
    """build_model(seed=) and train_nmt(seed=): the README example run twice gives the same model,
    whatever torch's generator went through in between (dropout on)."""
    import torch

    src, tgt, tok, mcfg = _reverse_task(5, 120, dropout=0.3)
    cfg = NMTTrainConfig(lr=1e-2, warmup=2, max_tokens=200, max_steps=5, valid_every=None, amp="none",
                         progress=False)
    weights = []
    for burn in (0, 7):
        torch.rand(burn)  # other work in between draws from the global generator
        model = build_model(mcfg, len(tok), seed=3)
        train_nmt(model, tok, src, tgt, cfg=cfg, seed=3)
        weights.append(model.state_dict())
    assert all(torch.equal(weights[0][k], weights[1][k]) for k in weights[0])
    other = build_model(mcfg, len(tok), seed=4).state_dict()
    assert not all(torch.equal(other[k], weights[0][k]) for k in other if other[k].dtype.is_floating_point)
