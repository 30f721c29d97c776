"""The key/value cache read by reference (:mod:`seqkit.seq2seq.kv_cache`) and the decoder's attention
kernels (:mod:`seqkit.seq2seq.attention_kernel`): the C kernels and the torch path against attention
written out by hand, reorders that move slot numbers only, copies in row order."""

from __future__ import annotations

import math

import pytest
import torch

from seqkit.seq2seq import Transformer, attention_kernel
from seqkit.seq2seq.kv_cache import KVCache

SLOTS, CAP, LAYERS, HEADS, DH = 6, 5, 2, 2, 4
D = HEADS * DH


@pytest.fixture(params=["kernel", "gathered"])
def path(request, monkeypatch):
    if request.param == "kernel" and attention_kernel.load() is None:
        pytest.skip("no C compiler here: only the gathered path runs")
    if request.param == "gathered":
        monkeypatch.setattr(attention_kernel, "load", lambda: None)
    return request.param


def _cache(in_place: bool = True) -> KVCache:
    g = torch.Generator().manual_seed(0)
    cache = KVCache(torch.randn(SLOTS, CAP, LAYERS, 2, HEADS, DH, generator=g),
                    torch.randint(0, SLOTS, (SLOTS, CAP), generator=g, dtype=torch.int32), in_place)
    return cache


def _by_hand(q, keys, values):
    """One row and head: softmax(q . k / sqrt(dh)) . v over the positions, in float64."""
    scores = [sum(a * b for a, b in zip(q, k)) / math.sqrt(len(q)) for k in keys]
    top = max(scores)
    weights = [math.exp(s - top) for s in scores]
    total = sum(weights)
    return [sum(w * v[i] for w, v in zip(weights, values)) / total for i in range(len(q))]


def test_attention_reads_each_position_from_its_slot_and_writes_the_new_one(path):
    cache, pos, layer, n = _cache(), 3, 1, 4
    before = cache.data.clone()
    origin = cache.origin.clone()
    qkv = torch.randn(n, 1, 3 * D, generator=torch.Generator().manual_seed(1))
    with torch.inference_mode():
        cache.start_step(n, pos)
        assert (cache._lib is not None) == (path == "kernel")
        out = cache.attend(layer, qkv, pos, HEADS)
    assert out.shape == (n, 1, D)
    new = qkv[:, 0, D:].reshape(n, 2, HEADS, DH)
    for j in range(n):
        for h in range(HEADS):
            sl = slice(h * DH, (h + 1) * DH)
            keys = [before[origin[j, p], p, layer, 0, h].tolist() for p in range(pos)] + [new[j, 0, h].tolist()]
            values = [before[origin[j, p], p, layer, 1, h].tolist() for p in range(pos)] + [new[j, 1, h].tolist()]
            expected = torch.tensor(_by_hand(qkv[j, 0, sl].tolist(), keys, values))
            torch.testing.assert_close(out[j, 0, sl], expected.float(), atol=1e-5, rtol=1e-5)
    # the new keys and values sit in the rows' own slots, at `pos`; nothing else changed
    assert torch.equal(cache.data[:n, pos, layer], new)
    before[:n, pos, layer] = new
    assert torch.equal(cache.data, before)
    assert torch.equal(cache.origin[:n, pos], torch.arange(n, dtype=torch.int32))


def test_memory_attention_attends_over_each_sentences_real_positions_for_its_whole_group():
    if attention_kernel.load() is None:
        pytest.skip("no C compiler here: the cross-attention takes SDPA")
    g = torch.Generator().manual_seed(2)
    sentences, group, length = 3, 4, 5
    memory = torch.randn(sentences, length, 2 * D, generator=g)  # as memory_kv makes them: strided heads
    k, v = memory.view(sentences, length, 2, HEADS, DH).permute(2, 0, 3, 1, 4).unbind(0)
    q = torch.randn(sentences, group, D, generator=g)
    lengths = torch.tensor([5, 1, 3])
    with torch.inference_mode():
        out = attention_kernel.memory_attention(q, k, v, lengths, HEADS)
    for s in range(sentences):
        for i in range(group):
            for h in range(HEADS):
                sl = slice(h * DH, (h + 1) * DH)
                keys = [k[s, h, p].tolist() for p in range(lengths[s])]
                values = [v[s, h, p].tolist() for p in range(lengths[s])]
                expected = torch.tensor(_by_hand(q[s, i, sl].tolist(), keys, values)).float()
                torch.testing.assert_close(out[s, i, sl], expected, atol=1e-5, rtol=1e-5)
    assert attention_kernel.memory_attention(q, k, v, lengths, HEADS) is None  # autograd on: SDPA's turn
    torch.set_num_threads(attention_kernel.KERNEL_THREADS + 1)  # the conftest fixture puts back one thread
    with torch.inference_mode():
        assert attention_kernel.memory_attention(q, k, v, lengths, HEADS) is None  # many threads: SDPA's too
    torch.set_num_threads(1)
    with torch.inference_mode():  # lengths past the memory's end read no further than it
        past = attention_kernel.memory_attention(q, k, v, torch.tensor([99, 1, 3]), HEADS)
    assert torch.equal(past, out)


