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
from seqkit.sampling import pick_token


def next_token(logits: torch.Tensor, *, temperature: float = 0.0, top_k: int | None = None,
               generator: torch.Generator | None = None) -> torch.Tensor:
    """Pick one token per row of ``logits`` (B, V) (:func:`seqkit.sampling.pick_token`). Returns ids (B,)."""
    return pick_token(logits, temperature=temperature, top_k=top_k, generator=generator)


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
