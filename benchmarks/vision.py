"""The vision recipes' models on the offline digits: seqkit vs a hand-written PyTorch loop, side by side.

For each model, seqkit trains with its from-scratch optimizer through the shared Trainer
(``seqkit.vision.train_classifier``, what the ``vision_lenet`` / ``vision_resnet`` recipes run); the
peer is the loop a user would write with ``torch.optim.Adam`` on the same initial weights, the same
batches in the same order and the same schedule. Printed: test accuracy, seconds, images/s and the
seqkit / peer ratios (medians over ``--repeats``). The machine is shared: read ratios, not absolutes.

    python benchmarks/vision.py [--repeats 3] [--threads 1] [--models lenet,resnet-small] [--epochs N]
    python benchmarks/vision.py --smoke      # LeNet, one epoch: checks the script, measures nothing

The digits come with scikit-learn (the ``vision`` extra); without it the script says so and stops.
"""

from __future__ import annotations

import argparse
import copy
import math
import statistics
import sys
import time

import torch
from _common import header, installed, skipped, table
from torch.nn import functional as F

from seqkit.vision.data import ImageBatches, load_images
from seqkit.vision.models import build_model
from seqkit.vision.training import evaluate, init_cnn, train_classifier

# The recipes' settings (recipes/vision_lenet.yaml, recipes/vision_resnet.yaml).
CONFIGS = {
    "lenet": {"resolution": 28, "epochs": 20, "lr": 0.01, "schedule": None},
    "resnet-small": {"resolution": 16, "epochs": 10, "lr": 0.01, "schedule": "cosine"},
}
BATCH_SIZE, SEED = 64, 0


def plain_torch(model, data, epochs: int, lr: float, schedule: str | None) -> dict:
    """The peer: a plain PyTorch loop with torch.optim.Adam (and a per-update cosine when asked)."""
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    batches = ImageBatches(data.X_train, data.y_train, batch_size=BATCH_SIZE, seed=SEED)
    total = len(batches) * epochs
    sched = (torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 0.5 * (1 + math.cos(math.pi * min(s / total, 1.0))))
             if schedule == "cosine" else None)
    seconds, images = 0.0, 0
    start = time.perf_counter()
    for e in range(epochs):
        model.train()
        for X, y in batches.epoch(e):
            t0 = time.perf_counter()
            loss = F.cross_entropy(model(X), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            if sched is not None:
                sched.step()
            seconds += time.perf_counter() - t0
            images += len(y)
        evaluate(model, data.X_test, data.y_test)  # the per-epoch test evaluation seqkit also does
    wall = time.perf_counter() - start
    return {"test_acc": evaluate(model, data.X_test, data.y_test)["acc"], "seconds": wall,
            "examples_per_s": images / seconds}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--models", default="lenet,resnet-small")
    parser.add_argument("--epochs", type=int, default=None, help="override the recipes' epochs (quick look)")
    parser.add_argument("--smoke", action="store_true", help="LeNet, one epoch, one repeat: checks the script")
    args = parser.parse_args()
    if args.smoke:
        args.models, args.epochs, args.repeats = "lenet", 1, 1
    header(["scikit-learn"])
    if not installed("sklearn"):
        skipped("the digits (scikit-learn)", fix="pip install 'seqkit[vision]'")
        return 0
    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {args.threads} thread(s), batch {BATCH_SIZE}, median of {args.repeats}")
    if not args.smoke:  # warm-up outside the timings: the first Trainer imports torch.distributed & co
        warm = load_images("digits", resolution=12, seed=SEED)
        train_classifier(build_model("lenet-relu", resolution=12), warm, epochs=1, batch_size=BATCH_SIZE)
    rows = []
    for name in args.models.split(","):
        cfg = CONFIGS[name]
        epochs = args.epochs or cfg["epochs"]
        data = load_images("digits", resolution=cfg["resolution"], seed=SEED)
        runs: dict[str, list[dict]] = {"seqkit": [], "torch": []}
        for rep in range(args.repeats):
            torch.manual_seed(SEED)
            model = init_cnn(build_model(name, resolution=cfg["resolution"]))
            peer_model = copy.deepcopy(model)
            sides = {
                "seqkit": lambda: train_classifier(model, data, epochs=epochs, batch_size=BATCH_SIZE,  # noqa: B023
                                                   optimizer="adam", lr=cfg["lr"], schedule=cfg["schedule"],  # noqa: B023
                                                   seed=SEED),
                "torch": lambda: plain_torch(peer_model, data, epochs, cfg["lr"], cfg["schedule"]),  # noqa: B023
            }
            # Alternate who goes first: on a shared machine the load drifts between the two runs.
            for side in (("seqkit", "torch") if rep % 2 == 0 else ("torch", "seqkit")):
                torch.manual_seed(SEED)
                runs[side].append(sides[side]())
        med = {side: {k: statistics.median(r[k] for r in rs) for k in ("test_acc", "seconds", "examples_per_s")}
               for side, rs in runs.items()}
        for side in ("seqkit", "torch"):
            m = med[side]
            rows.append([name, side, f"{m['test_acc']:.4f}", f"{m['seconds']:.1f}", f"{m['examples_per_s']:,.0f}"])
        ratio = med["seqkit"]["examples_per_s"] / med["torch"]["examples_per_s"]
        rows.append([name, "seqkit / torch", f"{med['seqkit']['test_acc'] - med['torch']['test_acc']:+.4f}",
                     f"{med['seqkit']['seconds'] / med['torch']['seconds']:.2f}x", f"{ratio:.2f}x"])
    table(["model", "side", "test acc", "seconds", "images/s"], rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
