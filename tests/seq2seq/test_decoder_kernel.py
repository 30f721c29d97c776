"""A whole int8 decoder step in one C call (:mod:`seqkit.seq2seq.decoder_kernel`) against the Python
path it replaces: the same log-probabilities (up to the layer norms' float rounding), the same keys and
values written into the cache, the same searches; and the steps it must leave to Python."""

from __future__ import annotations

import copy
import pickle
import threading

import pytest
import torch

from seqkit.seq2seq import decoder_kernel
from seqkit.seq2seq.decoder_kernel import StepKernel
from seqkit.seq2seq.linear_kernel import SMALL_ROWS
from seqkit.seq2seq.packed import float32_layers, packing_works
from seqkit.seq2seq.search import beam_search, greedy_search
from seqkit.seq2seq.transformer import Transformer
from seqkit.seq2seq.translator import quantize_model

V = 40


@pytest.fixture(params=["int8", "float32"])
def kind(request):
    return request.param


def _model(d_model: int = 32, heads: int = 2, kind: str = "int8", **kw) -> torch.nn.Module:
    """An int8 copy (``quantize_model``) or a float32 copy (``float32_layers``, the Translator's), each
    with its step kernel where it can have one."""
    torch.manual_seed(0)
    model = Transformer(V, d_model=d_model, n_heads=heads, n_enc_layers=1, n_dec_layers=2, d_ff=2 * d_model,
                        dropout=0.0, **kw).eval()
    with torch.no_grad():  # norms away from their initial 1 and 0, so a swapped weight or bias shows
        for m in model.modules():
            if isinstance(m, torch.nn.LayerNorm):
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.3, 0.3)
    if kind == "int8":
        return quantize_model(model, "int8")
    if not packing_works():
        pytest.skip("this torch has no oneDNN packed float32 linear")
    return float32_layers(copy.deepcopy(model))


def _kernel_model(**kw) -> torch.nn.Module:
    q = _model(**kw)
    if q.step_kernel is None:
        pytest.skip("the decoder kernel needs the linear kernels built with AVX512-VNNI or AVX2, and a C compiler")
    return q


def _src(n: int):
    g = torch.Generator().manual_seed(n)
    src_len = torch.randint(2, 9, (n,), generator=g)
    src = torch.randint(4, V, (n, 8), generator=g) * (torch.arange(8) < src_len[:, None])
    return src, src_len


def _steps(model, src, src_len, tokens):
    """Log-probabilities of a few incremental steps (one row per sentence), and the cache after them."""
    out = []
    with torch.inference_mode():
        state = model.encode(src, src_len).reserve(len(tokens) + 1)
        for t in tokens:
            log_probs, state, _ = model.decode_step(t, state)
            out.append(log_probs.clone())
    return out, state.cache


@pytest.mark.parametrize("d_model,heads", [(32, 2), (64, 1), (128, 2)], ids=["dh16", "dh64", "dh64x2"])
@pytest.mark.parametrize("ends", [True, False], ids=["ends", "stack"])
def test_the_kernel_step_is_the_python_step(d_model, heads, kind, ends, monkeypatch, linear_kernel_path):
    """The whole step in C (embedding to log-softmax) and the stack alone (``ends`` off: the embedding and the
    projection in Python, as with a shortlist), against the Python step."""
    model = _kernel_model(d_model=d_model, heads=heads, kind=kind)
    assert model.step_kernel.ends  # a plain or int8 table, a kernel's projection
    model.step_kernel.ends = ends
    src, src_len = _src(5)
    tokens = [torch.randint(4, V, (5,), generator=torch.Generator().manual_seed(i)) for i in range(4)]
    calls = []
    real = StepKernel._run
    monkeypatch.setattr(StepKernel, "_run", lambda self, fn, *a: calls.append(fn.__name__) or real(self, fn, *a))
    fast, fast_cache = _steps(model, src, src_len, tokens)
    assert set(calls) == {"decoder_log_probs" if ends else "decoder_step"}
    assert len(calls) == len(tokens)  # every step ran in C
    monkeypatch.setenv("SEQKIT_DECODER_KERNEL", "0")
    slow, slow_cache = _steps(model, src, src_len, tokens)
    assert len(calls) == len(tokens)  # and none with the switch off
    for a, b in zip(fast, slow):
        torch.testing.assert_close(a, b, atol=2e-4, rtol=0)
    assert fast[-1].exp().sum(1).sub(1).abs().max() < 1e-4
    filled = slice(0, len(tokens))
    torch.testing.assert_close(fast_cache.data[:5, filled], slow_cache.data[:5, filled], atol=1e-4, rtol=0)


def test_searches_through_the_kernel_equal_the_python_path(kind, monkeypatch):
    model = _kernel_model(kind=kind)
    src, src_len = _src(3)  # 3 sentences x beam 4 = 12 rows: every step in C
    fast = beam_search(model, src, src_len, beam_size=4, nbest=2, max_len_a=1, max_len_b=3)
    greedy = greedy_search(model, src, src_len, max_len_a=1, max_len_b=3)
    monkeypatch.setenv("SEQKIT_DECODER_KERNEL", "0")
    slow = beam_search(model, src, src_len, beam_size=4, nbest=2, max_len_a=1, max_len_b=3)
    assert [h.tokens for h in greedy] == [h.tokens for h in greedy_search(model, src, src_len, max_len_a=1, max_len_b=3)]
    for a, b in zip(fast, slow):
        assert [h.tokens for h in a] == [h.tokens for h in b]
        assert [h.score for h in a] == pytest.approx([h.score for h in b], abs=1e-4)


