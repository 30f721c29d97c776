"""float32 decoding with oneDNN-packed weights (:mod:`seqkit.seq2seq.packed`): the numbers of the layers
it replaces, only the layers it should replace, and a Translator whose packed copy never lags its model."""

from __future__ import annotations

import pytest
import torch
from tiny_nmt import en_fr_lines, en_fr_tokenizer
from torch import nn

from seqkit.seq2seq import packed
from seqkit.seq2seq.packed import MIN_PACKED, PackedLinear, float32_layers, packing_works
from seqkit.seq2seq.presets import build_model, model_config
from seqkit.seq2seq.transformer import Transformer
from seqkit.seq2seq.translator import Translator

pytestmark = pytest.mark.skipif(not packing_works(), reason="this torch has no oneDNN packed float32 linear")


@pytest.mark.parametrize("bias", [True, False])
def test_packed_linear_gives_the_layers_numbers(bias):
    torch.manual_seed(0)
    layer = nn.Linear(256, 600, bias=bias)
    p = PackedLinear(layer.weight, layer.bias, keep_weight=True)
    for shape in [(1, 256), (7, 256), (3, 5, 256)]:
        x = torch.randn(*shape)
        with torch.no_grad():
            want = layer(x)
        got = p(x)
        assert got.shape == want.shape
        torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-5)
    ids = torch.tensor([3, 0, 599, 42])
    x = torch.randn(4, 256)
    with torch.no_grad():
        torch.testing.assert_close(p.select(ids)(x), layer(x)[:, ids], rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match="keep_weight"):
        PackedLinear(layer.weight).select(ids)


def _transformer(d_model: int, d_ff: int, vocab: int = 300, tied: bool = True) -> nn.Module:
    torch.manual_seed(0)
    cfg = model_config("transformer", "tiny", d_model=d_model, d_ff=d_ff, n_heads=4, n_enc_layers=1,
                       n_dec_layers=1, dropout=0.0, tie_embeddings=tied)
    return build_model(cfg, vocab).eval()


@pytest.mark.parametrize("tied", [True, False])
def test_only_the_large_layers_and_the_projection_are_packed(tied):
    """256 x 1,024 feed-forward layers are packed for oneDNN, 256 x 256 attention projections are not
    (below MIN_PACKED oneDNN's call costs more: MKL runs their many-row calls on the plain weight); the
    output projection is, tied or not, and the embedding lookup keeps its table; the feed-forward's ReLU
    runs in its first layer. The model's outputs stay its own to float rounding."""
    model = _transformer(256, 1024, tied=tied)
    copy = float32_layers(_transformer(256, 1024, tied=tied))
    dec = copy.decoder[0]
    assert isinstance(dec.ff.w1, PackedLinear) and isinstance(dec.ff.w2, PackedLinear)
    assert dec.ff.w1.in_features * dec.ff.w1.out_features >= MIN_PACKED and dec.ff.w1.packed is not None
    assert dec.ff.w1.relu and not dec.ff.w2.relu and dec.ff.act(torch.tensor(-1.0)) == -1.0
    assert dec.self_attn.qkv_proj.packed is not None  # 256 x 768
    assert dec.self_attn.out_proj.packed is None and dec.self_attn.out_proj.weight is not None  # 256 x 256: MKL
    assert isinstance(copy.out_proj, PackedLinear) and copy.out_proj.weight is not None
    assert isinstance(copy.embed, nn.Embedding)
    for rows in (1, 40):  # seqkit's kernel for few rows (where it is built), oneDNN and MKL for many
        src, src_len = torch.tensor([[5, 9, 17, 3, 2]] * rows), torch.tensor([5] * rows)
        tgt = torch.tensor([[1, 8, 12, 40]] * rows)
        with torch.no_grad():
            torch.testing.assert_close(copy(src, src_len, tgt), model(src, src_len, tgt), rtol=1e-4, atol=1e-4)


@pytest.fixture(scope="module")
def tokenizer():
    return en_fr_tokenizer()


