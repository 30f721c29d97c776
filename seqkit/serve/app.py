"""The HTTP JSON API and web page of ``seqkit serve`` (FastAPI).

==========================  =====================================================================
``POST /translate``         ``{"sentences": [...], "beam": 5, "nbest": 1, "alignment": false,
                            "attention": false}`` (``beam``, ``nbest``, ``alpha``, ``length_penalty``:
                            optional, the server's settings -- shown in ``/info``'s ``decode`` --
                            when absent; checked as every decode surface checks them, see
                            ``docs/reference/decode-settings.md``)
                            -> ``{"translations": [[hypothesis, ...], ...]}``:
                            per sentence its ``nbest`` hypotheses, best first, each ``{"text",
                            "score", "log_prob", "pieces", "src_pieces"}`` plus ``"alignment"``
                            (Pharaoh ``"0-0 1-2"``, source-target piece indices) and
                            ``"attention"`` (``{"source": labels, "target": labels, "weights":
                            rows}``: one row per output piece and ``</s>``, one column per source
                            piece and ``</s>``; each row sums to 1) when asked for
``GET /health``             ``{"status": "ok", "queued", "in_flight", "requests", "batches" ...}``
``GET /info``               the model, its languages, the run's test score with its sacreBLEU
                            signature, the engine and the limits
``GET /``                   a page to type text into and see its translation and attention
==========================  =====================================================================

Limits answer with a status and one line in ``{"detail": ...}``, never a crash: a body over
``max_request_bytes`` or more than ``max_sentences`` sentences -> 413; a sentence over ``max_chars``
characters, a beam over ``max_beam``, ``nbest`` over the beam or malformed JSON -> 422; more than
``max_queue`` sentences waiting, or a server shutting down -> 503 (with ``Retry-After``).
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import asdict, dataclass
from importlib import resources
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ConfigDict, Field, ValidationError, create_model

from seqkit.errors import SeqkitError
from seqkit.serve.batcher import Closed, MicroBatcher, Options, QueueFull


@dataclass(frozen=True)
class Limits:
    """What one request may ask for, and how much may wait (sizes in bytes, characters, sentences)."""

    max_request_bytes: int = 256 * 1024
    max_sentences: int = 64
    max_chars: int = 1000      # per sentence, in Unicode characters
    max_beam: int = 16
    max_queue: int = 512       # sentences waiting to be decoded, all requests together


def _decode_fields() -> dict[str, Any]:
    """The request fields of :data:`seqkit.seq2seq.decoding.REQUEST_FIELDS` (absent: the server's
    setting). Parsed as any JSON value and checked by the one checker of decode settings
    (:func:`seqkit.seq2seq.decoding.checked`), so a request refuses what the CLI and recipes refuse."""
    from seqkit.seq2seq.decoding import fields

    kinds = {"int": "integer", "float": "number", "str": "string", "bool": "boolean"}
    return {f.name: (Any, Field(None, description=f.metadata["doc"],
                                json_schema_extra={"type": kinds.get(str(f.type), "integer")}))
            for f in fields("request")}


TranslateRequest = create_model(
    "TranslateRequest", __config__=ConfigDict(extra="forbid", strict=True),
    __doc__="The body of ``POST /translate``.",
    sentences=(list[str], Field(min_length=1)), alignment=(bool, False), attention=(bool, False),
    **_decode_fields())


def create_app(engine: Any, *, info: dict[str, Any] | None = None, limits: Limits = Limits(),
               attention: bool = True, max_wait_ms: float = 5.0, max_batch: int = 64,
               threads: int | None = None) -> FastAPI:
    """The FastAPI app serving ``engine`` (see :mod:`seqkit.serve.engine` for the interface).

    ``info`` is what ``GET /info`` adds about the model (:func:`seqkit.serve.engine.run_info`);
    ``attention``: whether the engine gives attention (if not, asking for it or for alignments is a
    422, and the page shows no heatmap). The :class:`~seqkit.serve.batcher.MicroBatcher`
    (``max_wait_ms``, ``max_batch``, ``threads``) starts with the app's lifespan and, at shutdown,
    finishes every request it holds before it stops.
    """

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI):
        app.state.batcher = MicroBatcher(engine, max_wait_ms=max_wait_ms, max_batch=max_batch,
                                         max_queue=limits.max_queue, threads=threads)
        try:
            yield
        finally:  # the server has stopped taking requests; finish what is queued
            await asyncio.to_thread(app.state.batcher.close)

    app = FastAPI(title="seqkit serve", lifespan=lifespan, docs_url="/docs", redoc_url=None)
    settings = getattr(engine, "settings", None)  # the decode settings requests start from
    about = {**(info or {}), "engine": type(engine).__name__, "attention": attention, "limits": asdict(limits),
             "decode": asdict(settings) if settings is not None else None,
             "batching": {"max_wait_ms": max_wait_ms, "max_batch": max_batch}}

    def batcher(request: Request) -> MicroBatcher:
        found = getattr(request.app.state, "batcher", None)
        if found is None:
            raise HTTPException(503, "the decoder is not running (the app was started without its lifespan)")
        return found

    @app.get("/", response_class=HTMLResponse)
    async def page() -> str:
        return resources.files("seqkit.serve").joinpath("static/index.html").read_text(encoding="utf-8")

    @app.get("/favicon.ico", include_in_schema=False)
    async def favicon() -> Response:  # browsers ask for one; "no content" keeps their console clean
        return Response(status_code=204)

    @app.get("/health")
    async def health(request: Request) -> dict[str, Any]:
        return batcher(request).health()

    @app.get("/info")
    async def get_info() -> dict[str, Any]:
        return about

    @app.post("/translate", openapi_extra={"requestBody": {"required": True, "content": {
        "application/json": {"schema": TranslateRequest.model_json_schema()}}}})
    async def translate(request: Request) -> dict[str, Any]:
        body = await _read_body(request, limits.max_request_bytes)
        req = _parse(body)
        settings = _settings(req, engine)
        _check(req, settings, limits)
        if (req.alignment or req.attention) and not attention:
            raise HTTPException(422, f"this server's engine ({about['engine']}) gives no attention or alignments; "
                                     "ask without them")
        options = Options(settings, req.alignment or req.attention)
        try:
            future = batcher(request).submit(req.sentences, options)
        except QueueFull as exc:
            raise HTTPException(503, f"server busy: {exc}; retry shortly", headers={"Retry-After": "1"}) from None
        except Closed as exc:
            raise HTTPException(503, str(exc), headers={"Retry-After": "1"}) from None
        try:
            results = await asyncio.wrap_future(future)
        except SeqkitError as exc:  # the engine refused what was asked (an option it lacks ...)
            raise HTTPException(422, str(exc)) from None
        except Exception as exc:  # noqa: BLE001 -- the engine failed on this batch: say so, stay up
            raise HTTPException(500, f"translation failed: {type(exc).__name__}: {exc}") from None
        return {"beam": settings.beam, "nbest": settings.nbest,
                "translations": [[_hypothesis(t, req) for t in hyps] for hyps in results]}

    return app


async def _read_body(request: Request, limit: int) -> bytes:
    """The request body, refused (413) as soon as it exceeds ``limit`` bytes -- before it is all read
    when the client announces its length."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise HTTPException(413, f"request body of {int(declared):,} bytes is over the limit of {limit:,} bytes; "
                                 "send fewer or shorter sentences per request")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise HTTPException(413, f"request body is over the limit of {limit:,} bytes; "
                                     "send fewer or shorter sentences per request")
    return bytes(body)


