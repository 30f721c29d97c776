"""The HTTP JSON API and web page of ``seqkit serve`` (FastAPI).

==========================  =====================================================================
``POST /translate``         ``{"sentences": [...], "beam": 5, "nbest": 1, "alignment": false,
                            "attention": false}`` (``beam``, ``nbest``, ``alpha``, ``length_penalty``:
                            optional, the server's settings -- shown in ``/info``'s ``decode`` --
                            when absent; checked as every decode surface checks them, see
                            ``docs/reference/decode-settings.md``; ``source``, ``target``: the
                            model's pair, optional with one model)
                            -> ``{"beam", "nbest", "translations": [[hypothesis, ...], ...]}``:
                            per sentence its ``nbest`` hypotheses, best first, each ``{"text",
                            "score", "log_prob", "pieces", "src_pieces"}`` plus ``"alignment"``
                            (Pharaoh ``"0-0 1-2"``, source-target piece indices) and
                            ``"attention"`` (``{"source": labels, "target": labels, "weights":
                            rows}``: one row per output piece and ``</s>``, one column per source
                            piece and ``</s>``; each row sums to 1) when asked for
``POST /translate/stream``  the same fields, with ``text`` (cut into sentences) instead of
                            ``sentences`` if wished -> ``text/event-stream``: a ``sentence`` event
                            per sentence as soon as it is translated (``{"index", "total", "text",
                            "hypotheses"}``), then ``done`` (``{"total", "beam", "nbest"}`` and,
                            for ``text``, the whole translation); after the stream has begun, a
                            failure is an ``error`` event (``{"status", "detail"}``)
``GET /health``             ``{"status": "ok", "queued", "in_flight", "requests", "batches" ...}``;
                            503 when the server is closing or its decoder died
``GET /info``               the model, its languages, the run's test score with its sacreBLEU
                            signature, the engine and the limits (no path of the server's disk);
                            ``models``: that of each model served
``GET /``                   a page to type text into and see its translation fill in a sentence
                            at a time (the stream), with its progress and attention
``POST /translate`` with    LibreTranslate's API (:mod:`seqkit.serve.libretranslate`): a JSON body
``q``, ``GET /languages``   with ``q``, or a form, is LibreTranslate's; its errors are ``{"error"}``
==========================  =====================================================================

Every refusal is a status and one line in ``{"detail": ...}``, never a crash (the limits are
:class:`~seqkit.serve.limits.Limits`): a Host header not in ``allowed_hosts`` -> 400 (DNS
rebinding); an ``Origin`` of another site -> 403 (a cross-site fetch or form post); a body that is
neither ``application/json`` nor a LibreTranslate form -> 415; a body over ``max_request_bytes``, more than ``max_sentences`` sentences or a
request costing more than ``max_work`` work units (:func:`seqkit.serve.limits.sentence_work`) or
answered by more than ``max_response_bytes`` -> 413; a body not sent within ``body_timeout`` -> 408;
a sentence over ``max_chars`` characters or longer than the model reads (``max_src_len`` pieces:
refused, never cut), a beam over ``max_beam``, ``nbest`` over the beam, a wrong type (``"beam":
true``) or malformed JSON -> 422; a full queue, a request not done within ``deadline``, a server
shutting down (also past its grace) or a dead decoder -> 503 (with ``Retry-After``).

Several models (``create_app([Model, ...])``, ``seqkit serve --run A --run B``) are served side by
side, one per language pair: ``source`` and ``target`` in a request pick one
(:mod:`seqkit.serve.routing`; a pair not served is a 422, in LibreTranslate's API a 400), and each
model has lanes of its own, so one model's load never holds up another's.

Each model's requests are decoded by two :class:`~seqkit.serve.batcher.MicroBatcher` lanes: requests costing up to
``heavy_work`` units go to the first, costlier ones to a second decoder thread at a lower CPU priority
that decodes them in parts of at most ``heavy_work`` units, so a heavy request never holds up a small
one. A request whose client disconnects, or whose deadline passes, is dropped from its queue, or not
continued after the part being decoded. A large answer is encoded as JSON in a worker thread, a
sentence and an attention row at a time, so the event loop (``/health``, other clients) never waits
for it. A stream is decoded in parts of 1, 2, 4 ... sentences, each sent when done; a client that
disconnects mid-stream has the rest of its work dropped. A watchdog checks the decoder threads of
every model: if one dies, ``/health`` answers 503 and the server stops with exit status 1
(``seqkit.serve.server.run``), for a supervisor to restart it.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
from dataclasses import asdict, dataclass
from importlib import resources
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response, StreamingResponse

from seqkit.serve import libretranslate
from seqkit.serve.batcher import Closed, MicroBatcher, Options, QueueFull
from seqkit.serve.engine import source_lengths
from seqkit.serve.limits import LOCAL_HOSTS, Limits
from seqkit.serve.requests import (
    HostCheck,
    StreamRequest,
    TranslateRequest,
    check_limits,
    host_name,
    media_type,
    parse_body,
    read_body,
    request_settings,
    require_json,
    settings_of,
    work_units,
)
from seqkit.serve.responses import EventStream, dumps, encode_answer, outcome, sentence_event, streamed
from seqkit.serve.routing import Model, NoRoute, check_pairs, choose

log = logging.getLogger("uvicorn.error")

#: How often the watchdog looks at the decoder threads (seconds).
WATCH_EVERY = 0.2
#: Answers without attention and of at most this many hypotheses are encoded on the event loop
#: (microseconds); larger ones in a worker thread.
INLINE_HYPOTHESES = 64


@dataclass(eq=False)
class _Route:
    """One model being served: ``about`` is what ``/info`` says of it, its lanes are
    ``app.state.lanes[prefix + "small"]`` and ``[prefix + "heavy"]`` (prefix ``"en-fr "`` when several
    models are served, none for one)."""

    model: Model
    prefix: str
    about: dict[str, Any]


def create_app(engine: Any, *, info: dict[str, Any] | None = None, limits: Limits = Limits(),
               attention: bool = True, threads: int | None = None,
               allowed_hosts: tuple[str, ...] | list[str] = LOCAL_HOSTS) -> FastAPI:
    """The FastAPI app serving ``engine`` (see :mod:`seqkit.serve.engine` for the interface), or a
    list of :class:`~seqkit.serve.routing.Model` -- several models, one per language pair, routed by
    a request's ``source`` and ``target`` (each model's ``info`` and ``attention`` are its own; two of
    one pair are refused with a :class:`~seqkit.errors.SeqkitError`).

    ``info`` is what ``GET /info`` adds about the model (:func:`seqkit.serve.engine.run_info`);
    ``attention``: whether the engine gives attention (if not, asking for it or for alignments is a
    422, and the page shows no heatmap); ``limits``: every bound of a request, the queue and the
    connections (the same for every model); ``allowed_hosts``: the names the Host header may carry
    (``"*"``: any). The decoder lanes (two per model, ``threads`` torch threads each) start with the
    app's lifespan and, at shutdown, finish every request they hold before they stop.
    """
    hosts = {host_name(h) for h in allowed_hosts}
    models = list(engine) if isinstance(engine, list | tuple) else [Model(engine, dict(info or {}), attention)]
    if not models:
        raise ValueError("create_app needs an engine or at least one Model")
    check_pairs([(m.info.get("run") or f"model {i + 1}", m.info) for i, m in enumerate(models)])
    several = len(models) > 1
    routes = [_Route(m, f"{m.pair} " if several else "", _about(m)) for m in models]

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI):
        app.state.failure = None
        app.state.lanes = {}
        for route in routes:  # each model its own two lanes: one model's load never holds up another's
            tag = f"-{route.model.pair}" if several else ""
            engine = route.model.engine
            app.state.lanes[route.prefix + "small"] = MicroBatcher(
                engine, max_wait_ms=limits.max_wait_ms, max_batch=limits.max_batch, max_queue=limits.max_queue,
                threads=threads, name=f"seqkit-serve-decoder{tag}")
            app.state.lanes[route.prefix + "heavy"] = MicroBatcher(
                engine, max_wait_ms=limits.max_wait_ms, max_batch=limits.max_batch, max_queue=limits.max_queue,
                threads=threads, chunk_work=limits.heavy_work, nice=10, name=f"seqkit-serve-heavy{tag}")
        watchdog = asyncio.ensure_future(_watch(app))
        try:
            yield
        finally:  # the server has stopped taking requests; finish what is queued
            watchdog.cancel()
            for lane in app.state.lanes.values():
                await asyncio.to_thread(lane.close)

    app = FastAPI(title="seqkit serve", lifespan=lifespan, docs_url="/docs", redoc_url=None)
    app.add_middleware(HostCheck, hosts=hosts)
    app.state.limits = limits  # the server's timeouts and caps are these too (seqkit.serve.server)
    each = [route.about for route in routes]
    about = {**({} if several else each[0]), "models": each, "limits": asdict(limits), "allowed_hosts": sorted(hosts)}

    def lanes(request: Request) -> dict[str, MicroBatcher]:
        found = getattr(request.app.state, "lanes", None)
        if found is None:
            raise HTTPException(503, "the decoder is not running (the app was started without its lifespan)")
        return found

    def route_of(source: str | None, target: str | None) -> _Route:
        """The model for a request's pair (``auto``: any source); :class:`NoRoute` otherwise."""
        chosen = choose(models, None if source == "auto" else source, target)
        return next(route for route in routes if route.model is chosen)

    def routed(req: Any) -> _Route:
        try:
            return route_of(req.source, req.target)
        except NoRoute as exc:
            raise HTTPException(422, str(exc)) from None

    @app.get("/", response_class=HTMLResponse)
    async def page() -> str:
        return resources.files("seqkit.serve").joinpath("static/index.html").read_text(encoding="utf-8")

    @app.get("/favicon.ico", include_in_schema=False)
    async def favicon() -> Response:  # browsers ask for one; "no content" keeps their console clean
        return Response(status_code=204)

    @app.get("/health")
    async def health(request: Request) -> JSONResponse:
        found = lanes(request)
        each = {name: lane.health() for name, lane in found.items()}
        total: dict[str, Any] = {"status": "ok"}
        for name in ("queued", "in_flight", "requests", "sentences", "batches", "errors", "cancelled"):
            total[name] = sum(h[name] for h in each.values())
        total["largest_batch"] = max(h["largest_batch"] for h in each.values())
        for status in ("closing", "dead"):  # the worst lane's
            if any(h["status"] == status for h in each.values()):
                total["status"] = status
        failure = next((lane.failure for lane in found.values() if lane.failure), None)
        if failure:
            total["failure"] = failure
        total["lanes"] = each
        guard = getattr(request.app.state, "guard", None)
        if guard is not None:
            total["connections"] = dict(guard.stats)
        return JSONResponse(total, status_code=200 if total["status"] == "ok" else 503)

    @app.get("/info")
    async def get_info() -> dict[str, Any]:
        return about

    # POST too, as LibreTranslate answers it (libretranslatepy 2.1.0 asks with POST)
    @app.get("/languages")
    @app.post("/languages", include_in_schema=False)  # libretranslatepy asks with POST; one operation in the schema
    async def get_languages() -> list[dict[str, Any]]:
        return libretranslate.languages([(m.src, m.tgt) for m in models])

    @app.post("/translate", openapi_extra={"requestBody": {"required": True, "content": {
        "application/json": {"schema": TranslateRequest.model_json_schema()}}}})
    async def translate(request: Request) -> Response:
        try:
            kind = media_type(request)
            if libretranslate.is_form(kind):  # LibreTranslate's clients send forms; seqkit's API takes JSON
                try:
                    values = libretranslate.form_values(await read_body(request, limits))
                except libretranslate.LTError as exc:
                    return JSONResponse({"error": str(exc)}, status_code=exc.status)
                if "q" in values:
                    return await _libretranslate(request, values, kind)
            require_json(kind)
            body = await read_body(request, limits)
            if body.lstrip().startswith(b"{") and b'"q"' in body:
                with contextlib.suppress(ValueError):
                    values = json.loads(body)
                    if isinstance(values, dict) and "q" in values:
                        return await _libretranslate(request, values, kind)
            return await _translate(request, body)
        except asyncio.CancelledError:  # the server's grace ran out before this request was done
            return _stopped()

    async def _translate(request: Request, body: bytes) -> Response:
        req = parse_body(body, TranslateRequest)
        route = routed(req)
        settings = request_settings(req, route.model.engine)
        results = await _decode(request, route, req.sentences, settings, alignment=req.alignment,
                                attention=req.attention)
        if req.attention or sum(len(hyps) for hyps in results) > INLINE_HYPOTHESES:
            answer = await asyncio.to_thread(encode_answer, settings, results, req, limits.max_response_bytes)
        else:  # a few short hypotheses: quicker here than a thread's round trip
            answer = encode_answer(settings, results, req, limits.max_response_bytes)
        return Response(answer, media_type="application/json")

    async def _libretranslate(request: Request, values: bytes | dict, kind: str) -> Response:
        try:
            req = libretranslate.parse(values, kind)
            try:
                route = route_of(req.source, req.target)
            except NoRoute as exc:
                raise libretranslate.LTError(400, str(exc)) from None
            engine = route.model.engine
            templates = [libretranslate.template(text, req.format) for text in req.texts]
            sentences = [s for t in templates for s in t.sentences]
            results: list = []
            if sentences:
                base = getattr(engine, "settings", None)
                nbest = req.alternatives + 1
                settings = settings_of({"nbest": nbest, "beam": max(base.beam if base else 1, nbest)}, engine)
                results = await _decode(request, route, sentences, settings, alignment=False, attention=False)
            answer = await asyncio.to_thread(libretranslate.answer, req, templates, results, route.model.src)
            if len(answer) > limits.max_response_bytes:
                raise libretranslate.LTError(400, f"the answer is over this server's limit of "
                                                  f"{limits.max_response_bytes:,} bytes; send less per request")
            return Response(answer, media_type="application/json")
        except libretranslate.LTError as exc:
            return JSONResponse({"error": str(exc)}, status_code=exc.status)
        except HTTPException as exc:  # seqkit's own refusals, in LibreTranslate's shape
            status = 400 if exc.status_code in (413, 415, 422) else exc.status_code
            return JSONResponse({"error": exc.detail}, status_code=status, headers=exc.headers)

    @app.post("/translate/stream", response_class=StreamingResponse, openapi_extra={"requestBody": {
        "required": True, "content": {"application/json": {"schema": StreamRequest.model_json_schema()}}}})
    async def translate_stream(request: Request) -> Response:
        """Server-sent events: each sentence's translation as soon as it is done, then ``done``."""
        try:
            require_json(media_type(request))
            req = parse_body(await read_body(request, limits), StreamRequest)
            if (req.text is None) == (req.sentences is None):
                raise HTTPException(422, "bad request: give text (one text, cut into sentences) or sentences "
                                         "(a list), not both or neither")
            route = routed(req)
            settings = request_settings(req, route.model.engine)
            template = libretranslate.template(req.text) if req.text is not None else None
            sentences = template.sentences if template is not None else req.sentences
            parts: asyncio.Queue = asyncio.Queue()
            loop = asyncio.get_running_loop()
            lane = future = None
            if sentences:  # admitted as /translate admits a request: refusals are its statuses, not events
                lane, future = _admit(request, route, sentences, settings, alignment=req.alignment,
                                      attention=req.attention,
                                      on_part=lambda start, done: loop.call_soon_threadsafe(parts.put_nowait,
                                                                                             (start, done)))
        except asyncio.CancelledError:
            return _stopped()

        async def produce(emit: Any) -> None:
            total, best = len(sentences), []
            gaps = template.gaps() if template is not None else None
            try:
                if future is not None:
                    async with contextlib.aclosing(streamed(lane, future, parts, total, limits.deadline)) as stream:
                        async for i, hyps in stream:
                            encode = functools.partial(sentence_event, i, total, hyps, req, gaps and gaps[i])
                            data = await asyncio.to_thread(encode) if req.attention else encode()  # large: off the loop
                            emit.size += len(data)
                            if emit.size > limits.max_response_bytes:
                                raise HTTPException(413, f"the answer is over this server's limit of "
                                                         f"{limits.max_response_bytes:,} bytes (at sentence {i}); "
                                                         "send less, a smaller nbest, or no attention")
                            await emit("sentence", data)
                            best.append(hyps[0].text if hyps else "")
                done: dict[str, Any] = {"total": total, "beam": settings.beam, "nbest": settings.nbest}
                if template is not None:
                    done["text"] = template.fill(best)
                await emit("done", dumps(done))
            except HTTPException as exc:
                await emit("error", dumps({"status": exc.status_code, "detail": exc.detail}))

        return EventStream(produce)

    def _admit(request: Request, route: _Route, sentences: list[str], settings: Any, *, alignment: bool,
               attention: bool, on_part: Any = None) -> tuple[MicroBatcher, Any]:
        """After every check a request goes through, its lane and the future of its queued work."""
        check_limits(sentences, settings, limits)
        if (alignment or attention) and not route.model.attention:
            raise HTTPException(422, f"this server's engine ({route.about['engine']}) gives no attention or "
                                     "alignments; ask without them")
        engine = route.model.engine
        work = work_units(sentences, settings, source_lengths(engine, sentences), limits, attention=attention)
        lane = lanes(request)[route.prefix + ("heavy" if sum(work) > limits.heavy_work else "small")]
        try:
            future = lane.submit(sentences, Options(settings, alignment or attention), work, on_part=on_part)
        except QueueFull as exc:
            raise HTTPException(503, f"server busy: {exc}; retry shortly", headers={"Retry-After": "1"}) from None
        except Closed as exc:
            raise HTTPException(503, f"{exc}; retry shortly", headers={"Retry-After": "1"}) from None
        return lane, future

    async def _decode(request: Request, route: _Route, sentences: list[str], settings: Any, *, alignment: bool,
                      attention: bool) -> list:
        """The engine's results for ``sentences``, after every check a request goes through."""
        lane, future = _admit(request, route, sentences, settings, alignment=alignment, attention=attention)
        return await outcome(request, lane, future, limits.deadline)

    return app


def _about(model: Model) -> dict[str, Any]:
    """What ``/info`` says of one model: its run's info, the engine, attention, the decode settings
    requests start from."""
    settings = getattr(model.engine, "settings", None)
    return {**model.info, "engine": type(model.engine).__name__, "attention": model.attention,
            "decode": asdict(settings) if settings is not None else None}


def _stopped() -> JSONResponse:
    """The server's grace ran out before this request was done."""
    return JSONResponse({"detail": "the server stopped before this request was done; retry shortly"},
                        status_code=503, headers={"Retry-After": "1"})


async def _watch(app: FastAPI) -> None:
    """The watchdog: once a decoder thread has died, record why (``/health`` answers 503), say so in
    one line and stop the server (``app.state.stop_server``, set by :func:`seqkit.serve.server.make_server`)."""
    while True:
        await asyncio.sleep(WATCH_EVERY)
        failure = next((lane.failure for lane in app.state.lanes.values() if lane.failure), None)
        if failure:
            app.state.failure = failure
            log.error("seqkit serve: %s; stopping (exit status 1) so that a supervisor restarts the server", failure)
            stop = getattr(app.state, "stop_server", None)
            if stop is not None:
                stop()
            return

