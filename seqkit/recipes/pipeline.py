"""Stages, the pipeline runner and run directories.

A *stage* is a registered Python function ``fn(run) -> dict | None``; a recipe is a list of stage
names plus their configuration. :func:`run_pipeline` executes the stages in order inside one run
directory, which holds::

    .lock            held while a process runs in it (PID, host, start time inside)
    config.yaml      the resolved configuration: what a resume continues (seqkit.recipes.resume)
    run.json         the recipe the run was started from ({"recipe": NAME})
    versions.json    python, seqkit, torch and the other packages' versions
    log.txt          everything the stages logged
    metrics.jsonl    one JSON object per logged measurement
    stages/NAME.json each finished stage's fingerprint, inputs and result
    model/           the deployable set (weights, model config, tokenizer, vocab), swapped in whole
    ...              the stages' other artifacts (data, checkpoints, hypotheses, plots)

Before anything is written, :func:`check_recipe` checks every value of the config (each stage
declares a ``check`` that builds its library's typed settings), and :class:`RunLock` makes the
directory this process's alone: a second run into it stops at once, naming the holder.

A stage whose fingerprint (its name, the config sections it ``uses``, the seed, the fingerprints of
the stages before it, and the contents of the input files it read through :meth:`Run.input`) is
unchanged is skipped on a re-run into the same directory, and its recorded result is reused;
``force=true`` recomputes everything.

Under ``torchrun`` (``WORLD_SIZE > 1``) rank 0 runs every stage; the other ranks wait, join in the
*distributed* stages only (training with DDP, and the NMT test decoding, which the ranks share),
reading what rank 0 made before them, and stop after the last one; rank 0 alone runs the stages after
it (evaluation). Only rank 0 writes into the run directory.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import hashlib
import importlib
import json
import logging
import os
import platform
import socket
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from seqkit.errors import SeqkitError
from seqkit.io import append_line, file_stamp, load_json, save_json, sha256_file, unchanged, write_text_atomic
from seqkit.outputs import check_run_folder
from seqkit.settings import SettingsError

#: Everything a run logs goes through this logger; :func:`run_pipeline` sends it to ``log.txt``
#: (with a time stamp) and to stdout.
LOG = logging.getLogger("seqkit.run")

#: Modules that define stages; imported on first lookup of a stage name.
STAGE_MODULES = (
    "seqkit.recipes.lm_ngram",
    "seqkit.recipes.lm_rnn",
    "seqkit.recipes.word2vec",
    "seqkit.recipes.nmt",
    "seqkit.recipes.vision",
)


@dataclasses.dataclass(frozen=True)
class Stage:
    """A registered stage: ``fn(run)`` reading the config sections named in ``uses``."""

    name: str
    fn: Callable[[Run], dict | None]
    uses: tuple[str, ...]
    distributed: bool = False  # every torchrun rank runs it (DDP training, shared decoding); else rank 0
    check: Callable[[DictConfig], list[str]] | None = None  # the config's problems, one line each
    ignores: tuple[str, ...] = ()  # "section.key"s of ``uses`` that do not change what the stage makes

    @property
    def doc(self) -> str:
        return (self.fn.__doc__ or "").strip().splitlines()[0] if self.fn.__doc__ else ""


_REGISTRY: dict[str, Stage] = {}
_MODULES_LOADED = False


def stage(name: str, uses: tuple[str, ...] | list[str] = (), distributed: bool = False,
          check: Callable[[DictConfig], list[str]] | None = None, ignores: tuple[str, ...] = ()) -> Callable:
    """Register ``fn`` as the stage ``name`` that reads the config sections ``uses``.

    ``distributed=True``: under ``torchrun`` every rank runs it (a training stage whose Trainer uses
    DDP, a decoding stage whose ranks share the search); it must write files only where
    ``run.is_main``. ``check(cfg)`` returns the problems of the config for this stage (one line each,
    naming the key and what is allowed); it runs before any stage does, so a bad value never costs a
    data or tokenizer stage. ``ignores``: keys of those sections (``"spm.sampling"``) left out of the
    stage's fingerprint, as they do not change what it makes (a later stage that uses them reruns).
    """

    def register(fn: Callable) -> Callable:
        _REGISTRY[name] = Stage(name, fn, tuple(uses), distributed, check, tuple(ignores))
        return fn

    return register


def _load_stage_modules() -> None:
    global _MODULES_LOADED
    if _MODULES_LOADED:
        return
    for module in STAGE_MODULES:
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as exc:
            # A stage module (or its package) not written yet is fine; a missing dependency is not.
            if not (exc.name and (module == exc.name or module.startswith(exc.name + "."))):
                raise
    _MODULES_LOADED = True


def get_stage(name: str) -> Stage:
    """The registered stage ``name``; imports the stage modules on first use."""
    if name not in _REGISTRY:
        _load_stage_modules()
    if name not in _REGISTRY:
        raise SeqkitError(f"unknown stage '{name}'",
                          fix=f"registered stages: {', '.join(sorted(_REGISTRY)) or '(none)'}")
    return _REGISTRY[name]


def registered_stages() -> dict[str, Stage]:
    _load_stage_modules()
    return dict(_REGISTRY)


def _digest(obj: Any) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()


def _contents(inputs: dict[str, Any] | None) -> dict[str, str]:
    """Path -> SHA-256 of a stage's inputs: what later stages' fingerprints depend on (not mtimes)."""
    return {path: seen["sha256"] if isinstance(seen, dict) else seen for path, seen in (inputs or {}).items()}


class _Stdout(logging.StreamHandler):
    """Log lines to whatever ``sys.stdout`` is at the time (tests and notebooks swap it)."""

    def __init__(self) -> None:
        super().__init__()
        self.addFilter(lambda record: not getattr(record, "file_only", False))

    @property
    def stream(self):  # type: ignore[override]
        return sys.stdout

    @stream.setter
    def stream(self, value) -> None:
        pass


class _LogFile(logging.FileHandler):
    """``log.txt``: a line that cannot be written (a full disk) is dropped without logging's traceback;
    the next artifact write reports the disk as one error line."""

    def handleError(self, record: logging.LogRecord) -> None:  # noqa: N802 (logging's name)
        pass


class RunLock:
    """An exclusive lock on a run directory, held from the start of a run to its end.

    The lock is ``fcntl.flock`` on ``RUN_DIR/.lock``; the file names the holder (PID, host, start
    time). The kernel drops the lock when its process dies, however it dies, so a lock left by a
    killed run is taken over by the next one (and the log says so).
    """

    FILE = ".lock"

    def __init__(self, run_dir: str | os.PathLike) -> None:
        self.path = Path(run_dir) / self.FILE
        self._fh = None
        self.previous: dict[str, Any] | None = None

    def acquire(self) -> RunLock:
        import fcntl

        self.path.parent.mkdir(parents=True, exist_ok=True)
        fh = open(self.path, "a+", encoding="utf-8")
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            holder = _read_holder(fh)
            fh.close()
            who = ", ".join(f"{k} {holder[k]}" for k in ("pid", "host", "started") if k in holder) or "unknown"
            raise SeqkitError(f"run directory is in use by another seqkit run ({who})", path=self.path.parent,
                              fix="wait for that run to end, or give another run_dir") from None
        self.previous = _read_holder(fh) or None
        fh.seek(0)
        fh.truncate()
        fh.write(json.dumps({"pid": os.getpid(), "host": socket.gethostname(),
                             "started": _dt.datetime.now().isoformat(timespec="seconds")}) + "\n")
        fh.flush()
        self._fh = fh
        return self

    def release(self) -> None:
        if self._fh is not None:
            import fcntl

            self._fh.seek(0)
            self._fh.truncate()
            fcntl.flock(self._fh, fcntl.LOCK_UN)
            self._fh.close()
            self._fh = None

    def __enter__(self) -> RunLock:
        return self.acquire()

    def __exit__(self, *exc: Any) -> None:
        self.release()


def _read_holder(fh) -> dict[str, Any]:
    fh.seek(0)
    try:
        holder = json.loads(fh.read() or "{}")
    except json.JSONDecodeError:
        return {}
    return holder if isinstance(holder, dict) else {}


class Run:
    """The context a stage runs in: configuration, run directory, logging and earlier results."""

    def __init__(self, cfg: DictConfig | dict, run_dir: str | os.PathLike, *, echo: bool = True,
                 rank: int = 0) -> None:
        self.cfg: DictConfig = cfg if isinstance(cfg, DictConfig) else OmegaConf.create(cfg)
        self.dir = Path(run_dir)
        self.rank = rank
        self.results: dict[str, dict] = {}
        self.echo = echo
        self.current_stage: str | None = None
        self._inputs: dict[str, str] = {}
        self._handlers: list[logging.Handler] = []
        self.threads: int | None = None  # the CPU threads the stages compute with (run_pipeline sets it)
        if self.is_main:
            self.dir.mkdir(parents=True, exist_ok=True)
            self._open_log()

    @property
    def is_main(self) -> bool:
        """Whether this process writes the run directory (rank 0 under torchrun; always otherwise)."""
        return self.rank == 0

    # -- files -----------------------------------------------------------------------------
    def path(self, name: str) -> Path:
        """A path inside the run directory (parent folders are created)."""
        path = self.dir / name
        path.parent.mkdir(parents=True, exist_ok=True)
        return path

    def input(self, path: str | os.PathLike) -> Path:
        """Declare that the current stage reads ``path``: its contents become part of the fingerprint
        (a file's SHA-256, read again on a later run only when its size or modification time changed)."""
        path = Path(path)
        if path.is_file():
            self._inputs[str(path.resolve())] = file_stamp(path)
        elif path.exists():
            self._inputs[str(path.resolve())] = sha256_file(path)
        return path

    def section(self, name: str) -> dict[str, Any]:
        """The config section ``name`` as plain Python values (for a typed settings class)."""
        return dict(_plain(self.cfg.get(name)) or {})

    @property
    def device(self) -> str:
        from seqkit.train import resolve_device

        return str(resolve_device(self.cfg.get("device", "auto")))

    # -- logging ---------------------------------------------------------------------------
    def _open_log(self) -> None:
        """Send the ``seqkit`` loggers (the stages' and the library's) to ``log.txt`` (time-stamped)
        and, with ``echo``, to stdout; each line names the stage it came from."""

        def add_stage(record: logging.LogRecord) -> bool:
            record.stage = f"[{self.current_stage}] " if self.current_stage else ""
            return True

        to_file = _LogFile(self.dir / "log.txt", encoding="utf-8", delay=True)
        to_file.setFormatter(logging.Formatter("%(asctime)s %(stage)s%(message)s", datefmt="%H:%M:%S"))
        self._handlers = [to_file]
        if self.echo:
            self._handlers.append(_Stdout())
            self._handlers[-1].setFormatter(logging.Formatter("%(stage)s%(message)s"))
        root = logging.getLogger("seqkit")
        for handler in self._handlers:
            handler.addFilter(add_stage)
            root.addHandler(handler)
        root.setLevel(logging.INFO)
        root.propagate = False  # a user's root handlers would print every line twice

    def close(self) -> None:
        """Detach this run's log handlers (:func:`run_pipeline` calls it when the run ends)."""
        root = logging.getLogger("seqkit")
        for handler in self._handlers:
            root.removeHandler(handler)
            handler.close()
        self._handlers = []
        if not root.handlers:
            root.propagate = True

    def log(self, message: str, *, echo: bool = True) -> None:
        """Log ``message`` to ``log.txt`` and stdout (``echo=False``: the file only); rank 0 only."""
        if not self.is_main:
            return
        LOG.info("%s", message, extra={"file_only": not echo})

    def log_metrics(self, metrics: dict[str, Any]) -> None:
        """Append one JSON line to ``metrics.jsonl`` (the stage name and wall time are added)."""
        if not self.is_main:
            return
        record = {"stage": self.current_stage, "time": round(time.time(), 3), **metrics}
        append_line(self.dir / "metrics.jsonl", json.dumps(record, default=float))

    # -- executing stages -------------------------------------------------------------------
    def _fingerprint(self, st: Stage, previous: str) -> str:
        sections = {key: _plain(self.cfg.get(key)) for key in st.uses}
        for dotted in st.ignores:
            section, _, key = dotted.partition(".")
            if isinstance(sections.get(section), dict):
                sections[section] = {k: v for k, v in sections[section].items() if k != key}
        return _digest({"stage": st.name, "config": sections, "seed": _plain(self.cfg.get("seed")),
                        "previous": previous})

    def adopt_stage(self, st: Stage, previous: str) -> str:
        """Take over the result rank 0 recorded for ``st`` (the other ranks under torchrun)."""
        fingerprint = self._fingerprint(st, previous)
        manifest_path = self.dir / "stages" / f"{st.name}.json"
        manifest = _read_manifest(manifest_path)
        if manifest.get("fingerprint") != fingerprint:
            raise SeqkitError(f"rank {self.rank}: rank 0 left no result of stage {st.name} for this config",
                              path=manifest_path, fix="run every rank with the same recipe and overrides")
        self.results[st.name] = manifest.get("result") or {}
        return _digest([fingerprint, _contents(manifest.get("inputs"))])

    def run_stage(self, stage_: Stage | str, previous: str = "", force: bool = False) -> str:
        """Run (or skip, when unchanged) one stage; returns its fingerprint."""
        st = get_stage(stage_) if isinstance(stage_, str) else stage_
        fingerprint = self._fingerprint(st, previous)
        manifest_path = self.dir / "stages" / f"{st.name}.json"
        self.current_stage = st.name
        try:
            if not force and manifest_path.exists():
                manifest = _read_manifest(manifest_path)
                if not manifest:
                    self.log(f"{manifest_path.relative_to(self.dir)} is unreadable: the stage runs again")
                if manifest.get("fingerprint") == fingerprint and self._still_valid(manifest):
                    self.results[st.name] = manifest.get("result") or {}
                    self.log("unchanged, skipped (force=true recomputes)")
                    return _digest([fingerprint, _contents(manifest.get("inputs"))])
            self._inputs = {}
            started = time.time()
            result = st.fn(self) or {}
            if not isinstance(result, dict):
                raise TypeError(f"stage {st.name} returned {type(result).__name__}, expected a dict")
            self.results[st.name] = result
            manifest = {"fingerprint": fingerprint, "inputs": self._inputs, "result": _plain(result),
                        "seconds": round(time.time() - started, 2)}
            if self.is_main:
                save_json(manifest_path, manifest)
            return _digest([fingerprint, _contents(self._inputs)])
        finally:
            self.current_stage = None

    def _still_valid(self, manifest: dict) -> bool:
        for path, seen in (manifest.get("inputs") or {}).items():
            if isinstance(seen, dict):
                if not unchanged(seen, path):
                    return False
            elif not Path(path).exists() or sha256_file(Path(path)) != seen:  # a folder
                return False
        files = (manifest.get("result") or {}).get("files") or []
        return all((self.dir / f).exists() for f in files)


def _read_manifest(path: Path) -> dict[str, Any]:
    """A stage's record, or ``{}`` when there is none or it is damaged (the stage then runs again)."""
    if not path.exists():
        return {}
    try:
        manifest = load_json(path)
    except SeqkitError:
        return {}
    ok = isinstance(manifest, dict) and isinstance(manifest.get("result", {}), dict | None) and \
        isinstance(manifest.get("inputs", {}), dict | None)
    return manifest if ok else {}


def _plain(value: Any) -> Any:
    if isinstance(value, DictConfig) or OmegaConf.is_config(value):
        return OmegaConf.to_container(value, resolve=True)
    return value


def default_run_dir(name: str) -> Path:
    stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    return Path("runs") / name / stamp


def package_versions() -> dict[str, str]:
    """Versions of python and the packages a run depends on."""
    from importlib import metadata

    versions = {"python": sys.version.split()[0], "platform": platform.platform()}
    for pkg in ("seqkit", "torch", "numpy", "sentencepiece", "sacrebleu", "jieba", "gensim", "datasets",
                "omegaconf", "safetensors"):
        try:
            versions[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            versions[pkg] = "not installed"
    return versions


DEVICE_PATTERN = r"auto|cpu|mps|cuda(:\d+)?"


def check_recipe(cfg: DictConfig, stages: list[Stage]) -> None:
    """Every problem of ``cfg`` for these stages, raised together (one line each) before anything runs."""
    import re

    found: list[str] = []
    device = cfg.get("device", "auto")
    if device is not None and not re.fullmatch(DEVICE_PATTERN, str(device)):
        found.append(f"device: must be auto, cpu, cuda, cuda:N or mps, got {device!r}")
    threads = cfg.get("threads")
    if threads is not None and (isinstance(threads, bool) or not isinstance(threads, int) or threads < 1):
        found.append(f"threads: must be an integer >= 1 or null (the free cores), got {threads!r}")
    if cfg.get("seed") is not None and int(cfg.get("seed")) < 0:
        found.append(f"seed: must be >= 0, got {cfg.get('seed')}")
    run_dir = cfg.get("run_dir")
    if run_dir is not None:
        path = Path(str(run_dir)).expanduser()
        if path.exists() and not path.is_dir():
            found.append(f"run_dir: {run_dir} is a file, not a folder")
        elif not path.exists() and not path.parent.is_dir():
            found.append(f"run_dir: its folder {path.parent} does not exist (create it first, or choose another)")
    checks = []
    for st in stages:
        if st.check is not None and st.check not in checks:
            checks.append(st.check)
    plain = _plain(cfg)
    for check in checks:
        found.extend(p for p in check(plain) if p not in found)
    if found:
        raise SettingsError(found)


def run_pipeline(cfg: DictConfig | dict, name: str = "pipeline", *, stages: list[str] | None = None,
                 run_dir: str | os.PathLike | None = None, echo: bool = True) -> Run:
    """Run the recipe ``cfg`` (its ``stages`` list, or ``stages``) in a run directory; returns the Run.

    The whole config is checked first (:func:`check_recipe`); only then is the run directory
    created and locked (:class:`RunLock`). A run folder this call created is removed again when the
    run fails before any stage finished (a failed start leaves nothing that looks like a run). The same function serves ``seqkit recipe run`` and Python
    users composing their own stage list.

    With ``resume: true`` the run directory's config.yaml is the truth
    (:func:`~seqkit.recipes.resume.check_resume`): ``cfg`` may differ from it only in the session keys
    (budgets, threads, device, logging), ``name`` must be the run's recipe, and config.yaml is rewritten
    only to record a changed session key.
    """
    cfg = cfg if isinstance(cfg, DictConfig) else OmegaConf.create(cfg)
    names = list(stages if stages is not None else cfg.get("stages", []))
    resolved = [get_stage(n) for n in names]  # fail fast on unknown stages
    check_recipe(cfg, resolved)
    run_dir = Path(run_dir or cfg.get("run_dir") or default_run_dir(name))
    resuming = bool(cfg.get("resume"))
    if resuming:  # the saved config is the truth: refuse what would make it another run, before anything
        from seqkit.recipes.resume import check_resume

        recorded_config, changes = check_resume(cfg, run_dir, name)
    if int(os.environ.get("RANK", "0")) == 0:  # the ranks after it would see rank 0's first files
        check_run_folder(run_dir)  # a new or empty folder, or a run directory: never a folder of other files
    created = not run_dir.exists()  # made by this call: a start that fails removes it again
    ranks = _join_ranks(cfg)
    lock = RunLock(run_dir).acquire() if ranks.rank == 0 else None
    run = Run(cfg, run_dir, echo=echo, rank=ranks.rank)
    failed = True
    try:
        run.log(f"run directory: {run_dir}")
        if ranks.enabled:
            import torch.distributed as dist

            run.log(f"distributed: {ranks.world_size} processes ({dist.get_backend()}), "
                    f"{os.environ.get('LOCAL_WORLD_SIZE', '?')} on this machine; this log is rank 0's")
        if lock is not None and lock.previous:
            run.log("took over the lock of a run that ended without releasing it (" +
                    ", ".join(f"{k} {v}" for k, v in lock.previous.items()) + ")")
        from seqkit.threads import use_threads

        choice = use_threads(cfg.get("threads"))
        run.threads = choice.threads
        run.log(f"threads: {choice}")
        if run.is_main:
            removed = remove_leftovers(run_dir)
            if removed:
                run.log(f"removed {len(removed)} temporary file(s) a killed run left: {', '.join(removed)}")
            if not resuming:
                write_text_atomic(run.path("config.yaml"), OmegaConf.to_yaml(cfg))
            elif recorded_config is not None:  # a budget (or threads, device, logging) changed: record it
                write_text_atomic(run.path("config.yaml"), recorded_config)
                run.log(f"resumed with config.yaml updated: {', '.join(changes)}")
            else:
                run.log("resumed with config.yaml as it is")
            from seqkit.recipes.resume import record_recipe

            record_recipe(run_dir, name)
            save_json(run.path("versions.json"), package_versions())
        try:
            _run_stages(run, resolved, ranks)
        except KeyboardInterrupt:
            run.log(_interrupted(run_dir, name, run.cfg))
            raise
        run.log(f"done; results in {run_dir}")
        failed = False
    finally:
        run.close()
        if lock is not None:
            lock.release()
        if failed and created and lock is not None and not run.results:
            # No stage finished: the folder holds nothing but this start's log and lock. Left behind, it
            # would look like the newest run; the error itself says what went wrong.
            import shutil

            shutil.rmtree(run_dir, ignore_errors=True)
    return run


def remove_leftovers(run_dir: Path) -> list[str]:
    """Delete what a killed process left half-written in ``run_dir``: atomic writes' temporary files
    (``.NAME.*.tmp``) and model folders being built or swapped (``.model.*.tmp`` / ``.old``).
    Only the lock holder calls it. Returns the removed paths, relative to ``run_dir``."""
    import shutil

    removed = []
    for path in sorted(run_dir.rglob(".*")):
        if not (path.name.endswith(".tmp") or path.name.endswith(".old")) or not path.exists():
            continue
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
        removed.append(str(path.relative_to(run_dir)))
    return removed


def _interrupted(run_dir: Path, name: str, cfg: DictConfig) -> str:
    """What to tell a user who pressed Ctrl-C: the last saved update and the command that continues
    (quoted for a shell). Resuming reads the run's config.yaml, so the command needs no overrides;
    before any checkpoint it is the command that starts the run again, with the run's overrides."""
    from seqkit.recipes.resume import checkpoints, resume_command, start_command

    pointers = checkpoints(run_dir)
    saved = ""
    if pointers:
        try:
            saved = f"; the last checkpoint is at update {load_json(pointers[0])['step']}"
        except (SeqkitError, KeyError, TypeError):
            saved = ""
    return (f"interrupted{saved}; continue with: {resume_command(name, run_dir)}" if saved else
            f"interrupted before any checkpoint; run again with: {start_command(name, run_dir, cfg)}")


def _run_stages(run: Run, resolved: list[Stage], ranks: Any) -> None:
    _seed_everything(int(run.cfg.get("seed") or 0))
    fingerprint = ""
    force = bool(run.cfg.get("force", False))
    last_shared = max((i for i, st in enumerate(resolved) if st.distributed), default=-1)
    waiting: list[Stage] = []  # stages rank 0 runs while the other ranks wait
    from seqkit.train.distributed import barrier

    for i, st in enumerate(resolved):
        if not ranks.enabled:
            fingerprint = run.run_stage(st, previous=fingerprint, force=force)
            continue
        if not st.distributed:
            if run.is_main:
                fingerprint = run.run_stage(st, previous=fingerprint, force=force)
            elif i > last_shared:
                break  # nothing left for this rank to join in
            else:
                waiting.append(st)
            continue
        barrier()  # rank 0 has finished (or skipped) every stage before this one
        for done in waiting:
            fingerprint = run.adopt_stage(done, fingerprint)
        waiting = []
        fingerprint = run.run_stage(st, previous=fingerprint, force=force)


def _join_ranks(cfg: DictConfig):
    """Under torchrun, join the process group now (a barrier needs it before training starts)."""
    import datetime

    from seqkit.train.distributed import DistInfo, init_from_env

    if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        return DistInfo()
    # Ranks wait in a barrier while rank 0 prepares data and tokenizers: allow that hours, not minutes.
    from seqkit.train import resolve_device

    return init_from_env(resolve_device(cfg.get("device", "auto")),
                         timeout=datetime.timedelta(hours=2))


def _seed_everything(seed: int) -> None:
    import random

    import numpy as np
    import torch

    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
