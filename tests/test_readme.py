"""The README's Python example runs exactly as printed and translates (400 updates of training)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from limits import HANG_S

README = Path(__file__).resolve().parents[1] / "README.md"


def python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), flags=re.S)


def test_the_readme_example_trains_translates_and_scores(tmp_path):
    (example,) = python_blocks()
    out = subprocess.run([sys.executable, "-c", example], cwd=tmp_path, capture_output=True, text=True,
                         timeout=HANG_S)  # only a hang: a busy machine may take minutes
    assert out.returncode == 0, out.stderr[-2000:]
    m = re.search(r"^BLEU = ([\d.]+) ", out.stdout, flags=re.M)
    assert m, out.stdout
    # 400 updates of a tiny Transformer on the bundled corpus (a step count: the same on any machine);
    # 400 updates gave BLEU 38.4 here.
    assert float(m.group(1)) > 20.0
    assert "nrefs:1|case:mixed|eff:no|tok:13a|smooth:exp|version:" in out.stdout
