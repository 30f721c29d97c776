"""Corpus BLEU, chrF and TER through sacrebleu, always with sacrebleu's signature.

The numbers are sacrebleu's own (seqkit adds no scoring code), so they are identical to the
``sacrebleu`` command line on the same files; the signature (``nrefs:1|case:mixed|eff:no|tok:13a|
smooth:exp|version:2.6.0``) travels with every score so that two numbers can be compared.

References follow sacrebleu's layout: one list of strings (one reference per hypothesis) or several
*reference streams* ``[[ref1 of sent 1, ref1 of sent 2, ...], [ref2 of sent 1, ...]]``. An empty
string (or None) in a stream means "no reference of this stream for this sentence" (sacrebleu's
variable number of references; the signature says ``nrefs:var`` for None).

Tokenization for BLEU: ``tokenize=None`` picks ``zh`` when the references are Chinese (more than a
third of their non-space characters are CJK ideographs), ``13a`` otherwise; give ``tokenize`` to
force one (any of sacrebleu's: ``13a``, ``intl``, ``zh``, ``ja-mecab``, ``char``, ``none`` ...).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from sacrebleu.metrics import BLEU, CHRF, TER

from seqkit.errors import SeqkitError

METRICS = ("bleu", "chrf", "ter")
References = Sequence[str] | Sequence[Sequence[str | None]]


@dataclasses.dataclass(frozen=True)
class CorpusScore:
    """A corpus-level score: ``name`` ("BLEU", "chrF2", "TER"), ``score`` (0-100), sacrebleu's
    ``signature`` and ``text``, its one-line report (``BLEU = 48.53 82.4/50.0/45.5/37.5 (BP = ...``)."""

    name: str
    score: float
    signature: str
    text: str

    def __str__(self) -> str:
        return f"{self.text}\nsignature: {self.signature}"


def is_chinese(lines: Sequence[str], sample: int = 500) -> bool:
    """True if more than a third of the non-space characters of the first ``sample`` lines are CJK
    ideographs."""
    cjk = total = 0
    for line in lines[:sample]:
        for ch in line or "":
            if not ch.isspace():
                total += 1
                cjk += "\u3400" <= ch <= "\u9fff" or "\uf900" <= ch <= "\ufaff"
    return total > 0 and cjk / total > 1 / 3


def reference_streams(hyps: Sequence[str], refs: References) -> list[list[str | None]]:
    """``refs`` as a list of streams, each as long as ``hyps`` (a single list becomes one stream)."""
    if not hyps:
        raise SeqkitError("no hypotheses to score", fix="give a non-empty hypothesis file")
    streams = [list(refs)] if refs and isinstance(refs[0], str) else [list(s) for s in refs]
    if not streams:
        raise SeqkitError("no references given", fix="pass at least one reference list")
    for k, stream in enumerate(streams):
        if len(stream) != len(hyps):
            raise SeqkitError(f"reference set {k + 1} has {len(stream)} lines but there are "
                              f"{len(hyps)} hypotheses", fix="give one reference line per hypothesis line")
    return streams


def auto_tokenize(refs: list[list[str | None]], tokenize: str | None) -> str:
    """The BLEU tokenizer to use: ``tokenize`` if given, else ``zh`` for Chinese references, else 13a."""
    if tokenize:
        return tokenize
    return "zh" if is_chinese([r for r in refs[0] if r] or refs[0]) else "13a"


def make_metric(name: str, refs: list[list[str | None]], tokenize: str | None = None, lowercase: bool = False):
    """A sacrebleu metric object for ``name`` in :data:`METRICS`."""
    if name == "bleu":
        tokenize = auto_tokenize(refs, tokenize)
        if tokenize not in BLEU.TOKENIZERS:
            raise SeqkitError(f"unknown BLEU tokenizer {tokenize!r}",
                              fix=f"use one of {', '.join(BLEU.TOKENIZERS)}")
        return BLEU(tokenize=tokenize, lowercase=lowercase)
    if name == "chrf":
        return CHRF(lowercase=lowercase)
    if name == "ter":
        return TER()  # case-insensitive, like the sacrebleu command line's default
    raise SeqkitError(f"unknown metric {name!r}", fix=f"use one of {', '.join(METRICS)}")


def corpus_score(name: str, hyps: Sequence[str], refs: References, tokenize: str | None = None,
                 lowercase: bool = False) -> CorpusScore:
    """Score ``hyps`` against ``refs`` with metric ``name`` ("bleu", "chrf" or "ter")."""
    hyps = list(hyps)
    streams = reference_streams(hyps, refs)
    metric = make_metric(name, streams, tokenize, lowercase)
    result = metric.corpus_score(hyps, streams)
    return CorpusScore(result.name, float(result.score), str(metric.get_signature()), str(result))


def bleu(hyps: Sequence[str], refs: References, tokenize: str | None = None,
         lowercase: bool = False) -> CorpusScore:
    """Corpus BLEU (sacrebleu defaults: 4-grams, exp smoothing; tokenizer as in the module docstring).

    >>> round(bleu(["The dog bit the man."], ["The dog bit the man."]).score, 2)
    100.0
    """
    return corpus_score("bleu", hyps, refs, tokenize, lowercase)


def chrf(hyps: Sequence[str], refs: References, lowercase: bool = False) -> CorpusScore:
    """Corpus chrF2 (character 6-grams, beta 2)."""
    return corpus_score("chrf", hyps, refs, lowercase=lowercase)


def ter(hyps: Sequence[str], refs: References, lowercase: bool = False) -> CorpusScore:
    """Corpus TER (translation edit rate; lower is better)."""
    return corpus_score("ter", hyps, refs, lowercase=lowercase)
