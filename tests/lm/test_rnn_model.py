"""RNNLM: shapes, backends interchangeable, tied weights, save/load, the no-bidirectional rule, generation."""

from __future__ import annotations

import pytest
import torch

from seqkit.errors import SeqkitError
from seqkit.lm.rnn import RNNLM, RNNLMConfig, lm_loss, load_rnn_lm, save_rnn_lm
from seqkit.lm.rnn.generate import continue_text, generate, next_token


@pytest.mark.parametrize("cell", ["rnn", "gru", "lstm"])
def test_scratch_and_torch_backends_give_the_same_logits(cell):
    torch.manual_seed(0)
    fast = RNNLM(vocab_size=11, embed_dim=6, hidden_size=8, num_layers=2, cell=cell, backend="torch")
    ref = RNNLM(vocab_size=11, embed_dim=6, hidden_size=8, num_layers=2, cell=cell, backend="scratch")
    ref.load_state_dict(fast.state_dict())
    X = torch.randint(0, 11, (3, 5))
    logits, state = fast(X)
    logits_ref, state_ref = ref(X)
    assert logits.shape == (3, 5, 11)
    assert torch.allclose(logits, logits_ref, atol=1e-5)
    # carrying the state on equals running the concatenation
    X2 = torch.randint(0, 11, (3, 4))
    full, _ = fast(torch.cat([X, X2], dim=1))
    cont, _ = ref(X2, state_ref)
    assert torch.allclose(full[:, 5:], cont, atol=1e-5)


def test_lm_loss_matches_plain_cross_entropy_and_uniform_model():
    torch.manual_seed(0)
    model = RNNLM(vocab_size=7, embed_dim=4, hidden_size=4, num_layers=1)
    X, Y = torch.randint(0, 7, (2, 3)), torch.randint(0, 7, (2, 3))
    logits, _ = model(X)
    expected = torch.nn.functional.cross_entropy(logits.reshape(-1, 7), Y.reshape(-1))
    assert torch.allclose(lm_loss(logits, Y), expected, atol=1e-6)
    # all-zero logits: every token has probability 1/7, so the loss is ln 7
    assert lm_loss(torch.zeros(2, 3, 7), Y).item() == pytest.approx(torch.log(torch.tensor(7.0)).item())


def test_init_range_and_tied_weights():
    model = RNNLM(vocab_size=20, embed_dim=8, hidden_size=8, num_layers=2, tie_embeddings=True, init_range=0.1)
    assert model.decoder.weight is model.embedding.weight
    assert all(p.abs().max() <= 0.1 for p in model.parameters())
    assert model.num_parameters() == sum(p.numel() for p in model.parameters())  # counted once
    with pytest.raises(SeqkitError, match="tie_embeddings needs embed_dim == hidden_size"):
        RNNLM(vocab_size=20, embed_dim=8, hidden_size=6, tie_embeddings=True)


def test_bad_settings_are_one_clear_error():
    with pytest.raises(SeqkitError, match="unknown RNN cell 'bilstm'"):
        RNNLM(vocab_size=5, cell="bilstm")
    with pytest.raises(SeqkitError, match="model.layers: unknown setting"):
        RNNLMConfig.from_dict({"vocab_size": 5, "layers": 2})
    with pytest.raises(SeqkitError, match="cannot be bidirectional"):
        RNNLMConfig.from_dict({"vocab_size": 5, "bidirectional": True})
    with pytest.raises(SeqkitError, match="dropout"):
        RNNLM(vocab_size=5, dropout=1.5)


@pytest.mark.parametrize("tie", [False, True])
def test_save_and_load_roundtrip_across_backends(tmp_path, tie):
    torch.manual_seed(0)
    model = RNNLM(vocab_size=9, embed_dim=5, hidden_size=5, num_layers=2, cell="gru", tie_embeddings=tie).eval()
    save_rnn_lm(model, tmp_path)
    again = load_rnn_lm(tmp_path, backend="scratch")
    X = torch.randint(0, 9, (2, 4))
    assert torch.allclose(model(X)[0], again(X)[0], atol=1e-5)
    if tie:
        assert again.decoder.weight is again.embedding.weight
    with pytest.raises(SeqkitError, match="not a trained RNN LM"):
        load_rnn_lm(tmp_path / "nowhere")


def test_next_token_rules():
    logits = torch.tensor([[0.0, 3.0, 1.0, 2.0]])
    assert next_token(logits).item() == 1  # greedy
    g = torch.Generator().manual_seed(0)
    picks = {next_token(logits, temperature=1.0, top_k=2, generator=g).item() for _ in range(200)}
    assert picks == {1, 3}  # only the two best ever come out
    g = torch.Generator().manual_seed(0)
    cold = [next_token(logits, temperature=0.05, generator=g).item() for _ in range(50)]
    assert cold == [1] * 50  # a low temperature approaches greedy
    with pytest.raises(SeqkitError, match="temperature"):
        next_token(logits, temperature=-1)
    with pytest.raises(SeqkitError, match="top_k"):
        next_token(logits, temperature=1, top_k=0)


def test_generate_continues_a_learned_cycle():
    # Teach a tiny LSTM the cycle 0 1 2 3 0 1 2 3 ...; greedy generation must continue it.
    torch.manual_seed(0)
    model = RNNLM(vocab_size=4, embed_dim=8, hidden_size=16, num_layers=1, init_range=None)
    opt = torch.optim.Adam(model.parameters(), lr=0.05)
    seq = torch.arange(41) % 4
    X, Y = seq[:-1].view(2, 20), seq[1:].view(2, 20)
    for _ in range(60):
        opt.zero_grad()
        lm_loss(model(X)[0], Y).backward()
        opt.step()
    assert generate(model, [2, 3], 6) == [0, 1, 2, 3, 0, 1]
    assert model.training  # left as found
    same = generate(model, [1], 10, temperature=1.0, seed=3) == generate(model, [1], 10, temperature=1.0, seed=3)
    assert same
    text = continue_text(model, "23", 4, encode=lambda s: [int(c) for c in s], decode=lambda ids: "".join(map(str, ids)))
    assert text == "230123"
    assert generate(model, [0], 5, stop_id=2) == [1, 2]
    with pytest.raises(SeqkitError, match="empty prefix"):
        generate(model, [], 3)
