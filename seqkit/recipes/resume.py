"""Resuming a run: the run's saved ``config.yaml`` is the truth.

``seqkit recipe run NAME run_dir=RUN resume=true`` continues the run in ``RUN`` as it was started. Its
config is ``RUN/config.yaml`` (written when the run started), not the recipe's YAML: the corpus, the
tokenizer settings, the model, the schedule and the seed are the run's own, whatever overrides the first
session had. Keys given with ``resume=true`` are applied on top of it; a value that differs from the saved
one is refused in one line naming the key and both values, except for the keys of :data:`SESSION_KEYS`
(budgets, threads, device, logging) -- the one list of what may change between sessions of a run.

What a run folder records for this:

- ``config.yaml``: the resolved config. A resume leaves it byte for byte as it is, unless a session key
  changed (a larger ``train.max_steps``): then it is rewritten, atomically, with the new value, so the
  next resume continues with the budget the run has now.
- ``run.json``: ``{"recipe": NAME}``, the recipe the run was started from. A resume under another recipe
  name is refused (naming both): a Transformer run is not continued by ``nmt_rnn_attention``, and a
  mistyped name is more likely a mistaken folder than a wish to train something else. (A run from before
  ``run.json`` existed takes the name given.) The stages and their settings come from ``config.yaml``,
  so a run from a recipe YAML file resumes by the file's name alone (its stem), even if the file moved.
- the checkpoints, with the hashes of the tokenizer they were trained with
  (:func:`seqkit.train.checkpoint.check_trained_with`): a swapped ``spm.model`` or vocabulary is refused.

A resume needs ``config.yaml`` and a training checkpoint (``**/checkpoints/last.json``); without them
there is nothing to continue, and the error prints the command that starts the run again with its own
overrides (:func:`start_command`), as does the Ctrl-C hint of a run stopped before its first checkpoint.
"""

from __future__ import annotations

import copy
import shlex
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from seqkit.errors import SeqkitError
from seqkit.io import load_json, read_text, save_json

#: The keys a resumed session may set to another value than the run's ``config.yaml``, and why the run
#: stays the same run. This is the one list of them (the check, the error's fix and the docs read it).
#:
#: ``device`` may change: checkpoints hold the weights and the optimizer state on the CPU and are read
#: back with ``map_location="cpu"``, so a run checkpointed on a GPU continues on the CPU or another GPU
#: (a run that outgrew a laptop moves to a GPU machine). The device decides where the updates are
#: computed, not which updates: the model, the data order, the tokenizer and the schedule are the saved
#: ones. Only the last bits of floating point differ, as they do between any two kinds of hardware.
#:
#: The budgets may grow or shrink: the run continues from its checkpoint until the new limit. A schedule
#: sized by the budget (``cosine`` over ``max_steps`` or ``epochs``) is then sized by the new one from
#: the checkpoint on -- that is what asking for a longer run means.
SESSION_KEYS: dict[str, str] = {
    "resume": "how this session starts",
    "force": "how this session treats finished stages",
    "run_dir": "where the run is: a moved or copied run folder is still the run",
    "threads": "CPU threads compute the same updates",
    "device": "where the updates are computed (see above)",
    "train.max_steps": "a budget",
    "train.max_time": "a budget",
    "train.epochs": "a budget",
    "train.log_every": "logging",
    "train.progress": "the progress bar",
}

#: Of :data:`SESSION_KEYS`, those that describe the session alone: not compared with the saved config,
#: not written into it (it keeps ``resume: false`` and the ``run_dir`` it was started with).
INVOCATION_KEYS = ("resume", "force", "run_dir")

CONFIG_FILE, RUN_FILE = "config.yaml", "run.json"

_ABSENT = object()


# -- what the run folder holds ----------------------------------------------------------------------
def recipe_name(name_or_path: str) -> str:
    """The recipe name of what the user typed: a built-in name, or a YAML file's stem."""
    path = Path(name_or_path)
    return path.stem if path.suffix in (".yaml", ".yml") or path.is_file() else name_or_path


