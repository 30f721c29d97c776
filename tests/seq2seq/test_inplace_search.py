"""The in-place search (preallocated key/value caches, one gather per step) gives the old search's outputs.

The reference is the search as it was before the caches were preallocated, kept here privately: its
loops grow the token and attention histories by ``torch.cat`` and never call ``state.reserve``, so the
Transformer's cache grows by one position per step and every reorder copies it (the old cat-and-copy
path). The model is a tiny Transformer trained for 300 updates to reverse sequences (a few seconds on one
thread), imperfect enough that beams, length penalties and caps change the outputs.
"""

from __future__ import annotations

import math

import pytest
import torch

from seqkit.sampling import pick_token
from seqkit.seq2seq import Transformer, attention_kernel, linear_kernel, search
from seqkit.seq2seq.ensemble import Ensemble
from seqkit.seq2seq.loss import sequence_mean_loss
from seqkit.seq2seq.prefix_buffer import PrefixBuffer
from seqkit.seq2seq.rnn import RNNSeq2Seq
from seqkit.seq2seq.search import (
    Hypothesis,
    _constrain,
    _force,
    _inference,
    _penalty_fn,
    _prefix_caps,
    _sentences_done,
    beam_search,
    greedy_search,
    max_lengths,
    sample,
)
from seqkit.seq2seq.translator import quantize_model
from seqkit.text.vocab import BOS_ID, EOS_ID

V = 14  # 0 unk, 1 pad, 2 bos, 3 eos, 4..13 words


# -- the old search, kept as the reference -------------------------------------------------------------
def _trim(attention, src_len):
    return None if attention is None else attention[:, :src_len].float().cpu()


def _reference_generate(model, src, src_len, pick, max_len_a, max_len_b, min_len, return_attention, prefix=None):
    with _inference(model):
        n_sent = src.shape[0]
        state = model.encode(src, src_len)
        caps = _prefix_caps(max_lengths(src_len, max_len_a, max_len_b), prefix)
        alive = torch.arange(n_sent)
        prev = torch.full((n_sent,), BOS_ID, dtype=torch.long)
        history = prev.new_empty(n_sent, 0)
        log_prob = torch.zeros(n_sent)
        attn_hist = None
        results = [None] * n_sent
        for t in range(int(caps.max()) + 1):
            log_probs, state, attn = model.decode_step(prev, state, return_attention)
            log_probs = _force(_constrain(log_probs, t, caps[alive], min_len, EOS_ID), t, prefix, alive)
            tokens = torch.where(caps[alive] <= t, EOS_ID, pick(log_probs))
            log_prob = log_prob + log_probs.gather(1, tokens.unsqueeze(1)).squeeze(1)
            if return_attention and attn is not None:
                attn_hist = attn.unsqueeze(1) if attn_hist is None else torch.cat([attn_hist, attn.unsqueeze(1)], 1)
            done = tokens == EOS_ID
            for row in done.nonzero().flatten().tolist():
                b = int(alive[row])
                results[b] = Hypothesis(history[row].tolist(), float(log_prob[row]), float(log_prob[row]),
                                        _trim(attn_hist[row], int(src_len[b])) if attn_hist is not None else None)
            history = torch.cat([history, tokens.unsqueeze(1)], dim=1)
            keep = (~done).nonzero().flatten()
            if keep.numel() == 0:
                break
            if keep.numel() < done.numel():
                state, alive, prev = state.select(keep), alive[keep], tokens[keep]
                history, log_prob = history[keep], log_prob[keep]
                attn_hist = attn_hist[keep] if attn_hist is not None else None
            else:
                prev = tokens
        return results


