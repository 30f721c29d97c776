"""RNN, GRU and LSTM written out from their equations, and one factory for them and torch's fast layers.

The from-scratch path is the *reference*: one readable function per cell (d2l, chapters 9-10), and a
multi-layer, optionally bidirectional :class:`ScratchRNN` that loops over time steps. The fast path is
``nn.RNN`` / ``nn.GRU`` / ``nn.LSTM`` (cuDNN / oneDNN kernels). Both expose the same interface::

    output, state = layer(x, state)      # x: (T, B, I) time-major; output: (T, B, D*H)

and **the same parameter names and shapes as torch** (``weight_ih_l0``, ``bias_hh_l1_reverse``, ...),
so a ``state_dict`` moves between them unchanged: train with the fast layer, read the equations with the
reference one, and ``tests/lm/test_rnn_cells.py`` checks they agree to 1e-5.

Gate order follows torch (it is what makes the weights interchangeable): LSTM rows of ``weight_ih``
are ``[input, forget, cell candidate, output]``, GRU rows are ``[reset, update, new]``.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from seqkit.errors import SeqkitError

#: Hidden state of one layer stack: ``h`` of shape (L*D, B, H), or ``(h, c)`` for an LSTM.
State = torch.Tensor | tuple[torch.Tensor, torch.Tensor]

MODES = ("rnn", "gru", "lstm")
_GATES = {"rnn": 1, "gru": 3, "lstm": 4}


# --------------------------------------------------------------------------------------------------
# One time step of each cell. x: (B, I); h, c: (B, H); w_ih: (G*H, I); w_hh: (G*H, H); b_*: (G*H,)
# --------------------------------------------------------------------------------------------------

def rnn_step(x, h, w_ih, w_hh, b_ih, b_hh, nonlinearity: str = "tanh"):
    """Elman RNN: ``h' = tanh(x W_xh + h W_hh + b)``. Returns h' (B, H)."""
    pre = x @ w_ih.T + b_ih + h @ w_hh.T + b_hh
    return torch.tanh(pre) if nonlinearity == "tanh" else torch.relu(pre)


def gru_step(x, h, w_ih, w_hh, b_ih, b_hh):
    """GRU (Cho et al. 2014) as torch computes it. Returns h' (B, H).

    r = sigmoid(x W_xr + b_xr + h W_hr + b_hr)          reset gate
    z = sigmoid(x W_xz + b_xz + h W_hz + b_hz)          update gate
    n = tanh(x W_xn + b_xn + r * (h W_hn + b_hn))      candidate (reset applied *after* W_hn, like cuDNN)
    h' = (1 - z) * n + z * h
    """
    x_r, x_z, x_n = (x @ w_ih.T + b_ih).chunk(3, dim=-1)
    h_r, h_z, h_n = (h @ w_hh.T + b_hh).chunk(3, dim=-1)
    r = torch.sigmoid(x_r + h_r)
    z = torch.sigmoid(x_z + h_z)
    n = torch.tanh(x_n + r * h_n)
    return (1 - z) * n + z * h


def lstm_step(x, h, c, w_ih, w_hh, b_ih, b_hh):
    """LSTM (Hochreiter & Schmidhuber 1997, with forget gate). Returns (h', c'), each (B, H).

    i, f, o = sigmoid(x W_x* + h W_h* + b_*)    input, forget, output gates
    g = tanh(x W_xg + h W_hg + b_g)              candidate memory
    c' = f * c + i * g;   h' = o * tanh(c')
    """
    i, f, g, o = (x @ w_ih.T + b_ih + h @ w_hh.T + b_hh).chunk(4, dim=-1)
    c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
    h = torch.sigmoid(o) * torch.tanh(c)
    return h, c


class _ScratchCell(nn.Module):
    """Parameters shaped and named like torch's ``nn.*Cell`` (so weights copy over by ``load_state_dict``)."""

    mode = "rnn"

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True) -> None:
        super().__init__()
        gates = _GATES[self.mode] * hidden_size
        self.input_size, self.hidden_size = input_size, hidden_size
        self.weight_ih = nn.Parameter(torch.empty(gates, input_size))
        self.weight_hh = nn.Parameter(torch.empty(gates, hidden_size))
        # Without bias we keep zero buffers so the step functions need no special case.
        if bias:
            self.bias_ih = nn.Parameter(torch.empty(gates))
            self.bias_hh = nn.Parameter(torch.empty(gates))
        else:
            self.register_buffer("bias_ih", torch.zeros(gates), persistent=False)
            self.register_buffer("bias_hh", torch.zeros(gates), persistent=False)
        _init_uniform(self, hidden_size)

    def _weights(self):
        return self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh

    def zero_state(self, x: torch.Tensor) -> torch.Tensor:
        return x.new_zeros(x.shape[0], self.hidden_size)


