"""Choosing the next token from a model's scores -- one convention for every generator.

``temperature=0`` is greedy (the most likely token); ``temperature=t > 0`` samples from
``softmax(scores / t)``; ``top_k=None`` and ``top_p=1.0`` mean "no restriction", ``top_k=k`` keeps
the k most likely tokens (Fan et al. 2018), ``top_p=p`` the smallest set whose probability reaches p
(nucleus sampling, Holtzman et al. 2020). The RNN LM's generator, the n-gram sampler and the
encoder-decoder's sampling search all follow it.
"""

from __future__ import annotations

from seqkit.errors import SeqkitError


def check_sampling(temperature: float, top_k: int | None = None, top_p: float = 1.0) -> None:
    """Raise one clear :class:`SeqkitError` for values outside the convention above."""
    if not temperature >= 0:  # also catches NaN
        raise SeqkitError(f"temperature must be >= 0 (got {temperature})", fix="0 for greedy, e.g. 0.8 to sample")
    if top_k is not None and (isinstance(top_k, bool) or top_k < 1):
        raise SeqkitError(f"top_k must be >= 1 or unset (got {top_k})", fix="e.g. top_k=10, or leave it unset")
    if not 0.0 < top_p <= 1.0:
        raise SeqkitError(f"top_p must be in (0, 1] (got {top_p})", fix="e.g. top_p=0.9; 1.0 turns it off")


def pick_token(scores, *, temperature: float = 0.0, top_k: int | None = None, top_p: float = 1.0,
               generator=None):
    """One token id per row of ``scores`` (B, V) -- logits or log-probabilities -- as a (B,) tensor.

    Sampling runs on the CPU with ``generator``, so a seed gives the same tokens on every device.
    """
    import math

    import torch

    check_sampling(temperature, top_k, top_p)
    if temperature == 0:
        return scores.argmax(dim=-1)
    scores = scores.float() / temperature
    if top_k is not None and top_k < scores.shape[-1]:
        kth = scores.topk(top_k, dim=-1).values[:, -1:]  # (B, 1): the k-th largest
        scores = scores.masked_fill(scores < kth, -math.inf)
    if top_p < 1.0:
        sorted_scores, order = scores.sort(dim=-1, descending=True)
        probs = sorted_scores.softmax(dim=-1)
        drop = probs.cumsum(dim=-1) - probs >= top_p  # the tokens before it already reach top_p
        scores = scores.scatter(1, order, sorted_scores.masked_fill(drop, -math.inf))
    probs = scores.softmax(dim=-1)
    return torch.multinomial(probs.cpu(), 1, generator=generator).squeeze(1).to(scores.device)
