"""What every artifact loader shares: a JSON file read against its schema, paths kept inside the
artifact's folder, a safetensors header read without the tensors.

Each artifact seqkit writes (a model folder's ``model.json``, a run's ``scores.json``, the checkpoints'
``best.json`` and ``last.json``, a CTranslate2 export's ``seqkit.json``, an RNN LM's ``rnn_lm.json`` and
``data.json``) has one schema, declared with the fields below next to its one loader. The loader reads
the file with :func:`read_json`, which refuses, in one :class:`~seqkit.errors.SeqkitError` line naming
the file and the field, before anything is built from it:

- a file larger than a file of its kind can be (``max_bytes``), before reading it;
- invalid UTF-8 or JSON, nesting deeper than Python can parse (``RecursionError``), integers longer than
  Python converts, a root that is not an object (or not a list where the schema is a list);
- a missing required field, a field of the wrong type (``true`` is not an integer, ``256.0`` is not
  one either), a number out of its range, ``NaN`` or infinity, a string or list longer than its bound,
  a value not among its choices, and an unknown field (a typo would otherwise be ignored).

Every size field has an upper bound, so a size is refused before memory is allocated for it; the
loaders then compare the shapes the file implies with the weights file's header
(:func:`safetensors_header`, which reads the header only) before building the model.

Names of other files inside an artifact (``best.json``'s ``file``) go through :func:`inside`: a plain
relative name whose resolved path, symlinks followed, stays inside the folder.
"""

from __future__ import annotations

import json
import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from seqkit.errors import SeqkitError

PathLike = str | os.PathLike

#: The largest JSON metadata file of an artifact read (``model.json`` & co. are a few hundred bytes).
MAX_JSON_BYTES = 1 << 20


def _short(value: Any) -> str:
    """``value`` as an error shows it: a short repr (lists and objects by their size only)."""
    if isinstance(value, list):
        return f"a list of {len(value):,} items"
    if isinstance(value, dict):
        return f"an object of {len(value):,} fields"
    text = repr(value) if not isinstance(value, int) or isinstance(value, bool) or abs(value) < 10**30 \
        else f"an integer of {len(str(abs(value))):,} digits"
    if len(text) > 40:
        text = text[:37] + "..." + (f" ({len(value):,} characters)" if isinstance(value, str) else "")
    return text


def _int_text(n: float) -> str:
    return f"{n:,}" if isinstance(n, int) else f"{n:g}"


# -- fields -------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Field:
    """A field of a JSON artifact. ``required``: must be present; ``null``: ``null`` is accepted."""

    required: bool = False
    null: bool = False

    def problem(self, value: Any) -> str | None:
        """What is wrong with ``value`` (one phrase), or None."""
        raise NotImplementedError


@dataclass(frozen=True)
class Int(Field):
    """An integer from ``lo`` to ``hi`` (both included)."""

    lo: int = 0
    hi: int = 2**62

    def problem(self, value: Any) -> str | None:
        if not isinstance(value, int) or isinstance(value, bool) or not self.lo <= value <= self.hi:
            return f"must be an integer from {_int_text(self.lo)} to {_int_text(self.hi)}, got {_short(value)}"
        return None


@dataclass(frozen=True)
class Number(Field):
    """A finite number from ``lo`` to ``hi`` (``hi`` excluded when ``open_hi``)."""

    lo: float = -math.inf
    hi: float = math.inf
    open_hi: bool = False

    def problem(self, value: Any) -> str | None:
        ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
        if ok and self.lo <= value and (value < self.hi if self.open_hi else value <= self.hi):
            return None
        if self.lo == -math.inf and self.hi == math.inf:
            return f"must be a finite number, got {_short(value)}"
        return (f"must be a number from {_int_text(self.lo)} to {_int_text(self.hi)}"
                f"{' (excluded)' if self.open_hi else ''}, got {_short(value)}")


@dataclass(frozen=True)
class Bool(Field):
    def problem(self, value: Any) -> str | None:
        return None if isinstance(value, bool) else f"must be true or false, got {_short(value)}"


@dataclass(frozen=True)
class Str(Field):
    """A string of at most ``max_len`` characters; with ``choices``, one of them; with ``pattern``, a
    full match of that regular expression."""

    max_len: int = 256
    choices: tuple[Any, ...] | None = None
    pattern: str | None = None
    what: str = "a string"

    def problem(self, value: Any) -> str | None:
        if self.choices is not None:
            if value in self.choices and (isinstance(value, str) or value is None):
                return None
            return f"must be one of {', '.join(map(str, self.choices))}, got {_short(value)}"
        if not isinstance(value, str):
            return f"must be {self.what}, got {_short(value)}"
        if len(value) > self.max_len:
            return f"must be {self.what} of at most {self.max_len:,} characters, got {len(value):,}"
        if self.pattern is not None and re.fullmatch(self.pattern, value) is None:
            return f"must be {self.what}, got {_short(value)}"
        return None


