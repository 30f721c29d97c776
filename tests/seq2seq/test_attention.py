"""Masked softmax, Bahdanau/Luong attention and multi-head attention (reference == SDPA)."""

import pytest
import torch

from seqkit.seq2seq.attention import (
    AdditiveAttention,
    DotProductAttention,
    GeneralAttention,
    MultiHeadAttention,
    masked_softmax,
)


def test_masked_softmax_valid_lens_1d():
    out = masked_softmax(torch.zeros(2, 2, 4), torch.tensor([2, 3]))
    expected = torch.tensor([[0.5, 0.5, 0, 0], [1 / 3, 1 / 3, 1 / 3, 0]])
    torch.testing.assert_close(out, expected.unsqueeze(1).expand(2, 2, 4))


def test_masked_softmax_valid_lens_2d_and_values():
    scores = torch.tensor([[[1.0, 2.0, 3.0], [1.0, 1.0, 5.0]]])
    out = masked_softmax(scores, torch.tensor([[2, 1]]))
    e = torch.exp(torch.tensor([1.0, 2.0]))
    torch.testing.assert_close(out[0, 0], torch.tensor([e[0] / e.sum(), e[1] / e.sum(), 0.0]))
    torch.testing.assert_close(out[0, 1], torch.tensor([1.0, 0.0, 0.0]))


def test_masked_softmax_bool_mask_and_fully_masked_row():
    scores = torch.randn(1, 2, 3)
    mask = torch.tensor([[[True, False, True], [False, False, False]]])
    out = masked_softmax(scores, mask=mask)
    assert out[0, 0, 1] == 0 and torch.isclose(out[0, 0].sum(), torch.tensor(1.0))
    torch.testing.assert_close(out[0, 1], torch.full((3,), 1 / 3))  # no NaN


def _d2l_inputs():
    # d2l 11.3: identical keys -> uniform weights over the valid keys -> mean of the valid values
    keys = torch.ones(2, 10, 2)
    values = torch.arange(40, dtype=torch.float32).reshape(1, 10, 4).repeat(2, 1, 1)
    mask = (torch.arange(10) < torch.tensor([2, 6]).unsqueeze(1)).unsqueeze(1)  # (2, 1, 10)
    return keys, values, mask


def test_additive_attention_d2l_example():
    torch.manual_seed(0)
    keys, values, mask = _d2l_inputs()
    attn = AdditiveAttention(key_size=2, query_size=20, hidden=8)
    ctx, w = attn(torch.normal(0, 1, (2, 1, 20)), keys, values, mask)
    torch.testing.assert_close(ctx, torch.tensor([[[2.0, 3, 4, 5]], [[10.0, 11, 12, 13]]]))
    assert w.shape == (2, 1, 10) and torch.all(w[0, 0, 2:] == 0)
    # pre-projected keys give the same result
    ctx2, _ = attn(torch.normal(0, 1, (2, 1, 20)), keys, values, mask, proj_keys=attn.project_keys(keys))
    torch.testing.assert_close(ctx2, ctx)


@pytest.mark.parametrize("attn", [DotProductAttention(), GeneralAttention(2, 2)])
def test_luong_attention_d2l_example(attn):
    keys, values, mask = _d2l_inputs()
    ctx, _ = attn(torch.normal(0, 1, (2, 1, 2)), keys, values, mask)
    torch.testing.assert_close(ctx, torch.tensor([[[2.0, 3, 4, 5]], [[10.0, 11, 12, 13]]]))


def test_dot_attention_values():
    q, k = torch.tensor([[[1.0, 0.0]]]), torch.tensor([[[1.0, 0.0], [0.0, 1.0]]])
    v = torch.tensor([[[1.0], [0.0]]])
    ctx, w = DotProductAttention(scale=False)(q, k, v)
    p = torch.sigmoid(torch.tensor(1.0))  # softmax of (1, 0)
    torch.testing.assert_close(w, torch.tensor([[[p, 1 - p]]]))
    torch.testing.assert_close(ctx, torch.tensor([[[p]]]))


