"""The one training loop every seqkit model uses (NMT, RNN LMs, vision).

Contract (code against this; it is also in ``docs/design.md``)::

    trainer = Trainer(model, optimizer, step_fn, scheduler=None, clip_norm=None, accum_steps=1,
                      amp=None, device=None, run_dir=None, log_every=50, ckpt_every_steps=None,
                      keep_best=3, flops_per_item=None, item_name="items", progress=True,
                      log_fn=None, plot=True)
    result = trainer.fit(batches, epochs=1, max_steps=None, max_time=None, valid_fn=None,
                         valid_every=None, monitor="bleu", mode="max", early_stopping=None,
                         resume=False)

- ``step_fn(model, batch) -> StepOutput(loss, n_items, metrics)`` runs the forward pass of one
  micro-batch (already moved to the device) and returns the scalar ``loss`` as a **mean over its
  ``n_items``** (target tokens, words, images) plus optional extra per-item means in ``metrics``. The
  trainer does the backward pass, so an update made of several micro-batches (``accum_steps``, or
  several DDP processes) is the item-weighted mean: the same gradient as one big batch.
  A stateful ``step_fn`` (an RNN LM carrying its hidden state) may be an object with
  ``on_epoch_start(epoch)``, ``state_dict()`` and ``load_state_dict(state)``; the state goes into
  the checkpoint.
- ``batches.epoch(e, start=k)`` yields the batches of epoch ``e`` from the ``k``-th on, the same
  ones for the same ``e`` every time (``seqkit.data.ParallelBatches``, ``LMBatches``); a plain list or
  any re-iterable works too. Batches may be tensors, tuples, dicts, dataclasses or objects with
  ``.to(device)``; the trainer moves them to the device.
- ``valid_fn(model) -> dict`` evaluates the (unwrapped, eval-mode, no-grad) model and returns
  numbers including ``monitor``; it runs every ``valid_every`` updates, or after every epoch when
  ``valid_every`` is ``None``. ``mode`` says whether higher (``"max"``, BLEU) or lower (``"min"``,
  perplexity) is better. ``early_stopping=p`` stops after ``p`` validations without improvement.
- Stops at whichever comes first: ``epochs``, ``max_steps`` updates, ``max_time`` seconds (training
  plus validation, summed over resumed sessions), early stopping.
- ``scheduler``: a :mod:`seqkit.train.schedules` schedule (``step()`` after each update,
  ``on_epoch_end``, ``on_validation``) or any ``torch.optim.lr_scheduler`` (``step()`` per update).
- ``clip_norm`` clips the global gradient norm; ``amp="bf16"`` runs forward passes under bf16
  autocast (``"auto"``: where the hardware does bf16 natively, see :mod:`seqkit.train.amp`).
- Speed: an update never waits for the GPU. Loss, metrics and gradient norm stay on the device and
  are read back in bulk (when a log line is due, once a second, before validation and checkpoints);
  a non-finite loss is still reported with its update number, and never reaches a checkpoint. On a
  CPU the trainer has glibc keep freed memory (:mod:`seqkit.train.host_memory`): the same big
  buffers every step cost no page faults.
- With ``run_dir``: ``metrics.jsonl`` (one JSON object per line: ``split`` ``train``/``valid``,
  ``step``, ``epoch``, ``loss``, ``lr``, ``<item>_per_s``, ``mfu``, validation metrics),
  ``curves.png``, and ``checkpoints/`` (see :mod:`seqkit.train.checkpoint`): the last checkpoint every
  ``ckpt_every_steps`` updates, after every validation, at every epoch end and when training stops,
  plus the best ``keep_best`` weights by ``monitor``. ``resume=True`` continues from the last
  checkpoint exactly -- data position, RNG states (torch, CUDA, Python, NumPy), optimizer, schedule,
  step_fn state, best-N list, early-stopping counter, last validation, the half-done log interval,
  item and time totals -- so the losses equal an uninterrupted run's, bit for bit on a CPU, and so
  does ``metrics.jsonl`` (what a killed run logged after its last checkpoint is cut off). A killed run
  loses at most the updates since the last checkpoint; resuming a finished run does nothing more.
- Under ``torchrun`` (``WORLD_SIZE > 1``) the model is wrapped in DDP (gloo on CPU, NCCL on GPU);
  each update takes ``accum_steps * world_size`` consecutive batches and rank ``r`` runs every
  ``world_size``-th of them, so the update equals one process with ``accum_steps * world_size``
  micro-batches. At an epoch's end a group too small to give every rank a batch is dropped under DDP
  (a single process still uses it). Only rank 0 writes files. Every rank calls ``valid_fn`` and
  rank 0's result is the one every rank keeps: a ``valid_fn`` that splits its work
  (:func:`seqkit.train.distributed.shard`, ``gather_shards``, ``all_reduce_sum``, as ``train_nmt``'s,
  ``train_rnn_lm``'s and ``train_classifier``'s do) makes validation faster; one that does not
  computes the same numbers on every rank (correct, only wasteful) -- and it must not write files
  from ranks other than 0. A batch source whose ``epoch`` takes ``rank``/``world_size``
  (``ParallelBatches``) builds only the rank's own batches.

``fit`` returns a :class:`FitResult` (steps, epochs, why it stopped, best score and step, training
throughput).
"""