def _reference_beam(model, src, src_len, beam_size, alpha, length_penalty, nbest, max_len_a, max_len_b,
                    min_len=0, return_attention=False, early_stop=False, prefix=None):
    lp, K = _penalty_fn(alpha, length_penalty), beam_size
    with _inference(model):
        n_sent = src.shape[0]
        state = model.encode(src, src_len).expand(K)
        caps = _prefix_caps(max_lengths(src_len, max_len_a, max_len_b), prefix)
        alive = torch.arange(n_sent)
        scores = torch.full((n_sent, K), -math.inf)
        scores[:, 0] = 0.0
        prev = torch.full((n_sent * K,), BOS_ID, dtype=torch.long)
        history = prev.new_empty(n_sent * K, 0)
        attn_hist = None
        finished = [[] for _ in range(n_sent)]
        for t in range(int(caps.max()) + 1):
            n = alive.numel()
            log_probs, state, attn = model.decode_step(prev, state, return_attention)
            vocab = log_probs.shape[1]
            log_probs = _constrain(log_probs, t, caps[alive].repeat_interleave(K), min_len, EOS_ID)
            log_probs = _force(log_probs, t, prefix, alive.repeat_interleave(K))
            cand = (scores.reshape(-1, 1) + log_probs).view(n, K * vocab)
            top_scores, top_ids = cand.topk(min(2 * K, K * vocab), dim=1)
            top_beams, top_tokens = top_ids // vocab, top_ids % vocab
            top_rows = top_beams + (torch.arange(n) * K).unsqueeze(1)
            if return_attention and attn is not None:
                attn_hist = attn.unsqueeze(1) if attn_hist is None else torch.cat([attn_hist, attn.unsqueeze(1)], 1)
            is_eos = top_tokens == EOS_ID
            ends = is_eos[:, :K] & (top_scores[:, :K] > -math.inf)
            if bool(ends.any()):
                penalty = lp(t + 1)
                for r, j in ends.nonzero().tolist():
                    b, row, s = int(alive[r]), int(top_rows[r, j]), float(top_scores[r, j])
                    att = _trim(attn_hist[row], int(src_len[b])) if attn_hist is not None else None
                    finished[b].append(Hypothesis(history[row].tolist(), s / penalty, s, att))
            alive_scores, pick = top_scores.masked_fill(is_eos, -math.inf).topk(K, dim=1)
            rows = top_rows.gather(1, pick)
            new_tokens = top_tokens.gather(1, pick)
            done = _sentences_done(finished, alive, alive_scores[:, 0], caps, t, nbest, lp, early_stop)
            keep = torch.tensor([r for r, d in enumerate(done) if not d], dtype=torch.long)
            if keep.numel() == 0:
                break
            rows, new_tokens, scores = rows[keep].flatten(), new_tokens[keep].flatten(), alive_scores[keep]
            alive = alive[keep]
            state = state.select(rows)
            history = torch.cat([history[rows], new_tokens.unsqueeze(1)], dim=1)
            attn_hist = attn_hist[rows] if attn_hist is not None else None
            prev = new_tokens
        return [sorted(hyps, key=lambda h: h.score, reverse=True)[:nbest]
                or [Hypothesis([], -math.inf, -math.inf)] for hyps in finished]


# -- models --------------------------------------------------------------------------------------------
def _reverse_data(seed: int, n: int):
    g = torch.Generator().manual_seed(seed)
    src_len = torch.randint(1, 10, (n,), generator=g)
    src = torch.randint(4, V, (n, 9), generator=g).masked_fill(torch.arange(9) >= src_len[:, None], 1)
    tgt = torch.ones(n, 10, dtype=torch.long)
    for i, length in enumerate(src_len.tolist()):
        tgt[i, :length] = src[i, :length].flip(0)
        tgt[i, length] = EOS_ID
    return src, src_len, tgt


