"""PNG curves of a run from its ``metrics.jsonl`` (matplotlib, Agg backend: no display needed).

Every JSON line is a dict with a ``step`` and some numbers. Training records carry ``"split":
"train"``, validation records ``"split": "valid"``; each numeric key becomes one panel, training
and validation curves of the same name drawn together.
"""

from __future__ import annotations

import json
import os
from collections import defaultdict
from pathlib import Path

from seqkit.io import atomic_write, iter_lines

_SKIP = {"step", "epoch", "time", "split"}


def read_metrics(path: str | os.PathLike) -> list[dict]:
    """The records of a metrics JSON-lines file (malformed lines, e.g. a line cut by a kill, skipped)."""
    records = []
    if not Path(path).is_file():
        return records
    for line in iter_lines(path):
        try:
            rec = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(rec, dict):
            records.append(rec)
    return records


def plot_metrics(metrics_file: str | os.PathLike, out_png: str | os.PathLike,
                 keys: list[str] | None = None) -> Path | None:
    """Draw each metric against the update step into one PNG; returns its path (``None`` if no data)."""
    series: dict[str, dict[str, tuple[list, list]]] = defaultdict(dict)
    for rec in read_metrics(metrics_file):
        if "step" not in rec:
            continue
        split = rec.get("split", "train")
        for key, value in rec.items():
            if key in _SKIP or not isinstance(value, (int, float)) or isinstance(value, bool):
                continue
            if keys is not None and key not in keys:
                continue
            xs, ys = series[key].setdefault(split, ([], []))
            xs.append(rec["step"])
            ys.append(value)
    if not series:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    # loss first, then perplexity and the task's scores, then throughput and the rest; a panel whose
    # values never change (a constant learning rate, a fixed batch size) says nothing: left out
    order = {"loss": 0, "ppl": 1, "bleu": 2, "chrf": 3, "acc": 4}
    names = sorted((n for n in series if len({y for _, ys in series[n].values() for y in ys}) > 1),
                   key=lambda n: (order.get(n, 10), n))
    if not names:
        return None
    cols = min(3, len(names))
    rows = (len(names) + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(4.5 * cols, 3.2 * rows), squeeze=False)
    for ax, name in zip(axes.flat, names):
        for split, (xs, ys) in sorted(series[name].items()):
            ax.plot(xs, ys, marker="o" if len(xs) < 30 else None, markersize=3, label=split)
        ax.set_title(name)
        ax.set_xlabel("step")
        ax.grid(alpha=0.3)
        if len(series[name]) > 1:
            ax.legend()
    for ax in list(axes.flat)[len(names):]:
        ax.axis("off")
    return _save(fig, out_png)


def _save(fig, out_png: str | os.PathLike) -> Path:
    """Write ``fig`` as a PNG, atomically, and close it."""
    import matplotlib.pyplot as plt

    fig.tight_layout()
    out_png = Path(out_png)
    with atomic_write(out_png, "wb") as fh:
        fig.savefig(fh, format="png", dpi=90)
    plt.close(fig)
    return out_png


def plot_against_time(metrics_file: str | os.PathLike, out_png: str | os.PathLike, key: str = "bleu"
                      ) -> Path | None:
    """Validation ``key`` (e.g. BLEU) against wall-clock minutes since the run began (the ``time`` of
    each validation record, resumed sessions summed): where more training time still pays. Returns the
    PNG's path (``None`` without at least one timed validation)."""
    points = [(rec["time"] / 60.0, rec[key]) for rec in read_metrics(metrics_file)
              if rec.get("split") == "valid" and isinstance(rec.get("time"), (int, float))
              and isinstance(rec.get(key), (int, float)) and not isinstance(rec.get(key), bool)]
    if not points:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    xs, ys = zip(*sorted(points))
    fig, ax = plt.subplots(figsize=(5, 3.4))
    ax.plot(xs, ys, marker="o" if len(xs) < 40 else None, markersize=3)
    ax.set_xlabel("wall-clock minutes")
    ax.set_ylabel(f"validation {key}")
    ax.set_title(f"validation {key} against time")
    ax.grid(alpha=0.3)
    return _save(fig, out_png)
