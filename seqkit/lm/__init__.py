"""Language models: n-gram (counts, smoothing, ARPA) and RNN/GRU/LSTM."""

from seqkit.lazy import lazy_exports

# n-gram models (seqkit.lm.ngram*): NGramLM.train / .load_arpa / .perplexity / .sample
from seqkit.lm.ngram import CorpusScores as CorpusScores  # noqa: E402
from seqkit.lm.ngram import NGramLM as NGramLM  # noqa: E402
from seqkit.lm.ngram.arpa import read_arpa as read_arpa  # noqa: E402
from seqkit.lm.ngram.arpa import write_arpa as write_arpa  # noqa: E402
from seqkit.lm.ngram.stats import top_ngrams as top_ngrams  # noqa: E402
from seqkit.lm.ngram.stats import zipf_plot as zipf_plot  # noqa: E402

# RNN LMs (seqkit.lm.rnn*): imported on first use, so the n-gram CLI does not pay for importing torch.
_RNN_EXPORTS = {
    "RNNLM": "seqkit.lm.rnn.model", "RNNLMConfig": "seqkit.lm.rnn.model", "lm_loss": "seqkit.lm.rnn.model",
    "save_rnn_lm": "seqkit.lm.rnn.model", "load_rnn_lm": "seqkit.lm.rnn.model",
    "RNNCell": "seqkit.lm.rnn.cells", "GRUCell": "seqkit.lm.rnn.cells", "LSTMCell": "seqkit.lm.rnn.cells",
    "ScratchRNN": "seqkit.lm.rnn.cells", "make_rnn": "seqkit.lm.rnn.cells", "detach_state": "seqkit.lm.rnn.cells",
    "generate": "seqkit.lm.rnn.generate", "continue_text": "seqkit.lm.rnn.generate",
    "LMStep": "seqkit.lm.rnn.train", "RNNTrainConfig": "seqkit.lm.rnn.train",
    "train_rnn_lm": "seqkit.lm.rnn.train", "evaluate_ppl": "seqkit.lm.rnn.train",
}

__getattr__, __dir__ = lazy_exports(__name__, _RNN_EXPORTS)
