"""Language models: n-gram (counts, smoothing, ARPA) and RNN/GRU/LSTM."""

# n-gram models (seqkit.lm.ngram*): NGramLM.train / .load_arpa / .perplexity / .sample
from seqkit.lm.arpa import read_arpa as read_arpa  # noqa: E402
from seqkit.lm.arpa import write_arpa as write_arpa  # noqa: E402
from seqkit.lm.ngram import CorpusScores as CorpusScores  # noqa: E402
from seqkit.lm.ngram import NGramLM as NGramLM  # noqa: E402
from seqkit.lm.ngram_stats import top_ngrams as top_ngrams  # noqa: E402
from seqkit.lm.ngram_stats import zipf_plot as zipf_plot  # noqa: E402

# RNN LMs (seqkit.lm.rnn*): imported on first use, so the n-gram CLI does not pay for importing torch.
_RNN_EXPORTS = {
    "RNNLM": "seqkit.lm.rnn", "RNNLMConfig": "seqkit.lm.rnn", "lm_loss": "seqkit.lm.rnn",
    "save_rnn_lm": "seqkit.lm.rnn", "load_rnn_lm": "seqkit.lm.rnn",
    "RNNCell": "seqkit.lm.rnn_cells", "GRUCell": "seqkit.lm.rnn_cells", "LSTMCell": "seqkit.lm.rnn_cells",
    "ScratchRNN": "seqkit.lm.rnn_cells", "make_rnn": "seqkit.lm.rnn_cells", "detach_state": "seqkit.lm.rnn_cells",
    "generate": "seqkit.lm.rnn_generate", "continue_text": "seqkit.lm.rnn_generate",
    "LMStep": "seqkit.lm.rnn_train", "RNNTrainConfig": "seqkit.lm.rnn_train",
    "train_rnn_lm": "seqkit.lm.rnn_train", "evaluate_ppl": "seqkit.lm.rnn_train",
}


def __getattr__(name: str):
    if name in _RNN_EXPORTS:
        import importlib

        return getattr(importlib.import_module(_RNN_EXPORTS[name]), name)
    raise AttributeError(f"module 'seqkit.lm' has no attribute {name!r}")
