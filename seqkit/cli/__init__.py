"""The ``seqkit`` command line: parse, call library functions, print.

Each command group lives beside the code it drives (``seqkit/text/cli.py`` ...) and is imported only
when used, so ``seqkit --help`` stays fast. A :class:`~seqkit.errors.SeqkitError` anywhere becomes one
line on stderr and exit status 2.
"""

from __future__ import annotations

import importlib
import sys

import click

from seqkit.errors import SeqkitError
from seqkit.settings import SettingsError

# command name -> "module:attribute" of a click command or group.
COMMANDS: dict[str, tuple[str, str]] = {
    "recipe": ("seqkit.cli.recipe:recipe", "list, show, copy, validate and run recipes"),
    "tokenize": ("seqkit.cli.text:tokenize", "tokenize stdin to stdout"),
    "vocab": ("seqkit.cli.text:vocab", "build a vocabulary from text files"),
    "data": ("seqkit.cli.data:data", "list and fetch named corpora"),
    "lm": ("seqkit.cli.lm:lm", "n-gram and RNN language models"),
    "w2v": ("seqkit.cli.w2v:w2v", "train, evaluate and query word2vec vectors"),
    "translate": ("seqkit.cli.translate:translate", "translate stdin with a trained run"),
    "bleu": ("seqkit.cli.bleu:bleu", "corpus BLEU/chrF/TER with the sacrebleu signature"),
    "vision": ("seqkit.cli.vision:vision", "CNN model summaries and the vision chapters"),
}


class LazyGroup(click.Group):
    """A click group that imports a subcommand's module only when it is invoked."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in COMMANDS:
            return None
        target, help_text = COMMANDS[name]
        module_name, attr = target.split(":")
        try:
            return getattr(importlib.import_module(module_name), attr)
        except (ImportError, AttributeError) as exc:
            reason = f"{target}: {exc}"

            @click.command(name=name, help=help_text, context_settings={"ignore_unknown_options": True})
            @click.argument("args", nargs=-1, type=click.UNPROCESSED)
            def unavailable(args):
                raise SeqkitError(f"command '{name}' is not available ({reason})",
                                  fix="reinstall seqkit")

            return unavailable

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, COMMANDS[name][1]) for name in self.list_commands(ctx)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="seqkit")
def cli() -> None:
    """seqkit: sequence models from tokens to BLEU."""


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script; returns the exit status."""
    try:
        cli.main(args=argv, prog_name="seqkit", standalone_mode=False)
    except SeqkitError as exc:
        for line in exc.lines() if isinstance(exc, SettingsError) else [str(exc)]:
            click.echo(f"error: {line}", err=True)
        return 2
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        return 130
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        return 130
    except BrokenPipeError:
        return 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
