"""Decoding: greedy search, beam search and sampling, batched over sentences.

All three work with any model of the :mod:`seqkit.seq2seq.interfaces` interface (``encode``,
``decode_step``, ``state.select``) and return, per input sentence, :class:`Hypothesis` objects holding
the output token ids (no ``<bos>``, no ``<eos>``), scores and, when asked, attention weights.

Shared conventions:

* Output length: a hypothesis has at most ``max_len = floor(max_len_a * src_len + max_len_b)`` tokens
  before ``<eos>``; at that point ``<eos>`` is forced (with its real log-probability). ``min_len``
  forbids ``<eos>`` before that many tokens. ``max_len_a=0, max_len_b=100`` is JoeyNMT's
  ``max_output_length: 100``.
* Finished sentences leave the batch (``state.select``): the decoder only computes rows still alive
  -- JoeyNMT's greedy search keeps them and pays for them until the longest sentence ends.
* The model is put in eval mode for the search and restored afterwards; no gradients are kept.

Memory: nothing grows by concatenation. The search knows its length cap before the first step
(``steps = max(max_lengths) + 1``), calls ``state.reserve(steps)`` (the Transformer then preallocates
its self-attention keys and values, which a reorder never moves: :mod:`seqkit.seq2seq.kv_cache`) and
keeps the output tokens and attention weights of every live row in
:class:`~seqkit.seq2seq.prefix_buffer.PrefixBuffer` buffers of ``steps`` columns, written in place
at step t. When rows change -- beam search picks each new hypothesis's parent, finished sentences
leave (their rows are dropped, not carried) -- each of these buffers is reordered by one ``index_select``
of its filled prefix into a spare buffer of the same size, so the work per step follows the live rows
and no step allocates a buffer. Beam search decodes the first step with one row per sentence (its
only hypothesis, the empty one) and makes the ``beam`` rows after it (``state.expand``); it takes the
``2 * beam`` best of the hypotheses' scores plus the step's log-probabilities over each sentence's beam x
vocabulary, looking only at the vocabulary chunks whose maxima can hold them (:func:`best_candidates`).
The outputs are the ones the search gave when it concatenated (``tests/seq2seq/test_inplace_search.py``
keeps that search as its reference).

Beam search details (:func:`beam_search`):

* Length penalty ``lp(L)``, with L the hypothesis length counting ``<eos>``: ``"length"`` (or
  ``"d2l"``) is ``L ** alpha`` (d2l 10.8, fairseq, CTranslate2), ``"gnmt"`` is ``((5 + L) / 6) ** alpha``
  (Wu et al. 2016), ``None`` is 1. The defaults of every search argument are
  :data:`seqkit.seq2seq.decoding.DEFAULT`'s.
  Finished hypotheses are ranked by ``log P / lp(L)``.
* Each step keeps the ``2 * beam`` best extensions; an ``<eos>`` among the first ``beam`` of them
  finishes a hypothesis, the ``beam`` best others stay alive (so ``beam_size=1`` is exactly greedy).
* Stopping: a sentence is done when it has ``nbest`` finished hypotheses and no alive one can still
  beat the n-th best of them. Log-probabilities only decrease as a hypothesis grows, so an alive
  hypothesis with log-probability ``s`` can at best finish with ``s / lp(L')`` for some length L'
  between the next step and ``max_len + 1``; that bound is checked at both ends of the range. Stopping
  as soon as the best hypothesis is finished is wrong under a length penalty: a longer one can still
  win after normalisation (JoeyNMT issue #148, where the search stopped too early).
  ``early_stop=True`` trades that guarantee for speed: the bound assumes alive hypotheses finish at
  the next step (fairseq/JoeyNMT-like), so a sentence stops as soon as that cannot win.
  ``patience=p`` is CTranslate2's rule (Kasai et al. 2022, arXiv:2204.05424): a sentence also ends once
  ``round(beam * p)`` hypotheses have finished (at least ``nbest``), the best of them kept. With 1 the
  Multi30k de->en base model decodes 13% fewer rows than the exact rule (float32, beam 5: 40.84 BLEU
  against 40.89; ``docs/reference/decode-settings.md``).
"""

from __future__ import annotations

