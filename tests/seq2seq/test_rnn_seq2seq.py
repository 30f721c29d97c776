"""RNN encoder-decoder: shapes, packed sequences, incremental == teacher forcing, the d2l context fix,
and learning a toy task."""

import pytest
import torch

from seqkit.seq2seq import greedy_search, sequence_mean_loss
from seqkit.seq2seq.rnn import RNNEncoder, RNNSeq2Seq

VARIANTS = [("gru", "bahdanau", False), ("lstm", "bahdanau", True), ("gru", "dot", False),
            ("lstm", "general", True), ("gru", None, False), ("lstm", None, True)]


def _batch(vocab=20):
    g = torch.Generator().manual_seed(0)
    src_len = torch.tensor([5, 2, 4])
    src = torch.randint(4, vocab, (3, 5), generator=g).masked_fill(torch.arange(5) >= src_len[:, None], 1)
    tgt = torch.randint(4, vocab, (3, 4), generator=g)
    tgt[:, 0] = 2
    return src, src_len, tgt


def test_d2l_encoder_shapes():
    # d2l 10.7: vocab 10, embed 8, hidden 16, 2 layers, batch 4, 7 steps
    enc = RNNEncoder(10, 8, 16, 2)
    memory, state = enc(torch.zeros(4, 7, dtype=torch.long), torch.full((4,), 7))
    assert memory.shape == (4, 7, 16) and state.shape == (2, 4, 16)


@pytest.mark.parametrize("cell,attention,bidirectional", VARIANTS)
def test_incremental_equals_teacher_forcing_and_padding_is_invisible(cell, attention, bidirectional):
    torch.manual_seed(0)
    model = RNNSeq2Seq(20, 22, 8, 12, 2, cell=cell, attention=attention, bidirectional=bidirectional).eval()
    src, src_len, tgt = _batch()
    with torch.no_grad():
        full = torch.log_softmax(model(src, src_len, tgt), -1)
        assert full.shape == (3, 4, 22)
        state, steps = model.encode(src, src_len), []
        for t in range(4):
            lp, state, attn = model.decode_step(tgt[:, t], state, need_attn=True)
            steps.append(lp)
            if attention:
                assert torch.all(attn[1, 2:] == 0) and torch.allclose(attn.sum(-1), torch.ones(3))
            else:
                assert attn is None
        torch.testing.assert_close(torch.stack(steps, 1), full, atol=1e-5, rtol=1e-5)
        # sentence 1 alone, without padding, gives the same scores (packed sequences)
        alone = torch.log_softmax(model(src[1:2, :2], src_len[1:2], tgt[1:2]), -1)
        torch.testing.assert_close(alone, full[1:2], atol=1e-5, rtol=1e-5)


def test_context_comes_from_the_encoder_not_the_decoder():
    torch.manual_seed(0)
    model = RNNSeq2Seq(20, 20, 8, 12, 2, attention=None).eval()
    src, src_len, tgt = _batch()
    with torch.no_grad():
        memory, final = model.encoder(src, src_len)
        state = model.encode(src, src_len)
        torch.testing.assert_close(state.context, final[-1])
        for t in range(3):
            _, state, _ = model.decode_step(tgt[:, t], state)
        torch.testing.assert_close(state.context, final[-1])  # unchanged while decoding
        assert not torch.allclose(state.hidden[:, -1], final[-1])  # the decoder state did drift


def test_bad_options():
    with pytest.raises(ValueError, match="general"):
        RNNSeq2Seq(10, 10, 4, 4, 1, attention="dot", bidirectional=True)
    with pytest.raises(ValueError):
        RNNSeq2Seq(10, 10, 4, 4, 1, cell="rnn")
    with pytest.raises(ValueError):
        RNNSeq2Seq(10, 10, 4, 4, 1, attention="luong")


def test_learns_to_reverse_short_sequences():
    # JoeyNMT's debugging task: reverse the source; a GRU with Bahdanau attention learns it quickly
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(0)
    n, length = 64, 5
    src = torch.randint(4, 12, (n, length), generator=g)
    src_len = torch.full((n,), length)
    rev = src.flip(1)
    tgt_in = torch.cat([torch.full((n, 1), 2), rev], 1)
    tgt_out = torch.cat([rev, torch.full((n, 1), 3)], 1)
    model = RNNSeq2Seq(12, 12, 16, 32, 1, attention="bahdanau")
    opt = torch.optim.Adam(model.parameters(), lr=0.02)
    for _ in range(50):
        loss = sequence_mean_loss(model(src, src_len, tgt_in), tgt_out)
        opt.zero_grad()
        loss.backward()
        opt.step()
    hyps = greedy_search(model, src[:16], src_len[:16], max_len_a=0, max_len_b=length + 2)
    correct = sum(h.tokens == r.tolist() for h, r in zip(hyps, rev[:16]))
    assert correct >= 14, (float(loss), correct)


def test_search_asking_for_attention_of_a_model_without_it_gives_none():
    from seqkit.seq2seq.search import beam_search, greedy_search

    torch.manual_seed(0)
    model = RNNSeq2Seq(20, 20, 8, 12, 2, attention=None).eval()
    src, src_len, _ = _batch()
    greedy = greedy_search(model, src, src_len, return_attention=True)
    beam = [nbest[0] for nbest in beam_search(model, src, src_len, beam_size=2, return_attention=True)]
    for hyps in (greedy, beam):
        assert len(hyps) == len(src) and all(h.attention is None for h in hyps)
