"""LibreTranslate's API, beside seqkit's own: what its clients send, and what they expect back.

Users who self-host translation talk to LibreTranslate (its web page, browser extensions, Mastodon,
the ``libretranslatepy`` and ``libretranslate`` client packages). ``seqkit serve`` answers them on
the same paths:

==========================  =====================================================================
``POST /translate``         ``q`` (a text or a list of texts), ``source`` (the model's source
                            language or ``auto``), ``target``, ``format`` (``text``, or ``html``:
                            the markup is kept and only the text between tags translated),
                            ``alternatives`` (0 to 3), ``api_key`` (ignored): as JSON or as a form
                            (``application/x-www-form-urlencoded``, what ``libretranslatepy``
                            sends) -> ``{"translatedText": ...}`` (a string, or a list for a list),
                            plus ``detectedLanguage`` when ``source`` is ``auto`` and
                            ``alternatives`` when asked for
``GET /languages``          ``[{"code", "name", "targets"}]``: the languages of the models served
                            (``POST`` too, as LibreTranslate answers it)
==========================  =====================================================================

A JSON body with ``q`` is LibreTranslate's; one with ``sentences`` is seqkit's (``seqkit.serve.app``).
Errors are LibreTranslate's shape, ``{"error": "one line"}``, with 400 for a request the server will
not translate (where seqkit's own API says 413, 415 or 422) and the other statuses as seqkit's API.

A text is cut into sentences before it is translated (at line breaks, and after ``.``, ``!``, ``?``
and their full-width forms followed by a space), the sentences go through seqkit's own pipeline (the
same limits, work budget, lanes and deadline) and are joined again with the text's own spaces and
line breaks. A sentence still longer than the model reads is refused, never cut. ``source`` and
``target`` pick the model (:mod:`seqkit.serve.routing`); ``source: auto`` means the source language
of the one model that translates into ``target``: nothing is detected (``detectedLanguage`` reports
that language with confidence 100), and when several models translate into ``target`` the request
must name its source.
"""

from __future__ import annotations

import html
import json
import re
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any
from urllib.parse import parse_qs

#: ISO 639-1 codes -> names, for ``GET /languages`` (an unknown code is shown as itself).
NAMES = {"ar": "Arabic", "cs": "Czech", "da": "Danish", "de": "German", "el": "Greek", "en": "English",
         "es": "Spanish", "fi": "Finnish", "fr": "French", "he": "Hebrew", "hi": "Hindi", "hu": "Hungarian",
         "id": "Indonesian", "it": "Italian", "ja": "Japanese", "ko": "Korean", "nl": "Dutch", "pl": "Polish",
         "pt": "Portuguese", "ro": "Romanian", "ru": "Russian", "sv": "Swedish", "tr": "Turkish",
         "uk": "Ukrainian", "vi": "Vietnamese", "zh": "Chinese"}

MAX_ALTERNATIVES = 3
_SENTENCE_END = re.compile(r"(?<=[.!?。！？])(\s+)")
_RAW_TEXT = {"script", "style", "code", "pre", "textarea"}  # never translated


