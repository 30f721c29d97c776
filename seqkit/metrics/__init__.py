"""Evaluation: corpus BLEU/chrF/TER through sacrebleu (with signature), paired bootstrap,
d2l's sentence BLEU, perplexity, and the tokenized BLEU papers report (beside sacreBLEU's)."""

from seqkit.metrics.corpus import CorpusScore, bleu, chrf, corpus_score, is_chinese, ter
from seqkit.metrics.perplexity import perplexity
from seqkit.metrics.sentence_bleu import sentence_bleu
from seqkit.metrics.significance import PairedResult, paired_bootstrap
from seqkit.metrics.tokenized import tokenized_bleu

__all__ = ["CorpusScore", "bleu", "chrf", "corpus_score", "is_chinese", "ter", "perplexity",
           "sentence_bleu", "PairedResult", "paired_bootstrap", "tokenized_bleu"]
