"""Recipes as configuration: YAML files, ``key=value`` overrides, validation with clear errors.

A recipe's YAML is its own schema: every key a user may set appears in it with its default, and the
default's type is the type an override must have (``null`` means "optional, any type"). Overrides are a
dotlist (``train.lr=3e-4 model.layers=[2,2]``); values are parsed as YAML. Anything unknown or of the
wrong type is one :class:`~seqkit.errors.SeqkitError` that lists the valid keys.
"""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any

import yaml
from omegaconf import DictConfig, OmegaConf

from seqkit.errors import SeqkitError

#: Keys every recipe accepts, with their defaults (a recipe may override the defaults).
GLOBAL_DEFAULTS: dict[str, Any] = {
    "run_dir": None,  # default: runs/<recipe>/<timestamp>
    "force": False,  # recompute every stage even if its fingerprint is unchanged
    "resume": False,  # continue the run in run_dir as its config.yaml says, from its last checkpoint
    "seed": 0,
    "device": "auto",  # auto | cpu | cuda | cuda:N
    "threads": None,  # CPU threads; null: the cores not busy with other work (seqkit.threads)
}

#: Keys that describe the recipe rather than configure it.
META_KEYS = ("description", "stages")


def recipe_dirs() -> list[Path]:
    """Where built-in recipes live: the installed copy first, then the source tree's ``recipes/``."""
    package = Path(__file__).resolve().parents[1]
    return [d for d in (package / "_recipes", package.parent / "recipes") if d.is_dir()]


def builtin_recipes() -> dict[str, Path]:
    """Built-in recipe name -> YAML path."""
    found: dict[str, Path] = {}
    for folder in recipe_dirs():
        for path in sorted(folder.glob("*.yaml")):
            found.setdefault(path.stem, path)
    return found


def resolve_recipe(name_or_path: str) -> tuple[str, Path]:
    """A recipe name or a path to a YAML file -> ``(name, path)``."""
    path = Path(name_or_path)
    if path.suffix in (".yaml", ".yml") or path.exists():
        if not path.is_file():
            raise SeqkitError("recipe file not found", path=path, fix="check the path or run `seqkit recipe ls`")
        return path.stem, path
    recipes = builtin_recipes()
    if name_or_path not in recipes:
        close = difflib.get_close_matches(name_or_path, recipes, n=1)
        hint = f"did you mean '{close[0]}'? " if close else ""
        raise SeqkitError(f"unknown recipe '{name_or_path}'",
                          fix=f"{hint}choose one of: {', '.join(sorted(recipes)) or '(none installed)'}")
    return name_or_path, recipes[name_or_path]


