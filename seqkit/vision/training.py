"""Training image classifiers through the shared :class:`seqkit.train.Trainer` (d2l's ``train_ch6``).

There is no loop here: :func:`classify_step` is the trainer's ``step_fn`` (loss and training
accuracy per image), :func:`evaluate` is its ``valid_fn`` (test loss and accuracy), and the trainer
logs loss, accuracy and images/s to ``metrics.jsonl`` and draws them into ``curves.png`` -- the
equivalent of d2l's Animator.
"""

from __future__ import annotations

import time
import types
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn
from torch.nn import functional as F

from seqkit.optim import OPTIMIZERS
from seqkit.settings import setting
from seqkit.train import StepOutput, Trainer, build_optimizer, schedule_from
from seqkit.vision.data import ImageBatches, ImageData


def init_cnn(model: nn.Module) -> nn.Module:
    """Xavier-uniform weights for every Linear and Conv2d (d2l's ``init_cnn``); biases unchanged."""
    for m in model.modules():
        if isinstance(m, (nn.Linear, nn.Conv2d)):
            nn.init.xavier_uniform_(m.weight)
    return model


def classify_step(model: nn.Module, batch: tuple[torch.Tensor, torch.Tensor]) -> StepOutput:
    """One minibatch (X (B, C, H, W), y (B,)): mean cross-entropy, with the batch accuracy as a metric."""
    X, y = batch
    logits = model(X)
    loss = F.cross_entropy(logits, y)
    acc = (logits.argmax(dim=1) == y).float().mean()
    return StepOutput(loss=loss, n_items=len(y), metrics={"acc": acc.detach()})


@torch.no_grad()
def evaluate(model: nn.Module, X: torch.Tensor, y: torch.Tensor, batch_size: int = 512,
             split_ranks: bool = False) -> dict[str, float]:
    """Mean loss and accuracy of ``model`` (in eval mode) on images X (N, C, H, W) and labels y (N,).

    ``split_ranks``: under ``torchrun`` each rank evaluates every ``world_size``-th batch of
    ``batch_size`` images and the sums are added over the ranks (every rank must call it): the same
    batches as one process, so the accuracy is one process's and the loss equals it up to float64
    rounding.
    """
    from seqkit.train.distributed import all_reduce_sum, shard

    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    loss_sum, correct = 0.0, 0
    starts = range(0, len(X), batch_size)
    for i in shard(starts) if split_ranks else starts:
        xb, yb = X[i:i + batch_size].to(device), y[i:i + batch_size].to(device)
        logits = model(xb)
        loss_sum += float(F.cross_entropy(logits, yb, reduction="sum"))
        correct += int((logits.argmax(dim=1) == yb).sum())
    model.train(was_training)
    if split_ranks:
        loss_sum, correct = all_reduce_sum([loss_sum, correct], device)
    return {"loss": loss_sum / len(X), "acc": correct / len(X)}


@dataclass
class ClassifierTrainConfig:
    """The settings of :func:`train_classifier` (the vision recipes' ``train:`` section)."""

    optimizer: str = setting("sgd", choices=tuple(OPTIMIZERS))
    lr: float = setting(0.1, gt=0)
    weight_decay: float = setting(0.0, ge=0)
    epochs: int = setting(10, ge=1)
    batch_size: int = setting(64, ge=1)
    schedule: str | None = setting(None, choices=(None, "factor", "multistep", "cosine"))
    warmup: int = setting(0, ge=0)            # cosine
    lr_factor: float = setting(0.9, gt=0)     # factor: per epoch; multistep: at each milestone
    milestones: list | None = None            # multistep: the epochs after which lr *= lr_factor
    progress: bool = False


def train_classifier(model: nn.Module, data: ImageData, epochs: int = 10, batch_size: int = 64,
                     optimizer: str = "sgd", lr: float = 0.1, optimizer_options: dict | None = None,
                     schedule: str | None = None, warmup: int = 0, lr_factor: float = 0.9,
                     milestones: list[int] | None = None,
                     run_dir: str | Path | None = None, device: str | None = None, seed: int = 0,
                     progress: bool = False, resume: bool = False) -> dict[str, float]:
    """Train ``model`` on ``data``'s training split, validating on its test split after every epoch.

    Returns ``train_loss``, ``train_acc`` and ``test_acc`` / ``test_loss`` of the final model (the
    d2l printout), ``examples_per_s`` (training throughput) and ``seconds`` (wall clock).
    ``schedule`` names a :mod:`seqkit.train.schedules` schedule, with the settings every trainer spells
    the same way (``warmup``, ``lr_factor``, ``milestones``; ``cosine``'s total is the run's length).
    """
    torch.manual_seed(seed)
    opt = build_optimizer(optimizer, model.parameters(), lr, scratch=True, **(optimizer_options or {}))
    batches = ImageBatches(data.X_train, data.y_train, batch_size=batch_size, seed=seed)
    settings = types.SimpleNamespace(schedule=schedule, warmup=warmup, lr_factor=lr_factor, milestones=milestones)
    scheduler = schedule_from(settings, opt, total=len(batches) * epochs) if schedule else None
    trainer = Trainer(model, opt, classify_step, scheduler=scheduler, device=device, run_dir=run_dir,
                      item_name="images", progress=progress, log_every=max(1, len(batches)))
    X_test, y_test = data.X_test, data.y_test

    def valid_fn(m: nn.Module) -> dict[str, float]:  # under torchrun every rank evaluates its share
        return evaluate(m, X_test, y_test, split_ranks=True)

    start = time.perf_counter()
    result = trainer.fit(batches, epochs=epochs, valid_fn=valid_fn, monitor="acc", mode="max", resume=resume)
    seconds = time.perf_counter() - start
    train = evaluate(trainer.model, data.X_train, data.y_train, split_ranks=True)  # every rank is here
    test = evaluate(trainer.model, X_test, y_test, split_ranks=True)
    return {"train_loss": train["loss"], "train_acc": train["acc"], "test_loss": test["loss"],
            "test_acc": test["acc"], "examples_per_s": result.items_per_s, "seconds": seconds,
            "epochs": result.epochs_done}
