"""train_nmt on a prepared (memory-mapped) corpus trains exactly as on the same lines in memory."""

from __future__ import annotations

import random

import pytest
import torch
from gloo import run_ranks

from seqkit.data.prepared import prepare
from seqkit.errors import SeqkitError
from seqkit.seq2seq.presets import build_model, model_config
from seqkit.seq2seq.training import NMTTrainConfig, train_nmt
from seqkit.text import SentencePieceTokenizer
from seqkit.text.pretokenize import char_segment


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


def test_pooled_training_resumes_mid_epoch_exactly(tmp_path):
    """``pool_pairs``: a run stopped after 5 updates (inside the epoch's second pool) and resumed from
    its checkpoint ends with the weights of an uninterrupted 10-update run."""
    src, tgt, tok, cfg = _setup()
    corpus = prepare(src, tgt, tok, tmp_path / "prep", progress=False)

    def run(folder, steps, resume=False):
        torch.manual_seed(0)
        model = build_model(cfg, len(tok))
        out = train_nmt(model, tok, corpus, None, seed=3, max_len=8, run_dir=tmp_path / folder, resume=resume,
                        cfg=NMTTrainConfig(lr=1e-3, warmup=5, max_tokens=300, max_steps=steps, pool_pairs=60,
                                           ckpt_every_steps=1, progress=False))
        return model, out

    whole, out = run("a", 10)
    assert len(out.batches._pools) == 7 and out.batches.num_batches(0) > 10
    first_pool = out.batches._pool_counts(0)[0]
    assert first_pool < 5  # the stop falls after the first pool: resuming skips it by its count
    run("b", 5)
    resumed, out_b = run("b", 10, resume=True)
    assert out_b.result.steps == 10
    for (name, a), b in zip(whole.state_dict().items(), resumed.state_dict().values()):
        assert torch.equal(a, b), name


def test_a_pretokenized_side_is_cut_when_prepared(tmp_path):
    """``pretokenize={"src": "char"}``: prepare cuts the Chinese side as training from lists does, so
    the weights agree; a corpus cut otherwise is refused."""
    rng = random.Random(2)
    src = ["".join(rng.choice("我你他爱看书a1") for _ in range(rng.randint(1, 7))) for _ in range(300)]
    tgt = [" ".join(rng.choice(["i", "you", "love", "read"]) for _ in range(len(s) // 2 + 1)) for s in src]
    tok = SentencePieceTokenizer.train([char_segment(s) for s in src] + tgt, vocab_size=20, model_type="word")
    cfg = model_config("transformer", "tiny", d_model=32, d_ff=64, n_heads=2, n_enc_layers=1, n_dec_layers=1,
                       dropout=0.0)
    corpus = prepare(src, tgt, tok, tmp_path / "prep", pretokenize={"src": "char", "tgt": "none"}, workers=2,
                     chunk_lines=50, progress=False)
    assert corpus.meta["pretokenize"] == {"src": "char"}
    assert corpus.pair(5)[0] == tok.encode_ids(char_segment(src[5]))

    def train(train_src, train_tgt, pretokenize):
        torch.manual_seed(0)
        model = build_model(cfg, len(tok))
        train_nmt(model, tok, train_src, train_tgt, seed=3, max_len=12, pretokenize=pretokenize,
                  cfg=NMTTrainConfig(lr=1e-3, warmup=5, max_tokens=300, max_steps=4, progress=False))
        return model.state_dict()

    a, b = train(src, tgt, {"src": "char"}), train(corpus, None, {"src": "char"})
    assert all(torch.equal(a[k], b[k]) for k in a)
    with pytest.raises(SeqkitError, match=r"cut with pretokenize=\{'src': 'char'\}, the model is trained with \{\}"):
        train(corpus, None, None)


def test_prepared_corpus_from_another_tokenizer_is_refused(tmp_path):
    src, tgt, tok, cfg = _setup()
    other = SentencePieceTokenizer.train(src + tgt + ["xyz"] * 50, vocab_size=14, model_type="char")
    corpus = prepare(src, tgt, other, tmp_path / "prep", progress=False)
    with pytest.raises(SeqkitError, match="another sentencepiece model"):
        _train(tok, cfg, corpus, None)


def _ddp_worker(rank: int, world: int, folder: str) -> None:

    from seqkit.data.prepared import PreparedCorpus

    _, _, tok, cfg = _setup()
    torch.manual_seed(0)
    model = build_model(cfg, len(tok))
    train_nmt(model, tok, PreparedCorpus.open(f"{folder}/prep"), None, seed=3, max_len=8,
              cfg=NMTTrainConfig(lr=1e-3, warmup=5, max_tokens=300, max_steps=4, progress=False))
    if rank == 0:
        torch.save(model.state_dict(), f"{folder}/ddp.pt")


@pytest.mark.slow
def test_two_gloo_processes_on_a_prepared_corpus_equal_one_process(tmp_path):
    """Each rank builds only its own batches from the memory map; together they are one process's
    updates of accum_steps=2 micro-batches, so the weights agree."""

    src, tgt, tok, cfg = _setup()
    corpus = prepare(src, tgt, tok, tmp_path / "prep", progress=False)
    torch.manual_seed(0)
    single = build_model(cfg, len(tok))
    train_nmt(single, tok, corpus, None, seed=3, max_len=8,
              cfg=NMTTrainConfig(lr=1e-3, warmup=5, max_tokens=300, max_steps=4, accum_steps=2, progress=False))
    run_ranks(_ddp_worker, tmp_path)
    ddp = torch.load(tmp_path / "ddp.pt", weights_only=True)
    for name, value in single.state_dict().items():
        torch.testing.assert_close(ddp[name], value, rtol=1e-5, atol=1e-6)
