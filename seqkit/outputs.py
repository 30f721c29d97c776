"""Where commands may write: seqkit never deletes or replaces a file or folder it did not make.

A folder seqkit writes whole (a CTranslate2 export, a prepared corpus, a run's ``model/``, attention
heatmaps) is built aside and swapped in by :func:`seqkit.io.atomic_dir`, and carries a marker file,
``.seqkit-output.json`` (``{"kind": "ct2-export", "seqkit": "0.1.0"}``). The rules, checked before
any work is done:

* a missing or empty folder may be written;
* a folder that is not empty is replaced only when it is seqkit's own output of the same kind (its
  marker, or for a folder written before markers existed, the files that kind always has) -- and,
  for a folder a user names (``-o DIR``), only with ``--force``;
* never a run directory, a folder inside one, the current folder (or one holding it), nor a folder
  holding the run being read;
* a file a user names (``-o FILE``) is overwritten as usual, but never one inside a run directory or
  inside a folder seqkit marked as its output (the run's or the output's own files).

A write that seqkit interrupted (a killed export) leaves ``.NAME.PID.XXXXXXXX.tmp`` (or
``.NAME.PID.old``) beside the target; the next write to the same target removes those -- only names
of that form, and only when process PID is gone.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

from seqkit.errors import SeqkitError

#: The file inside every folder seqkit writes whole, naming what it is.
MARKER = ".seqkit-output.json"

#: The kinds of output folders, and how messages name them.
KINDS: dict[str, str] = {
    "ct2-export": "a CTranslate2 export (seqkit export ct2)",
    "prepared-corpus": "a prepared corpus (seqkit data prepare)",
    "model": "a model folder (a run's model/)",
    "heatmaps": "an attention heatmaps folder (seqkit translate --heatmaps)",
}

# Folders seqkit wrote before it marked them: the files each kind always holds.
_UNMARKED: dict[str, tuple[str, ...]] = {
    "ct2-export": ("model.bin", "config.json", "seqkit.json", "spm.model"),
    "prepared-corpus": ("meta.json", "src.ids", "src.offsets", "tgt.ids", "tgt.offsets"),
    "model": ("model.json",),
}
_HEATMAP = re.compile(r"\d{5}\.png")


def _version() -> str:
    try:
        from importlib.metadata import version

        return version("seqkit")
    except Exception:  # running from a source tree that is not installed
        return "unknown"


def write_marker(folder: str | os.PathLike, kind: str) -> None:
    """Mark ``folder`` (being built) as seqkit's output of ``kind``."""
    if kind not in KINDS:
        raise ValueError(f"unknown output kind {kind!r}")
    text = json.dumps({"kind": kind, "seqkit": _version()}) + "\n"
    Path(folder, MARKER).write_text(text, encoding="utf-8")


