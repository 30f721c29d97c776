"""Paired bootstrap resampling between two systems (Koehn 2004), through sacrebleu.

``paired_bootstrap(baseline, system, refs)`` resamples the test set ``n_samples`` times (with
replacement, sentence level) and reports for each metric both systems' scores, their bootstrap means
with 95% confidence intervals, and the p-value of the difference -- the same test and numbers as
``sacrebleu -i baseline system --paired-bs`` (seed 12345 unless ``SACREBLEU_SEED`` says otherwise).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from sacrebleu.significance import PairedTest

from seqkit.metrics.corpus import References, make_metric, reference_streams, segments


@dataclasses.dataclass(frozen=True)
class PairedResult:
    """One metric's comparison. ``*_mean`` / ``*_ci``: bootstrap mean and 95% half-interval;
    ``p_value``: probability of a difference this large by chance (small: the systems differ)."""

    metric: str
    baseline: float
    baseline_mean: float
    baseline_ci: float
    system: float
    system_mean: float
    system_ci: float
    p_value: float
    signature: str

    def __str__(self) -> str:
        return (f"{self.metric}: baseline {self.baseline:.2f} ({self.baseline_mean:.2f} +- "
                f"{self.baseline_ci:.2f}), system {self.system:.2f} ({self.system_mean:.2f} +- "
                f"{self.system_ci:.2f}), p = {self.p_value:.4f}\nsignature: {self.signature}")


def paired_bootstrap(baseline: str | Sequence[str], system: str | Sequence[str], refs: str | References,
                     metrics: Sequence[str] = ("bleu",), tokenize: str | None = None,
                     n_samples: int = 1000, trg_lang: str | None = None) -> list[PairedResult]:
    """Compare ``system`` with ``baseline`` (both one hypothesis per reference line; a bare string is
    one segment, :mod:`seqkit.sentences`). BLEU's tokenizer as :func:`seqkit.metrics.bleu` picks it."""
    (baseline, refs_), (system, _) = segments(baseline, refs), segments(system, refs)
    refs = refs_
    streams = reference_streams(baseline, refs)
    reference_streams(system, refs)  # same length check for the second system
    objs = {name: make_metric(name, streams, tokenize, trg_lang=trg_lang) for name in metrics}
    test = PairedTest([("baseline", baseline), ("system", system)], objs, streams, test_type="bs",
                      n_samples=n_samples)
    signatures, scores = test()
    results = []
    for name, (bl, sys_) in ((k, v) for k, v in scores.items() if k != "System"):
        numbers = (bl.score, bl.mean, bl.ci, sys_.score, sys_.mean, sys_.ci, sys_.p_value)
        results.append(PairedResult(name, *(float(x) for x in numbers), str(signatures[name])))
    return results
