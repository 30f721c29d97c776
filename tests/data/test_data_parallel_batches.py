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


# -- planning in C, and ranks --------------------------------------------------------------------------
def _random_flat_pairs(n: int, seed: int) -> tuple[list[list[int]], list[list[int]]]:
    rng = np.random.default_rng(seed)
    src = [rng.integers(4, 50, int(rng.integers(1, 60))).tolist() for _ in range(n)]
    tgt = [rng.integers(4, 50, int(rng.integers(1, 60))).tolist() for _ in range(n)]
    return src, tgt


@pytest.mark.parametrize("count", ["src+tgt", "tgt"])
@pytest.mark.parametrize("bucket", [True, False])
def test_compiled_plan_equals_the_python_loop(count, bucket):
    from seqkit.data.parallel_batches import _chunk_kernel

    if _chunk_kernel() is None:
        pytest.skip("no C compiler")
    src, tgt = _random_flat_pairs(3000, 11)
    pb = ParallelBatches(src, tgt, max_tokens=700, bucket=bucket, count=count, seed=3)
    pool = pb._make_pool(0)
    for epoch in range(3):
        rng = np.random.default_rng(epoch)
        order = rng.permutation(pb.n_kept)
        fast = pb._chunk(order, pool)
        slow = pb._chunk_python(order, pool.src_len[order], pool.tgt_len[order])
        assert len(fast) == len(slow) > 10
        assert all(np.array_equal(a, b) for a, b in zip(fast, slow))
        for rows in fast:  # and every batch keeps the budget (or is one pair)
            cost = len(rows) * (pool.tgt_len[rows].max() + (0 if count == "tgt" else pool.src_len[rows].max()))
            assert cost <= 700 or len(rows) == 1


def test_from_flat_equals_lists_with_uint16_ids():
    src, tgt = _random_flat_pairs(500, 4)
    offsets = lambda seqs: np.concatenate([[0], np.cumsum([len(s) for s in seqs])])  # noqa: E731
    flat = lambda seqs: np.array([t for s in seqs for t in s], dtype=np.uint16)  # noqa: E731
    a = ParallelBatches(src, tgt, max_tokens=500, seed=1)
    b = ParallelBatches.from_flat(flat(src), offsets(src), flat(tgt), offsets(tgt), max_tokens=500, seed=1)
    for x, y in zip(a.epoch(2), b.epoch(2), strict=True):
        assert x.src.equal(y.src) and x.tgt_in.equal(y.tgt_in) and x.tgt_out.equal(y.tgt_out)
        assert x.indices.equal(y.indices) and y.src.dtype == torch.int64


@pytest.mark.parametrize("world_size,accum", [(2, 1), (2, 3), (3, 2)])
def test_ranks_build_only_their_share_and_together_the_single_process_batches(world_size, accum):
    """Ranks simulated in one process, dealt out as Trainer.fit does (groups of accum * world_size
    consecutive batches, rank r takes group[r::world_size], an epoch's last group dropped when it
    cannot give every rank a batch): their batches together are the single process's, in order."""
    from seqkit.train.trainer import _epoch_batches

    src, tgt = _random_flat_pairs(800, 9)
    pb = ParallelBatches(src, tgt, max_tokens=600, seed=2)
    single = [b.indices.tolist() for b in _epoch_batches(pb, 1, 0)]
    group_size = accum * world_size
    start = group_size * 2  # resumed mid-epoch
    per_rank = []
    for rank in range(world_size):
        it = _epoch_batches(pb, 1, start, rank, world_size)
        updates = []
        while True:
            group = [next(it, "end") for _ in range(group_size)]
            group = [b for b in group if not isinstance(b, str)]
            if len(group) < world_size:
                break
            mine = group[rank::world_size]
            assert all(b is not None for b in mine)
            assert sum(b is not None for b in group) == len(mine)  # nothing built for the other ranks
            updates.append([b.indices.tolist() for b in mine])
        per_rank.append(updates)
    assert len({len(u) for u in per_rank}) == 1
    merged = []
    for step in range(len(per_rank[0])):  # interleave back: batch i of a group is rank i % world's
        shares = [per_rank[r][step] for r in range(world_size)]
        for j in range(max(map(len, shares))):
            merged += [s[j] for s in shares if j < len(s)]
    n_full = (len(single) - start) // group_size * group_size
    tail = (len(single) - start) % group_size
    expected = single[start:start + n_full + (tail if tail >= world_size else 0)]
    assert merged == expected


