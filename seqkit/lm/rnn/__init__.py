"""RNN/GRU/LSTM language models: ``cells`` (from scratch and torch), ``model`` (:class:`RNNLM`),
``train`` (:func:`train_rnn_lm`), ``generate`` (sampling)."""

from seqkit.lm.rnn.model import RNNLM as RNNLM
from seqkit.lm.rnn.model import RNNLMConfig as RNNLMConfig
from seqkit.lm.rnn.model import lm_loss as lm_loss
from seqkit.lm.rnn.model import load_model_dir as load_model_dir
from seqkit.lm.rnn.model import load_rnn_lm as load_rnn_lm
from seqkit.lm.rnn.model import save_rnn_lm as save_rnn_lm
