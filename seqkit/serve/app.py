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
import math
from dataclasses import asdict, dataclass
from importlib import resources
from typing import Any
from urllib.parse import urlsplit

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model

from seqkit.errors import SeqkitError
from seqkit.serve import libretranslate
from seqkit.serve.batcher import Closed, MicroBatcher, Options, QueueFull
from seqkit.serve.engine import source_lengths
from seqkit.serve.limits import LOCAL_HOSTS, Limits, sentence_work
from seqkit.serve.routing import Model, NoRoute, check_pairs, choose

log = logging.getLogger("uvicorn.error")

#: How often the watchdog looks at the decoder threads (seconds).
WATCH_EVERY = 0.2
#: Answers without attention and of at most this many hypotheses are encoded on the event loop
#: (microseconds); larger ones in a worker thread.
INLINE_HYPOTHESES = 64


def _decode_fields() -> dict[str, Any]:
    """The request fields of :data:`seqkit.seq2seq.decoding.REQUEST_FIELDS` (absent: the server's
    setting). Parsed as any JSON value and checked by the one checker of decode settings
    (:func:`seqkit.seq2seq.decoding.checked`), so a request refuses what the CLI and recipes refuse."""
    from seqkit.seq2seq.decoding import fields

    kinds = {"int": "integer", "float": "number", "str": "string", "bool": "boolean"}
    return {f.name: (Any, Field(None, description=f.metadata["doc"],
                                json_schema_extra={"type": kinds.get(str(f.type), "integer")}))
            for f in fields("request")}


def _pair_fields() -> dict[str, Any]:
    return {"source": (str | None, Field(None, description="source language (absent or auto: the one model's, or "
                                                           "that of the one model translating into target)")),
            "target": (str | None, Field(None, description="target language (absent: with one model, its own)"))}


TranslateRequest = create_model(
    "TranslateRequest", __config__=ConfigDict(extra="forbid", strict=True),
    __doc__="The body of ``POST /translate``.",
    sentences=(list[str], Field(min_length=1)), alignment=(bool, False), attention=(bool, False),
    **_pair_fields(), **_decode_fields())
StreamRequest = create_model(
    "StreamRequest", __config__=ConfigDict(extra="forbid", strict=True),
    __doc__="The body of ``POST /translate/stream``: ``text`` (cut into sentences) or ``sentences``.",
    text=(str | None, Field(None, description="a text, cut into sentences as LibreTranslate's API cuts it")),
    sentences=(list[str] | None, None), alignment=(bool, False), attention=(bool, False),
    **_pair_fields(), **_decode_fields())
_HINTS = {TranslateRequest: '{"sentences": ["..."], "beam": 5, "nbest": 1, "alignment": false, "attention": false}',
          StreamRequest: '{"text": "...", "beam": 5} or {"sentences": ["..."], "beam": 5}'}


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
    hosts = {_host_name(h) for h in allowed_hosts}
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
    app.add_middleware(_HostCheck, hosts=hosts)
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
            kind = _media_type(request)
            if libretranslate.is_form(kind):  # LibreTranslate's clients send forms; seqkit's API takes JSON
                try:
                    values = libretranslate.form_values(await _read_body(request, limits))
                except libretranslate.LTError as exc:
                    return JSONResponse({"error": str(exc)}, status_code=exc.status)
                if "q" in values:
                    return await _libretranslate(request, values, kind)
            _require_json(kind)
            body = await _read_body(request, limits)
            if body.lstrip().startswith(b"{") and b'"q"' in body:
                with contextlib.suppress(ValueError):
                    values = json.loads(body)
                    if isinstance(values, dict) and "q" in values:
                        return await _libretranslate(request, values, kind)
            return await _translate(request, body)
        except asyncio.CancelledError:  # the server's grace ran out before this request was done
            return _stopped()

    async def _translate(request: Request, body: bytes) -> Response:
        req = _parse(body, TranslateRequest)
        route = routed(req)
        settings = _settings(req, route.model.engine)
        results = await _decode(request, route, req.sentences, settings, alignment=req.alignment,
                                attention=req.attention)
        if req.attention or sum(len(hyps) for hyps in results) > INLINE_HYPOTHESES:
            answer = await asyncio.to_thread(_encode, settings, results, req, limits.max_response_bytes)
        else:  # a few short hypotheses: quicker here than a thread's round trip
            answer = _encode(settings, results, req, limits.max_response_bytes)
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
                settings = _settings_of({"nbest": nbest, "beam": max(base.beam if base else 1, nbest)}, engine)
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
            _require_json(_media_type(request))
            req = _parse(await _read_body(request, limits), StreamRequest)
            if (req.text is None) == (req.sentences is None):
                raise HTTPException(422, "bad request: give text (one text, cut into sentences) or sentences "
                                         "(a list), not both or neither")
            route = routed(req)
            settings = _settings(req, route.model.engine)
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
                    async with contextlib.aclosing(_streamed(lane, future, parts, total, limits.deadline)) as stream:
                        async for i, hyps in stream:
                            encode = functools.partial(_sentence_event, i, total, hyps, req, gaps and gaps[i])
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
                await emit("done", _dumps(done))
            except HTTPException as exc:
                await emit("error", _dumps({"status": exc.status_code, "detail": exc.detail}))

        return _EventStream(produce)

    def _admit(request: Request, route: _Route, sentences: list[str], settings: Any, *, alignment: bool,
               attention: bool, on_part: Any = None) -> tuple[MicroBatcher, Any]:
        """After every check a request goes through, its lane and the future of its queued work."""
        _check(sentences, settings, limits)
        if (alignment or attention) and not route.model.attention:
            raise HTTPException(422, f"this server's engine ({route.about['engine']}) gives no attention or "
                                     "alignments; ask without them")
        engine = route.model.engine
        work = _work(sentences, settings, source_lengths(engine, sentences), limits, attention=attention)
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
        return await _outcome(request, lane, future, limits.deadline)

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