import contextlib
import ctypes
import dataclasses
import math
from collections.abc import Callable
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from seqkit.native import kernel
from seqkit.sampling import check_sampling, pick_token
from seqkit.seq2seq.attention_kernel import may_run
from seqkit.seq2seq.decoding import DEFAULT
from seqkit.seq2seq.prefix_buffer import PrefixBuffer
from seqkit.text.vocab import BOS_ID, EOS_ID


@dataclasses.dataclass
class Hypothesis:
    """One output sentence.

    tokens: output ids, without ``<bos>`` and ``<eos>``.
    score: the ranking score: ``log_prob / lp(length)`` for beam search, ``log_prob`` otherwise.
    log_prob: the total log-probability of ``tokens`` followed by ``<eos>`` (if it finished).
    attention: (len(tokens) + 1, src_len) source attention of each output step (the ``<eos>`` step
      included), when asked for; None otherwise.
    """

    tokens: list[int]
    score: float
    log_prob: float
    attention: Tensor | None = None


LENGTH_PENALTIES = ("length", "gnmt", "d2l", "none", None)


def length_penalty(length: int, alpha: float, kind: str | None = DEFAULT.length_penalty) -> float:
    """``lp(L)``: ``L ** alpha`` (``"length"``, also called ``"d2l"``), GNMT ``((5 + L) / 6) ** alpha``,
    or 1 for ``kind=None`` / ``"none"`` (see :mod:`seqkit.seq2seq.decoding`)."""
    if kind is None or kind == "none" or alpha == 0:
        return 1.0
    if kind == "gnmt":
        return ((5.0 + length) / 6.0) ** alpha
    if kind in ("length", "d2l"):
        return float(length) ** alpha
    raise ValueError(f"length_penalty must be one of {LENGTH_PENALTIES}, not {kind!r}")


def max_lengths(src_len: Tensor, max_len_a: float, max_len_b: int) -> Tensor:
    """Per-sentence output cap (B,): ``floor(a * src_len + b)``, at least 1."""
    return torch.clamp((max_len_a * src_len.double() + max_len_b).floor().long(), min=1)


@contextlib.contextmanager
def _inference(model: nn.Module):
    """Eval mode and no autograd for the duration; every module's own mode is restored afterwards.

    Only the modules in training mode are switched (a model already in eval mode, as a
    :class:`~seqkit.seq2seq.translator.Translator`'s, costs a walk over its modules, not two
    ``train()`` recursions per call: 5% of one-sentence decoding)."""
    training = [m for m in model.modules() if m.training]
    for m in training:
        m.training = False
    try:
        with torch.inference_mode():
            yield
    finally:
        for m in training:
            m.training = True


def _constrain(log_probs: Tensor, t: int, max_len: Tensor, min_len: int, eos_id: int) -> Tensor:
    """Force ``<eos>`` in rows whose cap is reached (``max_len`` (N,) <= t); forbid it before
    ``min_len``. ``log_probs`` (N, V) of the token at position t (0-based)."""
    forced = max_len <= t
    if t < min_len:
        log_probs[~forced, eos_id] = -math.inf
    if bool(forced.any()):
        eos_col = torch.arange(log_probs.shape[1], device=log_probs.device) == eos_id
        log_probs = torch.where(forced.unsqueeze(1) & ~eos_col, -math.inf, log_probs)
    return log_probs


def _force(log_probs: Tensor, t: int, prefix: Tensor | None, sentences: Tensor) -> Tensor:
    """Rows whose sentence has a forced target token at position ``t`` (``prefix`` (B, P), ``-1``
    past a sentence's prefix) may only emit it; its log-probability is the model's own."""
    if prefix is None or t >= prefix.shape[1]:
        return log_probs
    forced = prefix[sentences, t]  # (N,) token or -1
    rows = forced >= 0
    if not bool(rows.any()):
        return log_probs
    keep = torch.zeros_like(log_probs, dtype=torch.bool)
    keep[rows.nonzero().flatten(), forced[rows]] = True
    return torch.where(rows.unsqueeze(1) & ~keep, -math.inf, log_probs)


def _prefix_caps(caps: Tensor, prefix: Tensor | None) -> Tensor:
    """Output caps that leave room for each forced prefix and one more token."""
    if prefix is None:
        return caps
    return torch.maximum(caps, (prefix >= 0).sum(1) + 1)