from __future__ import annotations

import contextlib
import dataclasses
import inspect
import itertools
import json
import math
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import torch
from torch import nn

from seqkit.errors import SeqkitError
from seqkit.io import append_line
from seqkit.threads import computes
from seqkit.train import distributed as dist_utils
from seqkit.train.amp import autocast, resolve_amp
from seqkit.train.builders import resolve_device
from seqkit.train.checkpoint import CheckpointManager, rng_state, set_rng_state
from seqkit.train.host_memory import keep_freed_memory
from seqkit.train.plots import plot_against_time, plot_metrics, read_metrics
from seqkit.train.progress import Progress, estimate_peak_flops
from seqkit.train.results import FitResult, StepOutput


def move_to(batch: Any, device: torch.device) -> Any:
    """``batch`` with every tensor in it on ``device`` (tensors, tuples, lists, dicts, dataclasses)."""
    if isinstance(batch, torch.Tensor):
        return batch.to(device, non_blocking=True)
    if isinstance(batch, dict):
        return {k: move_to(v, device) for k, v in batch.items()}
    if isinstance(batch, tuple) and hasattr(batch, "_fields"):  # namedtuple
        return type(batch)(*(move_to(v, device) for v in batch))
    if isinstance(batch, (list, tuple)):
        return type(batch)(move_to(v, device) for v in batch)
    if hasattr(batch, "to") and callable(batch.to):  # the batch knows best (seqkit.data.Batch)
        return batch.to(device)
    if dataclasses.is_dataclass(batch) and not isinstance(batch, type):
        changes = {f.name: move_to(getattr(batch, f.name), device) for f in dataclasses.fields(batch)
                   if f.init}
        return dataclasses.replace(batch, **changes)
    return batch


def _epoch_batches(batches: Any, epoch: int, start: int, rank: int = 0, world_size: int = 1) -> Iterator[Any]:
    """Batches of ``epoch`` from the ``start``-th on, whatever kind of batch source this is.

    A source whose ``epoch`` takes ``rank``/``world_size`` (``ParallelBatches``) builds only this
    rank's batches and yields ``None`` in the other ranks' places, which ``fit`` never touches.
    """
    if hasattr(batches, "epoch"):
        params = inspect.signature(batches.epoch).parameters
        if "start" in params and "rank" in params and world_size > 1:
            return iter(batches.epoch(epoch, start=start, rank=rank, world_size=world_size))
        if "start" in params:
            return iter(batches.epoch(epoch, start=start))
        return itertools.islice(batches.epoch(epoch), start, None)
    return itertools.islice(iter(batches), start, None)


