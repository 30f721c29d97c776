"""Subword regularization in training: batches re-segmented every epoch within the token budget,
reproducible under the seed, the same from a prepared corpus, exact under resume, and validation on the
deterministic segmentation."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from seqkit.data import ParallelBatches
from seqkit.data.prepared import prepare
from seqkit.seq2seq.presets import build_model, model_config
from seqkit.seq2seq.training import NMTTrainConfig, make_valid_fn, train_nmt
from seqkit.text import SentencePieceTokenizer
from seqkit.text.sampling import SubwordSampler, SubwordSampling

EN_FR = Path(__file__).resolve().parents[2] / "data" / "en-fr"
ON = SubwordSampling(enabled=True, alpha=0.1)


@pytest.fixture(scope="module")
def pairs():
    src = (EN_FR / "train.en").read_text(encoding="utf-8").splitlines()[:160]
    tgt = (EN_FR / "train.fr").read_text(encoding="utf-8").splitlines()[:160]
    tok = SentencePieceTokenizer.train(src + tgt, vocab_size=200, model_type="unigram")
    return src, tgt, tok


def _batches(tok, src, tgt, seed, **more):
    ids = (tok.encode_ids_batch(src), tok.encode_ids_batch(tgt))
    return ParallelBatches(*ids, max_tokens=400, seed=seed, max_len=40,
                           resample=SubwordSampler(tok, ON, seed), **more)


def _contents(batches, epoch):
    return [(b.indices.tolist(), b.src.tolist(), b.tgt_out.tolist()) for b in batches.epoch(epoch)]


def test_epochs_differ_one_seed_repeats_and_the_budget_holds(pairs):
    src, tgt, tok = pairs
    a, b, c = _batches(tok, src, tgt, 1), _batches(tok, src, tgt, 1), _batches(tok, src, tgt, 2)
    e0, e1 = _contents(a, 0), _contents(a, 1)
    assert e0 != e1 and _contents(b, 0) == e0 and _contents(b, 1) == e1  # a fresh batcher, one seed
    assert _contents(c, 0) != e0
    plain = ParallelBatches(tok.encode_ids_batch(src), tok.encode_ids_batch(tgt), max_tokens=400, seed=1, max_len=40)
    sampled_tokens = stored_tokens = 0
    for epoch in (0, 1, 2):
        seen = []
        for batch in a.epoch(epoch):
            assert len(batch) * (batch.src.shape[1] + batch.tgt_out.shape[1]) <= 400
            seen += batch.indices.tolist()
            sampled_tokens += int(batch.src_len.sum())
            # a new segmentation of the same text: decoding gives the pair's deterministic text back
            for row, i in zip(batch.src.tolist(), batch.indices.tolist()):
                assert tok.decode_ids([t for t in row if t > 3]) == tok.decode_ids(tok.encode_ids(src[i]))
        assert sorted(seen) == sorted(plain.indices.tolist())  # the same pairs every epoch
        stored_tokens += sum(int(b.src_len.sum()) for b in plain.epoch(epoch))
    assert sampled_tokens > stored_tokens


def test_resampled_pools_and_a_prepared_corpus_give_the_same_batches(pairs, tmp_path):
    src, tgt, tok = pairs
    corpus = prepare(src, tgt, tok, tmp_path / "prep", workers=1, progress=False)
    lists = _batches(tok, src, tgt, 3, pool_pairs=50)
    flat = ParallelBatches.from_prepared(corpus, max_tokens=400, seed=3, max_len=40, pool_pairs=50,
                                         resample=SubwordSampler(tok, ON, 3))
    assert len(lists._pools) == 4
    for epoch in (0, 1):
        assert _contents(flat, epoch) == _contents(lists, epoch)
    # mid-epoch: skipping the first k batches gives the rest of the same epoch
    assert _contents(lists, 1)[5:] == [(b.indices.tolist(), b.src.tolist(), b.tgt_out.tolist())
                                       for b in _batches(tok, src, tgt, 3, pool_pairs=50).epoch(1, start=5)]


def _model(tok):
    cfg = model_config("transformer", "tiny", d_model=32, d_ff=64, n_heads=2, n_enc_layers=1, n_dec_layers=1,
                       dropout=0.1)
    return build_model(cfg, len(tok), seed=0)


def test_training_with_sampling_resumes_exactly(pairs, tmp_path):
    """Stopped after 7 updates (inside the second epoch) and resumed: the weights of an uninterrupted
    12-update run (three epochs, each segmented anew, with their own numbers of batches)."""
    src, tgt, tok = pairs

    def run(folder, steps, resume=False, sampling=ON):
        model = _model(tok)
        out = train_nmt(model, tok, src, tgt, seed=3, max_len=40, run_dir=tmp_path / folder, resume=resume,
                        sampling=sampling,
                        cfg=NMTTrainConfig(lr=1e-3, warmup=2, max_tokens=2400, max_steps=steps, ckpt_every_steps=1,
                                           progress=False, amp="none"))
        return model, out

    whole, out = run("a", 12)
    per_epoch = [out.batches.num_batches(e) for e in range(3)]
    assert per_epoch[0] < 7 < per_epoch[0] + per_epoch[1] < 12 and len(set(per_epoch)) > 1
    run("b", 7)
    resumed, out_b = run("b", 12, resume=True)
    assert out_b.result.steps == 12
    for (name, a), b in zip(whole.state_dict().items(), resumed.state_dict().values()):
        assert torch.equal(a, b), name
    plain, _ = run("c", 12, sampling=SubwordSampling(enabled=False))
    assert not all(torch.equal(a, b) for a, b in zip(whole.state_dict().values(), plain.state_dict().values()))


def test_validation_uses_the_deterministic_segmentation(pairs, tmp_path):
    """The validation a sampled run records is what the deterministic validation function gives for
    its final weights (validated at its last update)."""
    src, tgt, tok = pairs
    cfg = NMTTrainConfig(lr=1e-3, warmup=2, max_tokens=1200, max_steps=4, valid_every=4, valid_max_sents=20,
                         progress=False, amp="none")
    model = _model(tok)
    out = train_nmt(model, tok, src[20:], tgt[20:], src[:20], tgt[:20], seed=3, max_len=40, sampling=ON,
                    run_dir=tmp_path / "run", cfg=cfg)
    recorded = out.result.last_valid
    again = make_valid_fn(model, tok, src[:20], tgt[:20], cfg=cfg, max_len=40)(model)
    assert again["loss"] == pytest.approx(recorded["loss"], rel=1e-9)
    assert again["bleu"] == recorded["bleu"]
