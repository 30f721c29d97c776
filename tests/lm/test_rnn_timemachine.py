"""Slow: the default lm_rnn recipe on the real time machine (char LSTM) learns and writes a continuation."""

from __future__ import annotations

import pytest

from seqkit.recipes.config import load_recipe
from seqkit.recipes.pipeline import run_pipeline


@pytest.mark.slow
def test_char_lstm_on_the_time_machine(shared_data, tmp_path, monkeypatch):
    monkeypatch.setenv("SEQKIT_DATA", str(shared_data))
    _, cfg = load_recipe("lm_rnn", [f"run_dir={tmp_path}", "train.max_time=180", "train.progress=false",
                                    "generate.num_tokens=40", "device=cpu"])
    run = run_pipeline(cfg, "lm_rnn", echo=False)
    data = run.results["lm.rnn.data"]
    # d2l's cleanup leaves 26 letters and the space; plus the 4 reserved tokens
    assert data["vocab_size"] == 31 and data["train_tokens"] + data["valid_tokens"] > 170_000
    scores = run.results["lm.rnn.train"]
    # after 2 epochs the held-out perplexity is about 4.9 (a uniform guess scores 31)
    assert scores["valid_ppl"] < 6.0
    sample = run.results["lm.rnn.generate"]["samples"][0]
    assert sample.startswith("time traveller ") and len(sample) == len("time traveller") + 40
    assert set(sample) <= set("abcdefghijklmnopqrstuvwxyz ")
