"""ParallelBatches: exact tensors on a toy example, budgets, filters, truncation, shuffling, resume."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from seqkit.data import Batch, ParallelBatches
from seqkit.errors import SeqkitError

SRC = [[10, 11, 12], [20], [30, 31], [40, 41, 42, 43]]
TGT = [[50, 51], [60, 61, 62], [70], [80, 81]]


def test_exact_tensors_in_input_order():
    pb = ParallelBatches(SRC, TGT, batch_size=2, bucket=False, shuffle=False)
    first, second = list(pb.epoch(0))
    assert isinstance(first, Batch)
    assert first.src.tolist() == [[10, 11, 12, 3], [20, 3, 1, 1]]
    assert first.src_len.tolist() == [4, 2]
    assert first.tgt_in.tolist() == [[2, 50, 51, 1], [2, 60, 61, 62]]
    assert first.tgt_out.tolist() == [[50, 51, 3, 1], [60, 61, 62, 3]]
    assert first.tgt_len.tolist() == [3, 4]
    assert first.n_tgt_tokens == 7
    assert first.src_mask.tolist() == [[True] * 4, [True, True, False, False]]
    assert first.tgt_mask.sum().item() == 7
    assert first.indices.tolist() == [0, 1]
    assert second.src.tolist() == [[30, 31, 3, 1, 1], [40, 41, 42, 43, 3]]
    assert second.tgt_in.tolist() == [[2, 70, 1], [2, 80, 81]]
    assert second.tgt_out.tolist() == [[70, 3, 1], [80, 81, 3]]
    assert first.src.dtype == torch.long and len(pb) == 2 and len(first) == 2


def test_truncation_keeps_eos():
    pb = ParallelBatches(SRC, TGT, batch_size=4, bucket=False, shuffle=False, max_src_len=3, max_tgt_len=2)
    b = next(pb.epoch(0))
    assert b.src.tolist() == [[10, 11, 3], [20, 3, 1], [30, 31, 3], [40, 41, 3]]
    assert b.tgt_out.tolist() == [[50, 3], [60, 3], [70, 3], [80, 3]]
    assert b.tgt_in.tolist() == [[2, 50], [2, 60], [2, 70], [2, 80]]
    assert pb.truncated == 2 + 3  # sources 0 and 3; targets 0, 1 and 3
    assert "truncated 5" in pb.report()


def test_filters_report_what_they_dropped():
    src = [[1] * 3, [], [1] * 30, [1] * 2, [1] * 10]
    tgt = [[1] * 3, [1] * 2, [1] * 30, [1] * 2, [1] * 2]
    pb = ParallelBatches(src, tgt, batch_size=8, max_len=20, max_ratio=3.0)
    assert pb.dropped == {"shorter than 1 token(s)": 1, "longer than 20 tokens": 1, "length ratio above 3": 1}
    assert pb.indices.tolist() == [0, 3]
    assert pb.report().startswith("kept 2 of 5 pairs, dropped 1 shorter")
    with pytest.raises(SeqkitError, match="all 2 pairs were filtered out"):
        ParallelBatches([[], [1]], [[1], []], batch_size=1)


def _random_pairs(n=600, seed=0):
    rng = np.random.default_rng(seed)
    lengths = rng.integers(1, 40, n)  # translations have correlated lengths
    src = [rng.integers(4, 100, k).tolist() for k in lengths]
    tgt = [rng.integers(4, 100, max(1, k + rng.integers(-3, 4))).tolist() for k in lengths]
    return src, tgt


@pytest.mark.parametrize("count", ["src+tgt", "tgt"])
def test_token_budget_is_respected_and_every_pair_is_seen_once(count):
    src, tgt = _random_pairs()
    pb = ParallelBatches(src, tgt, max_tokens=300, count=count, seed=3)
    seen = []
    for b in pb.epoch(1):
        padded = b.tgt_out.numel() + (b.src.numel() if count == "src+tgt" else 0)
        assert padded <= 300
        seen += b.indices.tolist()
        for row, i in enumerate(b.indices.tolist()):  # the right pair in the right row
            assert b.src[row, : len(src[i])].tolist() == src[i]
            assert b.tgt_out[row, : len(tgt[i])].tolist() == tgt[i]
    assert sorted(seen) == list(range(len(src)))


def test_bucketing_reduces_padding():
    src, tgt = _random_pairs()

    def fill(pb):
        real = sum(b.n_tgt_tokens + int(b.src_len.sum()) for b in pb.epoch(0))
        total = sum(b.tgt_out.numel() + b.src.numel() for b in pb.epoch(0))
        return real / total

    assert fill(ParallelBatches(src, tgt, max_tokens=400, bucket=True)) > 0.9
    assert fill(ParallelBatches(src, tgt, max_tokens=400, bucket=False)) < 0.8


def test_deterministic_shuffle_and_mid_epoch_resume():
    src, tgt = _random_pairs()
    a = ParallelBatches(src, tgt, max_tokens=500, seed=9)
    b = ParallelBatches(src, tgt, max_tokens=500, seed=9)
    order = lambda pb, e, start=0: [x.indices.tolist() for x in pb.epoch(e, start=start)]  # noqa: E731
    assert order(a, 2) == order(b, 2)
    assert order(a, 2) != order(a, 3)
    assert order(a, 2)[5:] == order(b, 2, start=5)
    assert order(a, 2) != order(ParallelBatches(src, tgt, max_tokens=500, seed=10), 2)
    assert len(a) == a.num_batches(7)  # bucketing: the same number of batches every epoch


def test_sentence_count_batches():
    src, tgt = _random_pairs(n=103)
    pb = ParallelBatches(src, tgt, batch_size=10)
    sizes = sorted(len(b) for b in pb.epoch(0))
    assert sizes == [3] + [10] * 10 and len(pb) == 11


def test_bad_arguments():
    with pytest.raises(SeqkitError, match="exactly one of max_tokens and batch_size"):
        ParallelBatches(SRC, TGT)
    with pytest.raises(SeqkitError, match="smaller than the longest pair"):
        ParallelBatches(SRC, TGT, max_tokens=5)
    with pytest.raises(SeqkitError, match="4 source but 3 target"):
        ParallelBatches(SRC, TGT[:3], batch_size=2)