def saved_config(run_dir: str | Path) -> dict[str, Any]:
    """``RUN/config.yaml`` as plain values; one :class:`SeqkitError` when it is missing or damaged."""
    run_dir = Path(run_dir)
    path = run_dir / CONFIG_FILE
    if not path.is_file():
        where = " (the folder does not exist)" if not run_dir.exists() else ""
        raise SeqkitError(f"nothing to resume: no config.yaml here{where}", path=run_dir,
                          fix="give the run_dir of the run to continue, or start a new run without resume=true")
    try:
        saved = OmegaConf.to_container(OmegaConf.create(read_text(path)), resolve=True)
    except SeqkitError:
        raise
    except Exception as exc:  # omegaconf and yaml raise several kinds
        raise SeqkitError(f"the run's config is not valid YAML ({str(exc).splitlines()[0][:120]})", path=path,
                          fix="restore it from a copy of the run; without it the run cannot be resumed") from None
    if not isinstance(saved, dict) or not isinstance(saved.get("stages"), list):
        raise SeqkitError("the run's config is not a recipe config (a mapping with 'stages:')", path=path,
                          fix="restore it from a copy of the run; without it the run cannot be resumed")
    return saved


def saved_recipe(run_dir: str | Path) -> str | None:
    """The recipe name ``RUN/run.json`` records (None for a run from before it existed)."""
    path = Path(run_dir) / RUN_FILE
    if not path.is_file():
        return None
    record = load_json(path)
    if not isinstance(record, dict) or not isinstance(record.get("recipe"), str):
        raise SeqkitError("malformed run record (expected {\"recipe\": NAME})", path=path,
                          fix="write the recipe name the run was started with into it")
    return record["recipe"]


def record_recipe(run_dir: str | Path, name: str) -> None:
    """Write ``RUN/run.json`` (only when it does not already say ``name``)."""
    path = Path(run_dir) / RUN_FILE
    try:
        if saved_recipe(run_dir) == name:
            return
    except SeqkitError:
        pass  # a damaged record is replaced by this run's
    save_json(path, {"recipe": name})


def checkpoints(run_dir: str | Path) -> list[Path]:
    """The training checkpoints' pointers (``last.json``) in the run folder."""
    return sorted(Path(run_dir).glob("**/checkpoints/last.json"))


# -- commands a user can paste ------------------------------------------------------------------------
def resume_command(name: str, run_dir: str | Path) -> str:
    """``seqkit recipe run NAME run_dir=RUN resume=true``, quoted for a POSIX shell."""
    return " ".join(shlex.quote(p) for p in ("seqkit", "recipe", "run", name, f"run_dir={run_dir}", "resume=true"))


def start_command(name: str, run_dir: str | Path, cfg: DictConfig | dict) -> str:
    """The command that starts the run ``cfg`` in ``run_dir`` again: the recipe with every value of
    ``cfg`` that differs from the recipe's own as ``key=value`` (quoted for a POSIX shell). Finished
    stages are skipped by their fingerprints, so nothing done is redone. When the recipe cannot be
    found any more, the command lacks the overrides and says so."""
    from seqkit.recipes.config import META_KEYS, load_recipe, to_container

    parts = ["seqkit", "recipe", "run", name, f"run_dir={run_dir}"]
    try:
        _, recipe = load_recipe(name)
    except SeqkitError:
        return " ".join(map(shlex.quote, parts)) + f"  # with the overrides in {Path(run_dir) / CONFIG_FILE}"
    now = to_container(cfg) if isinstance(cfg, DictConfig) else cfg
    for key, _, value in _differences(to_container(recipe), now):
        if key in INVOCATION_KEYS or key.split(".")[0] in META_KEYS or value is _ABSENT:
            continue
        parts.append(f"{key}={_flow(value)}")
    return " ".join(map(shlex.quote, parts))


# -- the contract -------------------------------------------------------------------------------------
def requested(overrides: list[str] | tuple[str, ...]) -> str | None:
    """The run folder to resume when ``overrides`` say ``resume=true`` (None when they do not)."""
    from seqkit.recipes.config import parse_override

    resume, run_dir = False, None
    for text in overrides:
        key, value = parse_override(text)
        if key == ["resume"]:
            resume = value is True
        elif key == ["run_dir"]:
            run_dir = value
    if not resume:
        return None
    if run_dir in (None, ""):
        raise SeqkitError("resume=true needs the run to continue: give its run_dir=RUN",
                          fix="e.g. seqkit recipe run nmt_transformer run_dir=runs/nmt_transformer/20250101-120000 "
                              "resume=true")
    return str(run_dir)