def Choice(*choices: Any, required: bool = False) -> Str:  # noqa: N802 (a field constructor)
    """One of ``choices`` (``None`` among them accepts ``null``)."""
    return Str(required=required, null=None in choices, choices=tuple(choices))


#: A SHA-256 hex digest.
def Sha256(required: bool = False) -> Str:  # noqa: N802
    return Str(required=required, max_len=64, pattern="[0-9a-f]{64}", what="a SHA-256 (64 hex digits)")


@dataclass(frozen=True)
class Scalar(Field):
    """A string (at most ``max_len`` characters), a finite number, true/false or null."""

    null: bool = True
    max_len: int = 4096

    def problem(self, value: Any) -> str | None:
        if isinstance(value, str):
            return None if len(value) <= self.max_len else \
                f"must be a string of at most {self.max_len:,} characters, got {len(value):,}"
        if isinstance(value, bool) or isinstance(value, int) or isinstance(value, float) and math.isfinite(value):
            return None
        return f"must be a string, a finite number, true or false, got {_short(value)}"


@dataclass(frozen=True)
class Obj(Field):
    """A JSON object with these ``fields``; other keys are refused unless ``extra``."""

    fields: dict[str, Field] = field(default_factory=dict)
    extra: bool = False

    def problem(self, value: Any) -> str | None:
        return None if isinstance(value, dict) else f"must be an object {{...}}, got {_short(value)}"


@dataclass(frozen=True)
class Tagged(Field):
    """An object whose schema depends on its ``tag`` key (``{"arch": "rnn", ...}``)."""

    tag: str = "arch"
    variants: dict[str, Obj] = field(default_factory=dict)

    def problem(self, value: Any) -> str | None:
        return None if isinstance(value, dict) else f"must be an object {{...}}, got {_short(value)}"


@dataclass(frozen=True)
class ListOf(Field):
    """A JSON list of at most ``max_len`` items, each an ``item``."""

    item: Field = field(default_factory=Field)
    max_len: int = 1000

    def problem(self, value: Any) -> str | None:
        if not isinstance(value, list):
            return f"must be a list [...], got {_short(value)}"
        if len(value) > self.max_len:
            return f"must be a list of at most {self.max_len:,} items, got {len(value):,}"
        return None


@dataclass(frozen=True)
class MapOf(Field):
    """A JSON object of at most ``max_len`` entries: keys a ``key``, values a ``value``."""

    key: Str = field(default_factory=Str)
    value: Field = field(default_factory=Field)
    max_len: int = 100

    def problem(self, value: Any) -> str | None:
        if not isinstance(value, dict):
            return f"must be an object {{...}}, got {_short(value)}"
        if len(value) > self.max_len:
            return f"must have at most {self.max_len:,} entries, got {len(value):,}"
        return None


def problems(value: Any, spec: Field, name: str = "") -> list[str]:
    """Every problem of ``value`` against ``spec``, one ``"field: phrase"`` each (nested fields dotted:
    ``model.d_model``; list items ``[3]``); the root is named ``(the file)``."""
    where = name or "(the file)"
    if value is None:
        return [] if spec.null else [f"{where}: must be set (null is not allowed)"]
    found = spec.problem(value)
    if found:
        return [f"{where}: {found}"]
    prefix = f"{name}." if name else ""
    out: list[str] = []
    if isinstance(spec, Tagged):
        tag = value.get(spec.tag)
        if tag not in spec.variants:
            return [f"{prefix}{spec.tag}: must be one of {', '.join(spec.variants)}, got {_short(tag)}"]
        spec = spec.variants[tag]
    if isinstance(spec, Obj):
        for key in value:
            if key not in spec.fields and not spec.extra:
                out.append(f"{prefix}{_short(key) if not isinstance(key, str) or len(key) > 40 else key}: "
                           f"unknown field; known: {', '.join(spec.fields)}")
        for key, sub in spec.fields.items():
            if key in value:
                out += problems(value[key], sub, prefix + key)
            elif sub.required:
                out.append(f"{prefix}{key}: required field missing")
    elif isinstance(spec, ListOf):
        for i, item in enumerate(value):
            out += problems(item, spec.item, f"{name}[{i}]")
    elif isinstance(spec, MapOf):
        for key, item in value.items():
            bad = spec.key.problem(key)
            if bad:
                out.append(f"{prefix}{_short(key)}: key {bad}")
            else:
                out += problems(item, spec.value, prefix + key)
    return out


