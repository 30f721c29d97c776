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


def test_blocked_cpu_loss_equals_cross_entropy_values_and_gradients():
    # 5,000 classes: blocks of 209 rows, so 600 rows span three blocks; pads scattered through them
    torch.manual_seed(0)
    for dtype, tol in ((torch.float64, 1e-12), (torch.float32, 1e-5), (torch.bfloat16, 1e-2)):
        for eps in (0.0, 0.1):
            logits = (torch.randn(2, 300, 5000) * 3).to(dtype).requires_grad_()
            targets = torch.randint(0, 5000, (2, 300))
            targets[0, 250:] = 1
            targets[1, ::7] = 1
            loss_sum, n = sequence_loss(logits, targets, pad_id=1, label_smoothing=eps)
            (loss_sum * 0.5).backward()
            ref_logits = logits.detach().double().requires_grad_()
            ref = torch.nn.functional.cross_entropy(ref_logits.reshape(-1, 5000), targets.reshape(-1), ignore_index=1,
                                                    label_smoothing=eps, reduction="sum")
            (ref * 0.5).backward()
            assert loss_sum.dtype == torch.float32 and int(n) == int((targets != 1).sum())
            assert math.isclose(loss_sum.item(), ref.item(), rel_tol=1e-6)
            assert logits.grad.dtype == dtype
            torch.testing.assert_close(logits.grad.double(), ref_logits.grad, atol=tol, rtol=0)
            assert not logits.grad[0, 250:].any()  # pad rows get no gradient
