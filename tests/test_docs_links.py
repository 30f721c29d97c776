"""Every page's code fences close and every internal link lands: `mkdocs build --strict` passes a page
whose fence never closes (the rest of the page renders as code) and a link into such a page."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parents[1] / "docs"
PAGES = sorted(DOCS.rglob("*.md"))
FENCE = re.compile(r"^(\s*)(`{3,}|~{3,})(.*)$")


def _generated() -> set[Path]:
    """The pages docs/hooks/reference.py writes at build time (``_..._PAGE = "reference/x.md"``)."""
    hooks = (DOCS / "hooks" / "reference.py").read_text(encoding="utf-8")
    return {(DOCS / name).resolve() for name in re.findall(r'^_\w+_PAGE = "([^"]+\.md)"', hooks, re.M)}


def unclosed_fence(text: str) -> int | None:
    """The line of a code fence that never closes (CommonMark: a closing fence is the same character,
    at least as long, with nothing after it), or None."""
    opened = None  # (character, length, line)
    for n, line in enumerate(text.splitlines(), 1):
        m = FENCE.match(line)
        if not m:
            continue
        mark = m.group(2)
        if opened is None:
            opened = (mark[0], len(mark), n)
        elif mark[0] == opened[0] and len(mark) >= opened[1] and not m.group(3).strip():
            opened = None
    return opened[2] if opened else None


def _prose(text: str) -> str:
    """The page without code blocks and inline code (where link-like text is not a link)."""
    out, inside = [], None
    for line in text.splitlines():
        m = FENCE.match(line)
        if m and inside is None:
            inside = m.group(2)[0]
        elif m and m.group(2)[0] == inside and not m.group(3).strip():
            inside = None
        elif inside is None:
            out.append(re.sub(r"`[^`\n]*`", "", line))
    return "\n".join(out)


def _anchors(page: Path) -> set[str]:
    from markdown.extensions.toc import slugify

    headings = re.findall(r"^#{1,6}\s+(.*?)\s*#*$", _prose(page.read_text(encoding="utf-8")), re.M)
    return {slugify(re.sub(r"[`*_]", "", h), "-") for h in headings}


def broken_links(page: Path, generated: set[Path]) -> list[str]:
    found = []
    for target in re.findall(r"\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)", _prose(page.read_text(encoding="utf-8"))):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target):  # http:, mailto: ...
            continue
        path, _, anchor = target.partition("#")
        dest = (page.parent / path).resolve() if path else page.resolve()
        if path and not dest.exists() and dest not in generated:
            found.append(f"{target}: no such file")
        elif anchor and dest.suffix == ".md" and dest.exists() and anchor not in _anchors(dest):
            found.append(f"{target}: no heading #{anchor}")
    return found


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(DOCS)))
def test_fences_close_and_internal_links_land(page):
    text = page.read_text(encoding="utf-8")
    assert unclosed_fence(text) is None, f"{page.name}: the code fence at line {unclosed_fence(text)} never closes"
    assert broken_links(page, _generated()) == []


def test_the_checks_catch_what_they_look_for(tmp_path):
    assert unclosed_fence("text\n```python\nx = 1\n") == 2
    assert unclosed_fence("````\n```\nstill code\n````\n") is None  # a shorter fence does not close
    assert unclosed_fence("```bash\nls\n```\n~~~\nx\n~~~\n") is None
    (tmp_path / "a.md").write_text("# Title\n\n## Two words\n\n[ok](#two-words) [bad](#nope) [gone](b.md) "
                                   "[fine](a.md#title) `[code](c.md)`\n", encoding="utf-8")
    assert broken_links(tmp_path / "a.md", set()) == ["#nope: no heading #nope", "b.md: no such file"]
    assert len(PAGES) > 20  # the whole site is scanned


def test_recipe_reference_shows_defaults_as_written():
    import sys

    sys.path.insert(0, str(DOCS / "hooks"))
    try:
        import reference
    finally:
        sys.path.remove(str(DOCS / "hooks"))
    page = reference.recipe_reference()
    assert "runs/&lt;recipe&gt;/&lt;timestamp&gt;" in page  # not "runs//" (an HTML tag to a browser)
    assert "${data.dir}/train.${data.src}" in page and "None/train" not in page  # interpolations unresolved