def output_kind(folder: str | os.PathLike) -> str | None:
    """The kind of seqkit output ``folder`` is (its marker's, or recognised by its files when it
    predates markers), or None: not seqkit's."""
    folder = Path(folder)
    marker = folder / MARKER
    if marker.is_file():
        try:
            data = json.loads(marker.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        kind = data.get("kind") if isinstance(data, dict) else None
        return kind if kind in KINDS else None
    for kind, names in _UNMARKED.items():
        if all((folder / name).is_file() for name in names):
            return kind
    try:
        names = os.listdir(folder)
    except OSError:
        return None
    if names and all(_HEATMAP.fullmatch(name) for name in names):
        return "heatmaps"
    return None


def is_run_dir(folder: str | os.PathLike) -> bool:
    """Whether ``folder`` is a run directory: it has the run's config.yaml and versions.json (or its
    lock file), or the lock file and log.txt of a run stopped before writing its config."""
    folder = Path(folder)
    lock = (folder / ".lock").is_file()
    if (folder / "config.yaml").is_file() and (lock or (folder / "versions.json").is_file()):
        return True
    return lock and (folder / "log.txt").is_file()


def run_holding(path: str | os.PathLike) -> Path | None:
    """The run directory ``path`` is or lies inside (symbolic links resolved), or None."""
    real = Path(os.path.realpath(path))
    for folder in (real, *real.parents):
        if folder.is_dir() and is_run_dir(folder):
            return folder
    return None


def _marked_holding(path: Path) -> tuple[Path, str] | None:
    for folder in path.parents:
        if (folder / MARKER).is_file():
            kind = output_kind(folder)
            if kind is not None:
                return folder, kind
    return None


def _within(inner: Path, outer: Path) -> bool:
    return inner == outer or outer in inner.parents


def _not_empty(folder: Path) -> bool:
    try:
        with os.scandir(folder) as entries:
            return any(True for _ in entries)
    except OSError:
        return True


def _shown(path: str | os.PathLike) -> Path:
    """``path`` as messages name it: as typed, but ``.`` and ``..`` as the folders they are."""
    path = Path(path)
    return Path(os.path.realpath(path)) if path.name in ("", ".", "..") else path


def check_replaceable(path: str | os.PathLike, kind: str) -> None:
    """Raise unless ``path`` may be swapped for a new folder of ``kind``: it is missing, an empty
    folder, or seqkit's own output of that kind. The rule :func:`seqkit.io.atomic_dir` keeps."""
    if kind not in KINDS:
        raise ValueError(f"unknown output kind {kind!r}")
    real = Path(os.path.realpath(path))
    path = _shown(path)
    if not os.path.lexists(real):
        return
    if not real.is_dir():
        raise SeqkitError("is a file, expected a folder to write", path=path,
                          fix="give a new folder path (nothing was changed)")
    if not _not_empty(real):
        return
    found = output_kind(real)
    if found == kind:
        return
    if is_run_dir(real):
        raise SeqkitError("is a run directory; refusing to replace it (nothing was changed)", path=path,
                          fix="give a new folder outside the run")
    what = (f"holds {KINDS[found]}, not {KINDS[kind]}" if found else
            f"is not empty and was not written by seqkit (it is not {KINDS[kind]})")
    raise SeqkitError(f"{what}; refusing to replace it (nothing was changed)", path=path,
                      fix="give a new or empty folder")


def check_output_folder(path: str | os.PathLike, kind: str, *, replace: bool = False,
                        source: str | os.PathLike | None = None, flag: str = "--force",
                        make_parents: bool = True) -> Path:
    """Check a folder a user named for output of ``kind`` before any work; return it as a ``Path``.

    Refused (one :class:`SeqkitError` naming the folder and the fix): a file; a run directory or a
    folder inside one; a folder holding ``source`` (what the command reads) or inside it; the current
    folder or one holding it; a non-empty folder that is not seqkit's output of ``kind``; and seqkit's
    own output of ``kind`` unless ``replace`` (the user gave ``flag``); a missing parent folder unless
    ``make_parents``.
    """
    shown = _shown(path)
    real = Path(os.path.realpath(path))
    if os.path.lexists(real) and not real.is_dir():
        raise SeqkitError("is a file, expected a folder to write", path=shown, fix="give a folder path")
    if not make_parents and not real.parent.is_dir():
        parent = shown.parent
        raise SeqkitError(f"the folder {parent} does not exist", path=shown,
                          fix=f"create it first (mkdir -p {parent}) or write somewhere else")
    run = run_holding(real)
    if run is not None:
        where = "is a run directory" if run == real else f"is inside the run directory {run}"
        raise SeqkitError(f"{where}, whose files are the run's own; refusing to write there (nothing was changed)",
                          path=shown, fix="give a new folder outside the run")
    if source is not None:
        src = Path(os.path.realpath(source))
        if _within(src, real):
            raise SeqkitError(f"holds {source}, which this command reads; refusing to write there "
                              "(nothing was changed)", path=shown, fix=f"give a new folder outside {source}")
        if _within(real, src):
            raise SeqkitError(f"is inside {source}, which this command reads; refusing to write there "
                              "(nothing was changed)", path=shown, fix=f"give a new folder outside {source}")
    if real.is_dir() and _not_empty(real):
        found = output_kind(real)
        if found == kind and not replace:
            raise SeqkitError(f"already holds {KINDS[kind]}; not replaced (nothing was changed)", path=shown,
                              fix=f"add {flag} to replace it, or give a new folder")
        check_replaceable(shown, kind)
    cwd = Path(os.path.realpath(os.getcwd()))
    if _within(cwd, real):
        raise SeqkitError("is the current folder (or holds it): it is written whole, by swapping in a new "
                          "folder", path=shown, fix="give the name of a new folder, e.g. -o out")
    return shown


def check_output_file(path: str | os.PathLike) -> None:
    """Refuse a file a user named for output that lies inside a run directory or inside a folder
    seqkit marked as its output: those files are the run's or the output's own."""
    real = Path(os.path.realpath(path))
    run = run_holding(real.parent)
    if run is not None:
        raise SeqkitError(f"is inside the run directory {run}, whose files are the run's own; refusing to "
                          "write there (nothing was changed)", path=path,
                          fix=f"write it outside the run, e.g. -o {real.name}")
    marked = _marked_holding(real)
    if marked is not None:
        folder, kind = marked
        raise SeqkitError(f"is inside {folder}, {KINDS[kind]}; refusing to write there (nothing was changed)",
                          path=path, fix=f"write it outside that folder, e.g. -o {real.name}")


def check_run_folder(path: str | os.PathLike) -> None:
    """Refuse to start a run in a folder holding other files: a run directory may be a new or empty
    folder, or a run directory (a re-run or resume into it; a run's lock file is enough)."""
    real = Path(os.path.realpath(path))
    if not os.path.lexists(real):
        return
    if not real.is_dir():
        raise SeqkitError("is a file, expected a run directory", path=path, fix="give a new folder for run_dir")
    if _not_empty(real) and not is_run_dir(real) and not (real / ".lock").is_file():  # (a run killed at once)
        raise SeqkitError("is not empty and is not a run directory (config.yaml, versions.json); refusing to run "
                          "there (nothing was changed)", path=path, fix="give a new or empty folder for run_dir")


def temp_prefix(path: str | os.PathLike) -> str:
    """The name prefix of a temporary folder or file built beside ``path`` by this process."""
    return f".{Path(path).name}.{os.getpid()}."


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except (OverflowError, OSError):
        return False
    return True


def remove_stale_temps(path: str | os.PathLike) -> list[Path]:
    """Delete the temporary folders a killed write to ``path`` left beside it: ``.NAME.PID.XXXXXXXX.tmp``
    and ``.NAME.PID.old`` of a process that is gone (and ``.NAME.XXXXXXXX.tmp``, the name before the
    process id was part of it). Nothing else is touched. Returns what was removed."""
    import shutil

    path = Path(path)
    name = re.escape(path.name)
    pattern = re.compile(rf"\.{name}\.(?:(\d+)\.[a-z0-9_]{{8}}\.tmp|(\d+)\.old|[a-z0-9_]{{8}}\.tmp)")
    removed = []
    try:
        entries = list(os.scandir(path.parent))
    except OSError:
        return removed
    for entry in entries:
        match = pattern.fullmatch(entry.name)
        if match is None or not entry.is_dir(follow_symlinks=False):
            continue
        pid = match.group(1) or match.group(2)
        if pid is not None and _alive(int(pid)):
            continue
        shutil.rmtree(entry.path, ignore_errors=True)
        removed.append(Path(entry.path))
    return removed