class LTError(Exception):
    """A request refused in LibreTranslate's shape: ``status`` and one line."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class LTRequest:
    """A parsed LibreTranslate request (``single``: ``q`` was one text, not a list)."""

    texts: list[str]
    single: bool
    source: str
    target: str
    format: str = "text"
    alternatives: int = 0


def is_form(content_type: str) -> bool:
    return content_type == "application/x-www-form-urlencoded"


def form_values(body: bytes) -> dict[str, Any]:
    """A urlencoded form as a dict (``q`` given more than once: the list of them)."""
    try:
        pairs = parse_qs(body.decode("utf-8"), keep_blank_values=True)
    except UnicodeDecodeError:
        raise LTError(400, "Invalid request: the form is not UTF-8") from None
    return {k: v if k == "q" and len(v) > 1 else v[0] for k, v in pairs.items()}


def parse(body: bytes | dict, content_type: str) -> LTRequest:
    """The request from a JSON object (already parsed) or a urlencoded form body (``content_type``);
    one :class:`LTError` line naming the parameter otherwise."""
    values = body if isinstance(body, dict) else form_values(body)
    q = values.get("q")
    if q is None:
        raise LTError(400, "Invalid request: missing q parameter")
    single = isinstance(q, str)
    texts = [q] if single else q
    if not isinstance(texts, list) or not all(isinstance(t, str) for t in texts):
        raise LTError(400, "Invalid request: q must be a text or a list of texts")
    source, target = values.get("source", "auto"), values.get("target")
    if not isinstance(source, str) or not source:
        raise LTError(400, "Invalid request: source must be a language code or auto")
    if not isinstance(target, str) or not target:
        raise LTError(400, "Invalid request: missing target parameter")
    fmt = values.get("format", "text") or "text"
    if fmt not in ("text", "html"):
        raise LTError(400, f"Invalid request: format must be text or html, got {fmt!r}")
    alternatives = values.get("alternatives", 0)
    if isinstance(alternatives, str) and alternatives.strip().isdigit():
        alternatives = int(alternatives)
    if isinstance(alternatives, bool) or not isinstance(alternatives, int) \
            or not 0 <= alternatives <= MAX_ALTERNATIVES:
        raise LTError(400, f"Invalid request: alternatives must be an integer from 0 to {MAX_ALTERNATIVES}")
    return LTRequest(texts, single, source, target, fmt, alternatives)


def languages(pairs: list[tuple[str | None, str | None]]) -> list[dict[str, Any]]:
    """``GET /languages``: every language of the ``(source, target)`` pairs served, in the order they
    first appear, each with the targets it is translated into (a language only translated into has
    none)."""
    targets: dict[str, list[str]] = {}
    for src, tgt in pairs:
        if not src or not tgt:
            continue
        targets.setdefault(src, [])
        targets.setdefault(tgt, [])
        if tgt not in targets[src]:
            targets[src].append(tgt)
    return [{"code": code, "name": NAMES.get(code, code), "targets": into} for code, into in targets.items()]


# -- texts into sentences and back ------------------------------------------------------------------
@dataclass
class Template:
    """A text cut into ``parts``: ``(True, sentence)`` to translate, ``(False, text)`` kept as it is
    (spaces, line breaks, markup)."""

    parts: list[tuple[bool, str]] = field(default_factory=list)
    escape: bool = False  # html: translations are escaped as HTML text

    @property
    def sentences(self) -> list[str]:
        return [text for translate, text in self.parts if translate]

    def gaps(self) -> list[str]:
        """What is kept before each sentence, and after the last (one more than the sentences): the
        text is ``gaps[0] + sentences[0] + gaps[1] + ... + gaps[n]``."""
        out, kept = [], []
        for translate, text in self.parts:
            if translate:
                out.append("".join(kept))
                kept = []
            else:
                kept.append(text)
        return [*out, "".join(kept)]

    def fill(self, translations: list[str]) -> str:
        """The text with each sentence replaced by its translation, in order."""
        gaps = self.gaps()
        done = [html.escape(t, quote=False) if self.escape else t for t in translations]
        return "".join(g + t for g, t in zip(gaps, done)) + gaps[-1]


def _cut(text: str, parts: list[tuple[bool, str]]) -> None:
    """Append ``text``'s sentences (to translate) and the spaces around and between them (kept)."""
    for line in re.split(r"(\r?\n)", text):
        if line in ("\n", "\r\n"):
            parts.append((False, line))
            continue
        for i, piece in enumerate(_SENTENCE_END.split(line)):
            if i % 2 or not piece.strip():  # a separator, or nothing but spaces
                parts.append((False, piece))
                continue
            lead = piece[: len(piece) - len(piece.lstrip())]
            trail = piece[len(piece.rstrip()):]
            if lead:
                parts.append((False, lead))
            parts.append((True, piece.strip()))
            if trail:
                parts.append((False, trail))


class _Markup(HTMLParser):
    """Cuts HTML into markup (kept as written) and text (cut into sentences)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[tuple[bool, str]] = []
        self.raw = 0  # inside <script>, <style> ...

    def handle_starttag(self, tag: str, attrs: list) -> None:
        self.parts.append((False, self.get_starttag_text() or f"<{tag}>"))
        if tag in _RAW_TEXT:
            self.raw += 1

    def handle_startendtag(self, tag: str, attrs: list) -> None:
        self.parts.append((False, self.get_starttag_text() or f"<{tag}/>"))

    def handle_endtag(self, tag: str) -> None:
        self.parts.append((False, f"</{tag}>"))
        if tag in _RAW_TEXT and self.raw:
            self.raw -= 1

    def handle_data(self, data: str) -> None:
        if self.raw:
            self.parts.append((False, data))
        else:
            text: list[tuple[bool, str]] = []
            _cut(data, text)
            self.parts.extend((t, s if t else html.escape(s, quote=False)) for t, s in text)

    def handle_comment(self, data: str) -> None:
        self.parts.append((False, f"<!--{data}-->"))

    def handle_decl(self, decl: str) -> None:
        self.parts.append((False, f"<!{decl}>"))

    def handle_pi(self, data: str) -> None:
        self.parts.append((False, f"<?{data}>"))


def template(text: str, fmt: str = "text") -> Template:
    """``text`` cut into sentences to translate and what is kept around them (``fmt``: ``text`` or
    ``html``)."""
    if fmt == "html":
        parser = _Markup()
        parser.feed(text)
        parser.close()
        return Template(parser.parts, escape=True)
    parts: list[tuple[bool, str]] = []
    _cut(text, parts)
    return Template(parts)


def answer(req: LTRequest, templates: list[Template], results: list[list[Any]], src: str | None) -> bytes:
    """LibreTranslate's response body: each text with its sentences' best translations (and, with
    ``alternatives``, the k-th best of each sentence for the k-th alternative)."""
    at, texts, alternatives = 0, [], []
    for t in templates:
        hyps = results[at:at + len(t.sentences)]
        at += len(t.sentences)
        texts.append(t.fill([h[0].text for h in hyps]))
        alternatives.append([t.fill([h[min(k, len(h) - 1)].text for h in hyps])
                             for k in range(1, req.alternatives + 1)])
    out: dict[str, Any] = {"translatedText": texts[0] if req.single else texts}
    if req.source == "auto":
        detected = {"confidence": 100.0, "language": src or "auto"}
        out["detectedLanguage"] = detected if req.single else [detected] * len(texts)
    if req.alternatives:
        out["alternatives"] = alternatives[0] if req.single else alternatives
    return json.dumps(out, ensure_ascii=False).encode()
