"""Typed settings: dataclass fields that know their allowed values, checked all at once.

Each library package owns the dataclass of its settings (``RNNLMConfig``, ``RNNTrainConfig``,
``NMTModelConfig`` ...) and declares every field's range or choices with :func:`setting`. A recipe's
YAML section maps onto such a dataclass; :func:`problems` lists every bad value, one line each, naming
the key and what is allowed, so ``seqkit recipe validate`` can report them all before anything runs::

    @dataclass
    class TrainConfig:
        lr: float = setting(1e-3, gt=0)
        optimizer: str = setting("adam", choices=("adam", "adamw"))

    problems(TrainConfig(lr=-1, optimizer="nope"), "train")
    # ["train.lr: must be > 0, got -1", "train.optimizer: must be one of adam, adamw, got 'nope'"]
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from collections.abc import Iterable
from typing import Any

from seqkit.errors import SeqkitError


class SettingsError(SeqkitError):
    """One or more bad settings; ``problems`` holds one line per value (the CLI prints each)."""

    def __init__(self, problems: list[str], *, path: Any = None) -> None:
        self.problems = list(problems)
        super().__init__("; ".join(self.problems) if len(self.problems) > 1 else self.problems[0], path=path)

    def lines(self) -> list[str]:
        prefix = f"{self.path}: " if self.path is not None else ""
        return [prefix + p for p in self.problems]


def setting(default: Any = dataclasses.MISSING, *, choices: Iterable[Any] | None = None,
            gt: float | None = None, ge: float | None = None, lt: float | None = None,
            le: float | None = None, factory: Any = dataclasses.MISSING) -> Any:
    """A dataclass field with its allowed values (``None`` is always allowed when it is the default
    or the annotation says ``| None``)."""
    meta = {"choices": tuple(choices) if choices is not None else None, "gt": gt, "ge": ge, "lt": lt, "le": le}
    if factory is not dataclasses.MISSING:
        return dataclasses.field(default_factory=factory, metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


def _allows_none(tp: Any) -> bool:
    return tp is type(None) or type(None) in typing.get_args(tp)


def _base_types(tp: Any) -> tuple[type, ...]:
    """The runtime types a hint admits: the members of a union, the origin of a generic (``list[int]``
    -> ``list``)."""
    origin = typing.get_origin(tp)
    if origin is typing.Union or origin is types.UnionType:
        return tuple(t for a in typing.get_args(tp) if a is not type(None) for t in _base_types(a))
    origin = origin or tp
    return (origin,) if isinstance(origin, type) else ()


def _check_value(name: str, value: Any, tp: Any, meta: dict) -> tuple[Any, str | None]:
    """``(converted value, problem or None)``."""
    if value is None:
        return value, None if _allows_none(tp) else f"{name}: must be set (null is not allowed)"
    types = _base_types(tp)
    if float in types and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if types and not isinstance(value, types) or (isinstance(value, bool) and bool not in types):
        want = " or ".join(sorted({_TYPE_WORDS.get(t, t.__name__) for t in types}))
        return value, f"{name}: must be {want}, got {value!r}"
    if isinstance(value, float) and not math.isfinite(value):
        return value, f"{name}: must be a finite number, got {value!r}"
    choices = meta.get("choices")
    if choices is not None and value not in choices:
        return value, f"{name}: must be one of {', '.join(map(str, choices))}, got {value!r}"
    for key, ok, word in (("gt", lambda v, b: v > b, ">"), ("ge", lambda v, b: v >= b, ">="),
                          ("lt", lambda v, b: v < b, "<"), ("le", lambda v, b: v <= b, "<=")):
        bound = meta.get(key)
        if bound is not None and isinstance(value, int | float) and not ok(value, bound):
            return value, f"{name}: must be {word} {bound}, got {value!r}"
    return value, None


_TYPE_WORDS = {int: "an integer", float: "a number", str: "a string", bool: "true or false",
               list: "a list", dict: "a mapping", tuple: "a list"}


def from_dict(cls: type, values: dict[str, Any] | None, section: str) -> Any:
    """Build the settings dataclass ``cls`` from ``values`` (missing keys take their defaults).

    Unknown keys, wrong types, values out of range and the class's own cross-field ``checks()`` are
    collected and raised together as one :class:`SettingsError`, one line per problem.
    """
    values = dict(values or {})
    fields = {f.name: f for f in dataclasses.fields(cls)}
    hints = typing.get_type_hints(cls)
    found: list[str] = []
    unknown = sorted(set(values) - set(fields))
    for key in unknown:
        found.append(f"{section}.{key}: unknown setting; valid: {', '.join(fields)}")
    kwargs = {}
    for name, f in fields.items():
        if name not in values:
            continue
        value, problem = _check_value(f"{section}.{name}", values[name], hints[name], dict(f.metadata))
        if problem:
            found.append(problem)
        else:
            kwargs[name] = value
    if found:
        raise SettingsError(found)
    try:
        obj = cls(**kwargs)
    except TypeError as exc:  # a required field without a value
        raise SettingsError([f"{section}: {exc}"]) from None
    # defaults are checked too (a subclass may narrow them), then the cross-field rules
    for name, f in fields.items():
        if name not in kwargs:
            _, problem = _check_value(f"{section}.{name}", getattr(obj, name), hints[name], dict(f.metadata))
            if problem:
                found.append(problem)
    if hasattr(obj, "checks"):
        found.extend(f"{section}.{line}" for line in obj.checks())
    if found:
        raise SettingsError(found)
    return obj


def problems(cls: type, values: dict[str, Any] | None, section: str) -> list[str]:
    """Every problem :func:`from_dict` would raise for these values (empty when they are fine)."""
    try:
        from_dict(cls, values, section)
    except SettingsError as exc:
        return exc.problems
    except SeqkitError as exc:  # a class's own validate() in __post_init__
        return [f"{section}: {exc}"]
    return []
