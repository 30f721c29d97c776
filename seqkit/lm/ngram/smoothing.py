"""Estimators: from n-gram counts to the log10 probabilities and backoff weights of a backoff model.

Every estimator here produces the same thing: for every seen n-gram its probability p(w | h), and
for every context h a backoff weight b(h), so that an unseen n-gram scores
``p(w | h) = b(h) * p(w | h')`` with h' = h minus its first word (the ARPA model; a context that
is not in the table has b = 1). Interpolated estimators have the form

    p_k(w | h) = u_k(h w) + gamma_k(h) * p_{k-1}(w | h'),      p_0(w) = 1 / |V|

for which the backoff weight is exactly ``gamma_k(h)`` (Chen & Goodman 1998, sec. 2.8; KenLM's
``lmplz`` writes its models this way). |V| counts every token that can be predicted: the
vocabulary with ``<unk>`` and ``</s>``, without ``<s>``.

==========  ===================================================================================
``mle``     u = c(hw) / c(h), gamma = 0: relative frequencies; unseen words get probability 0
``addk``    Lidstone (``k=1``: Laplace) on the full context: (c(hw) + k) / (c(h) + k|V|); lower
            orders are uniform, so an unseen context gives 1/|V|
``wb``      Witten-Bell: gamma = T(h) / (c(h) + T(h)), T(h) = distinct words seen after h
``absolute`` absolute discounting, D = n1 / (n1 + 2 n2) per order on raw counts
``kn``      interpolated Kneser-Ney: one discount per order, continuation counts below the top
``mkn``     interpolated modified Kneser-Ney, D1, D2, D3+ per order, as KenLM's ``lmplz``
``stupid``  stupid backoff (Brants et al. 2007): relative frequencies, b = alpha (0.4); scores,
            not probabilities (they do not sum to 1)
==========  ===================================================================================

Kneser-Ney discounts come from the counts-of-counts n_j of each order's adjusted counts
(Chen & Goodman eq. 26, KenLM): ``Y = n1 / (n1 + 2 n2)``, ``D_j = j - (j + 1) Y n_{j+1} / n_j``.

How ``mkn`` matches KenLM's ``lmplz`` (its ARPA files agree entry by entry, to float32 precision):

* adjusted counts: raw at the top order; below it, continuation counts, except n-grams starting
  with ``<s>`` (raw counts) and the unigram ``<s>`` (0) -- :meth:`NGramCounts.adjusted`;
* the unigram level interpolates with the uniform ``1/|V|``, |V| = vocabulary without ``<s>``;
  ``<unk>`` absent from the text is a zeroton (probability ``gamma_1 / |V|``); ``<s>`` gets
  probability 1 (log 0), it is never predicted;
* the backoff weight of a context is its gamma; n-grams that are never contexts get 0 (log 1);
* the counts-of-counts reproduce one quirk of ``lmplz`` (:func:`kenlm_statistics`);
* with no estimate possible, KenLM's ``--discount_fallback`` values (0.5, 1, 1.5).

Where seqkit differs on purpose: a literal ``<unk>`` in the training text (PTB) is counted as an
ordinary word (KenLM refuses such input).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from seqkit.errors import SeqkitError
from seqkit.lm.ngram.counts import NGramCounts, counts_of_counts
from seqkit.lm.ngram.vocab import BOS_ID

#: KenLM's ``--discount_fallback`` defaults: D1, D2, D3+.
DEFAULT_FALLBACK = (0.5, 1.0, 1.5)


@dataclass
class Tables:
    """A backoff model's numbers, per order k = 1..N (index k-1).

    Attributes:
        logp: (n_k,) float64 log10 p(w | h) of every k-gram in the counts' key order.
        logbo: (n_k,) float64 log10 backoff weight of every k-gram as a context (k < N; 0 when
            it is never a context); for k = N an empty array.
        discounts: per order (D1, D2, D3+) or None, for reporting.
    """

    logp: list[np.ndarray]
    logbo: list[np.ndarray]
    discounts: list[tuple[float, float, float]] | None = None


# ----------------------------------------------------------------------------- discounts


def _bad_discount(message: str, k: int, coc: np.ndarray) -> SeqkitError:
    return SeqkitError(
        f"cannot estimate Kneser-Ney discounts for {k}-grams: {message} "
        f"(counts-of-counts n1..n4 = {', '.join(str(int(x)) for x in coc[1:5])}); "
        "the corpus is too small or artificial",
        fix=f"pass --discount-fallback (uses D1={DEFAULT_FALLBACK[0]} D2={DEFAULT_FALLBACK[1]} "
            f"D3+={DEFAULT_FALLBACK[2]}, as KenLM), give explicit discounts, or train on more text")


def modified_kn_discounts(counts: np.ndarray, k: int) -> tuple[float, float, float]:
    """(D1, D2, D3+) from one order's (adjusted) counts; :class:`SeqkitError` when impossible."""
    coc = counts_of_counts(counts)
    for j in (1, 2, 3):
        if coc[j] == 0:
            raise _bad_discount(f"no {k}-gram has adjusted count {j}", k, coc)
    y = coc[1] / (coc[1] + 2.0 * coc[2])
    d = tuple(float(j - (j + 1) * y * coc[j + 1] / coc[j]) for j in (1, 2, 3))
    for j, dj in enumerate(d, 1):
        if not 0.0 <= dj <= j:
            raise _bad_discount(f"discount D{j}={dj:.4f} is outside [0, {j}]", k, coc)
    return d  # type: ignore[return-value]