class RNNCell(_ScratchCell):
    """One Elman RNN step; same call as ``nn.RNNCell``: ``h' = cell(x (B, I), h (B, H) | None)``."""

    mode = "rnn"

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, nonlinearity: str = "tanh"):
        super().__init__(input_size, hidden_size, bias)
        self.nonlinearity = nonlinearity

    def forward(self, x: torch.Tensor, h: torch.Tensor | None = None) -> torch.Tensor:
        h = self.zero_state(x) if h is None else h
        return rnn_step(x, h, *self._weights(), nonlinearity=self.nonlinearity)


class GRUCell(_ScratchCell):
    """One GRU step; same call as ``nn.GRUCell``: ``h' = cell(x (B, I), h (B, H) | None)``."""

    mode = "gru"

    def forward(self, x: torch.Tensor, h: torch.Tensor | None = None) -> torch.Tensor:
        h = self.zero_state(x) if h is None else h
        return gru_step(x, h, *self._weights())


class LSTMCell(_ScratchCell):
    """One LSTM step; same call as ``nn.LSTMCell``: ``(h', c') = cell(x (B, I), (h, c) | None)``."""

    mode = "lstm"

    def forward(self, x: torch.Tensor, state: tuple[torch.Tensor, torch.Tensor] | None = None):
        h, c = (self.zero_state(x), self.zero_state(x)) if state is None else state
        return lstm_step(x, h, c, *self._weights())


def _init_uniform(module: nn.Module, hidden_size: int) -> None:
    """torch's default for recurrent weights: U(-1/sqrt(H), 1/sqrt(H))."""
    bound = 1.0 / math.sqrt(hidden_size)
    for p in module.parameters():
        nn.init.uniform_(p, -bound, bound)


# --------------------------------------------------------------------------------------------------
# A multi-layer, optionally bidirectional stack with nn.RNN/GRU/LSTM's interface and parameter names
# --------------------------------------------------------------------------------------------------

