"""The micro-batching queue: requests that arrive within a few milliseconds are decoded together.

One worker thread owns a queue in front of the engine. It waits for a first request, then gathers
more for up to ``max_wait_ms`` (or until ``max_batch`` sentences wait), decodes them in one call per
set of decode options, and hands each request its own slice of the results. Decoding is blocking torch
work, so it never runs on the server's event loop; the loop awaits :meth:`MicroBatcher.submit`'s future
through ``asyncio.wrap_future``.

Why batch: a beam search over 16 sentences costs far less than 16 searches of one (one padded
matrix product per step instead of 16), so under concurrent load throughput grows with the batch
while a lone request waits at most ``max_wait_ms`` more.

A request larger than ``max_batch`` sentences, or costing more than ``chunk_work`` work units, is
decoded in parts, one engine call each, and waits at the back of the queue between its parts: so
requests take turns, and a request whose client went away (:meth:`MicroBatcher.cancel`) is dropped
from the queue at once or, while one of its parts is decoded, never continued. An engine call itself
is not interrupted (the engine gives no way to), so a part is the unit of cancellation.

A streamed request (:meth:`MicroBatcher.submit` with ``on_part``) hears of each part as soon as it is
decoded, and is decoded in parts of 1, 2, 4 ... sentences (up to ``max_batch``): its first sentence
comes back after one sentence's decoding, and the rest are still decoded in batches.

The worker is watched: if it dies (an exception that is not the engine's failure on a batch, which
goes to the requests of that batch), every waiting request fails with :class:`Closed`, :meth:`health`
says ``"dead"`` and :attr:`MicroBatcher.failure` says why; the server then exits (``seqkit.serve.app``).
"""

from __future__ import annotations

import os
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import CancelledError, Future
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
    """The batcher is shutting down, or its worker died, and takes no new work (the server answers 503)."""


@dataclass(eq=False)
class _Job:
    sentences: list[str]
    options: Options
    work: list[int]                       # work units of each sentence (1 each when not given)
    future: Future = field(default_factory=Future)
    results: list = field(default_factory=list)
    next: int = 0                         # the first sentence not yet taken for decoding
    cancelled: bool = False               # its client went away: decode no more of it
    ended: bool = False                   # no more parts: cancelled, or failed
    on_part: Callable[[int, list], Any] | None = None  # a stream: told (start, results) of each part
    part: int | None = None               # a stream: sentences of its next part at most (1, 2, 4 ...)

    @property
    def rest(self) -> int:
        return len(self.sentences) - self.next


