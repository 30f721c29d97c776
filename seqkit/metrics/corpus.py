"""Corpus BLEU, chrF and TER through sacrebleu, always with sacrebleu's signature.

The numbers are sacrebleu's own (seqkit adds no scoring code), so they are identical to the
``sacrebleu`` command line on the same files; the signature (``nrefs:1|case:mixed|eff:no|tok:13a|
smooth:exp|version:2.6.0``) travels with every score so that two numbers can be compared.

References follow sacrebleu's layout: one list of strings (one reference per hypothesis) or several
*reference streams* ``[[ref1 of sent 1, ref1 of sent 2, ...], [ref2 of sent 1, ...]]``. An empty
string (or None) in a stream means "no reference of this stream for this sentence" (sacrebleu's
variable number of references; the signature says ``nrefs:var`` for None).

Tokenization for BLEU is sacreBLEU's choice, as its command line makes it: ``tokenize=None`` is 13a
unless ``trg_lang`` names a language sacreBLEU tokenizes its own way (``zh`` -> ``zh``, ``ja`` ->
``ja-mecab``, ``ko`` -> ``ko-mecab``); give ``tokenize`` to force one (any of sacreBLEU's: ``13a``,
``intl``, ``zh``, ``ja-mecab``, ``char``, ``none`` ...). References that look Chinese (:func:`is_chinese`)
scored with 13a by default (not when ``tokenize="13a"`` was asked for) get a warning that says how to ask
for ``zh``.

A bare string for ``hyps`` is one segment (:mod:`seqkit.sentences`): ``bleu("hyp", "ref")``, or
``bleu("hyp", ["ref 1", "ref 2"])`` with two references of that segment.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from sacrebleu.metrics import BLEU, CHRF, TER

from seqkit.errors import SeqkitError
from seqkit.sentences import one_or_many

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


def segments(hyps: str | Sequence[str], refs: str | References) -> tuple[list[str], References]:
    """``(hyps, refs)`` in the corpus layout; one hypothesis string is one segment and ``refs`` its
    reference (a string) or references (a list of strings), as sacreBLEU's ``sentence_score``."""
    hyps, one = one_or_many(hyps)
    if one and (isinstance(refs, str) or (refs and all(isinstance(r, str) for r in refs))):
        return hyps, [[refs]] if isinstance(refs, str) else [[r] for r in refs]
    if isinstance(refs, str):
        return hyps, [[refs]]
    return hyps, refs


def reference_streams(hyps: Sequence[str], refs: References) -> list[list[str | None]]:
    """``refs`` as a list of streams, each as long as ``hyps`` (a single list becomes one stream)."""
    if not hyps:
        raise SeqkitError("no hypotheses to score", fix="give a non-empty hypothesis file")
    if isinstance(refs, str):
        refs = [refs]
    streams = [list(refs)] if refs and isinstance(refs[0], str) else [[s] if isinstance(s, str) else list(s)
                                                                      for s in refs]
    if not streams:
        raise SeqkitError("no references given", fix="pass at least one reference list")
    for k, stream in enumerate(streams):
        if len(stream) != len(hyps):
            raise SeqkitError(f"reference set {k + 1} has {len(stream)} lines but there are "
                              f"{len(hyps)} hypotheses", fix="give one reference line per hypothesis line")
    return streams


#: What is said when Chinese references are scored with sacreBLEU's default tokenizer.
CHINESE_WITH_13A = ("the references look Chinese but are scored with sacreBLEU's default tokenizer 13a "
                    "(as the sacrebleu command scores them); pass tokenize='zh' or trg_lang='zh' for Chinese BLEU")


def make_metric(name: str, refs: list[list[str | None]], tokenize: str | None = None, lowercase: bool = False,
                trg_lang: str | None = None):
    """A sacrebleu metric object for ``name`` in :data:`METRICS`; BLEU's tokenizer is ``tokenize``, else
    sacreBLEU's choice for ``trg_lang`` (13a without one)."""
    if name == "bleu":
        if tokenize is not None and tokenize not in BLEU.TOKENIZERS:
            raise SeqkitError(f"unknown BLEU tokenizer {tokenize!r}",
                              fix=f"use one of {', '.join(BLEU.TOKENIZERS)}")
        metric = BLEU(tokenize=tokenize, lowercase=lowercase, trg_lang=trg_lang or "")
        if tokenize is None and metric.tokenizer.signature() == "13a" and is_chinese([r for r in refs[0] if r]
                                                                                   or refs[0]):
            import warnings

            warnings.warn(CHINESE_WITH_13A, stacklevel=3)
        return metric
    if name == "chrf":
        return CHRF(lowercase=lowercase)
    if name == "ter":
        return TER()  # case-insensitive, like the sacrebleu command line's default
    raise SeqkitError(f"unknown metric {name!r}", fix=f"use one of {', '.join(METRICS)}")


def corpus_score(name: str, hyps: str | Sequence[str], refs: str | References, tokenize: str | None = None,
                 lowercase: bool = False, trg_lang: str | None = None) -> CorpusScore:
    """Score ``hyps`` against ``refs`` with metric ``name`` ("bleu", "chrf" or "ter")."""
    hyps, refs = segments(hyps, refs)
    streams = reference_streams(hyps, refs)
    metric = make_metric(name, streams, tokenize, lowercase, trg_lang)
    result = metric.corpus_score(hyps, streams)
    return CorpusScore(result.name, float(result.score), str(metric.get_signature()), str(result))


def bleu(hyps: str | Sequence[str], refs: str | References, tokenize: str | None = None,
         lowercase: bool = False, trg_lang: str | None = None) -> CorpusScore:
    """Corpus BLEU (sacrebleu defaults: 4-grams, exp smoothing; tokenizer as in the module docstring).

    >>> round(bleu(["The dog bit the man."], ["The dog bit the man."]).score, 2)
    100.0
    """
    return corpus_score("bleu", hyps, refs, tokenize, lowercase, trg_lang)


def chrf(hyps: str | Sequence[str], refs: str | References, lowercase: bool = False) -> CorpusScore:
    """Corpus chrF2 (character 6-grams, beta 2)."""
    return corpus_score("chrf", hyps, refs, lowercase=lowercase)


def ter(hyps: str | Sequence[str], refs: str | References, lowercase: bool = False) -> CorpusScore:
    """Corpus TER (translation edit rate; lower is better)."""
    return corpus_score("ter", hyps, refs, lowercase=lowercase)
