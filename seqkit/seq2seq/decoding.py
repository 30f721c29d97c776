"""Decode settings: one object owns every knob of a translation search, its default and its range.

:class:`DecodeSettings` is the only place where a decode default or range is written. Every surface is
built from it:

==================  ===================================================================================
recipe              the ``decode:`` section of ``nmt_transformer`` / ``nmt_rnn_attention`` (checked by
                    :func:`~seqkit.settings.from_dict`, as ``seqkit recipe validate`` does)
``seqkit translate`` one flag per setting (:func:`click_options`), plus the names users of the anchors
                    type (``--beam-size``, ``--lenpen``, ``--max-len-a``)
``seqkit serve``    the server's defaults as flags, and the request fields a client may set per request
                    (:data:`REQUEST_FIELDS`), checked by the same ranges
both engines        :class:`~seqkit.seq2seq.translator.Translator` (seqkit's search) and
                    :class:`~seqkit.seq2seq.engines.CT2Translator` (CTranslate2) read one
                    ``DecodeSettings``; a setting an engine cannot honour is refused in one line
==================  ===================================================================================

So a value refused in one surface is refused in all, and the defaults agree everywhere.
``docs/reference/decode-settings.md`` is :func:`settings_table`'s output (a test keeps it in step).

Length penalty and scores (the same formula in both engines): a finished hypothesis of ``L`` tokens
counting ``<eos>``, with summed log-probability ``log P``, is ranked by ``score = log P / lp(L)`` with

* ``length_penalty="length"`` (the default): ``lp(L) = L ** alpha`` -- fairseq's ``--lenpen`` and
  CTranslate2's ``length_penalty``, and d2l's 10.8 (``"d2l"`` is accepted as another name for it);
* ``"gnmt"``: ``lp(L) = ((5 + L) / 6) ** alpha`` (Wu et al. 2016); seqkit's engine only, since
  CTranslate2 has no such penalty;
* ``"none"`` (or ``alpha=0``): ``lp = 1``, the score is ``log P``.

Greedy search (``beam=1``) and sampling rank nothing: their score is ``log P``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from seqkit.settings import SettingsError, from_dict, setting

#: The length-penalty kinds (``lp(L)`` above); ``d2l`` is an alias of ``length``.
LENGTH_PENALTIES = ("length", "gnmt", "none")
PENALTY_ALIASES = {"d2l": "length"}

#: The surfaces, in the order of the table's columns.
SURFACES = ("recipe", "translate", "serve", "request", "seqkit", "ct2")
_ALL = frozenset(SURFACES)


def knob(default: Any, doc: str, *, surfaces: frozenset[str] | set[str] = _ALL, flags: tuple[str, ...] = (),
         **bounds: Any) -> Any:
    """A decode setting: :func:`~seqkit.settings.setting` plus its help text, the surfaces that offer
    it (``SURFACES``) and extra CLI names (the first flag is ``--name-with-dashes``)."""
    field = setting(default, **bounds)
    meta = {**field.metadata, "doc": doc, "surfaces": frozenset(surfaces), "flags": flags}
    return dataclasses.field(default=default, metadata=meta)


_NO_CT2 = _ALL - {"ct2"}
_CLI = frozenset({"translate", "seqkit"})  # sampling: seqkit translate with seqkit's engine only


@dataclass(frozen=True)
class DecodeSettings:
    """Every decode knob, with its default and range (see the module docstring for the surfaces)."""

    beam: int = knob(5, "beam size (1: greedy search)", ge=1, le=256, flags=("--beam-size",))
    nbest: int = knob(1, "the N best translations of each sentence (<= beam)", ge=1, le=256,
                      surfaces=_ALL - {"recipe", "serve"})
    alpha: float = knob(1.0, "length-penalty exponent (0: none)", ge=0, le=10, flags=("--lenpen",))
    length_penalty: str = knob("length", "lp(L): length = L^alpha, gnmt = ((5+L)/6)^alpha, none = 1",
                               choices=(*LENGTH_PENALTIES, *PENALTY_ALIASES))
    patience: float | None = knob(None, "beam search ends a sentence once round(beam x patience) hypotheses have "
                                  "finished (CTranslate2's rule: faster, may miss a better-scoring longer one); "
                                  "unset: seqkit's exact stop, when no alive hypothesis can still win (CTranslate2: "
                                  "patience 2, its closest)", gt=0, le=100, surfaces=_ALL - {"request"})
    max_len_a: float = knob(1.5, "output cap: a * source pieces + b", ge=0, le=100, surfaces=_ALL - {"request"})
    max_len_b: int = knob(10, "output cap: a * source pieces + b", ge=0, le=10_000, surfaces=_ALL - {"request"})
    max_src_len: int = knob(250, "longer sources are cut to this many pieces (<eos> included)", ge=2,
                            le=100_000, surfaces=_ALL - {"request"})
    unk_penalty: float = knob(0.0, "subtracted from <unk>'s log-probability at every step", ge=0, le=1e4,
                              surfaces=_NO_CT2 - {"request"})
    sample: bool = knob(False, "sample translations instead of searching", surfaces=_CLI)
    temperature: float = knob(1.0, "sampling: softmax temperature (0: greedy)", ge=0, le=100, surfaces=_CLI)
    top_k: int | None = knob(None, "sampling: among the k most likely pieces", ge=1, le=1_000_000, surfaces=_CLI)
    top_p: float = knob(1.0, "sampling: among the smallest set reaching this probability", gt=0, le=1,
                        surfaces=_CLI)
    seed: int = knob(0, "sampling: random seed", ge=0, le=2**32 - 1, surfaces=_CLI)
    batch_tokens: int = knob(3000, "padded source pieces per decoding batch", ge=1, le=10_000_000,
                             surfaces=_ALL - {"request"})
    shortlist: bool = knob(False, "output pieces limited to the shortlist of the batch's source pieces (the run's or "
                           "export's vmap.txt: seqkit shortlist build)", surfaces=_ALL - {"recipe", "request"})

    def checks(self) -> list[str]:
        """Rules between fields (:func:`~seqkit.settings.from_dict` adds them to the range checks)."""
        found = []
        if self.nbest > self.beam:
            found.append(f"nbest: must be <= beam ({self.beam}), got {self.nbest}")
        if self.sample and self.nbest > 1:
            found.append("nbest: sampling gives one translation per sentence; drop nbest or sample")
        return found

    @property
    def penalty(self) -> str | None:
        """The length penalty as :func:`~seqkit.seq2seq.search.length_penalty` names it (None: none)."""
        kind = PENALTY_ALIASES.get(self.length_penalty, self.length_penalty)
        return None if kind == "none" or self.alpha == 0 else kind

    def replace(self, surface: str = "settings", **changes: Any) -> DecodeSettings:
        """A copy with ``changes`` (``None`` values ignored), checked as :func:`checked` checks
        values from ``surface``."""
        return checked({k: v for k, v in changes.items() if v is not None}, surface, base=self)

    def sampling(self) -> dict[str, Any] | None:
        """``{"temperature", "top_k", "top_p", "seed"}`` when sampling, else None."""
        if not self.sample:
            return None
        return {"temperature": self.temperature, "top_k": self.top_k, "top_p": self.top_p, "seed": self.seed}


#: The defaults, for signatures below this module (search functions).
DEFAULT = DecodeSettings()


def asdict(settings: DecodeSettings) -> dict[str, Any]:
    return dataclasses.asdict(settings)


def fields(surface: str | None = None) -> list[dataclasses.Field]:
    """The settings (dataclass fields), only those ``surface`` offers when given."""
    return [f for f in dataclasses.fields(DecodeSettings) if surface is None or surface in f.metadata["surfaces"]]


def checked(values: dict[str, Any], surface: str = "settings", base: DecodeSettings | None = None
            ) -> DecodeSettings:
    """``base`` (default :data:`DEFAULT`) with ``values`` set; every bad value (type, range, a rule
    between fields, a key ``surface`` does not offer) is one line of a
    :class:`~seqkit.settings.SettingsError`, named as the surface names it (``decode.beam`` in a
    recipe, ``--beam`` on the command line, ``beam`` in a request)."""
    offered = {f.name for f in fields(surface)} if surface in SURFACES else {f.name for f in fields()}
    prefix = "decode" if surface == "recipe" else surface
    found = [f"{prefix}.{k}: not a setting of {surface}; valid: {', '.join(sorted(offered))}"
             for k in values if k not in offered]
    merged = {**asdict(base or DEFAULT), **{k: v for k, v in values.items() if k in offered}}
    try:
        settings = from_dict(DecodeSettings, merged, prefix)
    except SettingsError as exc:
        found += exc.problems
        settings = None
    if found:
        raise SettingsError([_rename(p, prefix) for p in found])
    return settings


def _rename(problem: str, surface: str) -> str:
    """``translate.beam: ...`` -> ``--beam: ...``; ``request.beam`` -> ``beam``."""
    head, _, rest = problem.partition(": ")
    name = head.removeprefix(f"{surface}.")
    if surface in ("translate", "serve"):
        return f"--{name.replace('_', '-')}: {rest}"
    if surface == "request":
        return f"{name}: {rest}"
    return problem


def engine_problems(settings: DecodeSettings, engine: str) -> list[str]:
    """What ``engine`` (``seqkit`` or ``ct2``) cannot do of ``settings``, one line each."""
    found = []
    if settings.sample and engine not in _CLI:
        found.append(f"the {engine} engine does not support sampling (use --engine seqkit)")
    for f in fields():
        value = getattr(settings, f.name)
        if engine not in f.metadata["surfaces"] and value != f.default and f.metadata["surfaces"] != _CLI:
            found.append(f"the {engine} engine does not support {f.name} (got {value!r}; use --engine seqkit)")
    if engine == "ct2" and settings.penalty == "gnmt":
        found.append("length_penalty=gnmt: CTranslate2 has only lp(L) = L^alpha (use --length-penalty length, "
                     "or --engine seqkit)")
    return found


def check_engine(settings: DecodeSettings, engine: str) -> None:
    found = engine_problems(settings, engine)
    if found:
        raise SettingsError(found)


# -- surfaces -------------------------------------------------------------------------------------
def _number(x: float) -> str:
    return f"{x:,}" if isinstance(x, int) else f"{x:g}"


def _range(meta: dict[str, Any]) -> str:
    if meta.get("choices"):
        return ", ".join(map(str, meta["choices"]))
    lo = next((f"{'>' if k == 'gt' else '>='} {_number(meta[k])}" for k in ("gt", "ge") if meta.get(k) is not None), "")
    hi = next((f"{'<' if k == 'lt' else '<='} {_number(meta[k])}" for k in ("lt", "le") if meta.get(k) is not None), "")
    return " and ".join(x for x in (lo, hi) if x) or "true, false"


def flag_names(f: dataclasses.Field) -> list[str]:
    return [f"--{f.name.replace('_', '-')}", *f.metadata["flags"]]


def click_options(surface: str, defaults: DecodeSettings | None = None):
    """A decorator adding one ``click`` option per setting ``surface`` offers (``--beam``, ...). The
    command receives them as keyword arguments named as the fields; :func:`from_cli` turns them into
    ``DecodeSettings``. Types are parsed here; ranges are checked by :func:`checked`, the one checker."""
    import click

    defaults = defaults or DEFAULT

    def decorate(command):
        for f in reversed(fields(surface)):
            default = getattr(defaults, f.name)
            if f.type in (bool, "bool"):
                option = click.option(*flag_names(f), f.name, is_flag=True, default=default, help=f.metadata["doc"])
            else:
                kind = {"int": int, "float": float, "str": str, "int | None": int, "float | None": float}[str(f.type)]
                if f.metadata.get("choices"):
                    kind = click.Choice(list(f.metadata["choices"]))
                option = click.option(*flag_names(f), f.name, default=default, type=kind, show_default=True,
                                      help=f"{f.metadata['doc']} [{_range(f.metadata)}]")
            command = option(command)
        return command

    return decorate


def from_cli(kwargs: dict[str, Any], surface: str) -> DecodeSettings:
    """Pop the decode options :func:`click_options` added from a command's ``kwargs`` and check them."""
    return checked({f.name: kwargs.pop(f.name) for f in fields(surface) if f.name in kwargs}, surface)


