"""The from-scratch cells and stacks give torch's numbers with copied weights (atol 1e-5)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from seqkit.errors import SeqkitError
from seqkit.lm.rnn.cells import GRUCell, LSTMCell, RNNCell, ScratchRNN, detach_state, make_rnn

ATOL = 1e-5
TORCH_CELLS = {"rnn": nn.RNNCell, "gru": nn.GRUCell, "lstm": nn.LSTMCell}
SCRATCH_CELLS = {"rnn": RNNCell, "gru": GRUCell, "lstm": LSTMCell}
TORCH_LAYERS = {"rnn": nn.RNN, "gru": nn.GRU, "lstm": nn.LSTM}


def _close(a, b):
    if isinstance(a, tuple):
        return all(_close(x, y) for x, y in zip(a, b, strict=True))
    return torch.allclose(a, b, atol=ATOL, rtol=0)


@pytest.mark.parametrize("mode", ["rnn", "gru", "lstm"])
def test_cell_equals_torch_cell(mode):
    torch.manual_seed(0)
    ref = TORCH_CELLS[mode](5, 7)
    cell = SCRATCH_CELLS[mode](5, 7)
    cell.load_state_dict(ref.state_dict())  # same names and shapes: a plain copy
    x = torch.randn(3, 5)
    h = torch.randn(3, 7)
    state = (h, torch.randn(3, 7)) if mode == "lstm" else h
    assert _close(cell(x, state), ref(x, state))
    assert _close(cell(x), ref(x))  # zero initial state


@pytest.mark.parametrize("mode", ["rnn", "gru", "lstm"])
@pytest.mark.parametrize("layers,bidirectional,batch_first", [(1, False, False), (2, False, True),
                                                               (2, True, False), (3, True, True)])
def test_stack_equals_torch_layer(mode, layers, bidirectional, batch_first):
    torch.manual_seed(1)
    ref = TORCH_LAYERS[mode](4, 6, layers, bidirectional=bidirectional, batch_first=batch_first)
    mine = ScratchRNN(mode, 4, 6, layers, bidirectional=bidirectional, batch_first=batch_first)
    assert list(mine.state_dict()) == list(ref.state_dict())
    mine.load_state_dict(ref.state_dict())
    d = 2 if bidirectional else 1
    x = torch.randn(5, 3, 4) if not batch_first else torch.randn(3, 5, 4)
    h0 = torch.randn(layers * d, 3, 6)
    state = (h0, torch.randn(layers * d, 3, 6)) if mode == "lstm" else h0
    out_ref, st_ref = ref(x, state)
    out, st = mine(x, state)
    assert out.shape == out_ref.shape == ((5, 3, 6 * d) if not batch_first else (3, 5, 6 * d))
    assert _close(out, out_ref) and _close(st, st_ref)
    out0, st0 = mine(x)
    out0_ref, st0_ref = ref(x)
    assert _close(out0, out0_ref) and _close(st0, st0_ref)


@pytest.mark.parametrize("mode", ["gru", "lstm"])
def test_gradients_equal_torch(mode):
    torch.manual_seed(2)
    ref = TORCH_LAYERS[mode](3, 4, 2)
    mine = make_rnn(mode, 3, 4, 2, backend="scratch")
    mine.load_state_dict(ref.state_dict())
    x = torch.randn(6, 2, 3)
    ref(x)[0].pow(2).sum().backward()
    mine(x)[0].pow(2).sum().backward()
    for (name, p), q in zip(mine.named_parameters(), ref.parameters(), strict=True):
        assert torch.allclose(p.grad, q.grad, atol=ATOL), name


def test_lstm_step_by_hand():
    # One unit, one input, all weights 1 and biases 0: every gate sees x + h.
    cell = LSTMCell(1, 1)
    with torch.no_grad():
        for p in cell.parameters():
            p.fill_(1.0)
        cell.bias_ih.zero_()
        cell.bias_hh.zero_()
    h, c = cell(torch.tensor([[1.0]]), (torch.tensor([[0.0]]), torch.tensor([[0.5]])))
    s = torch.sigmoid(torch.tensor(1.0))
    c_expected = s * 0.5 + s * torch.tanh(torch.tensor(1.0))  # f*c + i*g
    assert c.item() == pytest.approx(c_expected.item(), abs=1e-6)
    assert h.item() == pytest.approx((s * torch.tanh(c_expected)).item(), abs=1e-6)


def test_make_rnn_rejects_bad_names():
    with pytest.raises(SeqkitError, match="unknown RNN cell 'transformer'"):
        make_rnn("transformer", 2, 2)
    with pytest.raises(SeqkitError, match="unknown RNN backend"):
        make_rnn("lstm", 2, 2, backend="cuda")


def test_detach_state_cuts_graph():
    h = torch.ones(1, requires_grad=True) * 2
    assert not detach_state((h, h))[0].requires_grad
    assert not detach_state(h).requires_grad and detach_state(None) is None


@pytest.mark.parametrize("mode", ["rnn", "gru", "lstm"])
def test_without_bias_equals_torch(mode):
    torch.manual_seed(3)
    ref = TORCH_LAYERS[mode](3, 5, 2, bias=False)
    mine = ScratchRNN(mode, 3, 5, 2, bias=False)
    mine.load_state_dict(ref.state_dict())
    x = torch.randn(4, 2, 3)
    assert _close(mine(x), ref(x))
    cell_ref, cell = TORCH_CELLS[mode](3, 5, bias=False), SCRATCH_CELLS[mode](3, 5, bias=False)
    cell.load_state_dict(cell_ref.state_dict())
    assert _close(cell(x[0]), cell_ref(x[0]))