class MicroBatcher:
    """A queue of translation requests in front of one engine, drained by one worker thread.

    Args:
        engine: anything with ``translate_scored(sentences, settings, attention=)`` (see
            :mod:`seqkit.serve.engine`).
        max_wait_ms: how long the worker waits for more requests after the first one (milliseconds).
        max_batch: sentences decoded together at most (a larger request is decoded in parts).
        max_queue: sentences waiting at most; :meth:`submit` raises :class:`QueueFull` beyond it.
        threads: torch threads of the worker (``None``: :func:`seqkit.threads.choose_threads`).
        chunk_work: work units per engine call at most (a larger request is decoded in parts of at
            least one sentence); None: no such bound.
        nice: the worker's CPU priority, added to the process's (Linux ``nice``: 10 lets every other
            thread go first when the cores are busy); 0 keeps it.
        name: the worker thread's name (``seqkit-serve-decoder`` ...).
    """

    def __init__(self, engine: Any, *, max_wait_ms: float = 5.0, max_batch: int = 64, max_queue: int = 256,
                 threads: int | None = None, chunk_work: int | None = None, nice: int = 0,
                 name: str = "seqkit-serve-decoder") -> None:
        self.engine = engine
        self.max_wait, self.max_batch, self.max_queue = max_wait_ms / 1000.0, max_batch, max_queue
        self.chunk_work, self.nice = chunk_work, nice
        self.failure: str | None = None  # why the worker died, once it has
        self._cond = threading.Condition()
        self._jobs: deque[_Job] = deque()
        self._current: list[tuple[_Job, int, int]] = []  # the parts being decoded now
        self._queued = 0      # sentences waiting
        self._in_flight = 0   # sentences being decoded now
        self._closed = False
        self.stats = {"requests": 0, "sentences": 0, "batches": 0, "largest_batch": 0, "errors": 0,
                      "cancelled": 0}
        self._thread = threading.Thread(target=self._work, args=(threads,), name=name, daemon=True)
        self._thread.start()

    # -- the request side (any thread) ------------------------------------------------------------
    def submit(self, sentences: list[str], options: Options = Options(), work: list[int] | None = None, *,
               on_part: Callable[[int, list], Any] | None = None) -> Future:
        """Queue one request; the future's result is ``engine.translate_scored``'s list for exactly
        these sentences, in order. ``work``: each sentence's work units (for ``chunk_work``).
        ``on_part``: a stream -- called in the worker thread with ``(start, results)`` as each part is
        decoded (the results of sentences ``start ...``, parts in order, all before the future ends),
        the parts 1, 2, 4 ... sentences long; it must return at once (hand the results to another
        thread) and what it raises is ignored.
        Cancelling the future before its decoding starts skips its work; :meth:`cancel` does more."""
        job = _Job(list(sentences), options, list(work) if work is not None else [1] * len(sentences),
                   on_part=on_part, part=1 if on_part is not None else None)
        with self._cond:
            if self._closed:
                raise Closed(self.failure or "the server is shutting down")
            if self._queued + len(job.sentences) > self.max_queue:
                raise QueueFull(f"{self._queued} sentences are already waiting (the queue holds {self.max_queue})")
            self._jobs.append(job)
            self._queued += len(job.sentences)
            self._cond.notify_all()
        return job.future

    def cancel(self, future: Future) -> bool:
        """Drop the work of the request ``future`` belongs to (its client went away, or its deadline
        passed): waiting, it leaves the queue now; partly decoded, its other parts are never decoded
        and the future ends with ``CancelledError``. False when it had already finished."""
        with self._cond:
            job = next((j for j in self._jobs if j.future is future), None)
            in_flight = next((j for j, _, _ in self._current if j.future is future), None)
            job = job or in_flight
            if job is None or job.cancelled or future.done():
                return False
            job.cancelled = job.ended = True
            if job in self._jobs:
                self._jobs.remove(job)
            self._queued -= job.rest  # its sentences not yet taken wait no more
            if not future.cancel() and in_flight is None:  # running, and no part of it is decoding now
                future.set_exception(CancelledError())
            self.stats["cancelled"] += 1
            self._cond.notify_all()
            return True

    @property
    def alive(self) -> bool:
        """Whether the worker is running (False once it has died, or stopped after :meth:`close`)."""
        return self._thread.is_alive() and self.failure is None

    def health(self) -> dict[str, Any]:
        """The queue now (``queued`` and ``in_flight`` sentences) and the counts so far; ``status`` is
        ``ok``, ``closing`` or ``dead`` (the worker died: ``failure`` says why)."""
        with self._cond:
            status = "dead" if self.failure else "closing" if self._closed else "ok"
            out = {"status": status, "queued": self._queued, "in_flight": self._in_flight, **self.stats}
            if self.failure:
                out["failure"] = self.failure
            return out

    def close(self, timeout: float | None = None) -> bool:
        """Take no new work, finish every queued request, stop the worker; True when it has stopped."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        self._thread.join(timeout)
        return not self._thread.is_alive()

    # -- the worker ---------------------------------------------------------------------------------
    def _work(self, threads: int | None) -> None:
        try:
            from seqkit.threads import use_threads

            use_threads(threads)  # torch's thread count is set per thread with OpenMP: set it here too
            if self.nice:
                _lower_priority(self.nice)
            while (batch := self._take()) is not None:
                self._decode(batch)  # an engine's failure goes to its requests; anything else ends the worker
                with self._cond:
                    for job, _, _ in batch:  # the rest of a request decoded in parts: behind those queued now
                        if job.rest and not job.ended:
                            self._jobs.append(job)
                    self._in_flight = 0
                    self._current = []
                    self._cond.notify_all()
        except BaseException as exc:  # noqa: BLE001 -- the worker is dead: say so to every waiting request
            self._die(f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__)

    def _die(self, why: str) -> None:
        with self._cond:
            self.failure = f"the decoder thread died ({why})"
            self._closed = True
            jobs = [*self._jobs, *(j for j, _, _ in self._current)]
            self._jobs.clear()
            self._queued = self._in_flight = 0
            self._current = []
            self._cond.notify_all()
        for job in jobs:
            if not job.future.done():
                job.future.set_exception(Closed(self.failure))

    def _take(self) -> list[tuple[_Job, int, int]] | None:
        """The next batch as ``(job, start, stop)`` parts: the first waiting request plus those that
        arrive within ``max_wait`` (up to ``max_batch`` sentences and ``chunk_work`` units); None once
        closed and drained. A request taken in part waits, once that part is decoded, behind the
        requests queued by then for its next part."""
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
            parts: list[tuple[_Job, int, int]] = []
            n = work = 0
            budget = self.chunk_work
            while self._jobs:
                job = self._jobs[0]
                want = job.rest if job.part is None else min(job.rest, job.part)  # its next part, whole
                rest_work = sum(job.work[job.next:job.next + want])
                if parts and (n + want > self.max_batch or budget is not None and work + rest_work > budget):
                    break
                self._jobs.popleft()
                if job.next == 0 and not job.future.set_running_or_notify_cancel():  # its client went away
                    self._queued -= job.rest
                    continue
                take = min(want, self.max_batch - n)
                if budget is not None:
                    while take > 1 and work + sum(job.work[job.next:job.next + take]) > budget:
                        take -= 1
                parts.append((job, job.next, job.next + take))
                job.next += take
                self._queued -= take
                n += take
                work += sum(job.work[parts[-1][1]:job.next])
                if job.part is not None:
                    job.part = min(2 * job.part, self.max_batch)
                if take < want:  # the batch is full
                    break
            self._in_flight = n
            self._current = parts
            return parts

    def _decode(self, parts: list[tuple[_Job, int, int]]) -> None:
        groups: dict[Options, list[tuple[_Job, int, int]]] = {}
        for part in parts:
            groups.setdefault(part[0].options, []).append(part)
        for opts, parts_of_call in groups.items():
            for job, _, stop in parts_of_call:  # clients that went away while their part waited here
                if job.cancelled:
                    self._finish_part(job, stop)
            group = [part for part in parts_of_call if not part[0].cancelled]
            if not group:
                continue
            sentences = [s for job, start, stop in group for s in job.sentences[start:stop]]
            try:
                results = self.engine.translate_scored(sentences, opts.settings, attention=opts.attention)
            except Exception as exc:  # noqa: BLE001 -- the requests that asked get it; the worker lives on
                self._fail([job for job, _, _ in group], exc)
                continue
            self.stats["sentences"] += len(sentences)
            self.stats["batches"] += 1
            self.stats["largest_batch"] = max(self.stats["largest_batch"], len(sentences))
            at = 0
            for job, start, stop in group:
                job.results.extend(results[at:at + stop - start])
                if stop == len(job.sentences) and not job.cancelled:  # counted before its last part is handed
                    with self._cond:  # over: a client that has every part (a stream's done event) sees it counted
                        self.stats["requests"] += 1
                if job.on_part is not None and not job.cancelled:  # nobody listens to a cancelled one
                    try:
                        job.on_part(start, results[at:at + stop - start])
                    except Exception:  # noqa: BLE001,S110 -- a listener's trouble must not stop the decoder
                        pass
                at += stop - start
                self._finish_part(job, stop)

    def _finish_part(self, job: _Job, stop: int) -> None:
        with self._cond:
            if job.cancelled:
                if not job.future.done():
                    job.future.set_exception(CancelledError())
            elif stop == len(job.sentences):
                job.future.set_result(job.results)

    def _fail(self, jobs: list[_Job], exc: Exception) -> None:
        with self._cond:
            self.stats["errors"] += len(jobs)
            for job in jobs:
                if not job.ended:  # the rest of a request decoded in parts waits no more
                    job.ended = True
                    self._queued -= job.rest
                if not job.future.done():
                    job.future.set_exception(exc)


def _lower_priority(nice: int) -> None:
    """Raise this thread's nice value by ``nice`` (Linux: each thread has its own; elsewhere, nothing)."""
    try:
        tid = threading.get_native_id()
        os.setpriority(os.PRIO_PROCESS, tid, os.getpriority(os.PRIO_PROCESS, tid) + nice)
    except (AttributeError, OSError):
        pass
