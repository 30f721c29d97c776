"""A griffe extension: seqkit's docstrings are written for Sphinx; rewrite the Sphinx-only parts as
Markdown before mkdocstrings renders them.

* doctest examples (``>>> ...`` and their output lines) -> a fenced ``pycon`` block (Markdown would
  read ``>>>`` as three nested quotes);
* RST simple tables (``====  ====`` borders) -> Markdown tables;
* literal blocks introduced by ``::`` -> fenced ``text`` blocks;
* roles (``:class:`~seqkit.text.Vocab```) -> code, ``~`` keeping only the last name.

The docstrings themselves are left as they are, so ``help()`` and doctest read them unchanged.
"""

from __future__ import annotations

import re

import griffe

_ROLE = re.compile(r":(?:mod|class|func|meth|data|attr|exc|obj):`(~?)([^`]+)`")
_BORDER = re.compile(r"^(\s*)(=+)( +=+)+\s*$")


def _roles(text: str) -> str:
    return _ROLE.sub(lambda m: f"`{m[2].rsplit('.', 1)[-1] if m[1] else m[2]}`", text)


def _table(lines: list[str], start: int) -> tuple[list[str], int] | None:
    """An RST simple table whose top border is ``lines[start]`` -> (Markdown rows, index after it)."""
    border = lines[start]
    indent = len(border) - len(border.lstrip())
    bounds = [m.span() for m in re.finditer(r"=+", border)]
    ends = [i for i in range(start + 1, len(lines)) if _BORDER.match(lines[i])]
    if not ends:
        return None
    body, header, end = lines[start + 1:ends[0]], None, ends[0] + 1
    if len(ends) >= 2 and len(body) == 1:  # a one-line header between the first two borders
        header, body, end = body[0], lines[ends[0] + 1:ends[1]], ends[1] + 1
    rows: list[list[str]] = []
    for line in body:
        if not line.strip():
            continue
        cells = []
        for k, (a, _) in enumerate(bounds):
            b = bounds[k + 1][0] if k + 1 < len(bounds) else None
            cells.append(line[a:b].strip() if b is not None else line[a:].strip())
        if cells[0]:
            # the first cell may overrun its column: split it at the first run of spaces instead
            first, _, rest = line[indent:].partition(" ")
            if len(first) > bounds[0][1] - bounds[0][0]:
                cells = [first, rest.strip()] + [""] * (len(bounds) - 2)
            rows.append(cells)
        elif rows:  # a continuation line of the row above
            rows[-1] = [f"{old} {new}".strip() for old, new in zip(rows[-1], cells)]
    if not rows:
        return None
    head = [header[a:b].strip() if b else header[a:].strip()
            for (a, _), (b, _) in zip(bounds, [*bounds[1:], (None, None)])] if header else [""] * len(bounds)
    out = ["", "| " + " | ".join(head) + " |", "|" + " --- |" * len(bounds)]
    out += ["| " + " | ".join(_roles(c).replace("|", "\\|") for c in row) + " |" for row in rows]
    return out + [""], end


def to_markdown(text: str) -> str:
    lines = text.splitlines()
    out: list[str] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        stripped = line.strip()
        if stripped.startswith(">>>"):
            indent = line[: len(line) - len(line.lstrip())]
            block = []
            while i < len(lines) and lines[i].strip() and lines[i].startswith(indent):
                block.append(lines[i][len(indent):])
                i += 1
            out += [f"{indent}```pycon", *(indent + b for b in block), f"{indent}```"]
            continue
        if _BORDER.match(line):
            table = _table(lines, i)
            if table is not None:
                rows, i = table
                out += rows
                continue
        if stripped.endswith("::") and not stripped.startswith(".."):
            # "text::" then an indented literal block
            j = i + 1
            while j < len(lines) and not lines[j].strip():
                j += 1
            indent = len(line) - len(line.lstrip())
            if j < len(lines) and len(lines[j]) - len(lines[j].lstrip()) > indent:
                text_part = stripped[:-2].rstrip()
                out.append(line[:indent] + (text_part + ":" if text_part else ""))
                block_indent = len(lines[j]) - len(lines[j].lstrip())
                block = []
                while j < len(lines) and (not lines[j].strip() or len(lines[j]) - len(lines[j].lstrip()) >= block_indent):
                    block.append(lines[j][block_indent:])
                    j += 1
                while block and not block[-1].strip():
                    block.pop()
                out += ["", line[:indent] + "```text", *(line[:indent] + b for b in block), line[:indent] + "```", ""]
                i = j
                continue
        out.append(_roles(line))
        i += 1
    return "\n".join(out)


class SphinxToMarkdown(griffe.Extension):
    """Rewrite every docstring griffe loads (see the module docstring)."""

    def on_instance(self, *, obj: griffe.Object, **kwargs) -> None:
        if obj.docstring is not None:
            obj.docstring.value = to_markdown(obj.docstring.value)