def _reference_plan(src_len, tgt_len, seed, epoch, max_tokens):
    """The planning seqkit did before the memory-mapped path (lexsort, Python greedy loop), kept here
    to prove the faster one gives the same batches."""
    rng = np.random.default_rng([seed, epoch, 0x5EC])
    order = rng.permutation(len(src_len))
    order = order[np.lexsort((tgt_len[order], src_len[order]))]
    batches, begin, max_s, max_t = [], 0, 0, 0
    for i, row in enumerate(order):
        s, t = max(max_s, src_len[row]), max(max_t, tgt_len[row])
        if (i - begin + 1) * (s + t) > max_tokens and i > begin:
            batches.append(order[begin:i])
            begin, s, t = i, src_len[row], tgt_len[row]
        max_s, max_t = s, t
    batches.append(order[begin:])
    return [batches[i] for i in rng.permutation(len(batches))]


def test_plans_equal_the_earlier_implementation():
    src, tgt = _random_flat_pairs(4000, 21)
    pb = ParallelBatches(src, tgt, max_tokens=900, seed=7)
    src_len = np.array([len(s) + 1 for s in src])
    tgt_len = np.array([len(t) + 1 for t in tgt])
    for epoch in (0, 3):
        want = _reference_plan(src_len, tgt_len, 7, epoch, 900)
        got = pb.plan(epoch)
        assert len(got) == len(want) > 50
        assert all(np.array_equal(a, b) for a, b in zip(got, want))


def test_pools_plan_each_pool_alone_and_cover_every_pair_once():
    """``pool_pairs``: batches are formed within pools (blocks of consecutive pairs dealt out at random),
    visited in a shuffled order; every kept pair once per epoch, the same filters and counts as one pool."""
    src, tgt = _random_flat_pairs(2500, 5)
    src[7], tgt[100] = [], [1] * 70  # one empty side, one too long
    whole = ParallelBatches(src, tgt, max_tokens=800, seed=4, max_len=60)
    pooled = ParallelBatches(src, tgt, max_tokens=800, seed=4, max_len=60, pool_pairs=600)
    assert pooled.report() == whole.report() == "kept 2498 of 2500 pairs, dropped 1 shorter than 1 token(s), " \
                                                "dropped 1 longer than 60 tokens"
    assert len(pooled._pools) == 5 and pooled.n_kept == whole.n_kept == 2498
    assert sorted(pooled.indices.tolist()) == whole.indices.tolist()
    member = np.zeros(2500, dtype=int)
    for p in range(5):
        pairs = pooled._make_pool(p).indices
        member[pairs] = p
        # a pool holds blocks of 37 pairs from all over the input, not 600 consecutive ones
        assert len(pairs) <= 600 and pairs.max() - pairs.min() > 1500
    orders = []
    for epoch in (0, 1):
        batches = [b.indices.numpy() for b in pooled.epoch(epoch)]
        assert sorted(np.concatenate(batches).tolist()) == whole.indices.tolist()
        pools = [set(member[b].tolist()) for b in batches]
        assert all(len(p) == 1 for p in pools)  # a batch never mixes pools
        visits = [next(iter(p)) for p in pools]
        runs = [v for i, v in enumerate(visits) if i == 0 or v != visits[i - 1]]
        assert sorted(runs) == [0, 1, 2, 3, 4]  # each pool's batches come together
        orders.append(runs)
        assert len(batches) == pooled.num_batches(epoch)
        for b in pooled.epoch(epoch):
            assert b.tgt_out.numel() + b.src.numel() <= 800
    assert orders[0] != orders[1]  # the pools' order is shuffled per epoch
    # the plan's global rows give the same batches; a pool as large as the input is the unpooled plan
    plan = pooled.plan(1)
    assert [pooled.make_batch(r).indices.tolist() for r in plan[:5]] == \
        [b.indices.tolist() for b in list(pooled.epoch(1))[:5]]
    big = ParallelBatches(src, tgt, max_tokens=800, seed=4, max_len=60, pool_pairs=2500)
    assert all(np.array_equal(a, b) for a, b in zip(big.plan(3), whole.plan(3), strict=True))


