"""sequence_loss: a true per-token mean over non-pad tokens, with label smoothing."""

import math

import torch

from seqkit.seq2seq.loss import sequence_loss, sequence_mean_loss


def test_hand_computed_nll_ignores_padding():
    logits = torch.log(torch.tensor([[[0.5, 0.25, 0.25], [0.1, 0.1, 0.8]],
                                     [[0.2, 0.2, 0.6], [0.3, 0.3, 0.4]]]))
    targets = torch.tensor([[0, 2], [2, 1]])  # pad_id 1 at [1, 1]
    loss_sum, n = sequence_loss(logits, targets, pad_id=1)
    expected = -(math.log(0.5) + math.log(0.8) + math.log(0.6))
    assert int(n) == 3
    assert math.isclose(float(loss_sum), expected, rel_tol=1e-6)
    assert math.isclose(float(sequence_mean_loss(logits, targets, pad_id=1)), expected / 3, rel_tol=1e-6)


def test_mean_is_per_token_not_per_sentence():
    # d2l averages the padded positions too: a long pad tail would dilute the loss; here it does not
    torch.manual_seed(0)
    logits = torch.randn(1, 3, 5)
    targets = torch.tensor([[4, 2, 3]])
    short = sequence_mean_loss(logits, targets)
    padded = sequence_mean_loss(torch.cat([logits, torch.randn(1, 7, 5)], 1),
                                torch.cat([targets, torch.ones(1, 7, dtype=torch.long)], 1))
    torch.testing.assert_close(short, padded)


def test_label_smoothing_formula():
    logits = torch.tensor([[[2.0, 0.0, -1.0, 0.5]]])
    logp = torch.log_softmax(logits, -1)[0, 0]
    eps, V = 0.1, 4
    expected = -((1 - eps) * logp[3] + eps / V * logp.sum())
    loss_sum, n = sequence_loss(logits, torch.tensor([[3]]), pad_id=1, label_smoothing=eps)
    assert int(n) == 1
    torch.testing.assert_close(loss_sum, expected)


def test_all_pad_batch_gives_zero():
    assert float(sequence_mean_loss(torch.randn(2, 2, 4), torch.ones(2, 2, dtype=torch.long))) == 0.0
