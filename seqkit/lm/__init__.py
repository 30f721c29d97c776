"""Language models: n-gram (counts, smoothing, ARPA) and RNN/GRU/LSTM."""
