"""n-gram language models: counting, smoothing (MLE ... modified Kneser-Ney), ARPA and binary files.

``model`` (:class:`NGramLM`), ``counts`` (n-gram counting on ids), ``smoothing`` (the estimators),
``vocab`` (the n-gram vocabulary), ``arpa`` / ``binary`` (file formats), ``stats`` (top n-grams, Zipf).
"""

from seqkit.lm.ngram.model import CorpusScores as CorpusScores
from seqkit.lm.ngram.model import NGramLM as NGramLM
