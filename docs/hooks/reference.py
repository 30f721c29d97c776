"""MkDocs hook: the CLI and recipe reference pages, written from the code at every build.

* ``reference/cli.md``: every command of ``seqkit.cli.COMMANDS``, walked recursively through click
  groups, with the ``--help`` text click itself prints -- a new flag shows up without editing a page.
* ``reference/recipes.md``: every built-in recipe (``seqkit.recipes.config.builtin_recipes``), its
  stages and every key with its default, type and the comment written beside it in the YAML (global
  keys: the comment beside them in ``GLOBAL_DEFAULTS``).

Both pages exist only in the built site (``File.generated``), so they cannot go stale in the tree.
"""

from __future__ import annotations

import inspect
import re
import sys
from pathlib import Path

import click
import yaml
from mkdocs.structure.files import File
from omegaconf import OmegaConf

# Document the seqkit of this checkout, whichever copy is installed (`mkdocs` does not put the
# working directory on sys.path).
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from griffe_rst import to_markdown  # noqa: E402  (beside this file)

_CLI_PAGE = "reference/cli.md"
_RECIPE_PAGE = "reference/recipes.md"


def on_files(files, config):
    files.append(File.generated(config, _CLI_PAGE, content=cli_reference()))
    files.append(File.generated(config, _RECIPE_PAGE, content=recipe_reference()))
    return files


# -- the command line ----------------------------------------------------------------------------
def _context(command: click.Command, name: str, parent: click.Context | None) -> click.Context:
    """The context click would make for ``command`` (its context_settings, e.g. ``-h``, applied)."""
    return command.make_context(name, [], parent=parent, resilient_parsing=True)


def _walk(command: click.Command, ctx: click.Context, out: list[str], depth: int) -> None:
    path = ctx.command_path
    out.append(f"{'#' * min(depth, 4)} `{path}`\n")
    out.append("```text\n" + command.get_help(ctx).rstrip() + "\n```\n")
    if isinstance(command, click.Group):
        for name in command.list_commands(ctx):
            sub = command.get_command(ctx, name)
            if sub is not None and not sub.hidden:
                _walk(sub, _context(sub, name, ctx), out, depth + 1)


def cli_reference() -> str:
    from seqkit.cli import COMMANDS, cli

    root = _context(cli, "seqkit", None)
    out = ["# Command line\n",
           "Generated from the click commands at every docs build (`docs/hooks/reference.py`): this is "
           "exactly what `seqkit COMMAND --help` prints. Every command accepts `-h`/`--help`; mistakes "
           "print one line `error: ...; fix: ...` and exit with status 2.\n",
           "| command | what it does |\n| --- | --- |"]
    out += [f"| [`seqkit {name}`](#seqkit-{name}) | {COMMANDS[name][1]} |" for name in sorted(COMMANDS)]
    out.append("")
    out.append("```text\n" + cli.get_help(root).rstrip() + "\n```\n")
    for name in cli.list_commands(root):
        command = cli.get_command(root, name)
        _walk(command, _context(command, name, root), out, 2)
    return "\n".join(out) + "\n"


# -- recipes -------------------------------------------------------------------------------------
_KEY_LINE = re.compile(r"^(?P<indent> *)(?P<key>[A-Za-z_][\w-]*):(?P<rest>.*)$")


def _yaml_comments(text: str) -> dict[str, str]:
    """Dotted key -> the ``# comment`` on its line, from block-style YAML (two-space indents)."""
    comments: dict[str, str] = {}
    stack: list[tuple[int, str]] = []
    for line in text.splitlines():
        match = _KEY_LINE.match(line)
        if not match:
            continue
        indent = len(match["indent"])
        while stack and stack[-1][0] >= indent:
            stack.pop()
        dotted = ".".join([k for _, k in stack] + [match["key"]])
        stack.append((indent, match["key"]))
        # a comment starts at " #"; recipe values hold no " #" inside quotes
        parts = re.split(r"\s#\s?", match["rest"], maxsplit=1)
        if len(parts) == 2:
            comments[dotted] = parts[1].strip()
    return comments


def _global_comments() -> dict[str, str]:
    from seqkit.recipes import config

    source = inspect.getsource(config)
    block = source.split("GLOBAL_DEFAULTS", 1)[1].split("}", 1)[0]
    found = {}
    for match in re.finditer(r'"(\w+)":[^#\n]*#\s*(.*)', block):
        found[match[1]] = match[2].strip()
    return found


