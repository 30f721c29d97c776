"""Transformer: size, incremental decoding == full recomputation, padding, reference path == SDPA."""

import pytest
import torch

from seqkit.errors import SeqkitError
from seqkit.seq2seq import Transformer


def _small(**kw):
    torch.manual_seed(0)
    args = dict(vocab_size=50, d_model=32, n_heads=4, n_enc_layers=2, n_dec_layers=2, d_ff=64,
                dropout=0.0, tie_embeddings=False)
    args.update(kw)
    return Transformer(**args).eval()


def _batch():
    g = torch.Generator().manual_seed(1)
    src_len = torch.tensor([6, 3, 1])
    src = torch.randint(4, 50, (3, 6), generator=g).masked_fill(torch.arange(6) >= src_len[:, None], 1)
    tgt = torch.randint(4, 50, (3, 5), generator=g)
    tgt[:, 0] = 2
    return src, src_len, tgt


def test_parameter_count_equals_joeynmt_multi30k_model():
    # JoeyNMT 2.3, 3+3 layers, d 256, 4 heads, FFN 1024, tied 8k vocab: 7,578,624 parameters
    assert sum(p.numel() for p in Transformer(8000).parameters()) == 7_578_624


@pytest.mark.parametrize("pre_norm", [True, False])
@pytest.mark.parametrize("use_sdpa", [True, False])
def test_incremental_decoding_equals_full_recomputation(pre_norm, use_sdpa):
    model = _small(pre_norm=pre_norm)
    for m in model.modules():
        if hasattr(m, "use_sdpa"):
            m.use_sdpa = use_sdpa
    src, src_len, tgt = _batch()
    with torch.no_grad():
        full = torch.log_softmax(model(src, src_len, tgt), dim=-1)
        state, steps = model.encode(src, src_len), []
        for t in range(tgt.shape[1]):
            log_probs, state, attn = model.decode_step(tgt[:, t], state, need_attn=(t == 2))
            steps.append(log_probs)
            if t == 2:
                assert attn.shape == (3, 6)
                torch.testing.assert_close(attn.sum(-1), torch.ones(3))
                assert torch.all(attn[1, 3:] == 0) and torch.all(attn[2, 1:] == 0)
    torch.testing.assert_close(torch.stack(steps, 1), full, atol=1e-5, rtol=1e-5)


def test_reference_attention_path_equals_sdpa_for_the_whole_model():
    model = _small()
    src, src_len, tgt = _batch()
    with torch.no_grad():
        fast = model(src, src_len, tgt)
        for m in model.modules():
            if hasattr(m, "use_sdpa"):
                m.use_sdpa = False
        torch.testing.assert_close(model(src, src_len, tgt), fast, atol=1e-5, rtol=1e-5)


def test_extra_source_padding_and_state_select_change_nothing():
    model = _small()
    src, src_len, tgt = _batch()
    padded = torch.cat([src, torch.ones(3, 4, dtype=torch.long)], dim=1)
    with torch.no_grad():
        torch.testing.assert_close(model(padded, src_len, tgt), model(src, src_len, tgt),
                                   atol=1e-5, rtol=1e-5)
        state = model.encode(src, src_len)
        lp_all, state, _ = model.decode_step(tgt[:, 0], state)
        picked = state.select(torch.tensor([2, 0]))
        lp_sel, _, _ = model.decode_step(tgt[[2, 0], 1], picked)
        lp_ref, _, _ = model.decode_step(tgt[:, 1], state)
    torch.testing.assert_close(lp_sel, lp_ref[[2, 0]], atol=1e-5, rtol=1e-5)


def test_tied_embeddings_share_one_matrix_and_train():
    model = _small(tie_embeddings=True).train()
    assert model.out_proj is None
    names = [n for n, _ in model.named_parameters()]
    assert names.count("embed.weight") == 1 and not any("out_proj.weight" == n for n in names)
    src, src_len, tgt = _batch()
    logits = model(src, src_len, tgt)
    assert logits.shape == (3, 5, 50)
    logits.sum().backward()
    assert model.embed.weight.grad.abs().sum() > 0


def test_too_long_input_is_a_clear_error():
    model = _small(max_len=8)
    with pytest.raises(SeqkitError, match="max_len"):
        model.encode(torch.full((1, 9), 5), torch.tensor([9]))


def test_expanded_state_shares_memory_and_equals_copies():
    model = _small()
    src, src_len, tgt = _batch()
    with torch.no_grad():
        state = model.encode(src, src_len)
        shared = state.expand(2)  # 3 sentences x 2 hypotheses, one memory copy per sentence
        copied = state.select(torch.arange(3).repeat_interleave(2))
        assert shared.memory_kv[0][0].shape[0] == 3 and copied.memory_kv[0][0].shape[0] == 6
        prev = tgt[:, 0].repeat_interleave(2)
        for index in (torch.tensor([1, 0, 2, 3, 5, 4]), torch.tensor([5, 4])):  # reorder, then drop
            a, shared, attn_a = model.decode_step(prev, shared, need_attn=True)
            b, copied, attn_b = model.decode_step(prev, copied, need_attn=True)
            torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)
            torch.testing.assert_close(attn_a, attn_b, atol=1e-5, rtol=1e-5)
            shared, copied, prev = shared.select(index), copied.select(index), prev[index] + 1
        a, _, _ = model.decode_step(prev, shared)
        b, _, _ = model.decode_step(prev, copied)
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)
        with pytest.raises(ValueError, match="groups of 2"):
            shared.select(torch.tensor([0]))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_incremental_equals_full_and_beam_runs():
    from seqkit.seq2seq import beam_search

    model = _small().cuda()
    src, src_len, tgt = (t.cuda() for t in _batch())
    with torch.no_grad():
        full = torch.log_softmax(model(src, src_len, tgt), dim=-1)
        state, steps = model.encode(src, src_len), []
        for t in range(tgt.shape[1]):
            log_probs, state, _ = model.decode_step(tgt[:, t], state)
            steps.append(log_probs)
    torch.testing.assert_close(torch.stack(steps, 1), full, atol=1e-4, rtol=1e-4)
    cpu = beam_search(_small(), *_batch()[:2], beam_size=3)
    gpu = beam_search(model, src, src_len, beam_size=3)
    assert [h[0].tokens for h in gpu] == [h[0].tokens for h in cpu]
    model.train()
    with torch.autocast("cuda", dtype=torch.bfloat16):
        logits = model(src, src_len, tgt)
    logits.float().sum().backward()
    assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)