def _attention_of(attn_hist: PrefixBuffer | None, row: int, steps: int, src_len: int) -> Tensor | None:
    """Row ``row``'s attention at its first ``steps`` steps over the real source pieces, copied out of
    the search's buffer (which later steps overwrite); None without attention."""
    if attn_hist is None:
        return None
    return attn_hist.data[row, :steps, :src_len].to("cpu", torch.float32, copy=True)


# -- greedy search and sampling ----------------------------------------------------------------------
def _generate(model, src: Tensor, src_len: Tensor, pick: Callable[[Tensor], Tensor], max_len_a: float,
              max_len_b: int, min_len: int, bos_id: int, eos_id: int, return_attention: bool,
              prefix: Tensor | None = None) -> list[Hypothesis]:
    """One token per step for every sentence, chosen by ``pick(log_probs (N, V)) -> ids (N,)``."""
    if src.shape[0] == 0:
        return []
    with _inference(model):
        n_sent = src.shape[0]
        caps = _prefix_caps(max_lengths(src_len, max_len_a, max_len_b), prefix)
        steps, first_cap = int(caps.max()) + 1, int(caps.min())
        state = model.encode(src, src_len).reserve(steps)
        alive = torch.arange(n_sent, device=src.device)  # sentence index of each batch row
        prev = torch.full((n_sent,), bos_id, dtype=torch.long, device=src.device)
        history = PrefixBuffer(prev.new_empty(n_sent, steps), axis=1)  # tokens so far, per row
        log_prob = torch.zeros(n_sent, device=src.device)
        attn_hist: PrefixBuffer | None = None
        results: list[Hypothesis | None] = [None] * n_sent
        for t in range(steps):
            n = alive.numel()
            log_probs, state, attn = model.decode_step(prev, state, return_attention)
            if t < min_len or t >= first_cap:  # else no row is at its cap or under min_len: nothing to constrain
                log_probs = _constrain(log_probs, t, caps[alive], min_len, eos_id)
            log_probs = _force(log_probs, t, prefix, alive)
            tokens = torch.where(caps[alive] <= t, eos_id, pick(log_probs))
            log_prob = log_prob + log_probs.gather(1, tokens.unsqueeze(1)).squeeze(1)
            if return_attention and attn is not None:  # a model without attention gives None
                if attn_hist is None:
                    attn_hist = PrefixBuffer(attn.new_empty(n, steps, attn.shape[1]), axis=1)
                attn_hist.data[:n, t] = attn
            done = tokens == eos_id
            for row in done.nonzero().flatten().tolist():
                b, score = int(alive[row]), float(log_prob[row])
                att = _attention_of(attn_hist, row, t + 1, int(src_len[b]))
                results[b] = Hypothesis(history.data[row, :t].tolist(), score, score, att)
            history.data[:n, t] = tokens
            keep = (~done).nonzero().flatten()
            if keep.numel() == 0:
                break
            if keep.numel() < n:  # drop finished sentences from the batch
                state, alive, prev = state.select(keep), alive[keep], tokens[keep]
                history, log_prob = history.select(keep, t + 1), log_prob[keep]
                attn_hist = attn_hist.select(keep, t + 1) if attn_hist is not None else None
            else:
                prev = tokens
        return results  # type: ignore[return-value]


def greedy_search(model, src: Tensor, src_len: Tensor, max_len_a: float = DEFAULT.max_len_a, max_len_b: int = DEFAULT.max_len_b,
                  min_len: int = 0, bos_id: int = BOS_ID, eos_id: int = EOS_ID, return_attention: bool = False,
                  prefix: Tensor | None = None) -> list[Hypothesis]:
    """The most probable next token at every step. src (B, S), src_len (B,) -> B hypotheses.
    ``prefix`` (B, P): target tokens forced at the first steps (``-1`` past a sentence's prefix)."""
    return _generate(model, src, src_len, lambda lp: lp.argmax(dim=-1), max_len_a, max_len_b,
                     min_len, bos_id, eos_id, return_attention, prefix)


