"""RNN LM training glue: the hidden-state rule, evaluation, learning through the shared Trainer, resume."""

from __future__ import annotations

import math

import pytest
import torch
from gloo import run_ranks

from seqkit.errors import SeqkitError
from seqkit.lm.rnn import RNNLM
from seqkit.lm.rnn.train import LMStep, RNNTrainConfig, encode_stream, evaluate_ppl, train_rnn_lm
from seqkit.text import Vocab


def _tiny_model(vocab_size=5, **kw):
    torch.manual_seed(0)
    return RNNLM(vocab_size=vocab_size, embed_dim=8, hidden_size=12, num_layers=1, **kw)


def test_sequential_carries_a_detached_state_and_random_resets_it():
    model = _tiny_model()
    X = torch.randint(0, 5, (2, 3))
    seq = LMStep("sequential")
    seq.on_epoch_start(0)
    seq(model, (X, X))
    h, c = seq.state
    assert h.shape == (1, 2, 12)
    out = seq(model, (X, X))  # the carried state enters detached: backward stops at the boundary
    out.loss.backward()
    assert not seq.state[0].requires_grad or seq.state[0].grad_fn is not None
    # with the carried state the loss differs from a fresh start
    fresh = LMStep("sequential")
    assert not torch.isclose(fresh(model, (X, X)).loss, out.loss)
    seq.on_epoch_start(1)
    assert seq.state is None
    rnd = LMStep("random")
    rnd(model, (X, X))
    assert rnd.state is None


def test_step_output_counts_tokens_and_time_sum_scales_the_loss():
    model = _tiny_model()
    X = torch.randint(0, 5, (2, 3))
    mean = LMStep("random", loss="token_mean")(model, (X, X))
    summed = LMStep("random", loss="time_sum")(model, (X, X))
    assert mean.n_items == 6
    assert summed.loss.item() == pytest.approx(3 * mean.loss.item(), rel=1e-6)
    assert summed.metrics["nll"].item() == pytest.approx(mean.loss.item(), rel=1e-6)


def test_step_state_roundtrip():
    model = _tiny_model()
    step = LMStep("sequential")
    step(model, (torch.zeros(2, 3, dtype=torch.long),) * 2)
    again = LMStep("sequential")
    again.load_state_dict(step.state_dict())
    assert all(torch.equal(a, b) for a, b in zip(again.state, step.state))
    empty = LMStep("sequential")
    empty.load_state_dict(LMStep("sequential").state_dict())
    assert empty.state is None


def test_evaluate_ppl_of_a_uniform_model_is_the_vocab_size_and_chunking_does_not_matter():
    model = _tiny_model(vocab_size=7)
    with torch.no_grad():
        model.decoder.weight.zero_()
        model.decoder.bias.zero_()
    ids = torch.randint(0, 7, (101,))
    res = evaluate_ppl(model, ids, batch_size=1, num_steps=9)
    assert res["ppl"] == pytest.approx(7.0, rel=1e-6) and res["tokens"] == 100
    trained = _tiny_model(vocab_size=7)
    a = evaluate_ppl(trained, ids, batch_size=2, num_steps=3)["ppl"]
    b = evaluate_ppl(trained, ids, batch_size=2, num_steps=50)["ppl"]
    assert a == pytest.approx(b, rel=1e-5)
    with pytest.raises(SeqkitError, match="too few"):
        evaluate_ppl(trained, ids[:1])


def _split_worker(rank: int, world: int, folder: str) -> None:
    import json

    model, ids = _tiny_model(vocab_size=7), torch.arange(301) * 5 % 7
    out = {b: evaluate_ppl(model, ids, batch_size=b, num_steps=9, split_ranks=True) for b in (3, 1)}
    with open(f"{folder}/rank{rank}.json", "w") as fh:
        json.dump(out, fh)


def test_evaluate_ppl_split_over_two_ranks_equals_one_process(tmp_path):
    """Rank 0 reads rows 0 and 2, rank 1 row 1 (batch_size 3); with one row rank 1 has nothing to read
    but still adds its zero: the perplexity is one process's, to float32 summation order."""
    import json


    run_ranks(_split_worker, tmp_path)
    model, ids = _tiny_model(vocab_size=7), torch.arange(301) * 5 % 7
    for rank in (0, 1):
        got = json.loads((tmp_path / f"rank{rank}.json").read_text())
        for b in (3, 1):
            one = evaluate_ppl(model, ids, batch_size=b, num_steps=9)
            assert got[str(b)]["tokens"] == one["tokens"] == 300
            assert got[str(b)]["nll"] == pytest.approx(one["nll"], rel=1e-6)


def test_encode_stream_word_and_char():
    vocab = Vocab("a b a c".split())
    ids = encode_stream(["a b", "c"], str.split, vocab, eos_per_line=True)
    assert vocab.to_tokens(ids.tolist()) == ["a", "b", "<eos>", "c", "<eos>"]
    cv = Vocab(list("ab\n"))
    assert cv.to_tokens(encode_stream(["ab", "b"], list, cv, eos_per_line=False).tolist()) == list("ab\nb")


