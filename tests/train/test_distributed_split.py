"""Evaluation split across two gloo ranks: shard + gather_shards give back the original order, and the
Trainer calls valid_fn on every rank and keeps rank 0's result."""

from __future__ import annotations

import json

import torch
from gloo import run_ranks
from train_toy_helpers import ToyBatches, toy_model, toy_step

from seqkit.errors import SeqkitError
from seqkit.train import Trainer
from seqkit.train.distributed import all_reduce_sum, gather_shards, shard


def _valid_rows():
    g = torch.Generator().manual_seed(5)
    return torch.randn(7, 5, generator=g), torch.randn(7, generator=g)


def _checks(rank: int) -> dict:
    seen: dict = {"shares": {}, "gathered": {}}
    for n in (0, 1, 5):
        items = [f"s{i}" for i in range(n)]
        mine = shard(items)
        seen["shares"][n] = mine
        seen["gathered"][n] = gather_shards(mine)
    seen["from_iterator"] = shard(iter(range(5)))
    try:  # shares no shard() gives: both ranks are told, neither waits
        gather_shards(["x", "y"] if rank == 0 else [])
    except SeqkitError as exc:
        seen["error"] = str(exc)

    x, y = _valid_rows()
    calls = []

    def valid_fn(model):  # each rank scores its rows; the sums are added over the ranks
        rows = shard(range(len(x)))
        calls.append(len(rows))
        err = ((model(x[rows]).squeeze(-1) - y[rows]) ** 2).sum().item() if rows else 0.0
        total, n = all_reduce_sum([err, len(rows)], torch.device("cpu"))
        return {"neg_mse": -total / n, "rows": n, "rank": rank}

    model = toy_model(0, dropout=0.0)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    trainer = Trainer(model, opt, toy_step, progress=False, plot=False)
    fit = trainer.fit(ToyBatches(n_batches=4), epochs=1, valid_fn=valid_fn, valid_every=1, monitor="neg_mse")
    with torch.no_grad():
        whole = -((model(x).squeeze(-1) - y) ** 2).mean().item()  # one process's number, on this rank
    seen.update(calls=calls, last_valid=fit.last_valid, whole=whole, steps=fit.steps)
    return seen


def _worker(rank: int, world: int, folder: str) -> None:
    with open(f"{folder}/rank{rank}.json", "w") as fh:
        json.dump(_checks(rank), fh)


def test_shard_gather_and_validation_on_two_ranks(tmp_path):
    run_ranks(_worker, tmp_path)
    ranks = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1)]
    # every second item from the rank; gathered back in order on both ranks, for 0, 1 and 5 items
    assert [r["shares"]["5"] for r in ranks] == [["s0", "s2", "s4"], ["s1", "s3"]]
    assert [r["shares"]["1"] for r in ranks] == [["s0"], []]
    assert [r["shares"]["0"] for r in ranks] == [[], []]
    for r in ranks:
        assert r["gathered"] == {"0": [], "1": ["s0"], "5": ["s0", "s1", "s2", "s3", "s4"]}
        assert "ranks gathered shares of sizes [2, 0]" in r["error"]
    assert [r["from_iterator"] for r in ranks] == [[0, 2, 4], [1, 3]]
    # valid_fn ran on both ranks (each on its rows) at both updates; rank 0's result is everyone's
    assert ranks[0]["steps"] == 2
    assert ranks[0]["calls"] == [4, 4] and ranks[1]["calls"] == [3, 3]
    for r in ranks:
        assert r["last_valid"]["rank"] == 0 and r["last_valid"]["rows"] == 7
        assert abs(r["last_valid"]["neg_mse"] - r["whole"]) <= 1e-6 * abs(r["whole"])


def test_single_process_is_the_identity():
    assert shard([3, 1, 2]) == [3, 1, 2] and shard(iter("ab")) == ["a", "b"]
    assert gather_shards([3, 1, 2]) == [3, 1, 2] and gather_shards([]) == []


_CONSOLE = """
import atexit, sys
import torch.distributed as dist
dist.init_process_group("gloo", init_method="file://" + sys.argv[1], rank=0, world_size=1)
import seqkit.train.distributed  # what a command that trained under torchrun has imported
atexit.register(lambda: print("interpreter shutdown ran", flush=True))
sys.argv = ["seqkit", *sys.argv[2:]]
from seqkit.cli import console
console()
"""


def test_console_script_of_a_rank_exits_with_the_status_without_the_interpreter_shutdown(tmp_path):
    """The ``seqkit`` console script in a process that joined a group: the command's output and exit status
    as ever (0, or 2 with its one line), the group left, and the interpreter's shutdown (where a finished
    gloo rank could abort) skipped."""
    import subprocess
    import sys

    for args, status, stream, text in ((["--version"], 0, "stdout", "version"),
                                       (["bleu", str(tmp_path / "missing.ref")], 2, "stderr", "missing.ref")):
        done = subprocess.run([sys.executable, "-c", _CONSOLE, str(tmp_path / f"rendezvous{status}"), *args],
                              capture_output=True, text=True, stdin=subprocess.DEVNULL)
        assert done.returncode == status, done.stderr
        assert text in getattr(done, stream)
        assert "interpreter shutdown ran" not in done.stdout
