"""What every benchmark shares: the header above its table, its peers' status and its work folder.

A figure means little without the conditions it was taken in, so each script starts with
:func:`header`: the command line, the versions (python, torch, seqkit and the peers the script
compares with) and the machine (CPUs, the load average when it started, the date)::

    command: python benchmarks/vectors.py --repeat 1
    versions: python 3.11.7, torch 2.13.0+cpu, seqkit 0.1.0 (4fcc37b), gensim 4.4.0
    machine: Linux x86_64, AMD EPYC, 2 CPUs (2 usable), 125.7 GB; load average 0.92 1.11 1.28 at start; 2026-12-06 22:27 UTC

A peer that is not installed is reported as ``skipped: NAME not installed`` (:func:`skipped`) and its
rows left out, never a crash: the smoke tests (``tests/benchmarks``) run every script without the
optional peers. :func:`work_folder` gives each run its own scratch folder (``tempfile.mkdtemp``,
removed afterwards) unless the user names one with ``--work``, so two runs never share files.

The scripts import this module as ``_common`` (their own folder is ``sys.path[0]`` when run as
``python benchmarks/NAME.py``).
"""

from __future__ import annotations

import contextlib
import datetime
import importlib.metadata
import importlib.util
import os
import platform
import shlex
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

#: peer name as printed -> its distribution on the package registry
DISTRIBUTIONS = {"gensim": "gensim", "kenlm": "kenlm", "nltk": "nltk", "ctranslate2": "ctranslate2",
                 "sacrebleu": "sacrebleu", "sentencepiece": "sentencepiece", "jieba": "jieba",
                 "httpx": "httpx", "scikit-learn": "scikit-learn"}


def version(dist: str) -> str | None:
    """The installed version of distribution ``dist``, or None."""
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def installed(module: str) -> bool:
    """Whether ``module`` can be imported (found without importing it)."""
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def skipped(peer: str, why: str = "not installed", fix: str | None = None) -> None:
    """One line saying a peer (or a part of the benchmark) was left out, and how to include it."""
    print(f"skipped: {peer} {why}" + (f" ({fix})" if fix else ""), flush=True)


def _seqkit_version() -> str:
    text = version("seqkit") or "?"
    try:
        commit = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"], capture_output=True,
                                text=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(REPO), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return text
    return f"{text} ({commit}{', modified' if dirty else ''})" if commit else text


def _cpu_model() -> str:
    with contextlib.suppress(OSError):
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown CPU"


def _memory_gb() -> str:
    with contextlib.suppress(OSError, ValueError, IndexError):
        with open("/proc/meminfo", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("MemTotal:"):
                    return f"{int(line.split()[1]) / 2**20:.1f} GB"
    return "? GB"


def header_lines(peers: Sequence[str] = ()) -> list[str]:
    """The three header lines (see the module docstring); ``peers``: distributions to show the version
    of (``not installed`` when absent)."""
    versions = [f"python {platform.python_version()}", f"torch {version('torch') or 'not installed'}",
                f"seqkit {_seqkit_version()}"]
    versions += [f"{p} {version(DISTRIBUTIONS.get(p, p)) or 'not installed'}" for p in peers]
    try:
        usable = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        usable = os.cpu_count() or 1
    try:
        load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        load = "unknown"
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return [
        "command: " + shlex.join([Path(sys.executable).name, *sys.argv]),
        "versions: " + ", ".join(versions),
        f"machine: {platform.system()} {platform.machine()}, {_cpu_model()}, {os.cpu_count()} CPUs ({usable} usable), "
        f"{_memory_gb()}; load average {load} at start; {now}",
    ]


def header(peers: Sequence[str] = ()) -> None:
    """Print :func:`header_lines` (call it first thing: the load average is the one at the start)."""
    print("\n".join(header_lines(peers)), flush=True)


@contextlib.contextmanager
def work_folder(work: str | os.PathLike | None, name: str, keep: bool = False) -> Iterator[Path]:
    """The run's scratch folder: ``work`` when given (created, kept), else a fresh
    ``tempfile.mkdtemp`` folder unique to this run, removed at the end unless ``keep``."""
    if work is not None:
        path = Path(work)
        path.mkdir(parents=True, exist_ok=True)
        yield path
        return
    path = Path(tempfile.mkdtemp(prefix=f"seqkit-{name}-"))
    try:
        yield path
    finally:
        if keep:
            print(f"kept the work folder {path}", flush=True)
        else:
            shutil.rmtree(path, ignore_errors=True)


def table(columns: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    """Print a Markdown table (what ``docs/benchmarks.md`` quotes, and what the smoke tests read);
    cells are printed as given (format numbers before)."""
    print("| " + " | ".join(columns) + " |")
    print("| " + " | ".join("---" for _ in columns) + " |")
    for row in rows:
        print("| " + " | ".join(str(cell) for cell in row) + " |")
    sys.stdout.flush()


def ratio(a: float | None, b: float | None, digits: int = 2) -> str:
    """``a / b`` as ``1.23x``, or ``-`` when either is missing or ``b`` is zero."""
    return f"{a / b:.{digits}f}x" if a is not None and b else "-"


def shared_data() -> Path:
    """The real corpora: ``$SEQKIT_DATA``, else ``../shared/data`` beside the checkout."""
    return Path(os.environ.get("SEQKIT_DATA", REPO.parent / "shared" / "data"))
