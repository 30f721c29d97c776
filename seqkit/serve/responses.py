"""What ``seqkit serve`` sends back and how it waits for it: a request's results awaited against its
deadline and its client's disconnection (the work dropped when either comes first), a stream's parts
as the decoder hands them over, the server-sent-events response, and the answers' JSON, built a
sentence at a time."""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
from typing import Any

from fastapi import HTTPException, Request
from fastapi.responses import StreamingResponse

from seqkit.errors import SeqkitError
from seqkit.serve.batcher import Closed, MicroBatcher


class EventStream(StreamingResponse):
    """A ``text/event-stream`` response written by ``produce(emit)``, which awaits ``emit(event,
    data)`` for each event (``emit.size``: bytes of data sent so far, for the response cap). When the
    client disconnects first, ``produce`` is cancelled at once (its ``finally`` drops the work it
    queued), not when the next event would be sent."""

    def __init__(self, produce: Any) -> None:
        super().__init__(iter(()), media_type="text/event-stream",
                         headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})  # nginx: pass each event on
        self.produce = produce

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers})

        async def emit(event: str, data: str) -> None:
            await send({"type": "http.response.body", "body": f"event: {event}\ndata: {data}\n\n".encode(),
                        "more_body": True})

        emit.size = 0  # type: ignore[attr-defined]
        work = asyncio.ensure_future(self.produce(emit))
        gone = asyncio.ensure_future(disconnected(receive))
        try:
            await asyncio.wait({work, gone}, return_when=asyncio.FIRST_COMPLETED)
        finally:  # the client went away, or the server's grace ran out: stop producing
            gone.cancel()
            if not work.done():
                work.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await work
        if work.done() and not work.cancelled():
            work.result()  # a bug in produce: uvicorn logs it
        await send({"type": "http.response.body", "body": b"", "more_body": False})


async def disconnected(receive: Any) -> None:
    """Returns once the client has gone away (``receive``: the request's ASGI channel, its whole body
    read before this is awaited)."""
    while (await receive())["type"] != "http.disconnect":
        pass


async def outcome(request: Request, lane: MicroBatcher, future: Any, deadline: float) -> list:
    """The engine's results for ``future``; its work is dropped when the client disconnects first or
    the deadline passes (503), or when the server's grace runs out (the task is cancelled)."""
    waiter = asyncio.wrap_future(future)
    gone = asyncio.ensure_future(disconnected(request.receive))
    try:
        done, _ = await asyncio.wait({waiter, gone}, timeout=deadline, return_when=asyncio.FIRST_COMPLETED)
    except asyncio.CancelledError:
        lane.cancel(future)
        waiter.cancel()
        raise
    finally:
        gone.cancel()
    if waiter not in done:
        lane.cancel(future)
        waiter.cancel()
        if gone in done:  # nobody will read this answer
            raise HTTPException(503, "the client went away")
        raise late_error(deadline)
    return result_of(waiter)


def late_error(deadline: float) -> HTTPException:
    return HTTPException(503, f"not translated within this server's deadline of {deadline:g} s; retry later, "
                              "or send less per request", headers={"Retry-After": "1"})


def result_of(waiter: asyncio.Future) -> list:
    """A finished request's results, or the HTTP error that says why there are none."""
    try:
        return waiter.result()
    except Closed as exc:  # the decoder died, or stopped, while this request waited
        raise HTTPException(503, f"{exc}; retry shortly", headers={"Retry-After": "1"}) from None
    except SeqkitError as exc:  # the engine refused what was asked (an option it lacks ...)
        raise HTTPException(422, str(exc)) from None
    except Exception as exc:  # noqa: BLE001 -- the engine failed on this batch: say so, stay up
        raise HTTPException(500, f"translation failed: {type(exc).__name__}: {exc}") from None