def test_pooled_resume_and_rank_shares_equal_one_process():
    src, tgt = _random_flat_pairs(1500, 8)
    pb = ParallelBatches(src, tgt, max_tokens=700, seed=2, pool_pairs=400)
    full = [b.indices.tolist() for b in pb.epoch(3)]
    for start in (0, 1, 17, len(full) - 1, len(full)):
        fresh = ParallelBatches(src, tgt, max_tokens=700, seed=2, pool_pairs=400)
        assert [b.indices.tolist() for b in fresh.epoch(3, start=start)] == full[start:]
    shares = [list(pb.epoch(3, start=5, rank=r, world_size=2)) for r in range(2)]
    merged = [a if a is not None else b for a, b in zip(*shares, strict=True)]
    assert [b.indices.tolist() for b in merged] == full[5:]
    assert all((a is None) != (b is None) for a, b in zip(*shares))


def test_pooled_batches_from_a_prepared_corpus_equal_the_lists(tmp_path):
    from seqkit.data.prepared import prepare
    from seqkit.text import SentencePieceTokenizer

    words = "the a cat dog sat on mat ran far away big small red green house tree".split()
    rng = np.random.default_rng(0)
    lines = [" ".join(rng.choice(words, size=int(rng.integers(1, 15)))) for _ in range(900)]
    tok = SentencePieceTokenizer.train(lines, vocab_size=40, model_type="bpe")
    corpus = prepare(lines, lines[::-1], tok, tmp_path / "prep", progress=False)
    a = ParallelBatches(tok.encode_ids_batch(lines), tok.encode_ids_batch(lines[::-1]), max_tokens=300, seed=1,
                        pool_pairs=250)
    b = ParallelBatches.from_prepared(corpus, max_tokens=300, seed=1, pool_pairs=250)
    for x, y in zip(a.epoch(1), b.epoch(1), strict=True):
        assert x.src.equal(y.src) and x.tgt_in.equal(y.tgt_in) and x.indices.equal(y.indices)


def test_pools_deal_out_blocks_covering_every_pair_once():
    from seqkit.data.parallel_batches import _pool_ranges

    assert [r.tolist() for r in _pool_ranges(100, None, 0)] == [[[0, 100]]]
    assert [r.tolist() for r in _pool_ranges(100, 100, 0)] == [[[0, 100]]]
    pools = _pool_ranges(100_003, 16_000, seed=5)  # blocks of 1,000 pairs, 16 to a pool
    assert len(pools) == 7
    covered = np.zeros(100_003, dtype=int)
    for ranges in pools:
        assert (ranges[:, 0] < ranges[:, 1]).all() and (ranges[1:, 0] > ranges[:-1, 1]).all()  # merged runs
        assert (ranges[:, 1] - ranges[:, 0]).sum() <= 16_000
        for b, e in ranges:
            covered[b:e] += 1
    assert (covered == 1).all()
    assert all(np.array_equal(a, b) for a, b in zip(pools, _pool_ranges(100_003, 16_000, seed=5)))
    assert not np.array_equal(pools[0], _pool_ranges(100_003, 16_000, seed=6)[0])