@pytest.fixture(scope="module")
def reverser():
    """A 1+2-layer Transformer trained for 300 updates to reverse sequences of 1-9 words."""
    threads = torch.get_num_threads()  # module fixtures run before conftest's one-thread fixture
    torch.set_num_threads(1)
    try:
        torch.manual_seed(0)
        model = Transformer(V, d_model=32, n_heads=2, n_enc_layers=1, n_dec_layers=2, d_ff=64, dropout=0.0)
        src, src_len, tgt = _reverse_data(0, 2000)
        opt = torch.optim.Adam(model.parameters(), lr=3e-3)
        g = torch.Generator().manual_seed(1)
        for _ in range(300):
            idx = torch.randint(0, len(src), (32,), generator=g)
            tgt_in = torch.cat([torch.full((32, 1), BOS_ID), tgt[idx, :-1]], 1)
            loss = sequence_mean_loss(model(src[idx], src_len[idx], tgt_in), tgt[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
    finally:
        torch.set_num_threads(threads)
    return model.eval()


@pytest.fixture(scope="module")
def batch():
    src, src_len, _ = _reverse_data(7, 24)  # beam beats greedy on three of them (the guard below)
    return src, src_len


def _same(new: list[Hypothesis], old: list[Hypothesis]) -> None:
    assert [h.tokens for h in new] == [h.tokens for h in old]
    for a, b in zip(new, old):
        assert a.score == pytest.approx(b.score, abs=1e-5) and a.log_prob == pytest.approx(b.log_prob, abs=1e-5)
        assert (a.attention is None) == (b.attention is None)
        if a.attention is not None:
            torch.testing.assert_close(a.attention, b.attention, atol=1e-5, rtol=0)


BEAMS = [  # beam, nbest, length penalty, alpha, caps (a, b), return attention, early stop, min_len
    (1, 1, None, 0.0, (1.0, 2), False, False, 0),
    (5, 1, "length", 1.0, (1.0, 2), False, False, 0),
    (5, 3, "gnmt", 0.6, (1.0, 2), True, False, 0),
    (5, 5, None, 0.0, (1.0, 2), False, False, 0),
    (5, 2, "length", 1.0, (0.0, 3), True, False, 0),  # caps hit: sources of up to 9 words
    (4, 2, "gnmt", 1.0, (1.0, 2), False, True, 2),
]


@pytest.mark.parametrize("beam,nbest,kind,alpha,caps,attention,early,min_len", BEAMS)
@pytest.mark.parametrize("rows", [slice(0, 24), slice(2, 3)], ids=["batch24", "batch1"])
@pytest.mark.parametrize("chunk", [0, search.CHUNK, 3], ids=["kernel", "one-topk", "chunked"])
def test_beam_search_equals_the_old_search(reverser, batch, rows, beam, nbest, kind, alpha, caps, attention,
                                           early, min_len, chunk, monkeypatch):
    """How the candidates are found (:func:`~seqkit.seq2seq.search.best_candidates`): ``kernel``, in C where
    it is built; the torch path with one ``topk``, or ``chunked``: by chunk maxima, as for real vocabularies
    (chunks of 3 of the 14 pieces, and 2 left over at the end of each row)."""
    if chunk:
        monkeypatch.setenv("SEQKIT_SEARCH_KERNEL", "0")
        monkeypatch.setattr(search, "CHUNK", chunk)
        monkeypatch.setattr(search, "MIN_CHUNKED", 0)
    src, src_len = batch[0][rows], batch[1][rows]
    args = dict(beam_size=beam, alpha=alpha, length_penalty=kind, nbest=nbest, max_len_a=caps[0],
                max_len_b=caps[1], min_len=min_len, return_attention=attention, early_stop=early)
    new = beam_search(reverser, src, src_len, **args)
    old = _reference_beam(reverser, src, src_len, **args)
    assert len(new) == len(old)
    for n, o in zip(new, old):
        _same(n, o)


def test_the_tiny_model_leaves_the_search_choices_open(reverser, batch):
    """Guards the test above: beam and greedy differ here, and the caps cut hypotheses short."""
    greedy = greedy_search(reverser, *batch, max_len_a=1, max_len_b=2)
    beams = beam_search(reverser, *batch, beam_size=5, nbest=5, length_penalty=None, max_len_a=1, max_len_b=2)
    assert sum(len(hs) for hs in beams) > len(beams)  # several finished hypotheses per sentence
    assert any(g.log_prob < b[0].log_prob - 1e-3 for g, b in zip(greedy, beams))  # beam finds better ones
    capped = beam_search(reverser, *batch, beam_size=5, max_len_a=0, max_len_b=3)
    assert any(len(hs[0].tokens) == 3 for hs in capped) and int(batch[1].max()) > 3


@pytest.mark.parametrize("caps", [(1.0, 2), (0.0, 3)])
@pytest.mark.parametrize("attention", [False, True])
def test_greedy_and_sampling_equal_the_old_search(reverser, batch, caps, attention):
    src, src_len = batch
    args = dict(max_len_a=caps[0], max_len_b=caps[1], return_attention=attention)
    greedy = greedy_search(reverser, src, src_len, **args)
    _same(greedy, _reference_generate(reverser, src, src_len, lambda lp: lp.argmax(-1), min_len=0, **args))
    drawn = sample(reverser, src, src_len, temperature=1.0, generator=torch.Generator().manual_seed(5), **args)
    g = torch.Generator().manual_seed(5)
    _same(drawn, _reference_generate(reverser, src, src_len, lambda lp: pick_token(lp, temperature=1.0, generator=g),
                                     min_len=0, **args))


@pytest.mark.parametrize("patience", [0.4, 1.0])
def test_patience_ends_searches_sooner_and_never_finds_better(reverser, batch, patience):
    """CTranslate2's rule cuts the search short on the same trajectory: fewer decoder rows, and each
    sentence's best is at most the exact search's (whose finished hypotheses include these)."""
    rows = {}

    def counted(model):
        calls = []
        step = model.decode_step
        model.decode_step = lambda prev, *a, **k: (calls.append(prev.numel()), step(prev, *a, **k))[1]
        return calls

    results = {}
    for rule in (None, patience):
        calls = counted(reverser)
        try:
            results[rule] = beam_search(reverser, *batch, beam_size=5, max_len_a=1, max_len_b=4, patience=rule)
        finally:
            del reverser.decode_step
        rows[rule] = sum(calls)
    # 0.4 (two finished hypotheses) always ends some searches early here; 1.0 (five) did on one CPU, and on
    # another the exact rule's bound ended every search as soon (this tiny model trains to other weights there)
    assert rows[patience] < rows[None] if patience < 1 else rows[patience] <= rows[None]
    for cut, exact in zip(results[patience], results[None]):
        assert cut[0].score <= exact[0].score + 1e-6
    if patience < 1:  # two finished hypotheses are too few here: some sentences end with a worse best
        assert any(c[0].score < e[0].score - 1e-4 for c, e in zip(results[patience], results[None]))


def test_a_forced_prefix_equals_the_old_search(reverser, batch):
    src, src_len = batch
    prefix = torch.full((len(src), 2), -1, dtype=torch.long)
    prefix[0] = torch.tensor([5, 6])
    prefix[2, 0] = 4
    new = beam_search(reverser, src, src_len, beam_size=3, nbest=2, max_len_a=1, max_len_b=2, prefix=prefix)
    old = _reference_beam(reverser, src, src_len, 3, 1.0, "length", 2, 1.0, 2, prefix=prefix)
    for n, o in zip(new, old):
        _same(n, o)
    assert new[0][0].tokens[:2] == [5, 6] and new[2][0].tokens[:1] == [4]


@pytest.mark.parametrize("kernels", [False, True])
def test_int8_rnn_and_ensembles_equal_the_old_search(reverser, batch, kernels, monkeypatch):
    """Dynamic int8 quantization scales activations per call (fbgemm: ``kernels`` off) or per row (seqkit's
    kernels, where they are built): the same rows in the same order give the same numbers, so the in-place
    search must feed the Linear layers exactly what the old one fed them."""
    if not kernels:
        monkeypatch.setattr(linear_kernel, "takes", lambda rows, x, max_rows=None: False)
    src, src_len = batch
    torch.manual_seed(1)
    rnn = RNNSeq2Seq(V, V, 16, 24, 2, cell="lstm", attention="bahdanau").eval()
    for model in (quantize_model(reverser, "int8"), rnn, Ensemble([reverser, rnn])):
        for beam in (1, 4):
            new = beam_search(model, src, src_len, beam_size=beam, nbest=beam, max_len_a=1, max_len_b=2,
                              return_attention=True)
            old = _reference_beam(model, src, src_len, beam, 1.0, "length", beam, 1.0, 2, return_attention=True)
            for n, o in zip(new, old):
                _same(n, o)
        _same(greedy_search(model, src, src_len, max_len_a=1, max_len_b=2), _reference_generate(
            model, src, src_len, lambda lp: lp.argmax(-1), 1.0, 2, 0, False))


# -- the cache is preallocated, reordered in place, and follows the live rows ---------------------------
class _Spy(torch.nn.Module):
    """The model, recording each step's rows and the storage and capacity of its cache."""

    def __init__(self, model):
        super().__init__()
        self.model, self.pad_id, self.steps = model, model.pad_id, []

    def encode(self, src, src_len):
        return self.model.encode(src, src_len)

    def decode_step(self, prev, state, need_attn=False):
        out = self.model.decode_step(prev, state, need_attn)
        cache = out[1].cache
        self.steps.append((prev.shape[0], cache.data.untyped_storage().data_ptr(), cache.capacity))
        return out


def test_the_cache_is_allocated_once_and_each_step_computes_the_live_rows(reverser, batch):
    src, src_len = batch
    spy = _Spy(reverser)
    hyps = beam_search(spy, src, src_len, beam_size=5, max_len_a=1, max_len_b=2)
    cap = int(src_len.max()) + 2
    rows = [r for r, _, _ in spy.steps]
    assert {c for _, _, c in spy.steps} == {cap + 1}  # sized once for the longest output
    # the first step's buffer (one row per sentence), then the beam's: reorders move slot numbers, not
    # keys and values, and nothing is allocated per step
    assert len({p for _, p, _ in spy.steps}) == 2 and len(spy.steps) >= 8
    assert rows[0] == len(src)  # the first step: one row per sentence, its only hypothesis
    assert rows[1] == 5 * len(src) and rows[1:] == sorted(rows[1:], reverse=True) and rows[-1] < rows[1]
    assert all(r % 5 == 0 for r in rows[1:])  # 5 hypotheses per sentence still searching, none finished
    assert max(len(h[0].tokens) for h in hyps) < len(spy.steps) <= cap + 1

    spy.steps.clear()  # greedy: a sentence's row leaves when it ends
    greedy = greedy_search(spy, src, src_len, max_len_a=1, max_len_b=2)
    lengths = sorted(len(h.tokens) for h in greedy)
    assert [r for r, _, _ in spy.steps] == [sum(n >= t for n in lengths) for t in range(lengths[-1] + 1)]
    assert len({p for _, p, _ in spy.steps}) <= 2


@pytest.mark.parametrize("quantize", [None, "int8"])
def test_the_attention_kernel_and_the_gathered_keys_give_the_same_searches(reverser, batch, quantize, monkeypatch):
    """The C kernels (:mod:`seqkit.seq2seq.attention_kernel`) against SDPA (over the keys gathered in row order)."""
    if attention_kernel.load() is None:
        pytest.skip("no C compiler here: only the gathered path runs")
    src, src_len = batch
    model = quantize_model(reverser, quantize) if quantize else reverser

    def searches():
        return (beam_search(model, src, src_len, beam_size=5, nbest=3, max_len_a=1, max_len_b=2, return_attention=True),
                greedy_search(model, src, src_len, max_len_a=1, max_len_b=2, return_attention=True))

    beams, greedy = searches()
    monkeypatch.setattr(attention_kernel, "load", lambda: None)
    gathered_beams, gathered_greedy = searches()
    for new, old in zip([*beams, greedy], [*gathered_beams, gathered_greedy]):  # float rounding apart
        assert [h.tokens for h in new] == [h.tokens for h in old]
        for a, b in zip(new, old):
            assert a.score == pytest.approx(b.score, rel=1e-5) and a.log_prob == pytest.approx(b.log_prob, rel=1e-5)
            torch.testing.assert_close(a.attention, b.attention, atol=1e-5, rtol=0)


def test_a_prefix_buffer_reorders_in_place_or_leaves_earlier_buffers_alone():
    data = torch.arange(4 * 5).view(4, 5)
    buf = PrefixBuffer(data.clone(), axis=1)
    first = buf.data
    out = buf.select(torch.tensor([3, 3, 0]), 2)
    assert out is buf and torch.equal(buf.filled(3, 2), torch.tensor([[15, 16], [15, 16], [0, 1]]))
    buf.data[:3, 2] = torch.tensor([-1, -2, -3])
    buf.select(torch.tensor([2, 0]), 3)
    assert buf.data is first and torch.equal(buf.filled(2, 3), torch.tensor([[0, 1, -3], [15, 16, -1]]))
    assert buf.room(2, 3, 5) is buf and buf.room(2, 3, 6).capacity == 10  # in place: doubles when full

    kept = PrefixBuffer(data.clone(), axis=1, in_place=False)
    picked = kept.select(torch.tensor([1]), 2)
    grown = picked.room(1, 2, 3)
    grown.data[0, 2] = 99
    assert torch.equal(kept.data, data) and picked.data.shape == (1, 2) and grown.capacity == 3
    assert torch.equal(grown.data[0], torch.tensor([5, 6, 99]))