def sample(model, src: Tensor, src_len: Tensor, temperature: float = DEFAULT.temperature, top_k: int | None = None,
           top_p: float = DEFAULT.top_p, max_len_a: float = DEFAULT.max_len_a, max_len_b: int = DEFAULT.max_len_b, min_len: int = 0,
           bos_id: int = BOS_ID, eos_id: int = EOS_ID, generator: torch.Generator | None = None,
           return_attention: bool = False, prefix: Tensor | None = None) -> list[Hypothesis]:
    """Ancestral sampling with :func:`seqkit.sampling.pick_token`'s convention: ``temperature`` 0 is
    greedy, ``top_k`` (None: all) and ``top_p`` (1.0: all) restrict the tokens drawn from. ``log_prob``
    of the result is under the model itself (before temperature). src (B, S), src_len (B,) -> B
    hypotheses."""
    check_sampling(temperature, top_k, top_p)

    def pick(log_probs: Tensor) -> Tensor:
        return pick_token(log_probs, temperature=temperature, top_k=top_k, top_p=top_p, generator=generator)

    return _generate(model, src, src_len, pick, max_len_a, max_len_b, min_len, bos_id, eos_id,
                     return_attention, prefix)


# -- beam search ---------------------------------------------------------------------------------
def beam_search(model, src: Tensor, src_len: Tensor, beam_size: int = DEFAULT.beam, alpha: float = DEFAULT.alpha,
                length_penalty: str | None = DEFAULT.length_penalty, nbest: int = 1,
                max_len_a: float = DEFAULT.max_len_a, max_len_b: int = DEFAULT.max_len_b, min_len: int = 0, bos_id: int = BOS_ID, eos_id: int = EOS_ID,
                return_attention: bool = False, early_stop: bool = False, prefix: Tensor | None = None,
                patience: float | None = DEFAULT.patience) -> list[list[Hypothesis]]:
    """Beam search (see the module docstring). src (B, S), src_len (B,) -> for each sentence, its
    ``nbest`` best hypotheses, best first. ``early_stop``: the faster, inexact stopping rule;
    ``patience``: CTranslate2's (None: neither, the exact rule alone).
    ``prefix`` (B, P): target tokens forced at the first steps (``-1`` past a sentence's prefix); their
    log-probabilities count in the scores."""
    if not 1 <= nbest <= beam_size:
        raise ValueError(f"nbest must be between 1 and beam_size ({beam_size}), not {nbest}")
    lp = _penalty_fn(alpha, length_penalty)
    K = beam_size
    if patience is not None and not patience > 0:
        raise ValueError(f"patience must be > 0, not {patience}")
    enough = None if patience is None else max(nbest, math.floor(beam_size * patience + 0.5))
    if src.shape[0] == 0:
        return []
    with _inference(model):
        n_sent, device = src.shape[0], src.device
        caps = _prefix_caps(max_lengths(src_len, max_len_a, max_len_b), prefix)
        steps, first_cap = int(caps.max()) + 1, int(caps.min())
        state = model.encode(src, src_len).reserve(steps)  # one row per sentence: K after the first step
        width = 1  # rows per live sentence: its one empty hypothesis at the first step, then K
        alive = torch.arange(n_sent, device=device)  # sentence of each group of `width` rows
        scores = torch.zeros(n_sent, 1, device=device)
        prev = torch.full((n_sent,), bos_id, dtype=torch.long, device=device)
        history = PrefixBuffer(prev.new_empty(n_sent * K, steps), axis=1)  # tokens so far, per row
        attn_hist: PrefixBuffer | None = None
        finished: list[list[Hypothesis]] = [[] for _ in range(n_sent)]
        for t in range(steps):
            n = alive.numel()
            log_probs, state, attn = model.decode_step(prev, state, return_attention)
            vocab = log_probs.shape[1]
            if t < min_len or t >= first_cap:  # else no row is at its cap or under min_len: nothing to constrain
                log_probs = _constrain(log_probs, t, caps[alive].repeat_interleave(width), min_len, eos_id)
            if prefix is not None:
                log_probs = _force(log_probs, t, prefix, alive.repeat_interleave(width))
            top_scores, top_ids = best_candidates(log_probs, scores.reshape(-1), width, 2 * K)  # (n, 2K)
            if top_scores.shape[1] < K:  # fewer candidates than beams (a tiny vocabulary): the rest are dead
                top_scores = F.pad(top_scores, (0, K - top_scores.shape[1]), value=-math.inf)
                top_ids = F.pad(top_ids, (0, K - top_ids.shape[1]))
            top_beams, top_tokens = top_ids // vocab, top_ids % vocab
            top_rows = top_beams + (torch.arange(n, device=device) * width).unsqueeze(1)  # flat parent rows
            if return_attention and attn is not None:  # a model without attention gives None
                if attn_hist is None:
                    attn_hist = PrefixBuffer(attn.new_empty(n_sent * K, steps, attn.shape[1]), axis=1)
                attn_hist.data[:n * width, t] = attn

            # <eos> among the first K candidates finishes a hypothesis of length t + 1
            is_eos = top_tokens == eos_id
            ends = is_eos[:, :K] & (top_scores[:, :K] > -math.inf)
            if bool(ends.any()):
                penalty = lp(t + 1)
                for r, j in ends.nonzero().tolist():
                    b, row, s = int(alive[r]), int(top_rows[r, j]), float(top_scores[r, j])
                    att = _attention_of(attn_hist, row, t + 1, int(src_len[b]))
                    finished[b].append(Hypothesis(history.data[row, :t].tolist(), s / penalty, s, att))

            # the K best non-<eos> candidates stay alive
            alive_scores, pick = top_scores.masked_fill(is_eos, -math.inf).topk(K, dim=1)
            rows = top_rows.gather(1, pick)  # (n, K) parent row of each new hypothesis
            new_tokens = top_tokens.gather(1, pick)

            done = _sentences_done(finished, alive, alive_scores[:, 0], caps, t, nbest, lp, early_stop, enough)
            if all(done):
                break
            keep, scores = None, alive_scores
            if any(done):  # finished sentences leave
                keep = torch.tensor([r for r, d in enumerate(done) if not d], device=device)
                rows, new_tokens, scores, alive = rows[keep], new_tokens[keep], alive_scores[keep], alive[keep]
            rows, new_tokens = rows.flatten(), new_tokens.flatten()
            # one gather per buffer: parents picked, finished sentences' rows dropped
            if width < K:  # after the first step: every new hypothesis's parent is its sentence's row
                state = (state if keep is None else state.select(keep)).expand(K)
                width = K
            else:
                state = state.select(rows)
            history = history.select(rows, t)
            history.data[:rows.numel(), t] = new_tokens
            attn_hist = attn_hist.select(rows, t + 1) if attn_hist is not None else None
            prev = new_tokens
        # a model that gives <eos> zero probability at the cap finishes nothing: say so, don't crash
        return [sorted(hyps, key=lambda h: h.score, reverse=True)[:nbest]
                or [Hypothesis([], -math.inf, -math.inf)] for hyps in finished]