def load_saved(name_or_path: str, run_dir: str, overrides: list[str] | tuple[str, ...]) -> tuple[str, DictConfig]:
    """The config of a resumed session: ``RUN/config.yaml`` with ``overrides`` applied (type-checked
    against the saved values). Whether the overrides may change what they change is
    :func:`check_resume`'s to say (``run_pipeline`` asks it before anything runs)."""
    from seqkit.recipes.config import GLOBAL_DEFAULTS, _apply_override

    name = recipe_name(name_or_path)
    saved = saved_config(run_dir)
    _check_name(name, saved_recipe(run_dir), run_dir)
    # this session's own keys start from their defaults, not from the first session's (force=true)
    config = {**GLOBAL_DEFAULTS, **saved, **{k: GLOBAL_DEFAULTS[k] for k in INVOCATION_KEYS}}
    for override in overrides:
        _apply_override(config, override, name)
    return name, OmegaConf.create(config)


def check_resume(cfg: DictConfig | dict, run_dir: str | Path, name: str) -> tuple[str | None, list[str]]:
    """Check that ``cfg`` continues the run in ``run_dir`` (recipe ``name``): a config.yaml and a
    checkpoint exist, the recipe is the run's, and only :data:`SESSION_KEYS` differ from the saved
    config. Returns the text ``config.yaml`` must be rewritten with (None: it stays as it is) and
    the changes, as ``"KEY OLD -> NEW"``. Writes nothing."""
    run_dir = Path(run_dir)
    saved = saved_config(run_dir)
    _check_name(name, saved_recipe(run_dir), run_dir)
    if not checkpoints(run_dir):
        raise SeqkitError("nothing to resume: no training checkpoint in this run", path=run_dir,
                          fix=f"start it again (finished stages are skipped): {start_command(name, run_dir, saved)}")
    now = OmegaConf.to_container(cfg, resolve=True) if isinstance(cfg, DictConfig) else dict(cfg)
    changes = [d for d in _differences(saved, now) if d[0] not in INVOCATION_KEYS]
    refused = [d for d in changes if d[0] not in SESSION_KEYS]
    if refused:
        may = ", ".join(k for k in SESSION_KEYS if k not in INVOCATION_KEYS)
        raise SeqkitError("resume=true continues the run as it was started and cannot change "
                          + ", ".join(_change(d) for d in refused), path=run_dir / CONFIG_FILE,
                          fix=f"drop those overrides (a resume may change only {may}), "
                              "or start a new run in another run_dir")
    if not changes:
        return None, []
    updated = copy.deepcopy(saved)
    for key, _, value in changes:
        _set(updated, key, value)
    return OmegaConf.to_yaml(OmegaConf.create(updated)), [_change(d) for d in changes]


def _check_name(given: str, recorded: str | None, run_dir: str | Path) -> None:
    if recorded is not None and recorded != given:
        raise SeqkitError(f"this folder holds a run of recipe '{recorded}', not '{given}'", path=run_dir,
                          fix=f"continue it with: {resume_command(recorded, run_dir)}")


def _differences(before: dict, after: dict, prefix: str = "") -> list[tuple[str, Any, Any]]:
    """``(dotted key, before, after)`` for every leaf that differs (a missing one is ``_ABSENT``)."""
    found = []
    for key in [*before, *(k for k in after if k not in before)]:
        a, b = before.get(key, _ABSENT), after.get(key, _ABSENT)
        dotted = f"{prefix}{key}"
        if isinstance(a, dict) and isinstance(b, dict):
            found.extend(_differences(a, b, dotted + "."))
        elif a is _ABSENT or b is _ABSENT or a != b or isinstance(a, bool) != isinstance(b, bool):
            found.append((dotted, a, b))
    return found


def _set(tree: dict, dotted: str, value: Any) -> None:
    *sections, leaf = dotted.split(".")
    for part in sections:
        tree = tree.setdefault(part, {})
    if value is _ABSENT:
        tree.pop(leaf, None)
    else:
        tree[leaf] = value


def _flow(value: Any) -> str:
    """A value as one line of YAML, as an override is written (``null``, ``true``, ``[a, b]``)."""
    import yaml

    if value is _ABSENT:
        return "(absent)"
    text = yaml.safe_dump(value, default_flow_style=True, allow_unicode=True, width=2**31 - 1).strip()
    return text[: -len("\n...")] if text.endswith("\n...") else text


def _change(difference: tuple[str, Any, Any]) -> str:
    key, before, after = difference
    return f"{key} {_flow(before)} -> {_flow(after)}"