# -- JSON files ---------------------------------------------------------------------------------------
def read_json(path: PathLike, schema: Field, *, fix: str, max_bytes: int = MAX_JSON_BYTES) -> Any:
    """The JSON file ``path``, checked against ``schema`` (an :class:`Obj`, :class:`Tagged` or
    :class:`ListOf`); anything wrong is one :class:`SeqkitError` naming ``path``, the field and ``fix``."""
    from seqkit.errors import from_os_error
    from seqkit.io import read_text

    path = Path(path)
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise from_os_error(exc, path) from None
    if not path.is_file():
        raise SeqkitError("is not a file", path=path, fix=fix)
    if size > max_bytes:
        raise SeqkitError(f"{size:,} bytes, more than a {path.name} can be ({max_bytes:,})", path=path, fix=fix)
    text = read_text(path)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SeqkitError(f"invalid JSON: {exc.msg}", path=path, line=exc.lineno, fix=fix) from None
    except RecursionError:
        raise SeqkitError("invalid JSON: nested too deeply", path=path, fix=fix) from None
    except ValueError as exc:  # an integer of more digits than Python converts
        raise SeqkitError(f"invalid JSON: {str(exc).splitlines()[0][:80]}", path=path, fix=fix) from None
    try:
        found = problems(data, schema)
    except RecursionError:  # only reachable through a schema with recursive fields; kept as a guard
        found = ["(the file): nested too deeply"]
    if found:
        raise SeqkitError(found[0], path=path, fix=fix)
    return data


def check_json(data: Any, schema: Field, path: PathLike, *, fix: str) -> Any:
    """``data`` about to be written to ``path`` (or just read), checked against ``schema``: a writer
    refuses what its loader would refuse."""
    found = problems(data, schema)
    if found:
        raise SeqkitError(found[0], path=path, fix=fix)
    return data


# -- paths inside an artifact ---------------------------------------------------------------------------
def inside(folder: PathLike, name: Any, *, source: PathLike, field_name: str, fix: str) -> Path:
    """``folder / name`` for a file name an artifact's file (``source``, its ``field_name``) lists.

    Refused, naming ``source`` and the field: a name that is not a relative path (absolute, empty,
    ``..`` parts, a NUL), or one whose resolved path (symlinks followed) leaves ``folder``.
    """
    where = f"{field_name}: "
    if not isinstance(name, str) or not name or "\x00" in name:
        raise SeqkitError(f"{where}must be a file name, got {_short(name)}", path=source, fix=fix)
    rel = Path(name)
    if rel.is_absolute() or ".." in rel.parts or name.startswith(("/", "\\")):
        raise SeqkitError(f"{where}{name!r} points outside {Path(folder).name}/ (only names inside it are read)",
                          path=source, fix=fix)
    root = Path(folder).resolve()
    target = (root / rel).resolve()
    if target != root and root not in target.parents:
        raise SeqkitError(f"{where}{name!r} leads outside {Path(folder).name}/ (a link to {target})",
                          path=source, fix=fix)
    return Path(folder) / rel


# -- safetensors ------------------------------------------------------------------------------------------
#: safetensors dtypes of model weights (floating point)
FLOAT_DTYPES = ("F64", "F32", "F16", "BF16")


def safetensors_header(path: PathLike, *, fix: str) -> tuple[dict[str, tuple[str, tuple[int, ...]]], dict[str, str]]:
    """``({tensor name: (dtype, shape)}, metadata)`` of a safetensors file, from its header alone.

    safetensors checks the header when it opens the file: its length, its JSON, and that the tensors'
    offsets cover the file exactly, so a truncated, padded or foreign file is refused here, in one line
    naming ``path``, without reading any tensor.
    """
    from safetensors import safe_open

    path = Path(path)
    if not path.is_file():
        raise SeqkitError("weights file not found" if not path.exists() else "is not a file", path=path, fix=fix)
    try:
        with safe_open(os.fspath(path), framework="pt") as fh:
            meta = dict(fh.metadata() or {})
            shapes = {}
            for name in fh.keys():
                piece = fh.get_slice(name)
                shapes[name] = (str(piece.get_dtype()), tuple(int(n) for n in piece.get_shape()))
    except Exception as exc:  # safetensors' own errors vary (SafetensorError, OSError, ...)
        text = str(exc).strip().splitlines()
        raise SeqkitError(f"corrupt or truncated weights file (damaged or not safetensors: "
                          f"{text[0][:100] if text else type(exc).__name__})", path=path, fix=fix) from None
    return shapes, meta