_KERNEL = Path(__file__).with_name("search_kernel.c")
_P, _I64 = ctypes.c_void_p, ctypes.c_int64
_SIGNATURES = {"best_candidates": (ctypes.c_int, [_I64, _I64, _I64, _P, _I64, _P, _I64, _P, _P])}

#: :func:`best_candidates` scans the vocabulary in chunks of this many pieces, from this many log-probabilities
#: a step on (below it the one ``topk`` is as fast as the chunks' dozen small operations: one sentence's
#: five beams of 8,000 pieces)
CHUNK, MIN_CHUNKED = 64, 2**18


def best_candidates(log_probs: Tensor, scores: Tensor, width: int, k: int) -> tuple[Tensor, Tensor]:
    """The ``k`` best extensions of each sentence's ``width`` hypotheses, best first: the values and flat
    ids (``beam * V + token``) of ``(log_probs + scores[:, None]).view(n, width * V).topk(k)``, for
    ``log_probs`` (n * width, V) and the hypotheses' ``scores`` (n * width,). ``log_probs`` may be changed.

    ``topk`` costs about 1.3 ns an element on a CPU, ten times a max. So the vocabulary is cut into
    chunks of :data:`CHUNK` pieces, each sentence's best ``k`` chunks are found by their maxima (plus the
    hypothesis's score), and ``topk`` only looks at those chunks' pieces (and the < CHUNK pieces left over
    at the end of each row): a piece among the sentence's ``k`` best lies in a chunk whose maximum is at
    least its own, and fewer than ``k`` chunks can beat that (each chunk beating it holds a better piece).
    The values are exactly those of the one ``topk`` over everything; among equal values the ids may come
    in another order (``topk`` promises none). At a batch's 950 rows of 8,000 pieces: 1.6 ms against
    9.8 ms. Small vocabularies (the chunks would hold half of it) and small steps take the one ``topk``.

    On CPUs (where :func:`~seqkit.seq2seq.attention_kernel.may_run`) ``search_kernel.c`` does it instead, in
    one pass that keeps each sentence's ``k`` best in a heap (equal values by smaller id; a NaN is never
    picked): the same values, in 2-4.5x less time (one to 200 sentences' five rows of 8,000 pieces)."""
    rows, vocab = log_probs.shape
    n, k = rows // width, min(k, width * vocab)
    lib = kernel(_KERNEL, "SEQKIT_SEARCH_KERNEL", _SIGNATURES) if may_run(log_probs, scores) and rows else None
    if lib is not None:
        if rows % width or scores.shape != (rows,) or k < 1:
            raise ValueError(f"best_candidates: {rows} rows in groups of {width}, {tuple(scores.shape)} scores, k {k}")
        log_probs = log_probs if log_probs.stride(1) == 1 else log_probs.contiguous()
        scores = scores.contiguous()
        values, ids = log_probs.new_empty((n, k)), torch.empty((n, k), dtype=torch.long)
        if lib.best_candidates(n, width, vocab, log_probs.data_ptr(), log_probs.stride(0), scores.data_ptr(), k,
                               values.data_ptr(), ids.data_ptr()):
            raise ValueError(f"best_candidates: k {k} out of range for {width} x {vocab}")
        return values, ids
    chunks = vocab // CHUNK
    if width * chunks < k or 2 * k * CHUNK > width * vocab or rows * vocab < MIN_CHUNKED:  # too small to gain
        return log_probs.add_(scores.unsqueeze(1)).view(n, width * vocab).topk(k, dim=1)
    device = log_probs.device
    maxima = log_probs[:, :chunks * CHUNK].view(rows, chunks, CHUNK).amax(2).add_(scores.unsqueeze(1))
    best = maxima.view(n, width * chunks).topk(k, dim=1).indices  # (n, k) as beam * chunks + chunk
    starts = best // chunks * vocab + best % chunks * CHUNK
    ids = (starts.unsqueeze(2) + torch.arange(CHUNK, device=device)).view(n, k * CHUNK)
    if vocab > chunks * CHUNK:  # each row's last pieces, always candidates
        tail = torch.arange(chunks * CHUNK, vocab, device=device) + vocab * torch.arange(width, device=device).unsqueeze(1)
        ids = torch.cat([ids, tail.view(1, -1).expand(n, -1)], dim=1)
    values = log_probs.view(n, width * vocab).gather(1, ids) + scores.view(n, width).gather(1, ids // vocab)
    top, pos = values.topk(k, dim=1)
    return top, ids.gather(1, pos)


def _penalty_fn(alpha: float, kind: str | None) -> Callable[[int], float]:
    length_penalty(1, alpha, kind)  # validates kind
    return lambda length: length_penalty(length, alpha, kind)


def _sentences_done(finished: list[list[Hypothesis]], alive: Tensor, best_alive: Tensor, caps: Tensor,
                    t: int, nbest: int, lp: Callable[[int], float], early_stop: bool = False,
                    enough: int | None = None) -> list[bool]:
    """For each of the n live sentences, whether it is done: no alive hypothesis can beat its ``nbest``-th
    finished score, or (``enough``) it has ``enough`` finished hypotheses (``patience``: the best of those
    are the answer).

    best_alive (n,): the log-probability of each sentence's best alive hypothesis (t + 1 tokens).
    ``early_stop``: only consider alive hypotheses finishing at the next step.
    """
    done = [False] * alive.numel()
    for r, (b, s) in enumerate(zip(alive.tolist(), best_alive.tolist())):
        hyps = finished[b]
        if s == -math.inf or (enough is not None and len(hyps) >= enough):  # nothing alive (the cap), or enough
            done[r] = True
        elif len(hyps) >= nbest:
            kth = sorted((h.score for h in hyps), reverse=True)[nbest - 1]
            # the best an alive hypothesis can still reach: finishing at the next step or at the cap
            bound = s / lp(t + 2) if early_stop else max(s / lp(t + 2), s / lp(int(caps[b]) + 1))
            done[r] = kth >= bound
    return done
