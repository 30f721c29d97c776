"""Which model answers a request: ``seqkit serve --run A --run B`` serves one model per language pair.

Each model is a :class:`Model` (its engine, what ``GET /info`` says of its run, whether it gives
attention), decoded by its own decoder threads (``seqkit.serve.app``), so one model's load never
holds up another's. A request names its pair as LibreTranslate's clients do, with ``source`` and
``target`` (seqkit's own JSON API takes the same two optional fields). :func:`choose` picks the one
model the fields given fit: with one model neither is needed, with several the target alone is
enough when one model translates into it; a pair no model serves, or fields that fit several
models, is one line (:class:`NoRoute`, which each API answers in its own shape).

Two models of the same pair, or several models of which one does not say its languages, are refused
when the server starts (:func:`check_pairs`), before any weights are loaded.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from seqkit.errors import SeqkitError


@dataclass(frozen=True, eq=False)
class Model:
    """One model the server holds: ``engine`` (see :mod:`seqkit.serve.engine`), ``info`` (what
    ``GET /info`` says of its run: :func:`seqkit.serve.engine.run_info`, whose ``src`` and ``tgt``
    route requests; none given: it takes any pair), ``attention``: whether the engine gives attention."""

    engine: Any
    info: dict[str, Any] = field(default_factory=dict)
    attention: bool = True

    @property
    def src(self) -> str | None:
        return self.info.get("src")

    @property
    def tgt(self) -> str | None:
        return self.info.get("tgt")

    @property
    def pair(self) -> str:
        """``"en-fr"`` (the name of its lanes in ``/health``)."""
        return f"{self.src}-{self.tgt}"


class NoRoute(Exception):
    """No single model fits the request's ``source`` and ``target`` (one line: which pairs are served)."""


def check_pairs(models: list[tuple[str, dict[str, Any]]]) -> None:
    """Refuse (:class:`~seqkit.errors.SeqkitError`, one line) a list of ``(name, run info)`` -- the
    name as the user gave it, such as the ``--run`` path -- in which two models translate the same
    pair, or, with several models, one names no languages (so no request could be routed to it)."""
    if len(models) < 2:
        return
    seen: dict[tuple[str, str], str] = {}
    for name, info in models:
        src, tgt = info.get("src"), info.get("tgt")
        if not src or not tgt:
            raise SeqkitError(f"{name}: its model does not say which languages it translates "
                              "(model.json has no src/tgt), so no request could be routed to it",
                              fix="serve it alone, or retrain it with data.src and data.tgt set")
        if (src, tgt) in seen:
            raise SeqkitError(f"{name} translates {src} to {tgt}, as {seen[src, tgt]} does: one model per "
                              "language pair", fix="serve one of them, and the other on another --port")
        seen[src, tgt] = name


def _fits(wanted: str | None, has: str | None) -> bool:
    return wanted is None or has is None or wanted == has


def served(models: list[Model]) -> str:
    """``"en to fr, fr to en"``: the pairs, for messages."""
    return ", ".join(f"{m.src} to {m.tgt}" for m in models)


def choose(models: list[Model], source: str | None, target: str | None) -> Model:
    """The one model that translates ``source`` (None: any) into ``target`` (None: any);
    :class:`NoRoute` when none or several do."""
    fits = [m for m in models if _fits(source, m.src) and _fits(target, m.tgt)]
    if len(fits) == 1:
        return fits[0]
    pairs = served(models)
    if fits:
        raise NoRoute(f"this server translates {pairs}: say which with source and target")
    if source is not None and not any(_fits(source, m.src) for m in models):
        raise NoRoute(f"{source} is not supported as a source language; this server translates {pairs} "
                      "(see /languages)")
    into = f" from {source}" if source is not None and len(models) > 1 else ""
    raise NoRoute(f"{target} is not supported as a target language{into}; this server translates {pairs} "
                  "(see /languages)")


__all__ = ["Model", "NoRoute", "check_pairs", "choose", "served"]
