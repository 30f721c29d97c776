"""The layer rule: library packages never import ``seqkit.recipes``, ``seqkit.cli`` or ``seqkit.serve``.

Checked on the source (every ``import`` statement, top level or inside functions), so a lazy import
in a function body cannot slip through.
"""

from __future__ import annotations

import ast
from pathlib import Path

import seqkit

ROOT = Path(seqkit.__file__).resolve().parent
ABOVE = ("seqkit.recipes", "seqkit.cli", "seqkit.serve")  # the application layer
BASE = ("errors.py", "io.py", "settings.py", "__init__.py")


def _imports(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.append((node.lineno, node.module))
    return found


def _library_files() -> list[Path]:
    files = []
    for path in sorted(ROOT.rglob("*.py")):
        top = path.relative_to(ROOT).parts[0]
        if top in ("recipes", "cli", "serve"):
            continue
        files.append(path)
    return files


def test_library_never_imports_recipes_or_cli():
    files = _library_files()
    assert len(files) > 50  # the whole library is scanned
    bad = [f"{p.relative_to(ROOT)}:{line}: imports {name}" for p in files for line, name in _imports(p)
           if name.startswith(ABOVE)]
    assert bad == []


def test_recipes_never_import_cli():
    bad = [f"{p.relative_to(ROOT)}:{line}: imports {name}" for p in sorted((ROOT / "recipes").rglob("*.py"))
           for line, name in _imports(p) if name.startswith("seqkit.cli")]
    assert bad == []


def test_serve_is_application_layer():
    # the server may use the library, never the recipe runner's internals or the CLI
    bad = [f"{p.relative_to(ROOT)}:{line}: imports {name}" for p in sorted((ROOT / "serve").rglob("*.py"))
           for line, name in _imports(p) if name.startswith(("seqkit.cli", "seqkit.recipes"))]
    assert bad == []


def test_rule_catches_a_violation(tmp_path):
    bad = tmp_path / "x.py"
    bad.write_text("def f():\n    from seqkit.recipes.pipeline import Run\n")
    assert _imports(bad) == [(2, "seqkit.recipes.pipeline")]


# The base modules (top-level files of the package, ``errors``, ``io``, ``settings``, ``threads`` ...)
# sit below every library package: they import only each other.
BASE_MODULES = sorted(p for p in ROOT.glob("*.py") if p.name != "__init__.py")


def _base_violations(paths: list[Path]) -> list[str]:
    allowed = {f"seqkit.{p.stem}" for p in BASE_MODULES}
    return [f"{p.name}:{line}: imports {name}" for p in paths for line, name in _imports(p)
            if (name == "seqkit" or name.startswith("seqkit.")) and name not in allowed]


def test_base_modules_import_nothing_above_them():
    assert {"errors.py", "io.py", "settings.py"} <= {p.name for p in BASE_MODULES}
    assert _base_violations(BASE_MODULES) == []


def test_base_rule_catches_a_violation(tmp_path):
    bad = tmp_path / "x.py"
    bad.write_text("import os\ndef f():\n    from seqkit.seq2seq.translator import Translator\n")
    assert _base_violations([bad]) == ["x.py:3: imports seqkit.seq2seq.translator"]


def test_python_dash_m_seqkit_is_the_command_line():
    import subprocess
    import sys

    # it runs the installed console script (pyproject's entry point) and imports no seqkit module itself
    assert [name for _, name in _imports(ROOT / "__main__.py") if name.startswith("seqkit")] == []
    out = subprocess.run([sys.executable, "-m", "seqkit", "--help"], capture_output=True, text=True, timeout=600)
    assert out.returncode == 0 and "Usage:" in out.stdout and "recipe" in out.stdout, out.stderr
