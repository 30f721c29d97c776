"""Tests that pass on any fresh machine: no wall-clock kill a busy machine can trip (tests/limits.py).

Scans the test sources (not tests/serve, which another package owns): a literal kill switch --
``timeout=N`` on a subprocess, ``monotonic() + N`` deadlines, ``timedelta(seconds=N)`` for a process
group -- is at least two minutes (each guards a command of a few seconds), and the long ones (the README
example, the docs build, process groups) use ``limits.HANG_S``, at least ten times their longest run.
"""

from __future__ import annotations

import re
from pathlib import Path

from limits import HANG_S

TESTS = Path(__file__).resolve().parent
KILLS = re.compile(r"(?<!join\()(?<!\.join\()\btimeout=(\d+)|monotonic\(\) \+ (\d+)|timedelta\(seconds=(\d+)\)")


def _sources() -> list[Path]:
    return [p for p in sorted(TESTS.rglob("*.py")) if "serve" not in p.relative_to(TESTS).parts[:1]
            and p.name != "test_limits.py"]


def test_no_literal_kill_shorter_than_two_minutes():
    short = []
    for path in _sources():
        for i, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if ".join(timeout=" in line:  # a polling interval, not a kill
                continue
            for m in KILLS.finditer(line):
                seconds = int(next(g for g in m.groups() if g))
                if seconds < 120:
                    short.append(f"{path.relative_to(TESTS)}:{i}: {line.strip()}")
    assert short == []


def test_the_long_runs_are_killed_only_when_they_hang():
    assert HANG_S >= 10 * 180  # the README example takes ~3 min on a busy 2-core machine
    for name in ("test_readme.py", "test_docs.py", "gloo.py", "seq2seq/test_artifacts.py"):
        assert "HANG_S" in (TESTS / name).read_text(encoding="utf-8"), name
    # process groups are started by gloo.run_ranks alone (its deadline is HANG_S)
    spawning = [str(p.relative_to(TESTS)) for p in _sources() if "start_processes(" in p.read_text(encoding="utf-8")]
    assert spawning == ["gloo.py"]