def _parse(body: bytes) -> Any:
    """The body as a :class:`TranslateRequest`; anything else is one 422 line naming the field."""
    try:
        return TranslateRequest.model_validate_json(body)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            where = ".".join(str(p) for p in err["loc"]) or "body"
            problems.append(f"{where}: {err['msg']}")
        raise HTTPException(422, "bad request: " + "; ".join(problems) +
                            ' (expected {"sentences": ["..."], "beam": 5, "nbest": 1, "alignment": false, '
                            '"attention": false})') from None


def _settings(req: Any, engine: Any) -> Any:
    """The request's decode settings: the engine's, with the fields the request sets (422 on a bad
    value, in the words every other surface uses)."""
    from seqkit.seq2seq.decoding import REQUEST_FIELDS, DecodeSettings, check_engine
    from seqkit.settings import SettingsError

    given = {name: getattr(req, name) for name in REQUEST_FIELDS if getattr(req, name) is not None}
    try:
        settings = (getattr(engine, "settings", None) or DecodeSettings()).replace("request", **given)
        check_engine(settings, getattr(engine, "ENGINE", "seqkit"))
    except SettingsError as exc:
        raise HTTPException(422, "bad request: " + "; ".join(exc.problems)) from None
    return settings


def _check(req: Any, settings: Any, limits: Limits) -> None:
    if len(req.sentences) > limits.max_sentences:
        raise HTTPException(413, f"{len(req.sentences)} sentences in one request; the limit is "
                                 f"{limits.max_sentences}: split the request")
    for i, sentence in enumerate(req.sentences):
        if len(sentence) > limits.max_chars:
            raise HTTPException(422, f"sentences.{i} has {len(sentence):,} characters; the limit is "
                                     f"{limits.max_chars:,}: split it into shorter sentences")
    if settings.beam > limits.max_beam:
        raise HTTPException(422, f"beam {settings.beam} is over this server's limit of {limits.max_beam}")


def _hypothesis(t: Any, req: Any) -> dict[str, Any]:
    """One :class:`~seqkit.seq2seq.translator.Translation` as JSON (attention rounded to 4 decimals)."""
    from seqkit.seq2seq.plot import readable

    out: dict[str, Any] = {"text": t.text, "score": t.score, "log_prob": t.log_prob, "pieces": t.pieces,
                           "src_pieces": t.src_pieces}
    if req.alignment:
        out["alignment"] = t.pharaoh() if t.alignment is not None else None
    if req.attention:
        out["attention"] = None if t.attention is None else {
            "source": [*readable(t.src_pieces), "</s>"], "target": [*readable(t.pieces), "</s>"],
            "weights": [[round(float(w), 4) for w in row] for row in t.attention.float().tolist()]}
    return out
