"""What ``seqkit serve`` reads from a request: the bodies of both endpoints as strict models, the Host
and Origin check, the body read under its size and time limits, and the checks that price a request
before anything is decoded (:mod:`seqkit.serve.app` routes; one 4xx line for anything wrong)."""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import urlsplit

from fastapi import HTTPException, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model

from seqkit.serve.limits import Limits, sentence_work


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


class HostCheck:
    """ASGI middleware: a Host header not among the allowed names is a 400 (DNS rebinding: a page of
    another site whose name now points at this machine gets nothing), and a browser request from a
    page of another site (its ``Origin`` names a host not allowed) is a 403."""

    def __init__(self, app: Any, hosts: set[str]) -> None:
        self.app, self.hosts = app, hosts

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and "*" not in self.hosts:
            headers = {k: v for k, v in scope["headers"] if k in (b"host", b"origin")}
            host = host_name(headers.get(b"host", b"").decode("latin-1"), with_port=True)
            problem = None
            if host not in self.hosts:
                problem = (400, f"Host {host!r} is not served here (allowed: {', '.join(sorted(self.hosts))}); "
                                "the server's operator adds names with --allowed-hosts")
            elif b"origin" in headers:
                origin = headers[b"origin"].decode("latin-1")
                if host_name(urlsplit(origin).netloc, with_port=True) not in self.hosts:
                    problem = (403, f"requests from pages of other sites ({origin}) are refused")
            if problem is not None:
                await JSONResponse({"detail": problem[1]}, status_code=problem[0])(scope, receive, send)
                return
        await self.app(scope, receive, send)


def host_name(value: str, *, with_port: bool = False) -> str:
    """``"LocalHost:8000"`` -> ``"localhost"``, ``"[::1]:8000"`` -> ``"::1"`` (``with_port``: the
    value may carry a port)."""
    value = value.strip().lower()
    if value.startswith("["):
        return value[1:].partition("]")[0]
    if with_port and value.count(":") == 1:
        value = value.partition(":")[0]
    return value.rstrip(".")


def media_type(request: Request) -> str:
    return request.headers.get("content-type", "").partition(";")[0].strip().lower()


def require_json(kind: str) -> None:
    if kind != "application/json":
        raise HTTPException(415, f"the body must be JSON, sent with Content-Type: application/json "
                                 f"(got {kind or 'no Content-Type'!r})")


async def read_body(request: Request, limits: Limits) -> bytes:
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


def parse_body(body: bytes, model: type[BaseModel]) -> Any:
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


def request_settings(req: Any, engine: Any) -> Any:
    """The request's decode settings: the engine's, with the fields the request sets (422 on a bad
    value, in the words every other surface uses)."""
    from seqkit.seq2seq.decoding import REQUEST_FIELDS

    return settings_of({name: getattr(req, name) for name in REQUEST_FIELDS if getattr(req, name) is not None},
                        engine)


def settings_of(given: dict[str, Any], engine: Any) -> Any:
    from seqkit.seq2seq.decoding import DecodeSettings, check_engine
    from seqkit.settings import SettingsError

    try:
        settings = (getattr(engine, "settings", None) or DecodeSettings()).replace("request", **given)
        check_engine(settings, getattr(engine, "ENGINE", "seqkit"))
    except SettingsError as exc:
        raise HTTPException(422, "bad request: " + "; ".join(exc.problems)) from None
    return settings


def check_limits(sentences: list[str], settings: Any, limits: Limits) -> None:
    if len(sentences) > limits.max_sentences:
        raise HTTPException(413, f"{len(sentences)} sentences in one request; the limit is "
                                 f"{limits.max_sentences}: split the request")
    for i, sentence in enumerate(sentences):
        if len(sentence) > limits.max_chars:
            raise HTTPException(422, f"sentences.{i} has {len(sentence):,} characters; the limit is "
                                     f"{limits.max_chars:,}: split it into shorter sentences")
    if settings.beam > limits.max_beam:
        raise HTTPException(422, f"beam {settings.beam} is over this server's limit of {limits.max_beam}")


def work_units(sentences: list[str], settings: Any, lengths: list[int], limits: Limits, *, attention: bool) -> list[int]:
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
