"""The documentation site: every tutorial runs, every picture on it comes from its code, the site builds.

* ``test_tutorial[PAGE]`` runs the ```python blocks of ``docs/**/PAGE.md`` top to bottom in one
  namespace, from an empty temporary folder, on one CPU thread (a snippet that needs something the page
  cannot make, such as a running server, is fenced ```py and not run). The tutorials' ``assert`` lines are
  their claims (scratch equals ``torch.nn``, 4 h d^2 parameters, beam beats greedy ...). What a block
  prints is what the page shows under it (a ```text title="Output" block, written by this run: the
  page is updated when the output changed), and every ``img/NAME.png`` the page shows must have been
  drawn by that run; the fresh pictures are copied into ``docs/tutorials/img/`` (so the committed
  ones are the code's).
* ``test_site_builds`` runs ``mkdocs build --strict`` (any warning fails) into a temporary folder and
  checks the generated references list every CLI command and every recipe key.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from limits import HANG_S

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
PAGES = sorted(p for p in DOCS.rglob("*.md") if "```python" in p.read_text(encoding="utf-8"))
IMAGE = re.compile(r"!\[[^\]]*\]\((img/[^)\s]+\.png)\)")
CODE = re.compile(r"^```python[^\n]*\n(.*?)^```[ \t]*\n", re.S | re.M)
OUTPUT_FENCE = '```text title="Output"'
OUTPUT = re.compile(r"\n" + re.escape(OUTPUT_FENCE) + r"\n(.*?)^```[ \t]*\n", re.S | re.M)


def run_page(text: str, name: str) -> tuple[str, int]:
    """Run the page's python blocks in one namespace; return the page with each block's printed output
    in the Output block right under it (added, replaced, or removed when the block prints nothing), and
    how many blocks printed."""
    namespace: dict = {"__name__": "__main__"}
    parts, pos, printing = [], 0, 0
    for n, block in enumerate(CODE.finditer(text), 1):
        printed = io.StringIO()
        try:
            with contextlib.redirect_stdout(printed):
                exec(compile(block.group(1), f"{name} block {n}", "exec"), namespace)
        except Exception as exc:
            line = text.count("\n", 0, block.start()) + 2
            raise AssertionError(f"{name}:{line}: python block {n} failed: {exc!r}") from exc
        parts.append(text[pos:block.end()])
        pos = block.end()
        shown = OUTPUT.match(text, pos)
        if shown:
            pos = shown.end()
        out = "\n".join(line.rstrip() for line in printed.getvalue().rstrip().splitlines())
        if out:
            parts.append(f"\n{OUTPUT_FENCE}\n{out}\n```\n")
            printing += 1
    parts.append(text[pos:])
    return "".join(parts), printing


@pytest.mark.parametrize("page", PAGES, ids=[p.stem for p in PAGES])
def test_tutorial(page: Path, tmp_path, monkeypatch):
    import matplotlib

    matplotlib.use("Agg")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SEQKIT_THREADS", "1")
    monkeypatch.syspath_prepend(str(ROOT))
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    text = page.read_text(encoding="utf-8")
    try:
        shown, printing = run_page(text, page.name)
    finally:
        torch.set_num_threads(threads)
        import matplotlib.pyplot as plt

        plt.close("all")
    if shown != text:  # the page shows what its code printed this time
        page.write_text(shown, encoding="utf-8")
    assert shown.count(OUTPUT_FENCE) == printing, f"{page.name}: an Output block that is not under the code that printed it"
    for rel in IMAGE.findall(shown):
        made = tmp_path / rel
        assert made.is_file(), f"{page.name} shows {rel} but its code did not draw it"
        kept = page.parent / rel
        if not kept.is_file() or kept.read_bytes() != made.read_bytes():
            kept.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(made, kept)


def test_every_tutorial_picture_is_drawn_by_code():
    """A page may show only pictures under img/ (which test_tutorial checks its code drew)."""
    for page in (DOCS / "tutorials").glob("*.md"):
        text = page.read_text(encoding="utf-8")
        for target in re.findall(r"!\[[^\]]*\]\(([^)\s]+)\)", text):
            assert IMAGE.fullmatch(f"![]({target})"), f"{page.name}: picture {target} is not under img/"
        if IMAGE.search(text):
            assert page in PAGES, f"{page.name} shows pictures but has no code to draw them"


def test_site_builds(tmp_path):
    pytest.importorskip("mkdocs", reason="pip install -e '.[docs]' to build the site")
    pytest.importorskip("mkdocstrings", reason="pip install -e '.[docs]' to build the site")
    site = tmp_path / "site"
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    done = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-q", "-d", str(site)],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=HANG_S)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "WARNING" not in done.stderr, done.stderr

    from seqkit.cli import COMMANDS
    from seqkit.recipes.config import builtin_recipes, flat_keys, load_recipe, to_container

    cli_page = (site / "reference" / "cli" / "index.html").read_text(encoding="utf-8")
    for name in COMMANDS:
        assert f"Usage: seqkit {name} " in cli_page, name
    for sub in ("lm ngram train", "lm rnn", "w2v train", "recipe run", "data ls"):
        assert f"Usage: seqkit {sub}" in cli_page, sub
    recipe_page = (site / "reference" / "recipes" / "index.html").read_text(encoding="utf-8")
    for name in builtin_recipes():
        assert f"<code>{name}</code>" in recipe_page, name
        for key in flat_keys(to_container(load_recipe(name)[1])):
            assert f"<code>{key}" in recipe_page, (name, key)
    api = (site / "reference" / "api" / "seq2seq" / "index.html").read_text(encoding="utf-8")
    assert "beam_search" in api and "MultiHeadAttention" in api
    for page in PAGES:
        if page.is_relative_to(DOCS / "tutorials"):
            html = site / "tutorials" / page.stem / "index.html"
            for rel in IMAGE.findall(page.read_text(encoding="utf-8")):
                assert (site / "tutorials" / rel).is_file(), rel
                assert f'src="../{rel}"' in html.read_text(encoding="utf-8"), rel


def test_sphinx_docstrings_become_markdown():
    """docs/hooks/griffe_rst.py: what mkdocstrings renders from seqkit's Sphinx-style docstrings."""
    sys.path.insert(0, str(DOCS / "hooks"))
    try:
        from griffe_rst import to_markdown
    finally:
        sys.path.remove(str(DOCS / "hooks"))
    doc = "\n".join([
        "See :class:`~seqkit.text.Vocab` and :func:`seqkit.metrics.bleu`.",
        "",
        "======  ===============",
        "``a``   first row that",
        "        wraps",
        "``b``   :class:`~x.Y`",
        "======  ===============",
        "",
        "Layout::",
        "",
        "    one   two",
        "    three",
        "",
        ">>> 1 + 1",
        "2",
    ])
    assert to_markdown(doc).splitlines() == [
        "See `Vocab` and `seqkit.metrics.bleu`.",
        "", "", "|  |  |", "| --- | --- |", "| ``a`` | first row that wraps |", "| ``b`` | `Y` |", "", "",
        "Layout:", "", "```text", "one   two", "three", "```", "",
        "```pycon", ">>> 1 + 1", "2", "```",
    ]