class _EventStream(StreamingResponse):
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
        gone = asyncio.ensure_future(_disconnected(receive))
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


class _HostCheck:
    """ASGI middleware: a Host header not among the allowed names is a 400 (DNS rebinding: a page of
    another site whose name now points at this machine gets nothing), and a browser request from a
    page of another site (its ``Origin`` names a host not allowed) is a 403."""

    def __init__(self, app: Any, hosts: set[str]) -> None:
        self.app, self.hosts = app, hosts

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and "*" not in self.hosts:
            headers = {k: v for k, v in scope["headers"] if k in (b"host", b"origin")}
            host = _host_name(headers.get(b"host", b"").decode("latin-1"), with_port=True)
            problem = None
            if host not in self.hosts:
                problem = (400, f"Host {host!r} is not served here (allowed: {', '.join(sorted(self.hosts))}); "
                                "the server's operator adds names with --allowed-hosts")
            elif b"origin" in headers:
                origin = headers[b"origin"].decode("latin-1")
                if _host_name(urlsplit(origin).netloc, with_port=True) not in self.hosts:
                    problem = (403, f"requests from pages of other sites ({origin}) are refused")
            if problem is not None:
                await JSONResponse({"detail": problem[1]}, status_code=problem[0])(scope, receive, send)
                return
        await self.app(scope, receive, send)


def _host_name(value: str, *, with_port: bool = False) -> str:
    """``"LocalHost:8000"`` -> ``"localhost"``, ``"[::1]:8000"`` -> ``"::1"`` (``with_port``: the
    value may carry a port)."""
    value = value.strip().lower()
    if value.startswith("["):
        return value[1:].partition("]")[0]
    if with_port and value.count(":") == 1:
        value = value.partition(":")[0]
    return value.rstrip(".")


def _media_type(request: Request) -> str:
    return request.headers.get("content-type", "").partition(";")[0].strip().lower()


def _require_json(kind: str) -> None:
    if kind != "application/json":
        raise HTTPException(415, f"the body must be JSON, sent with Content-Type: application/json "
                                 f"(got {kind or 'no Content-Type'!r})")


async def _read_body(request: Request, limits: Limits) -> bytes:
    """The request body, refused (413) as soon as it exceeds ``max_request_bytes`` -- before it is all
    read when the client announces its length -- and (408) when it is not all there within
    ``body_timeout`` seconds."""
    limit = limits.max_request_bytes
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise HTTPException(413, f"request body of {int(declared):,} bytes is over the limit of {limit:,} bytes; "
                                 "send fewer or shorter sentences per request")
    body = bytearray()

    async def read() -> None:
        async for chunk in request.stream():
            body.extend(chunk)
            if len(body) > limit:
                raise HTTPException(413, f"request body is over the limit of {limit:,} bytes; "
                                         "send fewer or shorter sentences per request")

    try:
        await asyncio.wait_for(read(), limits.body_timeout)
    except asyncio.TimeoutError:
        raise HTTPException(408, f"request body not received within {limits.body_timeout:g} s",
                            headers={"Connection": "close"}) from None
    return bytes(body)


