"""Several translation models searched as one: at every step the next-token distribution is the
mean of the models' probabilities (its log: ``logsumexp(log p_i) - log n``, as fairseq's ensembles).

:class:`Ensemble` implements the interface of :mod:`seqkit.seq2seq.interfaces` (``encode``,
``decode_step``, ``state.select`` / ``expand``), so greedy, beam and sampling search and the
:class:`~seqkit.seq2seq.translator.Translator` take it like any single model. The models must share one
vocabulary (one tokenizer); an ensemble of a model with itself decodes exactly like the model.
"""

from __future__ import annotations

import dataclasses
import math

import torch
from torch import Tensor, nn

from seqkit.seq2seq.interfaces import DecoderState


@dataclasses.dataclass
class EnsembleState(DecoderState):
    """The members' decoder states, one per model (each selected and expanded in step)."""

    states: list

    def expand(self, k: int) -> EnsembleState:
        return EnsembleState([s.expand(k) for s in self.states])

    def reserve(self, steps: int) -> EnsembleState:
        return EnsembleState([s.reserve(steps) for s in self.states])


class Ensemble(nn.Module):
    """``models`` decoded together; their step log-probabilities are averaged in probability space."""

    def __init__(self, models: list[nn.Module]) -> None:
        super().__init__()
        if not models:
            raise ValueError("an ensemble needs at least one model")
        self.models = nn.ModuleList(models)
        self.pad_id = getattr(models[0], "pad_id", 1)

    def encode(self, src: Tensor, src_len: Tensor) -> EnsembleState:
        return EnsembleState([m.encode(src, src_len) for m in self.models])

    def decode_step(self, prev_tokens: Tensor, state: EnsembleState, need_attn: bool = False
                    ) -> tuple[Tensor, EnsembleState, Tensor | None]:
        steps = [m.decode_step(prev_tokens, s, need_attn) for m, s in zip(self.models, state.states)]
        log_probs = torch.stack([lp.float() for lp, _, _ in steps])
        mean = torch.logsumexp(log_probs, dim=0) - math.log(len(steps))
        attns = [a for _, _, a in steps if a is not None]
        attn = torch.stack(attns).mean(0) if need_attn and attns else None
        return mean, EnsembleState([s for _, s, _ in steps]), attn

    def forward(self, src: Tensor, src_len: Tensor, tgt_in: Tensor) -> Tensor:
        """Teacher-forced: the log of the mean probability, (B, T, V) (log-probabilities, not logits)."""
        log_probs = torch.stack([m(src, src_len, tgt_in).float().log_softmax(-1) for m in self.models])
        return torch.logsumexp(log_probs, dim=0) - math.log(len(self.models))
