"""The server's limits: what one request may cost, how much may wait, how long a client may take.

:class:`Limits` is the one place where a limit of ``seqkit serve`` is written, with its default, its
range and its help text; the command's flags (:func:`click_options`), the check at start
(:func:`checked`, through :func:`seqkit.settings.from_dict`: types, ranges, finite numbers),
``GET /info``'s ``limits`` and the table in ``docs/reference/serving.md`` (:func:`limits_table`) are
made from it. The request fields a client may set are the decode settings'
(:data:`seqkit.seq2seq.decoding.REQUEST_FIELDS`); these are the bounds around them.

The cost of a request is counted in *work units* before anything is decoded (:func:`sentence_work`):
per sentence of ``n`` source pieces (``</s>`` included), ``n * beam * nbest`` for the search, plus,
when attention is asked for, the number of attention weights the answer may hold: ``nbest * (cap + 1)
* n`` with ``cap = floor(max_len_a * n + max_len_b)`` the output cap. Measured on the tests' tiny
Transformer (one thread): 192,000 units of search took 0.87 s, 6.9 million attention weights 12.8 s
to decode and encode, so both count one unit each.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

from seqkit.settings import SettingsError, from_dict, setting

KIB, MIB = 1024, 1024 * 1024


def limit(default: Any, doc: str, *, unit: str = "", **bounds: Any) -> Any:
    """A limit: :func:`~seqkit.settings.setting` plus its help text and unit."""
    field = setting(default, **bounds)
    return dataclasses.field(default=default, metadata={**field.metadata, "doc": doc, "unit": unit})


@dataclass(frozen=True)
class Limits:
    """Every limit of ``seqkit serve``, with its default and range (flags: ``--max-work`` ...)."""

    # -- one request -----------------------------------------------------------------------------
    max_request_bytes: int = limit(256 * KIB, "request body size at most (413 beyond)", unit="bytes",
                                   ge=1, le=64 * MIB)
    max_sentences: int = limit(64, "sentences per request at most (413 beyond)", ge=1, le=100_000)
    max_chars: int = limit(1000, "characters per sentence at most (422 beyond)", ge=1, le=1_000_000)
    max_beam: int = limit(16, "largest beam a request may ask for (422 beyond)", ge=1, le=256)
    max_work: int = limit(200_000, "decoding work per request at most: source pieces x beam x nbest, plus the "
                                   "attention weights asked for (413 beyond)", unit="units", ge=1, le=10**12)
    max_response_bytes: int = limit(8 * MIB, "response body size at most (413 beyond)", unit="bytes",
                                    ge=1 * KIB, le=1024 * MIB)
    deadline: float = limit(60.0, "seconds a request may wait and decode; its work is then dropped (503)",
                            unit="s", gt=0, le=3600)
    # -- the queue -------------------------------------------------------------------------------
    max_queue: int = limit(512, "sentences waiting at most, per lane; beyond it requests get 503", ge=1,
                           le=1_000_000)
    max_wait_ms: float = limit(5.0, "how long a request waits for others to share its batch", unit="ms",
                               ge=0, le=10_000)
    max_batch: int = limit(64, "sentences decoded together at most (a larger request is decoded in parts)",
                           ge=1, le=100_000)
    heavy_work: int = limit(20_000, "requests costing more go to the heavy lane, a second decoder thread at a "
                                    "lower CPU priority, so they never hold up small ones", unit="units",
                            ge=1, le=10**12)
    # -- connections -----------------------------------------------------------------------------
    max_connections: int = limit(1000, "open connections at most; beyond it the oldest idle one is closed "
                                       "(503 when none is idle)", ge=1, le=1_000_000)
    backlog: int = limit(1024, "connections the kernel holds before the server accepts them", ge=1, le=65_535)
    header_timeout: float = limit(10.0, "seconds a client may take to send a request's headers (then closed)",
                                  unit="s", gt=0, le=3600)
    body_timeout: float = limit(30.0, "seconds a client may take to send a request's body (408)", unit="s",
                                gt=0, le=3600)
    keep_alive: float = limit(5.0, "seconds an idle keep-alive connection stays open", unit="s", gt=0, le=3600)
    grace: float = limit(30.0, "seconds SIGTERM/Ctrl-C waits for requests in flight; then they get 503",
                         unit="s", ge=0, le=3600)


#: The local names a server answers to by default (``--allowed-hosts``): DNS rebinding gets nothing.
LOCAL_HOSTS = ("localhost", "127.0.0.1", "::1")


def fields() -> list[dataclasses.Field]:
    return list(dataclasses.fields(Limits))


def checked(values: dict[str, Any] | None = None) -> Limits:
    """:class:`Limits` with ``values`` set; every bad value is one line of a
    :class:`~seqkit.settings.SettingsError` naming its flag (``--max-wait-ms: must be <= 10000, got 1e+308``)."""
    try:
        return from_dict(Limits, values, "serve")
    except SettingsError as exc:
        raise SettingsError([_flag_problem(p) for p in exc.problems]) from None


def _flag_problem(problem: str) -> str:
    head, _, rest = problem.partition(": ")
    return f"--{head.removeprefix('serve.').replace('_', '-')}: {rest}"


def sentence_work(pieces: int, settings: Any, *, attention: bool) -> int:
    """The work units of one sentence of ``pieces`` source pieces (without ``</s>``) under the decode
    ``settings`` (see the module docstring); an empty sentence costs nothing (it is not searched)."""
    if pieces == 0:
        return 0
    n = min(pieces + 1, settings.max_src_len)
    work = n * settings.beam * settings.nbest
    if attention:
        cap = max(1, math.floor(settings.max_len_a * n + settings.max_len_b))
        work += settings.nbest * (cap + 1) * n
    return work


def click_options(command):
    """One ``click`` option per limit (``--max-work`` ...), each parsed as its type; the command gets
    them as keyword arguments named as the fields and passes them to :func:`checked`."""
    import click

    for f in reversed(fields()):
        unit = f" ({f.metadata['unit']})" if f.metadata["unit"] else ""
        command = click.option(f"--{f.name.replace('_', '-')}", f.name, default=f.default, show_default=True,
                               type={"int": int, "float": float}[str(f.type)],
                               help=f"{f.metadata['doc']}{unit} [{_range(f.metadata)}]")(command)
    return command


def _range(meta: dict[str, Any]) -> str:
    parts = [f"{word} {meta[k]:,}" for k, word in (("gt", ">"), ("ge", ">="), ("lt", "<"), ("le", "<="))
             if meta.get(k) is not None]
    return " and ".join(parts)


def limits_table() -> str:
    """The Markdown table of the limits in ``docs/reference/serving.md`` (a test keeps it in step)."""
    rows = ["| flag | default | range | what it bounds |", "|---|---|---|---|"]
    for f in fields():
        unit = f" {f.metadata['unit']}" if f.metadata["unit"] else ""
        default = f"{f.default:,}" if isinstance(f.default, int) else f"{f.default:g}"
        rows.append(f"| `--{f.name.replace('_', '-')}` | {default}{unit} | {_range(f.metadata)} | "
                    f"{f.metadata['doc']} |")
    return "\n".join(rows) + "\n"


__all__ = ["LOCAL_HOSTS", "Limits", "checked", "click_options", "limits_table", "sentence_work"]