@pytest.mark.parametrize("causal", [False, True])
def test_multihead_reference_equals_sdpa(causal):
    torch.manual_seed(0)
    mha = MultiHeadAttention(16, 4).eval()
    x = torch.randn(3, 7, 16)
    mask = None if causal else (torch.arange(7) < torch.tensor([7, 4, 1]).unsqueeze(1))[:, None, None, :]
    fast, w_none, _ = mha(x, mask, causal=causal)
    ref, w, _ = mha(x, mask, causal=causal, need_weights=True)
    assert w_none is None and w.shape == (3, 4, 7, 7)
    torch.testing.assert_close(fast, ref, atol=1e-5, rtol=1e-5)
    mha.use_sdpa = False
    torch.testing.assert_close(mha(x, mask, causal=causal)[0], fast, atol=1e-5, rtol=1e-5)
    if causal:  # no weight on later positions
        assert torch.all(w.triu(1) == 0)
    else:
        assert torch.all(w[1, :, :, 4:] == 0) and torch.all(w[2, :, :, 1:] == 0)


def test_multihead_cross_attention_and_gradients_match():
    torch.manual_seed(1)
    mha = MultiHeadAttention(8, 2, cross=True).eval()
    x, mem = torch.randn(2, 3, 8), torch.randn(2, 5, 8)
    mask = (torch.arange(5) < torch.tensor([5, 2]).unsqueeze(1))[:, None, None, :]
    grads = []
    for need in (False, True):
        mha.zero_grad()
        out = mha(x, mask, kv=mha.memory_kv(mem), need_weights=need)[0]
        out.pow(2).sum().backward()
        grads.append((out.detach(), mha.kv_proj.weight.grad.clone()))
    torch.testing.assert_close(grads[0][0], grads[1][0], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(grads[0][1], grads[1][1], atol=1e-5, rtol=1e-5)


def test_multihead_rejects_bad_heads():
    with pytest.raises(ValueError):
        MultiHeadAttention(10, 3)


def test_attention_heatmap_png(tmp_path):
    from seqkit.seq2seq.plot import plot_attention

    weights = torch.softmax(torch.randn(3, 4), -1)
    path = tmp_path / "attn.png"
    plot_attention(weights, ["ein", "Hund", "läuft", "."], ["a", "dog", "runs"], path, title="de-en")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(ValueError, match="3x4"):
        plot_attention(weights, ["ein"], ["a"], tmp_path / "bad.png")


def test_cheap_dropout_mask_statistics_and_gradient():
    from seqkit.seq2seq.dropout import Dropout, dropout

    torch.manual_seed(0)
    x = torch.ones(400_000, requires_grad=True)
    y = dropout(x, 0.1)
    keep = (y != 0).float().mean().item()
    assert abs(keep - 0.9) < 0.003
    assert abs(y.mean().item() - 1.0) < 0.005  # scaled to keep the expectation
    y.sum().backward()
    torch.testing.assert_close(x.grad, y.detach())  # gradient = mask * scale
    layer = Dropout(0.3).eval()
    assert layer(x) is x and dropout(x, 0.0) is x
    assert torch.all(dropout(x, 1.0) == 0)
    odd = dropout(torch.ones(3, 5, 7), 0.5)  # sizes that are not a multiple of 4
    assert odd.shape == (3, 5, 7) and set(odd.unique().tolist()) <= {0.0, 2.0}
    with pytest.raises(ValueError):
        Dropout(1.5)


def test_attention_dropout_uses_the_explicit_path_in_training():
    torch.manual_seed(0)
    mha = MultiHeadAttention(16, 4, dropout=0.5).train()
    x = torch.randn(2, 5, 16)
    torch.manual_seed(1)
    a = mha(x)[0]
    torch.manual_seed(1)
    b = mha(x)[0]
    torch.testing.assert_close(a, b)  # reproducible under the global seed
    assert not torch.allclose(a, mha.eval()(x)[0])  # and it does drop something