def _parse(body: bytes, model: type[BaseModel]) -> Any:
    """The body as ``model`` (:data:`TranslateRequest`, :data:`StreamRequest`); anything else is one
    422 line naming the field."""
    try:
        return model.model_validate_json(body)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            where = ".".join(str(p) for p in err["loc"]) or "body"
            problems.append(f"{where}: {err['msg']}")
        raise HTTPException(422, "bad request: " + "; ".join(problems) + f" (expected {_HINTS[model]})") from None


def _settings(req: Any, engine: Any) -> Any:
    """The request's decode settings: the engine's, with the fields the request sets (422 on a bad
    value, in the words every other surface uses)."""
    from seqkit.seq2seq.decoding import REQUEST_FIELDS

    return _settings_of({name: getattr(req, name) for name in REQUEST_FIELDS if getattr(req, name) is not None},
                        engine)


def _settings_of(given: dict[str, Any], engine: Any) -> Any:
    from seqkit.seq2seq.decoding import DecodeSettings, check_engine
    from seqkit.settings import SettingsError

    try:
        settings = (getattr(engine, "settings", None) or DecodeSettings()).replace("request", **given)
        check_engine(settings, getattr(engine, "ENGINE", "seqkit"))
    except SettingsError as exc:
        raise HTTPException(422, "bad request: " + "; ".join(exc.problems)) from None
    return settings


def _check(sentences: list[str], settings: Any, limits: Limits) -> None:
    if len(sentences) > limits.max_sentences:
        raise HTTPException(413, f"{len(sentences)} sentences in one request; the limit is "
                                 f"{limits.max_sentences}: split the request")
    for i, sentence in enumerate(sentences):
        if len(sentence) > limits.max_chars:
            raise HTTPException(422, f"sentences.{i} has {len(sentence):,} characters; the limit is "
                                     f"{limits.max_chars:,}: split it into shorter sentences")
    if settings.beam > limits.max_beam:
        raise HTTPException(422, f"beam {settings.beam} is over this server's limit of {limits.max_beam}")


def _work(sentences: list[str], settings: Any, lengths: list[int], limits: Limits, *, attention: bool) -> list[int]:
    """Each sentence's work units; a sentence longer than the model reads is a 422 (never cut
    silently), a request over ``max_work`` a 413."""
    most = settings.max_src_len - 1  # the model reads max_src_len pieces, </s> included
    for i, n in enumerate(lengths):
        if n > most:
            raise HTTPException(422, f"sentences.{i} is {n:,} pieces long; this model reads at most {most:,} "
                                     "(the server's --max-src-len counts </s>): split it into shorter sentences")
    work = [sentence_work(n, settings, attention=attention) for n in lengths]
    if sum(work) > limits.max_work:
        raise HTTPException(413, f"this request needs {sum(work):,} units of decoding work (source pieces x beam "
                                 f"x nbest{', plus attention weights' if attention else ''}); this server's "
                                 f"budget is {limits.max_work:,} per request: send fewer or shorter sentences, "
                                 "a smaller beam or nbest, or no attention")
    return work


async def _disconnected(receive: Any) -> None:
    """Returns once the client has gone away (``receive``: the request's ASGI channel, its whole body
    read before this is awaited)."""
    while (await receive())["type"] != "http.disconnect":
        pass


async def _outcome(request: Request, lane: MicroBatcher, future: Any, deadline: float) -> list:
    """The engine's results for ``future``; its work is dropped when the client disconnects first or
    the deadline passes (503), or when the server's grace runs out (the task is cancelled)."""
    waiter = asyncio.wrap_future(future)
    gone = asyncio.ensure_future(_disconnected(request.receive))
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
        raise _late(deadline)
    return _result(waiter)