def single_discount(counts: np.ndarray, k: int) -> float:
    """Ney's D = n1 / (n1 + 2 n2) of one order; :class:`SeqkitError` when n1 = 0."""
    coc = counts_of_counts(counts)
    if coc[1] == 0:
        raise _bad_discount(f"no {k}-gram occurs exactly once", k, coc)
    return float(coc[1] / (coc[1] + 2.0 * coc[2]))


def _resolve_discounts(counts: list[np.ndarray], modified: bool, discounts, fallback
                       ) -> list[tuple[float, float, float]]:
    """Per order (D1, D2, D3+): given explicitly, estimated, or the fallback when estimation fails."""
    if discounts is not None:
        out = []
        for d in discounts:
            d = tuple(float(x) for x in (d if isinstance(d, (list, tuple)) else (d, d, d)))
            if len(d) != 3:
                raise SeqkitError(f"discounts must be D or (D1, D2, D3+), got {d}")
            out.append(d)
        if len(out) != len(counts):
            raise SeqkitError(f"{len(out)} discounts given for an order-{len(counts)} model",
                              fix="give one discount (or triple) per order")
        return out
    out = []
    for k, c in enumerate(counts, 1):
        try:
            if modified:
                out.append(modified_kn_discounts(c, k))
            else:
                d = single_discount(c, k)
                out.append((d, d, d))
        except SeqkitError:
            if fallback is None:
                raise
            fb = tuple(float(x) for x in fallback)
            out.append(fb if modified else (fb[0],) * 3)
    return out


# ----------------------------------------------------------------------------- interpolation


def _per_context(counts: NGramCounts, k: int, values: np.ndarray) -> np.ndarray:
    """Sum ``values`` (one per k-gram) over each context: (n_{k-1},); k = 1 gives a (1,) total."""
    if k == 1:
        return np.array([values.sum()], dtype=np.float64)
    return np.bincount(counts.context(k), weights=values, minlength=len(counts.orders[k - 2]))


def _context_index(counts: NGramCounts, k: int) -> np.ndarray:
    """Index of every k-gram's context into :func:`_per_context` arrays."""
    if k == 1:
        return np.zeros(len(counts.orders[0]), dtype=np.int64)
    return counts.context(k)


def interpolate(counts: NGramCounts, u: Sequence[np.ndarray], gamma: Sequence[np.ndarray],
                n_predictable: int) -> Tables:
    """Recursively interpolate: ``p_k = u_k + gamma_k[h] * p_{k-1}[h' w]``, ``p_0 = 1/|V|``.

    Args:
        u: per order k, (n_k,) the discounted probability mass of every seen k-gram.
        gamma: per order k, the interpolation weight of every context, shaped like
            :func:`_per_context` (k = 1: one value).
        n_predictable: |V| of the uniform base distribution.

    Returns the backoff tables: log10 p (clipped at 0 like KenLM; zeros become -inf) and
    log10 b(h) = log10 gamma_{k+1}(h) for every k-gram that is a context.
    """
    n = counts.order
    logp, logbo = [], []
    lower = np.full(1, 1.0 / n_predictable)
    for k in range(1, n + 1):
        lower_of_each = lower[counts.orders[k - 1].suffix] if k > 1 else lower[np.zeros(1, dtype=np.int64)]
        p = u[k - 1] + gamma[k - 1][_context_index(counts, k)] * lower_of_each
        if k == 1:
            p[BOS_ID] = 1.0  # <s> is never predicted; KenLM gives it probability 1 (log 0)
        lower = p
        with np.errstate(divide="ignore"):
            logp.append(np.minimum(np.log10(p), 0.0))
    for k in range(1, n):
        g = np.asarray(gamma[k], dtype=np.float64)
        is_context = _per_context(counts, k + 1, np.ones(len(counts.orders[k]))) > 0
        with np.errstate(divide="ignore"):
            logbo.append(np.where(is_context, np.log10(np.where(is_context, g, 1.0)), 0.0))
    logbo.append(np.zeros(0))
    return Tables(logp, logbo)


