"""LMBatches against d2l's documented batches for range(35), batch 2, 5 steps."""

from __future__ import annotations

import random

import pytest
import torch

from seqkit.data import LMBatches
from seqkit.errors import SeqkitError

CORPUS = list(range(35))


def batches(**kw):
    b = LMBatches(CORPUS, batch_size=2, num_steps=5, **kw)
    return [(x.tolist(), y.tolist()) for x, y in b.epoch(0)]


def test_sequential_reproduces_d2l_offset_0():
    # d2l: 34 usable tokens -> two rows [0..16] and [17..33]; 17 // 5 = 3 batches
    assert batches(offset=0) == [
        ([[0, 1, 2, 3, 4], [17, 18, 19, 20, 21]], [[1, 2, 3, 4, 5], [18, 19, 20, 21, 22]]),
        ([[5, 6, 7, 8, 9], [22, 23, 24, 25, 26]], [[6, 7, 8, 9, 10], [23, 24, 25, 26, 27]]),
        ([[10, 11, 12, 13, 14], [27, 28, 29, 30, 31]], [[11, 12, 13, 14, 15], [28, 29, 30, 31, 32]]),
    ]


def test_sequential_reproduces_d2l_offset_3():
    # ((35 - 3 - 1) // 2) * 2 = 30 tokens: rows [3..17] and [18..32]; 15 // 5 = 3 batches
    assert batches(offset=3) == [
        ([[3, 4, 5, 6, 7], [18, 19, 20, 21, 22]], [[4, 5, 6, 7, 8], [19, 20, 21, 22, 23]]),
        ([[8, 9, 10, 11, 12], [23, 24, 25, 26, 27]], [[9, 10, 11, 12, 13], [24, 25, 26, 27, 28]]),
        ([[13, 14, 15, 16, 17], [28, 29, 30, 31, 32]], [[14, 15, 16, 17, 18], [29, 30, 31, 32, 33]]),
    ]


def test_sequential_rows_continue_across_batches():
    b = LMBatches(list(range(1000)), batch_size=4, num_steps=7, seed=5)
    prev = None
    for x, _ in b.epoch(3):
        if prev is not None:
            assert torch.equal(x[:, 0], prev[:, -1] + 1)  # the hidden state may carry over
        prev = x


def test_random_windows_of_d2l_offset_0():
    # d2l: (35 - 0 - 1) // 5 = 6 windows starting 0, 5, ..., 25; 6 // 2 = 3 batches; tail 30..34 unseen
    got = batches(sampling="random", offset=0)
    assert len(got) == 3
    rows = sorted(row for x, _ in got for row in x)
    assert rows == [list(range(s, s + 5)) for s in (0, 5, 10, 15, 20, 25)]
    for x, y in got:
        assert y == [[v + 1 for v in row] for row in x]


def test_random_uses_d2l_draw_order():
    # d2l draws randint(0, T - 1) for the offset, then shuffles the window starts: same order here
    b = LMBatches(CORPUS, batch_size=2, num_steps=5, sampling="random", seed=7)
    rng = random.Random("seqkit.LMBatches:7:2")
    offset = rng.randint(0, 4)
    starts = list(range(offset, offset + 5 * ((34 - offset) // 5), 5))
    rng.shuffle(starts)
    assert b.random_starts(2) == (offset, starts[: len(starts) // 2 * 2])
    xs = [x[:, 0].tolist() for x, _ in b.epoch(2)]
    assert sum(xs, []) == starts[: len(starts) // 2 * 2]


def test_d2l_random_misses_the_tail_in_an_epoch_but_full_coverage_does_not():
    n = len(CORPUS)
    x0 = [x for x, _ in LMBatches(CORPUS, 2, 5, sampling="random", offset=0).epoch(0)]
    assert set(range(n - 1)) - set(torch.cat(x0).flatten().tolist()) == {30, 31, 32, 33}
    incomplete = 0
    for epoch in range(20):
        xs = [x for x, _ in LMBatches(CORPUS, 2, 5, sampling="random", seed=1).epoch(epoch)]
        incomplete += set(torch.cat(xs).flatten().tolist()) != set(range(n - 1))
    assert incomplete == 20  # with d2l's sampling no epoch covers the whole corpus
    full = LMBatches(CORPUS, 2, 5, sampling="random", full_coverage=True, seed=1)
    for epoch in range(20):  # every epoch, not just eventually
        xs = [x for x, _ in full.epoch(epoch)]
        ys = [y for _, y in full.epoch(epoch)]
        assert set(torch.cat(xs).flatten().tolist()) == set(range(n - 1))
        assert set(torch.cat(ys).flatten().tolist()) == set(range(1, n))
        assert all(x.shape == (2, 5) for x in xs)


def test_deterministic_per_seed_and_epoch_and_resume():
    ids = list(range(500))
    for sampling in ("sequential", "random"):
        a = LMBatches(ids, 3, 6, sampling=sampling, seed=11)
        b = LMBatches(ids, 3, 6, sampling=sampling, seed=11)
        e1 = [x.tolist() for x, _ in a.epoch(1)]
        assert e1 == [x.tolist() for x, _ in b.epoch(1)]
        assert e1[4:] == [x.tolist() for x, _ in b.epoch(1, start=4)]  # mid-epoch resume
        assert e1 != [x.tolist() for x, _ in a.epoch(2)]  # a new offset / order each epoch
        assert len(e1) == a.num_batches(1)


def test_len_and_errors():
    assert len(LMBatches(CORPUS, 2, 5, offset=0)) == 3
    with pytest.raises(SeqkitError, match="too short"):
        LMBatches(list(range(10)), 2, 5)
    with pytest.raises(SeqkitError, match="random sampling only"):
        LMBatches(CORPUS, 2, 5, full_coverage=True)
    with pytest.raises(SeqkitError, match="unknown sampling"):
        LMBatches(CORPUS, 2, 5, sampling="shuffled")
