"""d2l's sentence BLEU (section 10.7), without its crash on short predictions.

``exp(min(0, 1 - len_label / len_pred)) * prod_{n=1..k} p_n ** (1 / 2**n)`` where ``p_n`` is the
clipped n-gram precision. d2l divides by ``len_pred - n + 1`` and raises ZeroDivisionError when the
prediction has fewer than ``k`` tokens (or none); here a prediction without any n-gram of order n
has ``p_n = 0``, so the score is 0 -- the limit the formula tends to, and what sacrebleu gives
without smoothing.
"""

from __future__ import annotations

import collections
import math


def sentence_bleu(pred: str | list[str], label: str | list[str], k: int = 2) -> float:
    """BLEU of one prediction against one label (whitespace-split strings or token lists).

    >>> round(sentence_bleu("il est riche .", "il est calme ."), 3)
    0.658
    >>> sentence_bleu("va", "va !")   # d2l: ZeroDivisionError
    0.0
    """
    pred_tokens = pred.split() if isinstance(pred, str) else list(pred)
    label_tokens = label.split() if isinstance(label, str) else list(label)
    len_pred, len_label = len(pred_tokens), len(label_tokens)
    if len_pred == 0:
        return 0.0
    score = math.exp(min(0.0, 1 - len_label / len_pred))
    for n in range(1, k + 1):
        n_pred = len_pred - n + 1
        if n_pred <= 0:
            return 0.0
        label_counts = collections.Counter(tuple(label_tokens[i:i + n]) for i in range(len_label - n + 1))
        pred_counts = collections.Counter(tuple(pred_tokens[i:i + n]) for i in range(n_pred))
        matches = sum(min(c, label_counts[g]) for g, c in pred_counts.items())
        score *= (matches / n_pred) ** (0.5 ** n)
    return score