def _same_search(packed_tr: Translator, plain_tr: Translator, src: list[str]) -> None:
    """The packed and the unpacked search find hypotheses of the same scores (float rounding apart: an
    untrained model's near-ties may pick either of two equal-scoring outputs on another CPU's kernels)."""
    for a, b in zip(packed_tr.translate_scored(src), plain_tr.translate_scored(src)):
        assert a[0].score == pytest.approx(b[0].score, rel=1e-4, abs=1e-4)


def test_the_translators_packed_copy_follows_its_model(tokenizer):
    """The Translator searches a packed copy and leaves the user's model as it was; a weight changed in
    place (an optimizer step) or another model given makes a new copy, so the translations are always
    those of the model as it is now -- the unpacked search's."""
    torch.manual_seed(0)
    cfg = model_config("transformer", "tiny", d_model=64, d_ff=128, n_heads=4, n_enc_layers=1, n_dec_layers=1,
                       dropout=0.0)
    model = build_model(cfg, len(tokenizer))
    src = en_fr_lines("test.en", 6)
    packed_tr = Translator(model, tokenizer, beam=3)
    plain_tr = Translator(model, tokenizer, beam=3, pack=False)
    first = packed_tr.inference_model()
    assert isinstance(first.out_proj, PackedLinear) and model.out_proj is None  # the user's model untouched
    assert plain_tr.inference_model() is model
    before = packed_tr.translate(src)
    _same_search(packed_tr, plain_tr, src)
    assert packed_tr.inference_model() is first  # nothing changed: the same copy

    optimizer = torch.optim.SGD(model.parameters(), lr=5.0)
    loss = model(torch.tensor([[5, 6, 7, 2]]), torch.tensor([4]), torch.tensor([[1, 9, 9]])).logsumexp(-1).sum()
    loss.backward()
    optimizer.step()  # in place: the parameters' version counters move
    now = packed_tr.inference_model()
    assert now is not first and torch.equal(now.out_proj.weight, model.embed.weight)  # today's weights
    assert packed_tr.translate(src) != before
    _same_search(packed_tr, plain_tr, src)

    other = build_model(cfg, len(tokenizer))
    packed_tr.model = plain_tr.model = other  # what training's validation does
    assert torch.equal(packed_tr.inference_model().out_proj.weight, other.embed.weight)
    _same_search(packed_tr, plain_tr, src)
    scored = packed_tr.translate_scored(src[0], token_scores=True)[0]
    assert sum(scored.token_log_probs) == pytest.approx(scored.log_prob, abs=1e-4)


def test_without_the_operator_the_model_runs_as_it_is(tokenizer, monkeypatch):
    monkeypatch.setattr(packed, "packing_works", lambda: False)
    model = build_model(model_config("transformer", "tiny", d_model=32, d_ff=64, n_heads=4, n_enc_layers=1,
                                     n_dec_layers=1), len(tokenizer))
    tr = Translator(model, tokenizer)
    assert tr.inference_model() is tr.model


def test_a_model_that_cannot_be_copied_runs_as_it_is(tokenizer):
    class Uncopyable(Transformer):
        def __deepcopy__(self, memo):
            raise TypeError("cannot copy this model")

    model = Uncopyable(vocab_size=len(tokenizer), d_model=32, n_heads=4, n_enc_layers=1, n_dec_layers=1, d_ff=64)
    tr = Translator(model, tokenizer, beam=2)
    assert tr.inference_model() is model
    assert tr.translate(en_fr_lines("test.en", 2)) == Translator(model, tokenizer, beam=2, pack=False).translate(
        en_fr_lines("test.en", 2))


def test_packing_is_for_the_cpu_and_float32(tokenizer):
    model = build_model(model_config("transformer", "tiny", d_model=32, d_ff=64, n_heads=4, n_enc_layers=1,
                                     n_dec_layers=1), len(tokenizer))
    assert Translator(model, tokenizer, quantize="int8").pack is False
    half = Translator(build_model(model_config("transformer", "tiny", d_model=32, d_ff=64, n_heads=4, n_enc_layers=1,
                                               n_dec_layers=1), len(tokenizer)).to(torch.bfloat16), tokenizer)
    assert half.inference_model() is half.model  # a bf16 model is searched as it is
    assert PackedLinear(torch.randn(8, 4))(torch.randn(3, 4, dtype=torch.bfloat16)).dtype == torch.float32
    assert Translator(model, tokenizer).pack is True