def load_recipe(name_or_path: str, overrides: list[str] | tuple[str, ...] = ()) -> tuple[str, DictConfig]:
    """Load a recipe, add the global keys, apply ``key=value`` overrides and validate them.

    With ``resume=true run_dir=RUN`` among the overrides the config is the run's own ``RUN/config.yaml``
    with the overrides on top (:mod:`seqkit.recipes.resume`): the recipe's YAML is not read, and the
    name returned is the one the run was started from.
    """
    from seqkit.recipes import resume

    run_dir = resume.requested(overrides)
    if run_dir is not None:
        return resume.load_saved(name_or_path, run_dir, overrides)
    name, path = resolve_recipe(name_or_path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise SeqkitError(f"invalid YAML: {getattr(exc, 'problem', exc)}", path=path,
                          line=mark.line + 1 if mark else None, fix="fix the YAML syntax") from None
    except UnicodeDecodeError:
        raise SeqkitError("recipe is not valid UTF-8", path=path, fix="save it as UTF-8") from None
    if not isinstance(raw, dict) or not isinstance(raw.get("stages"), list) or not raw["stages"]:
        raise SeqkitError("a recipe must be a mapping with a non-empty 'stages:' list", path=path,
                          fix="see `seqkit recipe show nmt_transformer` for the layout")
    if path.resolve() not in {p.resolve() for p in builtin_recipes().values()}:
        check_file_keys(path, raw)
    config = {**GLOBAL_DEFAULTS, **raw}
    for override in overrides:
        _apply_override(config, override, name)
    return name, OmegaConf.create(config)


def key_lines(path: Path) -> dict[str, int]:
    """Dotted key -> the line (1-based) of a YAML mapping file where it is written."""
    lines: dict[str, int] = {}

    def walk(node: Any, prefix: str) -> None:
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                dotted = f"{prefix}{key.value}"
                lines[dotted] = key.start_mark.line + 1
                walk(value, dotted + ".")

    walk(yaml.compose(path.read_text(encoding="utf-8")), "")
    return lines


def check_file_keys(path: Path, raw: dict) -> None:
    """A user's recipe file (one copied with ``seqkit recipe cp`` and edited) against the keys the
    built-in recipes of its stages have: a key none of them has (a typo: ``train.lrr``) is reported
    as ``FILE:LINE: unknown key 'train.lrr'; did you mean 'train.lr'?``, all of them at once. A file
    whose stages no built-in recipe uses is its own schema."""
    from seqkit.settings import SettingsError

    stages = set(map(str, raw.get("stages") or []))
    known = {*GLOBAL_DEFAULTS}
    free: set[str] = set()  # keys whose default is not a section (null, a value): what is inside is the user's
    related = False
    for builtin in builtin_recipes().values():
        other = yaml.safe_load(builtin.read_text(encoding="utf-8")) or {}
        if stages & set(map(str, other.get("stages") or [])):
            related = True
            known.update(flat_keys(other))
            free.update(k for k in flat_keys(other) if not isinstance(_value(other, k), dict))
    if not related:
        return
    unknown = [key for key in flat_keys(raw) if key not in known
               and not any(key.startswith(k + ".") for k in free)]
    if not unknown:
        return
    lines = key_lines(path)
    problems = []
    for key in unknown:
        if any(key.startswith(u + ".") for u in unknown):
            continue  # inside an unknown section: the section is reported
        close = difflib.get_close_matches(key, sorted(known), n=1)
        hint = f"; did you mean '{close[0]}'?" if close else f"; valid keys: {', '.join(sorted(known))}"
        problems.append(f"{path}:{lines.get(key, '?')}: unknown key '{key}'{hint}")
    raise SettingsError(problems)


def _value(config: dict, dotted: str) -> Any:
    node: Any = config
    for part in dotted.split("."):
        node = node[part]
    return node


def parse_override(text: str) -> tuple[list[str], Any]:
    """``"train.lr=3e-4"`` -> ``(["train", "lr"], 0.0003)`` (the value is parsed as YAML)."""
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise SeqkitError(f"override '{text}' is not key=value", fix="write e.g. train.epochs=3")
    try:
        parsed = yaml.safe_load(value) if value.strip() else ""
    except yaml.YAMLError:
        parsed = value
    return key.strip().split("."), parsed


def flat_keys(config: dict, prefix: str = "") -> list[str]:
    """All dotted keys of a nested mapping, leaves and sections alike."""
    keys = []
    for k, v in config.items():
        if k in META_KEYS and not prefix:
            continue
        dotted = f"{prefix}{k}"
        keys.append(dotted)
        if isinstance(v, dict):
            keys.extend(flat_keys(v, dotted + "."))
    return keys


def _apply_override(config: dict, text: str, recipe: str) -> None:
    parts, value = parse_override(text)
    dotted = ".".join(parts)
    node = config
    for i, part in enumerate(parts):
        if not isinstance(node, dict) or part not in node or (i == 0 and part in META_KEYS):
            valid = flat_keys(config)
            close = difflib.get_close_matches(dotted, valid, n=1)
            hint = f"did you mean '{close[0]}'? " if close else ""
            raise SeqkitError(f"unknown key '{dotted}' for recipe '{recipe}'",
                              fix=f"{hint}valid keys: {', '.join(valid)}")
        if i < len(parts) - 1:
            node = node[part]
    leaf = parts[-1]
    node[leaf] = _checked(node[leaf], value, dotted, recipe)


def _checked(default: Any, value: Any, key: str, recipe: str) -> Any:
    """``value`` if it fits the type of ``default`` (ints widen to floats), else a SeqkitError."""
    if default is None or value is None:
        return value
    if isinstance(default, dict):
        if isinstance(value, dict):
            unknown = sorted(set(value) - set(default))
            if unknown:
                raise SeqkitError(f"unknown key(s) {', '.join(unknown)} in '{key}' for recipe '{recipe}'",
                                  fix=f"valid keys of '{key}': {', '.join(default)}")
            return {k: _checked(default[k], value.get(k, default[k]), f"{key}.{k}", recipe) for k in default}
        if "name" in default and isinstance(value, str | int | float):
            # Shorthand: `data=multi30k` sets `data.name`.
            return {**default, "name": _checked(default["name"], value, f"{key}.name", recipe)}
        expected = "a mapping"
    elif isinstance(default, bool):
        if isinstance(value, bool):
            return value
        expected = "true or false"
    elif isinstance(default, int):
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, float) and value.is_integer():  # 60.0 from a float flag
            return int(value)
        expected = "an integer"
    elif isinstance(default, float):
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str):  # YAML 1.1 reads "3e-4" (no dot) as a string
            try:
                return float(value)
            except ValueError:
                pass
        expected = "a number"
    elif isinstance(default, str):
        if isinstance(value, str | int | float) and not isinstance(value, bool):
            return str(value)
        expected = "a string"
    elif isinstance(default, list):
        if isinstance(value, list):
            return value
        expected = "a list like [a, b]"
    else:
        return value
    raise SeqkitError(f"'{key}' must be {expected}, got {value!r} for recipe '{recipe}'",
                      fix=f"e.g. {key}={_example(default)}")


def _example(default: Any) -> str:
    if isinstance(default, bool):
        return "true" if default else "false"
    if isinstance(default, list):
        return "[" + ",".join(map(str, default)) + "]"
    return str(default)


def to_yaml(cfg: DictConfig) -> str:
    """The resolved config as YAML text."""
    return OmegaConf.to_yaml(cfg)


def to_container(cfg: DictConfig | dict) -> dict:
    return OmegaConf.to_container(cfg, resolve=True) if isinstance(cfg, DictConfig) else dict(cfg)


def corpus_options(data_cfg: Any, keys: tuple[str, ...] = ("src", "tgt", "config")) -> dict[str, Any]:
    """Keyword arguments of :func:`seqkit.data.load` from a recipe's ``data:`` section: the set ones of
    ``keys`` (``config`` names a ``datasets`` configuration) and ``files`` as ``datasets``'
    ``data_files`` (a path, a list, or ``{split: path(s)}``, for ``hf:csv``, ``hf:json`` ...)."""
    out = {k: data_cfg[k] for k in keys if data_cfg.get(k)}
    files = data_cfg.get("files")
    if files:
        out["data_files"] = OmegaConf.to_container(files) if OmegaConf.is_config(files) else str(files)
    return out
