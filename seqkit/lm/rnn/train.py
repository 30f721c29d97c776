"""Training and evaluating recurrent LMs: the glue between :class:`~seqkit.lm.rnn.RNNLM`,
:class:`seqkit.data.LMBatches` and the shared :class:`seqkit.train.Trainer`.

The hidden-state rule (d2l 9.5) lives in :class:`LMStep`:

* **sequential** sampling — batch ``i+1`` row ``b`` continues batch ``i`` row ``b``, so the state is
  carried over, *detached* (truncated BPTT: gradients stop at the batch boundary), and reset to zeros
  only when an epoch starts;
* **random** sampling — batches are unrelated windows, so the state is zeros for every batch.

Where this differs from d2l (chapter 9): d2l reports the *training* perplexity (exp of the epoch's
mean training loss, which a big enough model drives towards 1 by memorising the book); seqkit reports
perplexity on held-out text (``evaluate_ppl``: validation after every epoch, test at the end), which
is the number that says how good a language model is. d2l's random sampling also never reaches the
corpus tail; :class:`seqkit.data.LMBatches` ``full_coverage=True`` fixes that.

Loss scale. Zaremba et al.'s "lr 1, clip 5" are for their code's loss: the per-step cross-entropy
averaged over the batch and **summed over the T time steps** (``loss="time_sum"``). With the per-token
mean (``loss="token_mean"``) the identical update needs ``lr * T`` and ``clip / T`` (PyTorch's
word_language_model example: lr 20, clip 0.25). Perplexities are always per token.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from seqkit.errors import SeqkitError
from seqkit.lm.rnn.cells import State, detach_state
from seqkit.lm.rnn.model import RNNLM, lm_loss
from seqkit.sentences import one_or_many

LOSSES = ("token_mean", "time_sum")
OPTIMIZERS = ("sgd", "adam")
SCHEDULES = ("constant", "halve", "plateau")


@dataclass
class RNNTrainConfig:
    """How to train: sampling, optimizer, schedule, clipping, evaluation. Defaults: Zaremba "small"."""

    batch_size: int = 20
    num_steps: int = 20
    sampling: str = "sequential"       # or "random"
    full_coverage: bool = False        # random sampling: reach the corpus tail too (see LMBatches)
    epochs: int = 13
    max_steps: int | None = None       # stop early (smoke runs, benchmarks)
    max_time: float | None = None      # seconds
    optimizer: str = "sgd"             # or "adam"
    lr: float = 1.0
    momentum: float = 0.0
    weight_decay: float = 0.0
    loss: str = "time_sum"             # or "token_mean" (see the module docstring)
    clip_norm: float | None = 5.0      # global gradient norm
    schedule: str = "halve"            # "constant", "halve" (after epoch halve_after), "plateau"
    halve_after: int = 4
    lr_factor: float = 0.5
    patience: int = 0                  # plateau: validations without improvement before decaying
    early_stopping: int | None = None  # stop after this many validations without improvement
    eval_batch_size: int = 10          # validation each epoch
    test_batch_size: int = 1           # one stream: every token sees its full history
    eval_num_steps: int = 50           # chunk length when evaluating (carried state: no effect on ppl)
    log_every: int = 100
    ckpt_every_steps: int | None = None

    def validate(self) -> None:
        checks = [(self.sampling in ("sequential", "random"), f"unknown sampling '{self.sampling}'",
                   "use sequential or random"),
                  (self.optimizer in OPTIMIZERS, f"unknown optimizer '{self.optimizer}'", "use sgd or adam"),
                  (self.loss in LOSSES, f"unknown loss '{self.loss}'", "use token_mean or time_sum"),
                  (self.schedule in SCHEDULES, f"unknown schedule '{self.schedule}'",
                   f"use one of {', '.join(SCHEDULES)}"),
                  (self.lr > 0, f"lr must be > 0 (got {self.lr})", "e.g. lr=1 for SGD, 0.002 for Adam"),
                  (self.epochs >= 1, f"epochs must be >= 1 (got {self.epochs})", "e.g. epochs=13")]
        for ok, message, fix in checks:
            if not ok:
                raise SeqkitError(message, fix=fix)

    @classmethod
    def from_dict(cls, d: dict) -> RNNTrainConfig:
        from seqkit.settings import from_dict

        return from_dict(cls, d, "train")


# --------------------------------------------------------------------------------------------------
# One training step, with the hidden-state rule
# --------------------------------------------------------------------------------------------------

class LMStep:
    """The trainer's ``step_fn`` for an RNN LM: ``step(model, (X, Y)) -> StepOutput``.

    ``X``, ``Y``: (B, T) token ids. Keeps the carried hidden state (sequential sampling) and puts it
    into checkpoints, so a resume in the middle of an epoch continues exactly.
    """

    def __init__(self, sampling: str = "sequential", loss: str = "token_mean") -> None:
        if sampling not in ("sequential", "random"):
            raise SeqkitError(f"unknown sampling '{sampling}'", fix="use sequential or random")
        if loss not in LOSSES:
            raise SeqkitError(f"unknown loss '{loss}'", fix="use token_mean or time_sum")
        self.sampling, self.loss = sampling, loss
        self.state: State | None = None

    def on_epoch_start(self, epoch: int) -> None:
        self.state = None  # a new pass over the stream: start from zeros

    def __call__(self, model: RNNLM, batch: tuple[torch.Tensor, torch.Tensor]):
        from seqkit.train import StepOutput

        X, Y = batch
        state = detach_state(self.state) if self.sampling == "sequential" else None
        if state is not None and _device_of(state) != X.device:  # resumed from a CPU checkpoint
            state = tuple(s.to(X.device) for s in state) if isinstance(state, tuple) else state.to(X.device)
        logits, state = model(X, state)
        self.state = state if self.sampling == "sequential" else None
        nll = lm_loss(logits, Y)                              # mean over the B*T target tokens
        loss = nll * Y.shape[1] if self.loss == "time_sum" else nll
        # the trainer logs "loss" (the scaled one) and this per-token "nll" (exp(nll) = train ppl)
        return StepOutput(loss=loss, n_items=Y.numel(), metrics={"nll": nll.detach()})

    def state_dict(self) -> dict[str, Any]:
        state = detach_state(self.state)
        if state is None:
            return {"state": []}
        parts = list(state) if isinstance(state, tuple) else [state]
        return {"state": [t.cpu() for t in parts]}

    def load_state_dict(self, d: dict[str, Any]) -> None:
        parts = d.get("state") or []
        self.state = None if not parts else (tuple(parts) if len(parts) == 2 else parts[0])



def _device_of(state: State) -> torch.device:
    return (state[0] if isinstance(state, tuple) else state).device


# --------------------------------------------------------------------------------------------------
# Evaluation: perplexity over a whole stream, every token scored once
# --------------------------------------------------------------------------------------------------

@torch.no_grad()
def evaluate_ppl(model: RNNLM, ids: Sequence[int] | torch.Tensor, batch_size: int = 1,
                 num_steps: int = 50, split_ranks: bool = False) -> dict[str, float]:
    """Perplexity of ``ids`` (one token stream), carrying the hidden state through it.

    The stream is cut into ``batch_size`` contiguous rows (as in training); each row is read in
    chunks of ``num_steps`` with its state carried over, so every predicted token sees its row's whole
    history and ``num_steps`` only trades speed for memory. ``batch_size=1`` (the default, and how
    Zaremba et al. report test perplexity) scores every token but the first. Returns ``ppl``, ``nll``
    (nats per token) and ``tokens``.

    ``split_ranks``: under ``torchrun`` each rank reads every ``world_size``-th row and the losses are
    summed over the ranks (every rank must call it). The rows, and so the history each token sees, are
    those of one process; only a row's float32 sums come from a batch of fewer rows, so the perplexity
    equals one process's to about 1e-6 (relative). It splits the ``batch_size`` rows: with fewer rows
    than ranks, some ranks only wait.
    """
    from seqkit.train.distributed import all_reduce_sum, shard

    ids = torch.as_tensor(ids, dtype=torch.long).reshape(-1)
    per_row = (len(ids) - 1) // batch_size
    if per_row < 1:
        raise SeqkitError(f"{len(ids)} tokens are too few to evaluate with batch_size {batch_size}",
                          fix="give more text or a smaller batch size")
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    X = ids[: per_row * batch_size].view(batch_size, per_row)
    Y = ids[1: per_row * batch_size + 1].view(batch_size, per_row)
    if split_ranks:
        rows = shard(range(batch_size))
        X, Y = X[rows], Y[rows]
    X, Y = X.to(device), Y.to(device)
    total = torch.zeros((), dtype=torch.float64, device=device)
    state = None
    for i in range(0, per_row if len(X) else 0, num_steps):  # a rank without rows reads nothing
        logits, state = model(X[:, i:i + num_steps], state)
        total += lm_loss(logits, Y[:, i:i + num_steps], reduction="sum").double()
    model.train(was_training)
    total = all_reduce_sum([total.item()], device)[0] if split_ranks else total.item()
    tokens = per_row * batch_size
    nll = total / tokens
    return {"ppl": math.exp(nll), "nll": nll, "tokens": float(tokens)}


# --------------------------------------------------------------------------------------------------
# Data: text lines -> one id stream
# --------------------------------------------------------------------------------------------------

def encode_stream(lines: Sequence[str], tokenize: Callable[[str], list[str]], vocab,
                  eos_per_line: bool) -> torch.Tensor:
    """Token ids of ``lines`` as one 1-D LongTensor.

    ``eos_per_line=True`` (word level, PTB/WikiText): each line's tokens then ``<eos>``, the usual
    sentence boundary of these corpora. ``False`` (char level, d2l's time machine): the lines joined
    with newlines and tokenized as one text (the tokenizer decides what a newline becomes). A bare
    string is one line (:mod:`seqkit.sentences`).
    """
    lines, _ = one_or_many(lines)
    if eos_per_line:
        ids: list[int] = []
        for line in lines:
            ids.extend(vocab[tokenize(line)])
            ids.append(vocab.eos_id)
        return torch.tensor(ids, dtype=torch.long)
    return torch.tensor(vocab[tokenize("\n".join(lines))], dtype=torch.long)


# --------------------------------------------------------------------------------------------------
# The whole training run
# --------------------------------------------------------------------------------------------------

def make_schedule(optimizer: torch.optim.Optimizer, cfg: RNNTrainConfig):
    """The config's schedule; ``plateau`` watches the validation perplexity (lower is better)."""
    from seqkit.train import schedule_from

    return schedule_from(cfg, optimizer, mode="min")


def train_rnn_lm(model: RNNLM, train_ids: torch.Tensor, valid_ids: torch.Tensor | None = None,
                 test_ids: torch.Tensor | None = None, cfg: RNNTrainConfig | None = None, *,
                 device: str | torch.device | None = "cpu", run_dir: str | Path | None = None,
                 seed: int = 0, resume: bool = False, progress: bool = True, plot: bool = True,
                 log_fn: Callable[[dict], None] | None = None, threads: int | None = None) -> dict[str, Any]:
    """Train ``model`` on the id stream ``train_ids`` with the shared trainer; returns the figures.

    Validation perplexity is computed after every epoch (``monitor="ppl"``, lower is better; the
    plateau schedule listens to it); test perplexity once at the end, on the final weights. With a
    ``run_dir`` the trainer writes metrics, curves and checkpoints there and ``resume=True``
    continues exactly. ``threads``: torch's CPU threads while it trains (default: the caller's count
    if they set one, else the free cores, as the CLI does). Returned: ``train_tokens_per_s``, ``valid_ppl``, ``test_ppl``, ``epochs``,
    ``steps``, ``stopped``, ``train_seconds``.
    """
    from seqkit.data import LMBatches
    from seqkit.train import Trainer, build_optimizer

    cfg = cfg or RNNTrainConfig()
    cfg.validate()
    if cfg.sampling == "sequential" and int(os.environ.get("WORLD_SIZE", "1")) > 1:
        # Under DDP rank r trains on every world_size-th batch, so the state it carries would come
        # from a batch that does not precede the next one in the stream.
        raise SeqkitError("sequential sampling cannot run under torchrun: each rank would carry its hidden "
                          "state into a batch that does not continue the one it came from",
                          fix="use train.sampling=random under torchrun, or train in one process")
    batches = LMBatches(train_ids, cfg.batch_size, cfg.num_steps, sampling=cfg.sampling,
                        full_coverage=cfg.full_coverage, seed=seed)
    optimizer = build_optimizer(cfg.optimizer, model.parameters(), cfg.lr, momentum=cfg.momentum,
                                weight_decay=cfg.weight_decay)
    step = LMStep(cfg.sampling, cfg.loss)
    valid_fn = None
    if valid_ids is not None and len(valid_ids) > 1:
        def valid_fn(m):
            return evaluate_ppl(m, valid_ids, cfg.eval_batch_size, cfg.eval_num_steps, split_ranks=True)
    trainer = Trainer(model, optimizer, step, scheduler=make_schedule(optimizer, cfg),
                      clip_norm=cfg.clip_norm, device=device, run_dir=run_dir, log_every=cfg.log_every,
                      ckpt_every_steps=cfg.ckpt_every_steps, item_name="tokens", progress=progress,
                      log_fn=log_fn, plot=plot, threads=threads)
    fit = trainer.fit(batches, epochs=cfg.epochs, max_steps=cfg.max_steps, max_time=cfg.max_time,
                      valid_fn=valid_fn, monitor="ppl", mode="min", early_stopping=cfg.early_stopping,
                      resume=resume)
    result: dict[str, Any] = {"train_tokens_per_s": fit.items_per_s, "epochs": fit.epochs_done,
                              "steps": fit.steps, "stopped": fit.stopped, "train_seconds": fit.train_seconds,
                              "valid_ppl": fit.last_valid["ppl"] if fit.last_valid else None,
                              "best_valid_ppl": fit.best_score, "test_ppl": None}
    if test_ids is not None and len(test_ids) > 1:
        # every rank runs train_rnn_lm under torchrun: they share the test stream's rows too
        result["test_ppl"] = evaluate_ppl(model, test_ids, cfg.test_batch_size, cfg.eval_num_steps,
                                          split_ranks=True)["ppl"]
    return result
