"""Language models: n-gram (counts, smoothing, ARPA) and RNN/GRU/LSTM."""

# n-gram models (seqkit.lm.ngram*): NGramLM.train / .load_arpa / .perplexity / .sample
from seqkit.lm.arpa import read_arpa as read_arpa  # noqa: E402
from seqkit.lm.arpa import write_arpa as write_arpa  # noqa: E402
from seqkit.lm.ngram import CorpusScores as CorpusScores  # noqa: E402
from seqkit.lm.ngram import NGramLM as NGramLM  # noqa: E402
from seqkit.lm.ngram_stats import top_ngrams as top_ngrams  # noqa: E402
from seqkit.lm.ngram_stats import zipf_plot as zipf_plot  # noqa: E402
