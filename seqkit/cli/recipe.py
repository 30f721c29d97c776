"""``seqkit recipe``: list, show, copy, validate and run recipes."""

from __future__ import annotations

import shutil
from pathlib import Path

import click

from seqkit.errors import SeqkitError
from seqkit.recipes import config as _config


@click.group()
def recipe() -> None:
    """List, show, copy, validate and run recipes."""


@recipe.command("ls")
def ls() -> None:
    """List the built-in recipes with their one-line descriptions."""
    import yaml

    recipes = _config.builtin_recipes()
    width = max((len(n) for n in recipes), default=0)
    for name, path in recipes.items():
        try:
            desc = (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("description", "")
        except yaml.YAMLError:
            desc = "(invalid YAML)"
        click.echo(f"{name:<{width}}  {desc}")


@recipe.command("show")
@click.argument("name")
@click.argument("overrides", nargs=-1)
def show(name: str, overrides: tuple[str, ...]) -> None:
    """Print the resolved YAML of recipe NAME (with KEY=VALUE overrides applied)."""
    _, cfg = _config.load_recipe(name, overrides)
    click.echo(_config.to_yaml(cfg), nl=False)


@recipe.command("cp")
@click.argument("name")
@click.argument("dest", type=click.Path())
def cp(name: str, dest: str) -> None:
    """Copy built-in recipe NAME to DEST (a file or a folder) to edit it."""
    _, path = _config.resolve_recipe(name)
    target = Path(dest)
    if target.is_dir():
        target = target / path.name
    if target.exists():
        raise SeqkitError("destination exists", path=target, fix="choose another path or delete it first")
    shutil.copyfile(path, target)
    click.echo(f"copied {name} to {target}")


@recipe.command("validate")
@click.argument("name")
@click.argument("overrides", nargs=-1)
def validate(name: str, overrides: tuple[str, ...]) -> None:
    """Check recipe NAME with KEY=VALUE overrides: YAML, keys, types, ranges, choices, cross-field
    rules and the corpus kind, all before anything runs (one line per problem)."""
    from seqkit.recipes.pipeline import check_recipe, get_stage

    recipe_name, cfg = _config.load_recipe(name, overrides)
    check_recipe(cfg, [get_stage(str(n)) for n in cfg.stages])
    click.echo(f"{recipe_name}: ok ({len(cfg.stages)} stages: {', '.join(map(str, cfg.stages))})")


@recipe.command("run", context_settings={"ignore_unknown_options": True})
@click.argument("name")
@click.argument("overrides", nargs=-1, type=click.UNPROCESSED)
def run(name: str, overrides: tuple[str, ...]) -> None:
    """Run recipe NAME (a built-in name or a YAML path) with KEY=VALUE overrides."""
    from seqkit.recipes.pipeline import run_pipeline

    recipe_name, cfg = _config.load_recipe(name, overrides)
    run_pipeline(cfg, recipe_name)
