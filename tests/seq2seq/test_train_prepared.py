"""train_nmt on a prepared (memory-mapped) corpus trains exactly as on the same lines in memory."""

from __future__ import annotations

import random

import pytest
import torch

from seqkit.data.prepared import prepare
from seqkit.errors import SeqkitError
from seqkit.seq2seq.nmt import NMTTrainConfig, build_model, model_config, train_nmt
from seqkit.text import SentencePieceTokenizer


def _setup():
    rng = random.Random(1)
    src = ["".join(rng.choice("abcdef") for _ in range(rng.randint(1, 9))) for _ in range(400)]
    tgt = [s[::-1] for s in src]
    tok = SentencePieceTokenizer.train(src + tgt, vocab_size=12, model_type="char")
    cfg = model_config("transformer", "tiny", d_model=32, d_ff=64, n_heads=2, n_enc_layers=1, n_dec_layers=1,
                       dropout=0.0)
    return src, tgt, tok, cfg


def _train(tok, cfg, train_src, train_tgt):
    torch.manual_seed(0)
    model = build_model(cfg, len(tok))
    out = train_nmt(model, tok, train_src, train_tgt, seed=3, max_len=8,
                    cfg=NMTTrainConfig(lr=1e-3, warmup=5, max_tokens=300, max_steps=6, progress=False))
    return model, out


def test_prepared_corpus_gives_the_same_weights_as_lists(tmp_path):
    src, tgt, tok, cfg = _setup()
    corpus = prepare(src, tgt, tok, tmp_path / "prep", workers=1, chunk_lines=64, progress=False)
    model_a, out_a = _train(tok, cfg, src, tgt)
    model_b, out_b = _train(tok, cfg, corpus, None)
    assert out_b.batches.report() == out_a.batches.report()  # the same pairs dropped (max_len=8)
    assert "dropped" in out_a.batches.report()
    assert out_a.result.steps == out_b.result.steps == 6
    assert out_a.result.items == out_b.result.items
    for (name, a), b in zip(model_a.state_dict().items(), model_b.state_dict().values()):
        assert torch.equal(a, b), name


def test_prepared_corpus_from_another_tokenizer_is_refused(tmp_path):
    src, tgt, tok, cfg = _setup()
    other = SentencePieceTokenizer.train(src + tgt + ["xyz"] * 50, vocab_size=14, model_type="char")
    corpus = prepare(src, tgt, other, tmp_path / "prep", progress=False)
    with pytest.raises(SeqkitError, match="another sentencepiece model"):
        _train(tok, cfg, corpus, None)