@pytest.mark.slow
def test_built_pages_render_in_a_browser(tmp_path):
    """Headless chromium opens the built home page and a tutorial: both draw content, the tutorial
    its pictures (colourful pixels). Needs the `chromium` binary (Debian: apt-get install chromium)."""
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.skip("no chromium binary (apt-get install chromium)")
    pytest.importorskip("mkdocs", reason="pip install -e '.[docs]' to build the site")
    import functools
    import http.server
    import threading

    import numpy as np
    from PIL import Image

    site = tmp_path / "site"
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    subprocess.run([sys.executable, "-m", "mkdocs", "build", "-q", "-d", str(site)], cwd=ROOT, env=env,
                   check=True, capture_output=True, timeout=HANG_S)
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(site))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        shots = {}
        for name, path in [("home", ""), ("tutorial", "tutorials/ngram_sampling/")]:
            out = tmp_path / f"{name}.png"
            subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                            "--hide-scrollbars", "--window-size=1280,6000", "--virtual-time-budget=3000",
                            f"--screenshot={out}", f"http://127.0.0.1:{server.server_port}/{path}"],
                           capture_output=True, timeout=120)
            shots[name] = np.asarray(Image.open(out).convert("RGB")).astype(int)
    finally:
        server.shutdown()
    for name, pixels in shots.items():
        assert (pixels.min(axis=(0, 1)) < 100).all() and pixels.std() > 20, f"{name} page is blank"
    colourful = ((shots["tutorial"].max(2) - shots["tutorial"].min(2)) > 80).sum()
    assert colourful > 20_000, "the tutorial's pictures are not drawn"