def _as_float(value: Any) -> float:
    return float(value.detach().float().item()) if isinstance(value, torch.Tensor) else float(value)


def _empty_window() -> dict[str, Any]:
    """Sums over the updates read back since the last log line (loss and metrics weighted by items)."""
    return {"loss": 0.0, "items": 0.0, "seconds": 0.0, "metrics": {}, "grad_norm": None}


def _floats(values: list[Any]) -> list[float]:
    """Python floats of numbers and 0-d tensors; the tensors come back from the device in one copy."""
    tensors = [v.detach().double() for v in values if isinstance(v, torch.Tensor)]
    if not tensors:
        return [float(v) for v in values]
    read = iter(torch.stack(tensors).cpu().tolist())
    return [next(read) if isinstance(v, torch.Tensor) else float(v) for v in values]


class Trainer:
    """Trains ``model`` with ``optimizer`` on the batches ``step_fn`` turns into losses.

    See the module docstring for the full contract. Shapes are whatever ``step_fn`` understands.
    """

    def __init__(self, model: nn.Module, optimizer: torch.optim.Optimizer,
                 step_fn: Callable[[nn.Module, Any], StepOutput], scheduler: Any = None,
                 clip_norm: float | None = None, accum_steps: int = 1, amp: str | None = None,
                 device: str | torch.device | None = None, run_dir: str | Path | None = None,
                 log_every: int = 50, ckpt_every_steps: int | None = None, keep_best: int = 3,
                 keep_last: int = 1, flops_per_item: float | None = None, item_name: str = "items",
                 progress: bool = True, log_fn: Callable[[dict], None] | None = None,
                 plot: bool = True, peak_flops: float | None = None, threads: int | None = None) -> None:
        if accum_steps < 1:
            raise SeqkitError(f"accum_steps must be >= 1, got {accum_steps}")
        if clip_norm is not None and clip_norm <= 0:
            raise SeqkitError(f"clip_norm must be positive, got {clip_norm}", fix="use null to disable")
        self.device = resolve_device(device)
        self.dist = dist_utils.init_from_env(self.device)
        if self.dist.enabled and self.device.type == "cuda":
            self.device = torch.device("cuda", self.dist.local_rank)
        keep_freed_memory(self.device)  # on a CPU: no page faults for the same buffers every step
        self.model = model.to(self.device)
        self.optimizer, self.step_fn, self.scheduler = optimizer, step_fn, scheduler
        self.clip_norm, self.accum_steps = clip_norm, accum_steps
        self.amp = resolve_amp(amp, self.device)
        self.run_dir = Path(run_dir) if run_dir is not None else None
        self.log_every, self.ckpt_every_steps, self.keep_best = max(1, log_every), ckpt_every_steps, keep_best
        self.keep_last = keep_last
        self.flops_per_item, self.item_name, self.progress = flops_per_item, item_name, progress
        self.log_fn, self.plot = log_fn, plot
        self.threads = threads  # torch's CPU threads during fit (None: seqkit.threads' policy)
        self.peak_flops = peak_flops or estimate_peak_flops(self.device, self.amp)
        self.train_model: nn.Module = self.model
        if self.dist.enabled:
            ids = [self.device.index] if self.device.type == "cuda" else None
            self.train_model = nn.parallel.DistributedDataParallel(self.model, device_ids=ids)
        # Position and bookkeeping (all of it goes into the checkpoint).
        self.step = 0
        self.epoch = 0
        self.batch_in_epoch = 0
        self.elapsed = 0.0
        self.items_seen, self.train_seconds = 0.0, 0.0  # summed over sessions, like elapsed
        self.window = _empty_window()  # what was read back since the last log line
        self.last_valid: dict[str, float] | None = None
        self.last_valid_step = -1
        self.bad_validations = 0
        self.best_score: float | None = None  # known on every rank (the checkpoint list lives on rank 0)
        self.ckpt: CheckpointManager | None = None
        self._tb = None  # the TensorBoard writer, opened with the first record

    # -- files ------------------------------------------------------------------------------------
    @property
    def is_main(self) -> bool:
        return self.dist.is_main

    @property
    def metrics_file(self) -> Path | None:
        return self.run_dir / "metrics.jsonl" if self.run_dir else None

    def _record(self, record: dict[str, Any]) -> None:
        if not self.is_main:
            return
        if self.run_dir is not None:  # TensorBoard event files beside metrics.jsonl
            if self._tb is None:
                from tensorboardX import SummaryWriter

                self._tb = SummaryWriter(logdir=str(self.run_dir), flush_secs=30)
            split = record.get("split", "train")
            for key, value in record.items():
                if key not in ("split", "step", "epoch") and isinstance(value, int | float) \
                        and not isinstance(value, bool):
                    self._tb.add_scalar(f"{split}/{key}", value, record.get("step", 0))
        if self.metrics_file is not None:
            self.metrics_file.parent.mkdir(parents=True, exist_ok=True)
            append_line(self.metrics_file, json.dumps(record))
        if self.log_fn is not None:
            self.log_fn(record)

    def _truncate_metrics(self, step: int, size: int | None = None) -> None:
        """Forget the metrics a run killed after its last checkpoint logged.

        ``size`` is the file's length when that checkpoint was written: everything after it goes,
        including records of the checkpoint's own step logged after it (a final validation). A
        checkpoint without it (an older one) keeps the records up to ``step``.
        """
        if self.metrics_file is None or not self.metrics_file.is_file() or not self.is_main:
            return
        if size is not None:
            if self.metrics_file.stat().st_size > size:
                os.truncate(self.metrics_file, size)
            return
        kept = [r for r in read_metrics(self.metrics_file) if r.get("step", 0) <= step]
        from seqkit.io import write_text_atomic

        write_text_atomic(self.metrics_file, "".join(json.dumps(r) + "\n" for r in kept))

    def state_dict(self) -> dict[str, Any]:
        """Everything besides the weights that an exact resume needs."""
        rng = rng_state()
        if self.dist.enabled:
            gathered: list[Any] = [None] * self.dist.world_size
            torch.distributed.all_gather_object(gathered, rng)
            rng_all = gathered
        else:
            rng_all = [rng]
        window = {**self.window, "grad_norm": None if self.window["grad_norm"] is None
                  else _as_float(self.window["grad_norm"])}
        metrics_bytes = (self.metrics_file.stat().st_size if self.is_main and self.metrics_file is not None
                         and self.metrics_file.is_file() else 0)
        state = {"step": self.step, "epoch": self.epoch, "batch_in_epoch": self.batch_in_epoch,
                 "elapsed": self.elapsed, "bad_validations": self.bad_validations,
                 "best_score": self.best_score, "items": self.items_seen,
                 "train_seconds": self.train_seconds, "window": window, "metrics_bytes": metrics_bytes,
                 "last_valid": self.last_valid, "last_valid_step": self.last_valid_step,
                 "optimizer": self.optimizer.state_dict(), "rng": rng_all,
                 "world_size": self.dist.world_size}
        if self.scheduler is not None:
            state["scheduler"] = self.scheduler.state_dict()
        if hasattr(self.step_fn, "state_dict"):
            state["step_fn"] = self.step_fn.state_dict()
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.step, self.epoch = int(state["step"]), int(state["epoch"])
        self.batch_in_epoch, self.elapsed = int(state["batch_in_epoch"]), float(state["elapsed"])
        self.bad_validations = int(state.get("bad_validations", 0))
        self.best_score = state.get("best_score")
        # Checkpoints written before these keys existed load too (with fresh counts).
        self.items_seen = float(state.get("items", 0.0))
        self.train_seconds = float(state.get("train_seconds", 0.0))
        self.window = dict(state.get("window") or _empty_window())
        self.last_valid = state.get("last_valid")
        self.last_valid_step = int(state.get("last_valid_step", -1))
        self.optimizer.load_state_dict(state["optimizer"])
        if self.scheduler is not None and "scheduler" in state:
            self.scheduler.load_state_dict(state["scheduler"])
        if hasattr(self.step_fn, "load_state_dict") and "step_fn" in state:
            self.step_fn.load_state_dict(state["step_fn"])
        rngs = state["rng"]
        if state.get("world_size", 1) != self.dist.world_size:
            raise SeqkitError(f"checkpoint was written by {state.get('world_size', 1)} processes, "
                              f"resuming with {self.dist.world_size}",
                              fix="resume with the same number of processes")
        set_rng_state(rngs[self.dist.rank])

    def save_checkpoint(self) -> None:
        """Write the last checkpoint now (rank 0; every rank must call it under DDP)."""
        if self.ckpt is None:  # no run directory (the same on every rank): nothing to write
            return
        state = self.state_dict()  # collective under DDP: all ranks take part
        if self.is_main:
            self.ckpt.save_last(self.step, self.model.state_dict(), state)

    def resume(self) -> bool:
        """Load the last checkpoint of ``run_dir`` if there is one; returns whether it did."""
        if self.ckpt is None or not self.ckpt.has_last():
            return False
        weights, state = self.ckpt.load_last()
        try:
            self.model.load_state_dict(weights)
        except RuntimeError as exc:
            raise SeqkitError(f"checkpoint does not fit this model ({str(exc).splitlines()[0]})",
                              path=self.ckpt.dir, fix="resume with the config that wrote it") from None
        self.load_state_dict(state)
        self._truncate_metrics(self.step, state.get("metrics_bytes"))
        return True

    # -- one update -------------------------------------------------------------------------------
    def _lr(self) -> float:
        return float(self.optimizer.param_groups[0]["lr"])

    def _update(self, micro_batches: list[Any]) -> tuple[Any, float, dict[str, Any], Any]:
        """Forward + backward over this rank's micro-batches, then one optimizer step.

        Returns the global item-weighted mean loss, the global item count, extra metrics (means) and
        the gradient norm. In a single process the loss, metrics and norm stay 0-d tensors on the
        device, so an update never waits for the GPU: :meth:`fit` reads them in bulk now and then.
        """
        self.train_model.train()
        if len(micro_batches) == 1 and not self.dist.enabled:
            # The common case, kept as lean as a hand-written loop: no extra kernels, no scaling.
            with autocast(self.device, self.amp):
                out = self.step_fn(self.train_model, move_to(micro_batches[0], self.device))
            out.loss.backward()
            loss, items = out.loss.detach(), float(out.n_items)
            metrics = {k: v.detach() if isinstance(v, torch.Tensor) else float(v) for k, v in out.metrics.items()}
        else:
            loss, items, metrics = self._accumulate(micro_batches)
        if items <= 0:
            raise SeqkitError("an update had no items (every batch empty)",
                              fix="check the data: empty lines or a too small max_tokens")
        grad_norm = None
        if self.clip_norm is not None:
            grad_norm = torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.clip_norm)
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        if self.scheduler is not None:
            self.scheduler.step()
        return loss, items, metrics, grad_norm

    def _accumulate(self, micro_batches: list[Any]) -> tuple[Any, float, dict[str, Any]]:
        """Gradient of the item-weighted mean loss over several micro-batches (and DDP ranks)."""
        model = self.train_model
        loss_sum = torch.zeros((), dtype=torch.float64, device=self.device)
        items, extra = 0.0, {}
        for i, batch in enumerate(micro_batches):
            sync = not self.dist.enabled or i == len(micro_batches) - 1
            with model.no_sync() if not sync else contextlib.nullcontext():
                with autocast(self.device, self.amp):
                    out = self.step_fn(model, move_to(batch, self.device))
                n = float(out.n_items)
                (out.loss * n).backward()  # sum of per-item losses; divided by the global count below
            loss_sum += out.loss.detach().double() * n
            items += n
            for k, v in out.metrics.items():
                v = v.detach().double() if isinstance(v, torch.Tensor) else float(v)
                extra[k] = extra.get(k, 0.0) + v * n
        keys = sorted(extra)
        if self.dist.enabled:  # one collective for all the numbers (it waits for the device anyway)
            totals = dist_utils.all_reduce_sum([loss_sum.item(), items, *(_as_float(extra[k]) for k in keys)],
                                               self.device)
            loss_sum, items, extra = totals[0], totals[1], dict(zip(keys, totals[2:]))
        if items > 0:
            # DDP averaged the gradients over ranks (divided by world size): undo that, divide by items.
            scale = self.dist.world_size / items
            for p in self.model.parameters():
                if p.grad is not None:
                    p.grad.mul_(scale)
        per_item = 1.0 / max(items, 1e-30)
        return loss_sum * per_item, items, {k: v * per_item for k, v in extra.items()}

    # -- validation -------------------------------------------------------------------------------
    def _validate(self, valid_fn: Callable[[nn.Module], dict], monitor: str | None) -> dict[str, float]:
        """``valid_fn`` on every rank (each may do its share of the work); rank 0's numbers on all."""
        self.model.eval()
        with torch.no_grad():
            result = {k: _as_float(v) for k, v in dict(valid_fn(self.model)).items()}
        self.model.train()
        result = dist_utils.broadcast_object(result)
        if monitor is not None and monitor not in result:  # every rank sees it, so none is left waiting
            raise SeqkitError(f"validation returned no {monitor!r} (it gave {sorted(result)})",
                              fix="set monitor to one of those names")
        return result

    # -- the loop ---------------------------------------------------------------------------------
    @computes
    def fit(self, batches: Any, epochs: int = 1, max_steps: int | None = None,
            max_time: float | None = None, valid_fn: Callable[[nn.Module], dict] | None = None,
            valid_every: int | None = None, monitor: str | None = "bleu", mode: str = "max",
            early_stopping: int | None = None, resume: bool = False) -> FitResult:
        """Train until ``epochs``, ``max_steps``, ``max_time`` or early stopping; see the module doc."""
        if mode not in ("max", "min"):
            raise SeqkitError(f"mode must be 'max' or 'min', got {mode!r}",
                              fix="max when higher is better (BLEU), min for loss or perplexity")
        if valid_fn is None:
            monitor = None
        if self.run_dir is not None:
            self.ckpt = CheckpointManager(self.run_dir / "checkpoints", self.keep_best if monitor else 0,
                                          mode, keep_last=self.keep_last)
        if resume and self.ckpt is None:
            raise SeqkitError("resume needs a run directory", fix="pass run_dir to the Trainer")
        resumed = self.resume() if resume else False
        group_size = self.accum_steps * self.dist.world_size
        total = max_steps
        # A time budget usually ends the run long before "epochs" would: no made-up total then.
        if total is None and max_time is None and hasattr(batches, "__len__"):
            try:
                total = math.ceil(len(batches) / group_size) * epochs
            except TypeError:
                total = None
        bar = Progress(total, enabled=self.progress and self.is_main, item_name=self.item_name,
                       flops_per_item=self.flops_per_item, peak_flops=self.peak_flops,
                       initial=self.step,
                       desc="train" if max_time is None else f"train (stops after {max_time:.0f} s)")
        if resumed:
            bar.write(f"resumed at update {self.step} (epoch {self.epoch + 1}, batch {self.batch_in_epoch})")
        stopped = "epochs"
        if valid_fn is not None and early_stopping is not None and self.bad_validations >= early_stopping:
            stopped = "early_stopping"  # resumed after it had stopped early: nothing left to do
        session_start = time.perf_counter() - self.elapsed
        # Updates whose numbers are still on the device. Reading them back makes the host wait for
        # the GPU, so it happens in bulk: when a log line is due, a second has passed, and before
        # validating or checkpointing (so a checkpoint never holds weights after a non-finite loss).
        pending: list[dict[str, Any]] = []
        window = self.window  # what was read back since the last log line (checkpointed)
        clock = time.perf_counter()  # training time not yet counted starts here

        def flush() -> None:
            """Read the pending updates back (one wait for the device), check and count them."""
            nonlocal clock
            done = pending[:]
            pending.clear()
            if done:
                losses = _floats([u["loss"] for u in done])
                keys = sorted(set().union(*(u["metrics"] for u in done)))
                values = {k: _floats([u["metrics"].get(k, 0.0) for u in done]) for k in keys}
                seconds = time.perf_counter() - clock  # the device has finished these updates now
                for i, (u, loss) in enumerate(zip(done, losses)):
                    if not math.isfinite(loss):
                        raise SeqkitError(f"the loss became {loss} at update {u['step']}",
                                          fix="lower the learning rate, raise warmup or set clip_norm")
                    window["loss"] += loss * u["items"]
                    for k in keys:
                        window["metrics"][k] = window["metrics"].get(k, 0.0) + values[k][i] * u["items"]
                items = sum(u["items"] for u in done)
                window["items"] += items
                window["seconds"] += seconds
                window["grad_norm"] = done[-1]["grad_norm"]
                self.train_seconds += seconds
                self.items_seen += items
                mean = sum(loss * u["items"] for u, loss in zip(done, losses)) / items
                bar.update(len(done), loss=mean, items=items, seconds=seconds, lr=self._lr())
            clock = time.perf_counter()

        def log_train() -> None:
            w = window["items"]
            if w <= 0:
                return
            rate = w / max(window["seconds"], 1e-9)
            record = {"split": "train", "step": self.step, "epoch": self.epoch + 1,
                      "loss": window["loss"] / w, "lr": self._lr(), f"{self.item_name}_per_s": rate}
            if self.flops_per_item and self.peak_flops:
                record["mfu"] = self.flops_per_item * rate / self.peak_flops
            if window["grad_norm"] is not None:
                record["grad_norm"] = _as_float(window["grad_norm"])
            record.update({k: v / w for k, v in window["metrics"].items()})
            self._record(record)
            bar.log(self.step, loss=record["loss"], lr=record["lr"], rate=rate, mfu=record.get("mfu"))
            window.update(_empty_window())

        def checkpoint() -> None:
            nonlocal clock
            flush()
            self.elapsed = time.perf_counter() - session_start
            self.save_checkpoint()
            clock = time.perf_counter()  # checkpointing is not training time

        def out_of_time() -> bool:
            if max_time is None:
                return False
            late = float(time.perf_counter() - session_start >= max_time)
            # under DDP every rank must stop at the same update: stop when any rank is out of time
            return dist_utils.all_reduce_sum([late], self.device)[0] > 0 if self.dist.enabled else bool(late)

        def do_validation() -> bool:
            """Validate, keep best-N, checkpoint; returns True when early stopping triggers."""
            nonlocal clock
            flush()
            last_valid = self._validate(valid_fn, monitor)
            self.last_valid, self.last_valid_step = last_valid, self.step
            # right after an epoch ends the counter already names the next one: report the finished one
            epoch = self.epoch if self.batch_in_epoch == 0 and self.epoch > 0 else self.epoch + 1
            # time: wall-clock seconds since the run began (summed over resumed sessions, validation
            # included), for the score-against-time record (plots.plot_against_time)
            record = {"split": "valid", "step": self.step, "epoch": epoch, **last_valid,
                      "time": round(time.perf_counter() - session_start, 3)}
            improved = True
            if monitor is not None:
                score = last_valid[monitor]
                if self.scheduler is not None and hasattr(self.scheduler, "on_validation"):
                    self.scheduler.on_validation(score)
                improved = self.best_score is None or (
                    score > self.best_score if mode == "max" else score < self.best_score)
                if improved:
                    self.best_score = score
                if self.ckpt is not None and self.is_main:
                    self.ckpt.update_best(self.step, score, self.model.state_dict())
                self.bad_validations = 0 if improved else self.bad_validations + 1
            self._record(record)
            bar.write("valid @ {}: {}".format(self.step, ", ".join(f"{k} {v:.4g}" for k, v in last_valid.items())))
            bar.reset_rate()
            clock = time.perf_counter()  # validation is not training time
            return early_stopping is not None and self.bad_validations >= early_stopping

        try:
            while self.epoch < epochs and stopped == "epochs":
                if self.batch_in_epoch == 0 and hasattr(self.step_fn, "on_epoch_start"):
                    self.step_fn.on_epoch_start(self.epoch)
                it = _epoch_batches(batches, self.epoch, self.batch_in_epoch, self.dist.rank, self.dist.world_size)
                while True:
                    if max_steps is not None and self.step >= max_steps:
                        stopped = "max_steps"
                        break
                    if out_of_time():
                        stopped = "max_time"
                        break
                    group = list(itertools.islice(it, group_size))
                    if not group or (self.dist.enabled and len(group) < self.dist.world_size):
                        break
                    mine = group[self.dist.rank::self.dist.world_size]
                    loss, n_items, metrics, grad_norm = self._update(mine)
                    self.step += 1
                    self.batch_in_epoch += len(group)
                    self.elapsed = time.perf_counter() - session_start
                    pending.append({"step": self.step, "loss": loss, "items": n_items, "metrics": metrics,
                                    "grad_norm": grad_norm})
                    log_due = self.step % self.log_every == 0
                    # Under DDP the numbers are on the host already (all-reduced), and reading them at
                    # once keeps the ranks in step: all see a non-finite loss at the same update.
                    if log_due or self.dist.enabled or time.perf_counter() - clock >= 1.0:
                        flush()
                    if log_due:
                        log_train()
                    validated = False
                    if valid_fn is not None and valid_every and self.step % valid_every == 0:
                        validated = True
                        if do_validation():
                            stopped = "early_stopping"
                    if validated or (self.ckpt_every_steps and self.step % self.ckpt_every_steps == 0):
                        checkpoint()
                    if stopped != "epochs":
                        break
                if stopped != "epochs":
                    break
                # The epoch is over (validation and checkpoint below read the pending updates back).
                if self.scheduler is not None and hasattr(self.scheduler, "on_epoch_end"):
                    self.scheduler.on_epoch_end(self.epoch)
                self.epoch += 1
                self.batch_in_epoch = 0
                if valid_fn is not None and not valid_every and do_validation():
                    stopped = "early_stopping"
                checkpoint()
            # Final validation (when the run ended between validations) and checkpoint.
            if valid_fn is not None and stopped != "early_stopping" and self.last_valid_step != self.step:
                do_validation()
            checkpoint()
        finally:
            bar.close()
            if self._tb is not None:
                self._tb.close()
                self._tb = None
            if self.plot and self.is_main and self.metrics_file is not None and self.metrics_file.is_file():
                plot_metrics(self.metrics_file, self.run_dir / "curves.png")
                if monitor is not None:
                    plot_against_time(self.metrics_file, self.run_dir / f"{monitor}_time.png", monitor)
        best = self.ckpt.best[0] if self.ckpt is not None and self.ckpt.best else None
        return FitResult(steps=self.step, epochs_done=self.epoch, stopped=stopped,
                         best_score=best["score"] if best else None, best_step=best["step"] if best else None,
                         last_valid=self.last_valid, train_seconds=self.train_seconds, items=self.items_seen,
                         items_per_s=self.items_seen / self.train_seconds if self.train_seconds else 0.0,
                         best_path=str(self.ckpt.best_path) if self.ckpt and self.ckpt.best_path else None)