def test_a_step_that_does_not_fit_the_cache_is_refused(path):
    cache = _cache()
    with torch.inference_mode():
        cache.start_step(4, 2)
        for rows, pos, layer in ((SLOTS + 1, 2, 0), (4, CAP, 0), (4, 2, LAYERS)):
            with pytest.raises(ValueError, match="does not fit"):
                cache.attend(layer, torch.zeros(rows, 1, 3 * D), pos, HEADS)
        with pytest.raises(ValueError, match="does not fit"):
            cache.attend(0, torch.zeros(4, 1, 3 * D), 2, HEADS * 2)  # another head count


def test_a_reorder_gathers_slot_numbers_and_leaves_keys_and_values_where_they_are():
    cache = _cache()
    data, origin, storage = cache.data.clone(), cache.origin.clone(), cache.data.untyped_storage().data_ptr()
    index = torch.tensor([2, 2, 0])
    assert cache.select(index, 4) is cache
    assert torch.equal(cache.origin[:3, :4], origin[index, :4])
    assert torch.equal(cache.data, data) and cache.data.untyped_storage().data_ptr() == storage
    ordered = cache.ordered(3, 4)  # row j's keys and values in order: the slots its origin names
    for j in range(3):
        for p in range(4):
            assert torch.equal(ordered[j, p], data[origin[index[j], p], p])

    kept = _cache(in_place=False)  # without reserve: a new cache, the old one unchanged
    origin = kept.origin.clone()
    picked = kept.select(index, 4)
    assert picked is not kept and torch.equal(kept.origin, origin) and picked.data is kept.data
    grown = picked.room(3, 4, 5)  # the next step writes into a copy in row order
    assert grown.data is not kept.data and grown.capacity == 5
    assert torch.equal(grown.data[:, :4], picked.ordered(3, 4))
    assert torch.equal(grown.origin[:, :4], torch.arange(3, dtype=torch.int32)[:, None].expand(3, 4))


def test_in_place_room_keeps_the_buffer_until_it_needs_more():
    cache = _cache()
    assert cache.room(SLOTS, 3, CAP) is cache
    longer = cache.room(4, 3, CAP + 1)  # past the capacity: twice the positions
    assert longer.capacity == 2 * CAP and torch.equal(longer.data[:4, :3], cache.ordered(4, 3))
    cache.select(torch.arange(4).repeat_interleave(2), 3)  # more rows than slots (beam search's expand)
    more_rows = cache.room(8, 3, CAP)
    assert more_rows.data.shape[:2] == (8, CAP) and more_rows.in_place
    assert torch.equal(more_rows.data[:, :3], cache.ordered(8, 3))


def _small():
    torch.manual_seed(0)
    return Transformer(vocab_size=30, d_model=16, n_heads=2, n_enc_layers=1, n_dec_layers=2, d_ff=32,
                       dropout=0.0).eval()


def test_decoding_with_autograd_on_takes_the_gathered_path_and_agrees():
    model = _small()
    src, src_len = torch.randint(4, 30, (3, 5)), torch.tensor([5, 2, 4])
    tokens = torch.randint(4, 30, (3, 4))

    def steps():
        state, out = model.encode(src, src_len).reserve(4), []
        for t in range(4):
            log_probs, state, _ = model.decode_step(tokens[:, t], state)
            out.append(log_probs.detach().clone())
            if t == 1:
                state, tokens_ = state.select(torch.tensor([2, 0, 1])), tokens[[2, 0, 1]]
                tokens.copy_(tokens_)
        return torch.stack(out)

    saved = tokens.clone()
    with torch.inference_mode():
        fast = steps()
    tokens.copy_(saved)
    slow = steps()  # autograd on: the kernel would write behind its back, so the gathered path runs
    torch.testing.assert_close(slow, fast, atol=1e-5, rtol=1e-5)


def test_a_transformer_search_on_one_thread_runs_both_kernels(monkeypatch):
    if attention_kernel.load() is None:
        pytest.skip("no C compiler here: the searches take the torch path")
    from seqkit.seq2seq import attention, beam_search

    ran = {"memory": 0, "cache": 0}
    real_memory, real_start = attention.memory_attention, KVCache.start_step

    def memory(*args):
        out = real_memory(*args)
        ran["memory"] += out is not None
        return out

    def start(self, n, pos):
        real_start(self, n, pos)
        ran["cache"] += self._lib is not None

    monkeypatch.setattr(attention, "memory_attention", memory)
    monkeypatch.setattr(KVCache, "start_step", start)
    beam_search(_small(), torch.randint(4, 30, (3, 5)), torch.tensor([5, 2, 4]), beam_size=3, max_len_b=4)
    assert ran["memory"] > 0 and ran["cache"] > 0