def _late(deadline: float) -> HTTPException:
    return HTTPException(503, f"not translated within this server's deadline of {deadline:g} s; retry later, "
                              "or send less per request", headers={"Retry-After": "1"})


def _result(waiter: asyncio.Future) -> list:
    """A finished request's results, or the HTTP error that says why there are none."""
    try:
        return waiter.result()
    except Closed as exc:  # the decoder died, or stopped, while this request waited
        raise HTTPException(503, f"{exc}; retry shortly", headers={"Retry-After": "1"}) from None
    except SeqkitError as exc:  # the engine refused what was asked (an option it lacks ...)
        raise HTTPException(422, str(exc)) from None
    except Exception as exc:  # noqa: BLE001 -- the engine failed on this batch: say so, stay up
        raise HTTPException(500, f"translation failed: {type(exc).__name__}: {exc}") from None


async def _streamed(lane: MicroBatcher, future: Any, parts: asyncio.Queue, total: int, deadline: float):
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
                start, results = shown, _result(waiter)[shown:]  # every part was handed over: not reached
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
                        raise _late(deadline)
                    continue
                start, results = getter.result()
            for i, hyps in enumerate(results, start):
                yield i, hyps
            shown = start + len(results)
    finally:
        if not future.done():
            lane.cancel(future)
        waiter.cancel()


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


class _TooLarge(Exception):
    pass


def _encode(settings: Any, results: list, req: Any, max_bytes: int) -> bytes:
    """The answer as JSON bytes, built a sentence (and an attention row) at a time -- in a worker
    thread, so no single step holds the interpreter for long -- and refused (413) once over
    ``max_bytes``."""
    out = [f'{{"beam":{settings.beam},"nbest":{settings.nbest},"translations":['.encode()]
    size = len(out[0])
    for i, hyps in enumerate(results):
        chunk = ("," if i else "") + "[" + ",".join(_hypothesis(t, req) for t in hyps) + "]"
        data = chunk.encode()
        size += len(data)
        if size > max_bytes:
            raise HTTPException(413, f"the answer is over this server's limit of {max_bytes:,} bytes "
                                     f"(at sentence {i}); ask for fewer sentences, a smaller nbest, or no attention")
        out.append(data)
    out.append(b"]}")
    return b"".join(out)


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, allow_nan=False, separators=(",", ":"))


def _finite(x: float) -> float | None:
    return float(x) if math.isfinite(x) else None


def _hypothesis(t: Any, req: Any) -> str:
    """One :class:`~seqkit.seq2seq.translator.Translation` as JSON text (attention rounded to 4
    decimals; its labels are the pieces the weights belong to)."""
    from seqkit.seq2seq.plot import readable

    out: dict[str, Any] = {"text": t.text, "score": _finite(t.score), "log_prob": _finite(t.log_prob),
                           "pieces": t.pieces, "src_pieces": t.src_pieces}
    if req.alignment:
        out["alignment"] = t.pharaoh() if t.alignment is not None else None
    if not req.attention:
        return _dumps(out)
    if t.attention is None:
        return _dumps({**out, "attention": None})
    weights = t.attention.double().mul(1e4).round().div(1e4).tolist()
    source, target = [*readable(t.src_pieces), "</s>"], [*readable(t.pieces), "</s>"]
    if len(weights) != len(target) or any(len(row) != len(source) for row in weights):
        raise RuntimeError(f"attention of shape {len(weights)}x{len(weights[0]) if weights else 0} does not "
                           f"match its labels ({len(target)} target, {len(source)} source)")
    head = _dumps(out)[:-1] + ',"attention":{"source":' + _dumps(source) + ',"target":' + _dumps(target)
    return head + ',"weights":[' + ",".join(_dumps(row) for row in weights) + "]}}"


def _sentence_event(i: int, total: int, hyps: list, req: Any, before: str | None) -> str:
    """The data of a stream's ``sentence`` event: ``{"index", "total", "text"`` (the best translation),
    ``"before"`` (a ``text`` request: the text's own spaces and line breaks before this sentence) and
    ``"hypotheses"`` (as ``/translate`` gives a sentence's)``}``."""
    head = {"index": i, "total": total, "text": hyps[0].text if hyps else ""}
    if before is not None:
        head["before"] = before
    return _dumps(head)[:-1] + ',"hypotheses":[' + ",".join(_hypothesis(t, req) for t in hyps) + "]}"
