"""Perplexity from a summed negative log-likelihood (natural log) and a token count."""

from __future__ import annotations

import math


def perplexity(nll_sum: float, n_tokens: int) -> float:
    """``exp(nll_sum / n_tokens)``; e.g. the ``(loss_sum, n_tokens)`` of
    :func:`seqkit.seq2seq.loss.sequence_loss` without label smoothing.

    >>> perplexity(4 * math.log(10), 4)
    10.000000000000002
    """
    if n_tokens <= 0:
        raise ValueError("perplexity needs at least one token")
    return math.exp(float(nll_sum) / int(n_tokens))