def _leaves(config: dict, prefix: str = ""):
    for key, value in config.items():
        if isinstance(value, dict) and value:
            yield from _leaves(value, f"{prefix}{key}.")
        else:
            yield f"{prefix}{key}", value


def _type_name(value) -> str:
    if value is None:
        return "any (optional)"
    return {bool: "bool", int: "int", float: "float", str: "str", list: "list", dict: "mapping"}.get(
        type(value), type(value).__name__)


def _cell(text: str) -> str:
    # "<recipe>" in a comment would be read as an HTML tag (and vanish: "runs//")
    return text.replace("|", "\\|").replace("\n", " ").replace("<", "&lt;").replace(">", "&gt;")


def recipe_reference() -> str:
    from seqkit.recipes.config import GLOBAL_DEFAULTS, META_KEYS, builtin_recipes, load_recipe

    globals_doc = _global_comments()
    out = ["# Recipes\n",
           "Generated from the recipe YAML files at every docs build (`docs/hooks/reference.py`). "
           "A recipe's YAML is its own schema: every key below can be overridden on the command line "
           "as `key=value` (the value is parsed as YAML and must have the default's type; `null` "
           "defaults take any type). `seqkit recipe show NAME` prints the same keys resolved.\n",
           "## Keys every recipe accepts\n",
           "| key | default | type | meaning |\n| --- | --- | --- | --- |"]
    for key, value in GLOBAL_DEFAULTS.items():
        out.append(f"| `{key}` | `{_cell(yaml.safe_dump(value).strip().removesuffix('...').strip())}` | "
                   f"{_type_name(value)} | {_cell(globals_doc.get(key, ''))} |")
    out.append("")
    for name, path in builtin_recipes().items():
        text = path.read_text(encoding="utf-8")
        raw = yaml.safe_load(text)
        _, cfg = load_recipe(name)
        # unresolved: a default like "${data.dir}/train.${data.src}" is shown as written
        resolved = OmegaConf.to_container(cfg, resolve=False)
        comments = _yaml_comments(text)
        out.append(f"## `{name}`\n")
        out.append(f"{raw.get('description', '')}\n")
        out.append("Stages, in order: " + ", ".join(f"`{s}`" for s in raw["stages"]) + ".\n")
        header = [line[1:].strip() if line.startswith("# ") else line[1:]
                  for line in text.splitlines() if line.startswith("#")]
        if header:
            out.append("```text\n" + "\n".join(header) + "\n```\n")
        out.append("| key | default | type | meaning |\n| --- | --- | --- | --- |")
        for key, value in _leaves({k: v for k, v in resolved.items()
                                   if k not in META_KEYS and k not in GLOBAL_DEFAULTS}):
            shown = yaml.safe_dump(value, default_flow_style=True).strip().removesuffix("...").strip()
            out.append(f"| `{key}` | `{_cell(shown)}` | {_type_name(value)} | {_cell(comments.get(key, ''))} |")
        out.append("")
    return "\n".join(out) + "\n"


# -- the run directory ---------------------------------------------------------------------------
_RUN_DIR_PAGE = "reference/run-directory.md"
_STAGE_MODULES = {"lm_ngram": "seqkit.recipes.lm_ngram", "lm_rnn": "seqkit.recipes.lm_rnn",
                  "nmt_rnn_attention, nmt_transformer": "seqkit.recipes.nmt",
                  "word2vec": "seqkit.recipes.word2vec", "vision_lenet, vision_resnet": "seqkit.recipes.vision"}


def on_page_markdown(markdown, page, config, files):
    if page.file.src_uri == _RUN_DIR_PAGE:
        markdown = markdown.replace("<!-- layout -->", run_dir_layout())
        markdown = markdown.replace("<!-- stages -->", stage_tables())
    return markdown


def run_dir_layout() -> str:
    """The layout block of ``seqkit.recipes.pipeline``'s docstring (its first literal block)."""
    from seqkit.recipes import pipeline

    markdown = to_markdown(inspect.cleandoc(pipeline.__doc__))
    return markdown[markdown.index("```text"):markdown.index("```", markdown.index("```text") + 3) + 3] + "\n"


def stage_tables() -> str:
    """Each recipe's stage-module docstring (its stage table: what each stage writes), as Markdown."""
    import importlib

    out = []
    for recipes, module in _STAGE_MODULES.items():
        doc = inspect.cleandoc(importlib.import_module(module).__doc__)
        out.append(f"### {', '.join(f'`{r.strip()}`' for r in recipes.split(','))}\n")
        out.append(to_markdown(doc) + "\n")
    return "\n".join(out)