def test_the_steps_it_leaves_to_python(kind, monkeypatch):
    model = _kernel_model(kind=kind)
    calls = []
    monkeypatch.setattr(StepKernel, "_run", lambda self, *a: calls.append(1))
    src, src_len = _src(SMALL_ROWS + 1)  # at two threads, more rows than the linear kernels take
    torch.set_num_threads(2)
    try:
        _steps(model, src, src_len, [torch.full((SMALL_ROWS + 1,), 5)])
    finally:
        torch.set_num_threads(1)
    cap = model.step_kernel._max_rows
    if cap is not None:  # the AVX2 build: more rows than its products take, at one thread too
        src, src_len = _src(cap + 1)
        _steps(model, src, src_len, [torch.full((cap + 1,), 5)])
    src, src_len = _src(2)
    with torch.inference_mode():  # attention weights asked for
        model.decode_step(torch.full((2,), 5), model.encode(src, src_len).reserve(3), need_attn=True)
    with torch.no_grad():
        torch.set_num_threads(3)  # more torch threads than the one-thread kernels run beside
        try:
            model.decode_step(torch.full((2,), 5), model.encode(src, src_len).reserve(3))
        finally:
            torch.set_num_threads(1)
    model.decode_step(torch.full((2,), 5), model.encode(src, src_len).reserve(3))  # autograd on
    assert calls == []


def test_which_models_get_a_kernel(kind):
    assert _model(pre_norm=False, kind=kind).step_kernel is None  # post-norm
    assert _model(activation="gelu", kind=kind).step_kernel is None
    assert Transformer(V, d_model=32, n_heads=2, n_enc_layers=1, n_dec_layers=1, d_ff=64).step_kernel is None  # float
    model = _kernel_model(kind=kind)
    model.decoder[1].ff.w2, w2 = model.decoder[0].self_attn.out_proj, model.decoder[1].ff.w2
    assert StepKernel.build(model) is None  # a Linear of another shape than the C step's buffers
    model.decoder[1].ff.w2 = w2
    assert StepKernel.build(model) is not None
    small = model.decoder[0].ff.w1.small  # pickled, the small-rows packing binds its new tensors
    again = pickle.loads(pickle.dumps(small))
    assert again.packed.data_ptr() == again._weights[0] != small._weights[0]
    h = torch.randn(3, 32)
    assert torch.equal(again(h), small(h))


def test_a_copy_of_an_int8_model_decodes_through_python():
    model = _kernel_model()
    twin = copy.deepcopy(model)
    assert twin.step_kernel is None  # a copy's pointers would be the original's
    src, src_len = _src(2)  # and its int8 layers (their small-rows packing) work on their own tensors
    want = _steps(model, src, src_len, [torch.full((2,), 5)])[0]
    del model
    got = _steps(twin, src, src_len, [torch.full((2,), 5)])[0]
    torch.testing.assert_close(got[0], want[0], atol=2e-4, rtol=0)


def test_a_step_that_does_not_fit_is_refused_not_read(monkeypatch):
    model = _kernel_model()
    src, src_len = _src(2)
    with torch.inference_mode():
        state = model.encode(src, src_len).reserve(3)
        x = torch.zeros(2, 1, 32)
        cache = state.cache_for(1)
        cache.start_step(2, 0)
        small = decoder_kernel.StepKernel.build(_model(d_model=64, heads=1))  # another model's sizes
        assert small is not None and small.runs(2, torch.zeros(2, 1, 64), state, cache, False)
        with pytest.raises(ValueError, match="does not fit"):
            small(torch.zeros(2, 1, 64), state, cache, src_len)
        with pytest.raises(ValueError, match="does not fit"):
            small.log_probs(torch.full((2, 1), 5), state, cache, src_len)
        other = model.encode(*_src(3))
        with pytest.raises(ValueError, match="memory keys"):
            model.step_kernel(x, other, cache, src_len)
        with pytest.raises(ValueError, match="memory keys"):
            model.step_kernel.log_probs(torch.full((2, 1), 5), other, cache, src_len)
        for bad in (-1, V):  # ids the table has no row for: refused before C reads it
            with pytest.raises(ValueError, match="outside the embedding"):
                model.step_kernel.log_probs(torch.full((2, 1), bad), state, cache, src_len)


def test_a_position_past_the_sinusoids_is_left_to_python_which_says_so():
    from seqkit.errors import SeqkitError

    model = _kernel_model()
    src, src_len = _src(2)
    with torch.inference_mode():
        state = model.encode(src, src_len).reserve(5)
        model.positions.max_len = 3  # the Python path's check: the C step leaves positions past its table to it
        model.step_kernel._decoder.max_positions = 3
        for _ in range(3):
            _, state, _ = model.decode_step(torch.full((2,), 5), state)
        with pytest.raises(SeqkitError, match="longer than the model's max_len 3"):
            model.decode_step(torch.full((2,), 5), state)


def test_threads_decoding_at_once_through_one_kernel_get_their_own_steps(kind):
    """A server's threads search with one model at once: each call of the kernel has its own plan (its
    own memory pointers), so batches of different sizes decoded side by side get what they get alone."""
    model = _kernel_model(kind=kind)
    batches = [_src(n) for n in (1, 3, 2, 4)]
    tokens = [[torch.full((len(b[1]),), 4 + i) for i in range(3)] for b in batches]
    alone = [_steps(model, *b, t)[0] for b, t in zip(batches, tokens)]
    results: dict[int, list] = {}

    def work(i: int) -> None:
        for _ in range(20):
            results[i] = _steps(model, *batches[i], tokens[i])[0]

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(batches))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for i, want in enumerate(alone):
        for a, b in zip(results[i], want):
            assert torch.equal(a, b)