def compare_shapes(expected: dict[str, tuple[int, ...]], found: dict[str, tuple[str, tuple[int, ...]]],
                   path: PathLike, *, described_by: str, fix: str, floating: bool = True) -> None:
    """Refuse a weights file (``path``) whose tensors are not those ``described_by`` (a file name)
    implies: a missing or extra tensor, another shape, or (with ``floating``) a dtype that is not
    floating point; the first difference is named."""
    for name, shape in expected.items():
        if name not in found:
            raise SeqkitError(f"tensor {name} {list(shape)} that {described_by} implies is missing", path=path,
                              fix=fix)
        dtype, have = found[name]
        if tuple(have) != tuple(shape):
            raise SeqkitError(f"tensor {name} is {list(have)} but {described_by} implies {list(shape)} "
                              f"({_count(have):,} values instead of {_count(shape):,})", path=path, fix=fix)
        if floating and dtype not in FLOAT_DTYPES:
            raise SeqkitError(f"tensor {name} is {dtype}, not floating point", path=path, fix=fix)
    extra = sorted(set(found) - set(expected))
    if extra:
        raise SeqkitError(f"tensor {extra[0]} is not part of the model {described_by} describes"
                          f"{f' (and {len(extra) - 1} more)' if len(extra) > 1 else ''}", path=path, fix=fix)


def _count(shape: tuple[int, ...]) -> int:
    return math.prod(shape)


def expected_shapes(build: Any) -> dict[str, tuple[int, ...]]:
    """``{name: shape}`` of the state dict of the module ``build()`` returns, built on torch's ``meta``
    device: no memory is allocated for the weights, whatever their sizes."""
    import torch

    with torch.device("meta"):
        module = build()
    return {k: tuple(v.shape) for k, v in module.state_dict().items()}


# -- documentation ----------------------------------------------------------------------------------------
def describe(spec: Field) -> str:
    """What a field accepts, in words (the docs' schema tables)."""
    null = ", or null" if spec.null and not isinstance(spec, Scalar) else ""
    if isinstance(spec, Int):
        text = f"integer, {_int_text(spec.lo)} to {_int_text(spec.hi)}" if spec.hi < 2**62 else \
            f"integer >= {_int_text(spec.lo)}"
    elif isinstance(spec, Number):
        if spec.lo == -math.inf and spec.hi == math.inf:
            text = "finite number"
        else:
            text = f"number, {_int_text(spec.lo)} to {_int_text(spec.hi)}{' (excluded)' if spec.open_hi else ''}"
    elif isinstance(spec, Bool):
        text = "true or false"
    elif isinstance(spec, Scalar):
        text = f"string (at most {spec.max_len:,} characters), finite number, true/false or null"
    elif isinstance(spec, Str):
        if spec.choices is not None:
            text = "one of " + ", ".join(f"`{c}`" for c in spec.choices if c is not None)
        elif spec.pattern is not None:
            text = spec.what
        else:
            text = f"string, at most {spec.max_len:,} characters"
    elif isinstance(spec, MapOf):
        text = f"object of at most {spec.max_len:,} entries: key {describe(spec.key)}, value {describe(spec.value)}"
    elif isinstance(spec, Tagged):
        text = f"object, by `{spec.tag}`: " + ", ".join(f"`{t}`" for t in spec.variants)
    elif isinstance(spec, Obj):
        text = "object" + ("" if not spec.extra else " (any fields)")
    elif isinstance(spec, ListOf):
        text = f"list of at most {spec.max_len:,} items"
    else:
        text = type(spec).__name__
    return text + null


def schema_rows(spec: Field, name: str = "") -> list[tuple[str, str, bool]]:
    """``(field, what it accepts, required)`` for every field of ``spec``, nested ones dotted."""
    rows = [(name, describe(spec), spec.required)] if name else []
    prefix = f"{name}." if name else ""
    if isinstance(spec, Tagged):
        for tag, variant in spec.variants.items():
            rows += [(f"{prefix}{key} ({tag})", describe(sub), sub.required)
                     for key, sub in variant.fields.items() if key != spec.tag]
    elif isinstance(spec, Obj):
        for key, sub in spec.fields.items():
            rows += schema_rows(sub, prefix + key)
    elif isinstance(spec, ListOf):
        rows += schema_rows(spec.item, f"{name}[i]")
    return rows


def markdown_table(spec: Field) -> str:
    """The schema as a Markdown table (``docs/reference/artifacts.md`` shows each; a test keeps them in step)."""
    lines = ["| field | accepts | required |", "|---|---|---|"]
    lines += [f"| `{field}` | {what} | {'yes' if required else ''} |" for field, what, required in schema_rows(spec)]
    return "\n".join(lines)