async def streamed(lane: MicroBatcher, future: Any, parts: asyncio.Queue, total: int, deadline: float):
    """A streamed request's sentences, ``(index, hypotheses)`` in order, as the decoder hands over
    its parts (``parts``, filled by :meth:`MicroBatcher.submit`'s ``on_part`` with ``(start,
    results)``, every part before the future ends); an :class:`HTTPException` when the request fails or is not done within ``deadline``
    seconds. Closed before the end (the client went away, an error), the rest of its work is dropped."""
    loop = asyncio.get_running_loop()
    end = loop.time() + deadline
    waiter = asyncio.wrap_future(future)
    shown = 0
    try:
        while shown < total:
            if not parts.empty():
                start, results = parts.get_nowait()
            elif waiter.done():
                start, results = shown, result_of(waiter)[shown:]  # every part was handed over: not reached
            else:
                getter = asyncio.ensure_future(parts.get())
                try:
                    done, _ = await asyncio.wait({getter, waiter}, timeout=max(0.0, end - loop.time()),
                                                 return_when=asyncio.FIRST_COMPLETED)
                finally:
                    if not getter.done():
                        getter.cancel()
                if getter not in done:
                    if not done:
                        raise late_error(deadline)
                    continue
                start, results = getter.result()
            for i, hyps in enumerate(results, start):
                yield i, hyps
            shown = start + len(results)
    finally:
        if not future.done():
            lane.cancel(future)
        waiter.cancel()


def encode_answer(settings: Any, results: list, req: Any, max_bytes: int) -> bytes:
    """The answer as JSON bytes, built a sentence (and an attention row) at a time -- in a worker
    thread, so no single step holds the interpreter for long -- and refused (413) once over
    ``max_bytes``."""
    out = [f'{{"beam":{settings.beam},"nbest":{settings.nbest},"translations":['.encode()]
    size = len(out[0])
    for i, hyps in enumerate(results):
        chunk = ("," if i else "") + "[" + ",".join(hypothesis_json(t, req) for t in hyps) + "]"
        data = chunk.encode()
        size += len(data)
        if size > max_bytes:
            raise HTTPException(413, f"the answer is over this server's limit of {max_bytes:,} bytes "
                                     f"(at sentence {i}); ask for fewer sentences, a smaller nbest, or no attention")
        out.append(data)
    out.append(b"]}")
    return b"".join(out)


def dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, allow_nan=False, separators=(",", ":"))


def _finite(x: float) -> float | None:
    return float(x) if math.isfinite(x) else None


def hypothesis_json(t: Any, req: Any) -> str:
    """One :class:`~seqkit.seq2seq.translator.Translation` as JSON text (attention rounded to 4
    decimals; its labels are the pieces the weights belong to)."""
    from seqkit.seq2seq.plot import readable

    out: dict[str, Any] = {"text": t.text, "score": _finite(t.score), "log_prob": _finite(t.log_prob),
                           "pieces": t.pieces, "src_pieces": t.src_pieces}
    if req.alignment:
        out["alignment"] = t.pharaoh() if t.alignment is not None else None
    if not req.attention:
        return dumps(out)
    if t.attention is None:
        return dumps({**out, "attention": None})
    weights = t.attention.double().mul(1e4).round().div(1e4).tolist()
    source, target = [*readable(t.src_pieces), "</s>"], [*readable(t.pieces), "</s>"]
    if len(weights) != len(target) or any(len(row) != len(source) for row in weights):
        raise RuntimeError(f"attention of shape {len(weights)}x{len(weights[0]) if weights else 0} does not "
                           f"match its labels ({len(target)} target, {len(source)} source)")
    head = dumps(out)[:-1] + ',"attention":{"source":' + dumps(source) + ',"target":' + dumps(target)
    return head + ',"weights":[' + ",".join(dumps(row) for row in weights) + "]}}"


def sentence_event(i: int, total: int, hyps: list, req: Any, before: str | None) -> str:
    """The data of a stream's ``sentence`` event: ``{"index", "total", "text"`` (the best translation),
    ``"before"`` (a ``text`` request: the text's own spaces and line breaks before this sentence) and
    ``"hypotheses"`` (as ``/translate`` gives a sentence's)``}``."""
    head = {"index": i, "total": total, "text": hyps[0].text if hyps else ""}
    if before is not None:
        head["before"] = before
    return dumps(head)[:-1] + ',"hypotheses":[' + ",".join(hypothesis_json(t, req) for t in hyps) + "]}"
