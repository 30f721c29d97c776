"""The micro-batching queue: requests that arrive within a few milliseconds are decoded together.

One worker thread owns the engine. It waits for a first request, then gathers more for up to
``max_wait_ms`` (or until ``max_batch`` sentences wait), decodes them in one call per set of decode
options, and hands each request its own slice of the results. Decoding is blocking torch work, so it
never runs on the server's event loop; the loop awaits :meth:`MicroBatcher.submit`'s future through
``asyncio.wrap_future``.

Why batch: a beam search over 16 sentences costs far less than 16 searches of one (one padded
matrix product per step instead of 16), so under concurrent load throughput grows with the batch
while a lone request waits at most ``max_wait_ms`` more.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Options:
    """Decode options; only requests with equal options share one engine call. ``settings``: a
    :class:`~seqkit.seq2seq.decoding.DecodeSettings` (None: the engine's own)."""

    settings: Any = None
    attention: bool = False


class QueueFull(Exception):
    """More sentences wait than the queue admits (the server answers 503)."""


class Closed(Exception):
    """The batcher is shutting down and takes no new work (the server answers 503)."""


@dataclass
class _Job:
    sentences: list[str]
    options: Options
    future: Future = field(default_factory=Future)


class MicroBatcher:
    """A queue of translation requests in front of one engine, drained by one worker thread.

    Args:
        engine: anything with ``translate_scored(sentences, settings, attention=)`` (see
            :mod:`seqkit.serve.engine`).
        max_wait_ms: how long the worker waits for more requests after the first one (milliseconds).
        max_batch: sentences decoded together at most (a single larger request is decoded alone).
        max_queue: sentences waiting at most; :meth:`submit` raises :class:`QueueFull` beyond it.
        threads: torch threads of the worker (``None``: :func:`seqkit.threads.choose_threads`).
    """

    def __init__(self, engine: Any, *, max_wait_ms: float = 5.0, max_batch: int = 64, max_queue: int = 256,
                 threads: int | None = None) -> None:
        self.engine = engine
        self.max_wait, self.max_batch, self.max_queue = max_wait_ms / 1000.0, max_batch, max_queue
        self._cond = threading.Condition()
        self._jobs: deque[_Job] = deque()
        self._queued = 0      # sentences waiting
        self._in_flight = 0   # sentences being decoded now
        self._closed = False
        self.stats = {"requests": 0, "sentences": 0, "batches": 0, "largest_batch": 0, "errors": 0}
        self._thread = threading.Thread(target=self._work, args=(threads,), name="seqkit-serve-decoder",
                                        daemon=True)
        self._thread.start()

    # -- the request side (any thread) ------------------------------------------------------------
    def submit(self, sentences: list[str], options: Options = Options()) -> Future:
        """Queue one request; the future's result is ``engine.translate_scored``'s list for exactly
        these sentences, in order. Cancelling the future before its batch starts skips its work."""
        job = _Job(list(sentences), options)
        with self._cond:
            if self._closed:
                raise Closed("the server is shutting down")
            if self._queued + len(job.sentences) > self.max_queue:
                raise QueueFull(f"{self._queued} sentences are already waiting (the queue holds {self.max_queue})")
            self._jobs.append(job)
            self._queued += len(job.sentences)
            self._cond.notify_all()
        return job.future

    def health(self) -> dict[str, Any]:
        """The queue now (``queued`` and ``in_flight`` sentences) and the counts so far."""
        with self._cond:
            return {"status": "closing" if self._closed else "ok", "queued": self._queued,
                    "in_flight": self._in_flight, **self.stats}

    def close(self, timeout: float | None = None) -> bool:
        """Take no new work, finish every queued request, stop the worker; True when it has stopped."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        self._thread.join(timeout)
        return not self._thread.is_alive()

    # -- the worker ---------------------------------------------------------------------------------
    def _work(self, threads: int | None) -> None:
        from seqkit.threads import use_threads

        use_threads(threads)  # torch's thread count is set per thread with OpenMP: set it here too
        while (batch := self._take()) is not None:
            try:
                self._decode(batch)
            finally:
                with self._cond:
                    self._in_flight = 0
                    self._cond.notify_all()

    def _take(self) -> list[_Job] | None:
        """The next batch: the first waiting request plus those that arrive within ``max_wait``
        (up to ``max_batch`` sentences); None once closed and drained."""
        with self._cond:
            while not self._jobs and not self._closed:
                self._cond.wait()
            if not self._jobs:
                return None
            deadline = time.monotonic() + self.max_wait
            while self._queued < self.max_batch and not self._closed:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._cond.wait(left)
            batch, n = [], 0
            while self._jobs and (not batch or n + len(self._jobs[0].sentences) <= self.max_batch):
                job = self._jobs.popleft()
                self._queued -= len(job.sentences)
                if job.future.set_running_or_notify_cancel():  # False: its client went away
                    batch.append(job)
                    n += len(job.sentences)
            self._in_flight = n
            return batch

    def _decode(self, batch: list[_Job]) -> None:
        groups: dict[Options, list[_Job]] = {}
        for job in batch:
            groups.setdefault(job.options, []).append(job)
        for opts, jobs in groups.items():
            sentences = [s for job in jobs for s in job.sentences]
            try:
                results = self.engine.translate_scored(sentences, opts.settings, attention=opts.attention)
            except Exception as exc:  # noqa: BLE001 -- the requests that asked get it; the worker lives on
                self.stats["errors"] += len(jobs)
                for job in jobs:
                    job.future.set_exception(exc)
                continue
            start = 0
            for job in jobs:
                job.future.set_result(results[start:start + len(job.sentences)])
                start += len(job.sentences)
            self.stats["requests"] += len(jobs)
            self.stats["sentences"] += len(sentences)
            self.stats["batches"] += 1
            self.stats["largest_batch"] = max(self.stats["largest_batch"], len(sentences))