# ----------------------------------------------------------------------------- estimators


def _safe_div(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.divide(a, b, out=np.zeros_like(a, dtype=np.float64), where=b > 0)


def mle(counts: NGramCounts, n_predictable: int) -> Tables:
    """Relative frequencies c(hw) / c(h); contexts never seen fall back to shorter ones."""
    u, gamma = [], []
    for k in range(1, counts.order + 1):
        c = counts.orders[k - 1].counts.astype(np.float64)
        total = _per_context(counts, k, c)
        u.append(_safe_div(c, total[_context_index(counts, k)]))
        gamma.append(np.where(total > 0, 0.0, 1.0))
    return interpolate(counts, u, gamma, n_predictable)


def add_k(counts: NGramCounts, n_predictable: int, k_add: float = 1.0) -> Tables:
    """Lidstone: (c(hw) + k) / (c(h) + k|V|) with the full context, as one interpolation step onto
    a uniform lower-order model (u = c / (c(h) + k|V|), gamma = k|V| / (c(h) + k|V|))."""
    if k_add <= 0:
        raise SeqkitError(f"add-k needs k > 0, got {k_add}", fix="use --k 1 (Laplace) or e.g. 0.1")
    n = counts.order
    u, gamma = [], []
    for k in range(1, n + 1):
        c = counts.orders[k - 1].counts.astype(np.float64)
        if k < n:  # lower orders only carry the uniform distribution down
            u.append(np.zeros_like(c))
            gamma.append(np.ones(1 if k == 1 else len(counts.orders[k - 2])))
            continue
        total = _per_context(counts, k, c) + k_add * n_predictable
        u.append(c / total[_context_index(counts, k)])
        gamma.append(k_add * n_predictable / total)
    return interpolate(counts, u, gamma, n_predictable)


def witten_bell(counts: NGramCounts, n_predictable: int) -> Tables:
    """Interpolated Witten-Bell on raw counts: gamma(h) = T(h) / (c(h) + T(h))."""
    u, gamma = [], []
    for k in range(1, counts.order + 1):
        c = counts.orders[k - 1].counts.astype(np.float64)
        total = _per_context(counts, k, c)
        types = _per_context(counts, k, (c > 0).astype(np.float64))
        denom = total + types
        u.append(_safe_div(c, denom[_context_index(counts, k)]))
        gamma.append(np.where(denom > 0, _safe_div(types, denom), 1.0))
    return interpolate(counts, u, gamma, n_predictable)


def discounted(counts: NGramCounts, per_order: list[np.ndarray], discounts: list[tuple[float, float, float]],
               n_predictable: int) -> Tables:
    """The discount-and-interpolate step shared by absolute discounting, KN and modified KN.

    ``u = (a - D(a)) / sum_w a(hw)`` and ``gamma = (D1 N1(h.) + D2 N2(h.) + D3 N3+(h.)) / sum_w a(hw)``,
    where ``a`` are the counts of each order (raw or adjusted) and D(a) = D_min(a, 3).
    """
    u, gamma = [], []
    for k in range(1, counts.order + 1):
        a = per_order[k - 1].astype(np.float64)
        d = np.array((0.0, *discounts[k - 1]))
        bucket = np.minimum(per_order[k - 1], 3)
        total = _per_context(counts, k, a)
        u.append(_safe_div(np.maximum(a - d[bucket], 0.0), total[_context_index(counts, k)]))
        mass = _per_context(counts, k, d[bucket])
        gamma.append(np.where(total > 0, _safe_div(mass, total), 1.0))
    tables = interpolate(counts, u, gamma, n_predictable)
    tables.discounts = discounts
    return tables


def absolute(counts: NGramCounts, n_predictable: int, discounts=None, fallback=None) -> Tables:
    """Interpolated absolute discounting on raw counts (one D per order)."""
    raw = [o.counts for o in counts.orders]
    return discounted(counts, raw, _resolve_discounts(raw, False, discounts, fallback), n_predictable)


def kneser_ney(counts: NGramCounts, n_predictable: int, discounts=None, fallback=None) -> Tables:
    """Interpolated Kneser-Ney: one D per order on KenLM's adjusted (continuation) counts."""
    adj = counts.adjusted()
    return discounted(counts, adj, _resolve_discounts(adj, False, discounts, fallback), n_predictable)


def kenlm_statistics(counts: NGramCounts, adjusted: list[np.ndarray]) -> list[np.ndarray]:
    """The counts whose counts-of-counts ``lmplz`` turns into discounts.

    They are the adjusted counts, except one n-gram per lower order: ``lmplz`` (adjust_counts.cc)
    walks the n-grams in suffix order and, for the last one of each order below N, adds its raw
    count to the statistics instead of its adjusted count. That n-gram is the maximum in suffix
    order (last word first) of KenLM's word ids, which number words by first occurrence. It moves
    one n_j by one, and the discounts in their fourth digit on small data; copying it makes
    seqkit's models equal to lmplz's to float precision.
    """
    if counts.first_seen is None:
        return adjusted
    out = list(adjusted)
    rank = counts.first_seen
    for k in range(1, counts.order):
        cand = np.flatnonzero(counts.orders[k - 1].counts > 0)
        if len(cand) == 0:
            continue
        # last word first: only the n-grams ending in the highest-ranked word stay candidates
        r = rank[counts.orders[k - 1].keys[cand] % counts.vocab_size]
        cand = cand[r == r.max()]
        words = counts.gram_words(k, cand)
        for j in range(k - 2, -1, -1):
            r = rank[words[:, j]]
            keep = r == r.max()
            cand, words = cand[keep], words[keep]
        last = cand[0]
        out[k - 1] = adjusted[k - 1].copy()
        out[k - 1][last] = counts.orders[k - 1].counts[last]
    return out


def modified_kneser_ney(counts: NGramCounts, n_predictable: int, discounts=None, fallback=None) -> Tables:
    """Interpolated modified Kneser-Ney exactly as KenLM's ``lmplz`` (D1, D2, D3+ per order)."""
    adj = counts.adjusted()
    resolved = _resolve_discounts(kenlm_statistics(counts, adj), True, discounts, fallback)
    return discounted(counts, adj, resolved, n_predictable)


def stupid_backoff(counts: NGramCounts, n_predictable: int, alpha: float = 0.4) -> Tables:
    """Brants et al.: S(w|h) = c(hw)/c(h) if seen, else alpha * S(w|h'); S(w) = c(w) / N.

    Stored as a backoff model with b(h) = alpha for every seen context (a context never seen
    backs off with weight 1, the ARPA convention). The scores do not sum to 1.
    """
    if not 0 < alpha <= 1:
        raise SeqkitError(f"stupid backoff needs 0 < alpha <= 1, got {alpha}")
    logp, logbo = [], []
    for k in range(1, counts.order + 1):
        c = counts.orders[k - 1].counts.astype(np.float64)
        total = _per_context(counts, k, c)
        with np.errstate(divide="ignore"):
            lp = np.log10(_safe_div(c, total[_context_index(counts, k)]))
        if k == 1:
            lp[BOS_ID] = 0.0
        logp.append(lp)
        if k > 1:
            is_context = _per_context(counts, k, np.ones(len(c))) > 0
            logbo.append(np.where(is_context, np.log10(alpha), 0.0))
    logbo.append(np.zeros(0))
    return Tables(logp, logbo)


Estimator = Callable[..., Tables]

#: name -> (estimator, accepted options). Aliases map to the same function.
SMOOTHERS: dict[str, tuple[Estimator, tuple[str, ...]]] = {
    "mle": (mle, ()),
    "addk": (add_k, ("k_add",)),
    "laplace": (add_k, ()),
    "wb": (witten_bell, ()),
    "witten-bell": (witten_bell, ()),
    "absolute": (absolute, ("discounts", "fallback")),
    "kn": (kneser_ney, ("discounts", "fallback")),
    "mkn": (modified_kneser_ney, ("discounts", "fallback")),
    "stupid": (stupid_backoff, ("alpha",)),
}


def estimate(counts: NGramCounts, smoothing: str, n_predictable: int, **options) -> Tables:
    """Run the estimator ``smoothing`` (a key of :data:`SMOOTHERS`); options it does not take are
    ignored when None, an error otherwise."""
    if smoothing not in SMOOTHERS:
        raise SeqkitError(f"unknown smoothing '{smoothing}'",
                          fix=f"choose one of: {', '.join(SMOOTHERS)}")
    fn, accepted = SMOOTHERS[smoothing]
    extra = {key: val for key, val in options.items() if val is not None}
    wrong = sorted(set(extra) - set(accepted))
    if wrong:
        raise SeqkitError(f"smoothing '{smoothing}' does not take {', '.join(wrong)}",
                          fix=f"it takes: {', '.join(accepted) or 'no options'}")
    return fn(counts, n_predictable, **extra)
