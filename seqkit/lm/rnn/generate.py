"""Text generation from a recurrent LM: warm the state up on a prefix, then predict one token at a time.

Three decoding rules behind two knobs:

* ``temperature=0`` — greedy: always the most likely next token (deterministic; loops easily);
* ``temperature=t > 0`` — sample from ``softmax(logits / t)``: t < 1 sharpens, t > 1 flattens;
* ``top_k=k`` (with t > 0) — sample only among the k most likely tokens (Fan et al. 2018).

Sampling uses its own ``torch.Generator`` seeded by ``seed``, so a seed gives the same text every time
and generation never disturbs the global RNG of a training run.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch

from seqkit.errors import SeqkitError
from seqkit.lm.rnn.model import RNNLM


def next_token(logits: torch.Tensor, *, temperature: float = 0.0, top_k: int | None = None,
               generator: torch.Generator | None = None) -> torch.Tensor:
    """Pick one token per row of ``logits`` (B, V). Returns ids (B,)."""
    if temperature < 0:
        raise SeqkitError(f"temperature must be >= 0 (got {temperature})", fix="0 for greedy, e.g. 0.8 to sample")
    if top_k is not None and top_k < 1:
        raise SeqkitError(f"top_k must be >= 1 (got {top_k})", fix="e.g. top_k=10, or leave it unset")
    if temperature == 0:
        return logits.argmax(dim=-1)
    logits = logits.float() / temperature
    if top_k is not None and top_k < logits.shape[-1]:
        kth = logits.topk(top_k, dim=-1).values[:, -1:]             # (B, 1): the k-th largest
        logits = logits.masked_fill(logits < kth, float("-inf"))
    probs = torch.softmax(logits, dim=-1)
    # Sample on the CPU with our generator: reproducible across devices.
    return torch.multinomial(probs.cpu(), 1, generator=generator).squeeze(1).to(logits.device)


@torch.no_grad()
def generate(model: RNNLM, prefix_ids: Sequence[int], num_tokens: int, *, temperature: float = 0.0,
             top_k: int | None = None, seed: int | None = 0, stop_id: int | None = None) -> list[int]:
    """Continue ``prefix_ids`` by ``num_tokens`` tokens (fewer if ``stop_id`` is produced).

    Returns only the new ids. The model is run in eval mode (no dropout) and left as it was found.
    """
    if len(prefix_ids) == 0:
        raise SeqkitError("empty prefix: the model needs at least one token to condition on",
                          fix="give a non-empty --prefix")
    generator = torch.Generator().manual_seed(seed) if seed is not None else None
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    try:
        X = torch.tensor([list(prefix_ids)], dtype=torch.long, device=device)  # (1, P)
        logits, state = model(X)                                                  # warm-up on the prefix
        out: list[int] = []
        for _ in range(num_tokens):
            tok = next_token(logits[:, -1], temperature=temperature, top_k=top_k, generator=generator)
            out.append(int(tok.item()))
            if stop_id is not None and out[-1] == stop_id:
                break
            logits, state = model(tok.view(1, 1), state)
        return out
    finally:
        model.train(was_training)


def continue_text(model: RNNLM, prefix: str, num_tokens: int, *, encode: Callable[[str], list[int]],
                  decode: Callable[[list[int]], str], **options) -> str:
    """``prefix`` followed by its generated continuation, as text.

    ``encode`` maps text to ids (tokenizer + vocabulary) and ``decode`` ids back to text; ``options`` go
    to :func:`generate` (``temperature``, ``top_k``, ``seed``, ``stop_id``).
    """
    ids = encode(prefix)
    return decode(list(ids) + generate(model, ids, num_tokens, **options))