#: What a client of ``seqkit serve`` may set per request (besides sentences, alignment, attention).
REQUEST_FIELDS = tuple(f.name for f in fields("request"))


def settings_table() -> str:
    """The Markdown table of ``docs/reference/decode-settings.md``: each setting x each surface."""
    names = {"recipe": "recipe `decode.*`", "translate": "`seqkit translate`", "serve": "`seqkit serve` flags",
             "request": "request fields", "seqkit": "seqkit engine", "ct2": "CTranslate2 engine"}
    head = ["setting", "default", "range", *(names[s] for s in SURFACES)]
    rows = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for f in fields():
        cells = []
        for s in SURFACES:
            if s not in f.metadata["surfaces"]:
                cells.append("-")
            elif s == "recipe":
                cells.append(f"`decode.{f.name}`")
            elif s in ("translate", "serve"):
                cells.append(" ".join(f"`{n}`" for n in flag_names(f)))
            elif s == "request":
                cells.append(f"`{f.name}`")
            else:
                cells.append("yes" if not (s == "ct2" and f.name == "length_penalty") else "length, none")
        rows.append(f"| `{f.name}` | `{f.default!r}` | {_range(f.metadata)} | " + " | ".join(cells) + " |")
    return "\n".join(rows) + "\n"


def describe(settings: DecodeSettings) -> str:
    """A short line for logs: ``beam 5, alpha 1.0 (length)``."""
    if settings.sample:
        return f"sampling (temperature {settings.temperature}, top-k {settings.top_k}, top-p {settings.top_p})"
    return f"beam {settings.beam}, alpha {settings.alpha} ({settings.penalty or 'none'})"


__all__ = ["DecodeSettings", "DEFAULT", "LENGTH_PENALTIES", "REQUEST_FIELDS", "SURFACES", "check_engine",
           "checked", "click_options", "describe", "engine_problems", "fields", "from_cli", "settings_table"]