class ScratchRNN(nn.Module):
    """Stacked RNN/GRU/LSTM looping over time in Python; a drop-in for ``nn.RNN``/``nn.GRU``/``nn.LSTM``.

    Args:
        mode: ``"rnn"``, ``"gru"`` or ``"lstm"``.
        input_size, hidden_size, num_layers: as in torch.
        dropout: dropout on the outputs of every layer but the last (torch's semantics).
        bidirectional: also run each layer right-to-left and concatenate both directions. Only for
            encoders, never for a language model (see :class:`seqkit.lm.rnn.RNNLM`).
        batch_first: inputs/outputs (B, T, *) instead of (T, B, *).
        nonlinearity: ``"tanh"`` or ``"relu"`` (plain RNN only).

    ``forward(x, state=None)``: ``x`` is (T, B, I); ``state`` is ``h`` (L*D, B, H) or ``(h, c)`` for
    an LSTM, zeros when ``None``. Returns ``output`` (T, B, D*H) — the top layer's hidden states — and
    the final state in the same layout as the input state (layer-major, forward before reverse).
    """

    def __init__(self, mode: str, input_size: int, hidden_size: int, num_layers: int = 1,
                 bias: bool = True, batch_first: bool = False, dropout: float = 0.0,
                 bidirectional: bool = False, nonlinearity: str = "tanh") -> None:
        super().__init__()
        if mode not in MODES:
            raise SeqkitError(f"unknown RNN cell '{mode}'", fix=f"use one of {', '.join(MODES)}")
        self.mode, self.input_size, self.hidden_size = mode, input_size, hidden_size
        self.num_layers, self.bias, self.batch_first = num_layers, bias, batch_first
        self.dropout, self.bidirectional, self.nonlinearity = dropout, bidirectional, nonlinearity
        gates = _GATES[mode] * hidden_size
        directions = 2 if bidirectional else 1
        for layer in range(num_layers):
            layer_in = input_size if layer == 0 else hidden_size * directions
            for suffix in ("", "_reverse")[:directions]:
                self.register_parameter(f"weight_ih_l{layer}{suffix}", nn.Parameter(torch.empty(gates, layer_in)))
                self.register_parameter(f"weight_hh_l{layer}{suffix}", nn.Parameter(torch.empty(gates, hidden_size)))
                if bias:
                    self.register_parameter(f"bias_ih_l{layer}{suffix}", nn.Parameter(torch.empty(gates)))
                    self.register_parameter(f"bias_hh_l{layer}{suffix}", nn.Parameter(torch.empty(gates)))
        _init_uniform(self, hidden_size)

    def _weights(self, layer: int, suffix: str):
        w_ih = getattr(self, f"weight_ih_l{layer}{suffix}")
        w_hh = getattr(self, f"weight_hh_l{layer}{suffix}")
        if self.bias:
            return w_ih, w_hh, getattr(self, f"bias_ih_l{layer}{suffix}"), getattr(self, f"bias_hh_l{layer}{suffix}")
        zeros = w_ih.new_zeros(w_ih.shape[0])
        return w_ih, w_hh, zeros, zeros

    def _run_direction(self, x: torch.Tensor, h: torch.Tensor, c: torch.Tensor | None, weights,
                       reverse: bool):
        """One layer, one direction over x (T, B, I). Returns outputs (T, B, H), h (B, H), c (B, H)."""
        w_ih, w_hh, b_ih, b_hh = weights
        steps = range(x.shape[0] - 1, -1, -1) if reverse else range(x.shape[0])
        outputs = [None] * x.shape[0]
        for t in steps:
            if self.mode == "lstm":
                h, c = lstm_step(x[t], h, c, w_ih, w_hh, b_ih, b_hh)
            elif self.mode == "gru":
                h = gru_step(x[t], h, w_ih, w_hh, b_ih, b_hh)
            else:
                h = rnn_step(x[t], h, w_ih, w_hh, b_ih, b_hh, self.nonlinearity)
            outputs[t] = h
        return torch.stack(outputs), h, c

    def forward(self, x: torch.Tensor, state: State | None = None):
        if self.batch_first:
            x = x.transpose(0, 1)
        directions = 2 if self.bidirectional else 1
        batch = x.shape[1]
        if state is None:
            zeros = x.new_zeros(self.num_layers * directions, batch, self.hidden_size)
            state = (zeros, zeros) if self.mode == "lstm" else zeros
        h0, c0 = state if self.mode == "lstm" else (state, None)
        h_n, c_n = [], []
        for layer in range(self.num_layers):
            outs = []
            for d, suffix in enumerate(("", "_reverse")[:directions]):
                k = layer * directions + d
                out, h, c = self._run_direction(x, h0[k], None if c0 is None else c0[k],
                                                self._weights(layer, suffix), reverse=d == 1)
                outs.append(out)
                h_n.append(h)
                c_n.append(c)
            x = torch.cat(outs, dim=-1) if directions == 2 else outs[0]
            if self.dropout and self.training and layer < self.num_layers - 1:
                x = F.dropout(x, self.dropout, training=True)
        output = x.transpose(0, 1) if self.batch_first else x
        h_n = torch.stack(h_n)
        return output, ((h_n, torch.stack(c_n)) if self.mode == "lstm" else h_n)

    def extra_repr(self) -> str:
        return (f"{self.mode}, {self.input_size}, {self.hidden_size}, num_layers={self.num_layers}, "
                f"dropout={self.dropout}, bidirectional={self.bidirectional}")


def make_rnn(mode: str, input_size: int, hidden_size: int, num_layers: int = 1, *,
             dropout: float = 0.0, bidirectional: bool = False, batch_first: bool = False,
             backend: str = "torch") -> nn.Module:
    """The recurrent stack used by seqkit's LMs and encoders: ``backend="torch"`` (fast) or ``"scratch"``.

    Both return ``(output, state)`` from ``layer(x, state)`` and share parameter names, so a
    ``state_dict`` saved from one loads into the other.
    """
    if mode not in MODES:
        raise SeqkitError(f"unknown RNN cell '{mode}'", fix=f"use one of {', '.join(MODES)}")
    if num_layers < 1 or hidden_size < 1:
        raise SeqkitError(f"num_layers and hidden_size must be >= 1 (got {num_layers}, {hidden_size})",
                          fix="give a positive model size")
    # torch warns (and ignores it) when dropout is set on a single layer; so do we, silently.
    dropout = dropout if num_layers > 1 else 0.0
    if backend == "scratch":
        return ScratchRNN(mode, input_size, hidden_size, num_layers, dropout=dropout,
                          bidirectional=bidirectional, batch_first=batch_first)
    if backend == "torch":
        cls = {"rnn": nn.RNN, "gru": nn.GRU, "lstm": nn.LSTM}[mode]
        return cls(input_size, hidden_size, num_layers, dropout=dropout, bidirectional=bidirectional,
                   batch_first=batch_first)
    raise SeqkitError(f"unknown RNN backend '{backend}'", fix="use backend 'torch' or 'scratch'")


def detach_state(state: State | None) -> State | None:
    """Cut the graph behind a carried hidden state (truncated BPTT for sequential sampling)."""
    if state is None:
        return None
    if isinstance(state, tuple):
        return tuple(s.detach() for s in state)
    return state.detach()