@pytest.mark.parametrize("sampling", ["sequential", "random"])
def test_training_learns_a_cycle(sampling):
    # 0 1 2 3 4 0 1 2 ...: after training, the next token is certain, so perplexity approaches 1.
    ids = torch.arange(2000) % 5
    model = _tiny_model()
    cfg = RNNTrainConfig(batch_size=8, num_steps=10, sampling=sampling, epochs=3, optimizer="adam", lr=0.02,
                         loss="token_mean", schedule="constant", eval_batch_size=2)
    res = train_rnn_lm(model, ids, ids[:300], ids[:200], cfg, progress=False, plot=False)
    assert res["epochs"] == 3 and res["train_tokens_per_s"] > 0
    assert res["valid_ppl"] < 1.2 and res["test_ppl"] < 1.2


def test_early_stopping_ends_training_when_validation_stops_improving():
    # lr so small that the weights, and so the validation perplexity, never change: the first
    # validation is the best, and early_stopping=2 stops after two more.
    ids = torch.arange(2000) % 5
    cfg = RNNTrainConfig(batch_size=8, num_steps=10, epochs=10, optimizer="sgd", lr=1e-30,
                         schedule="constant", eval_batch_size=2, early_stopping=2)
    res = train_rnn_lm(_tiny_model(), ids, ids[:300], None, cfg, progress=False, plot=False)
    assert res["stopped"] == "early_stopping" and res["epochs"] == 3


def test_resume_mid_epoch_is_exact(tmp_path):
    ids = torch.randint(0, 5, (1500,), generator=torch.Generator().manual_seed(1))
    cfg = dict(batch_size=4, num_steps=6, epochs=2, lr=0.5, schedule="halve", halve_after=1, log_every=5)
    full = _tiny_model()
    train_rnn_lm(full, ids, ids[:200], None, RNNTrainConfig(**cfg), run_dir=tmp_path / "a",
                 progress=False, plot=False)
    part = _tiny_model()
    res = train_rnn_lm(part, ids, ids[:200], None, RNNTrainConfig(**cfg, max_steps=80), run_dir=tmp_path / "b",
                       progress=False, plot=False)
    assert res["stopped"] == "max_steps"  # 62 batches per epoch: stopped inside epoch 2, state carried
    again = _tiny_model()
    res = train_rnn_lm(again, ids, ids[:200], None, RNNTrainConfig(**cfg), run_dir=tmp_path / "b",
                       resume=True, progress=False, plot=False)
    for (name, p), q in zip(full.named_parameters(), again.parameters()):
        assert torch.equal(p, q), name
    assert math.isfinite(res["valid_ppl"])


def test_bad_training_settings():
    with pytest.raises(SeqkitError, match="unknown sampling 'shuffled'"):
        RNNTrainConfig(sampling="shuffled").validate()
    with pytest.raises(SeqkitError, match="unknown setting"):
        RNNTrainConfig.from_dict({"learning_rate": 1})
    with pytest.raises(SeqkitError, match="unknown schedule"):
        RNNTrainConfig(schedule="cosine").validate()


def _lrs_by_epoch(cfg, epochs, scores=()):
    from seqkit.lm.rnn.train import make_schedule
    from seqkit.train import build_optimizer

    model = _tiny_model()
    opt = build_optimizer(cfg.optimizer, model.parameters(), cfg.lr, momentum=cfg.momentum)
    sched = make_schedule(opt, cfg)
    lrs = []
    for e in range(epochs):
        lrs.append(opt.param_groups[0]["lr"])
        sched.on_epoch_end(e)
        if e < len(scores):
            sched.on_validation(scores[e])
    return lrs


def test_zaremba_schedule_halves_after_epoch_four():
    lrs = _lrs_by_epoch(RNNTrainConfig(lr=1.0, schedule="halve", halve_after=4), 7)
    assert lrs == [1.0, 1.0, 1.0, 1.0, 0.5, 0.25, 0.125]


def test_plateau_schedule_halves_when_validation_ppl_stops_improving():
    cfg = RNNTrainConfig(lr=1.0, schedule="plateau", patience=0)
    lrs = _lrs_by_epoch(cfg, 5, scores=[100.0, 90.0, 95.0, 80.0, 85.0])
    assert lrs == [1.0, 1.0, 1.0, 0.5, 0.5]


def test_sequential_sampling_refuses_torchrun(monkeypatch):
    monkeypatch.setenv("WORLD_SIZE", "2")
    cfg = RNNTrainConfig(batch_size=2, num_steps=5, epochs=1, sampling="sequential")
    with pytest.raises(SeqkitError, match="sequential sampling cannot run under torchrun"):
        train_rnn_lm(_tiny_model(), torch.arange(200) % 5, cfg=cfg, progress=False, plot=False)
