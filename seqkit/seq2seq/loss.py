"""Label-smoothed cross entropy over target sequences, as a true per-token mean.

d2l's ``MaskedSoftmaxCELoss`` zeroes padded positions but then averages over *all* positions of
each sentence (pads included) and over sentences, so a short sentence in a long batch weighs less
and the value depends on the padding. Here the loss is summed over the non-pad target tokens and
divided by their count: every real token weighs the same, whatever the batch layout. Returning the
sum and the count separately lets gradient accumulation and DDP divide by the *global* token count.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from seqkit.text.vocab import PAD_ID


def sequence_loss(logits: Tensor, targets: Tensor, pad_id: int = PAD_ID, label_smoothing: float = 0.0
                  ) -> tuple[Tensor, Tensor]:
    """Summed label-smoothed cross entropy over the non-pad tokens, and their number.

    Args:
        logits: (B, T, V) unnormalized scores (any float dtype; computed in float32).
        targets: (B, T) gold ids, ``pad_id`` where there is no token.
        pad_id: ignored target id (contributes neither loss nor count).
        label_smoothing: eps; the target distribution is ``(1 - eps) * onehot + eps / V`` over all
            V classes (PyTorch's ``F.cross_entropy`` convention).

    Returns:
        ``(loss_sum, n_tokens)``: a scalar float32 tensor, the sum over every non-pad position of
        ``-sum_v q(v) log p(v)``, and a scalar int64 tensor counting those positions. The per-token
        mean is ``loss_sum / n_tokens``; with ``label_smoothing=0`` that is the mean negative
        log-likelihood, whose exp is the perplexity.
    """
    flat_targets = targets.reshape(-1)
    loss_sum = F.cross_entropy(logits.reshape(-1, logits.shape[-1]).float(), flat_targets,
                               ignore_index=pad_id, label_smoothing=label_smoothing, reduction="sum")
    return loss_sum, (flat_targets != pad_id).sum()


def sequence_mean_loss(logits: Tensor, targets: Tensor, pad_id: int = PAD_ID,
                       label_smoothing: float = 0.0) -> Tensor:
    """The per-token mean ``loss_sum / n_tokens`` of :func:`sequence_loss` (0 for an all-pad batch)."""
    loss_sum, n_tokens = sequence_loss(logits, targets, pad_id, label_smoothing)
    return loss_sum / torch.clamp(n_tokens, min=1)
