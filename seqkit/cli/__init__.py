"""The ``seqkit`` command line: parse, call library functions, print.

Each command group lives beside the code it drives (``seqkit/text/cli.py`` ...) and is imported only
when used, so ``seqkit --help`` stays fast. A :class:`~seqkit.errors.SeqkitError` anywhere becomes one
line on stderr and exit status 2.
"""

from __future__ import annotations

import errno
import importlib
import sys

import click

from seqkit.errors import SeqkitError, from_os_error
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
    "average": ("seqkit.cli.average:average", "average checkpoints (a run's best, or given files)"),
    "bleu": ("seqkit.cli.bleu:bleu", "sacreBLEU's command line: REF -i HYP, every flag, several systems"),
    "vision": ("seqkit.cli.vision:vision", "CNN model summaries and the vision chapters"),
    "serve": ("seqkit.cli.serve:serve", "translate over HTTP: JSON API, micro-batching, web page"),
    "export": ("seqkit.cli.export:export", "export a trained model to CTranslate2 (export ct2)"),
    "shortlist": ("seqkit.cli.shortlist:shortlist", "vocabulary shortlists (CTranslate2's vmap) from a run's data"),
}


class _PipeClosed(Exception):
    """Standard output's reader went away (`seqkit ... | head`); not an OSError, so click lets it through
    (click turns a broken pipe into exit status 1 itself)."""


class LazyGroup(click.Group):
    """A click group that imports a subcommand's module only when it is invoked."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except OSError as exc:
            if exc.errno == errno.EPIPE:
                raise _PipeClosed() from None
            raise

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
    """Entry point of the console script; returns the exit status.

    Whatever goes wrong becomes one line on stderr: a :class:`SeqkitError` (a settings error: one line
    per bad value) or a file-system error (naming the path) exit with 2, Ctrl-C with 130; a closed
    or full standard output is reported too, never as a traceback.
    """
    if sys.stdout is None:  # started with stdout closed (`seqkit ... >&-`)
        click.echo("error: <stdout>: standard output is closed; fix: redirect it to a file or /dev/null",
                   err=True)
        return 2
    try:
        cli.main(args=argv, prog_name="seqkit", standalone_mode=False)
        sys.stdout.flush()  # a full or closed stdout fails here, not at exit
    except SeqkitError as exc:
        return _fail(exc.lines() if isinstance(exc, SettingsError) else [str(exc)])
    except click.exceptions.Abort:  # click's name for Ctrl-C
        click.echo("interrupted", err=True)
        return 130
    except click.UsageError as exc:  # a bad flag or value: one line, like every other error
        where = exc.ctx.command_path if exc.ctx is not None else "seqkit"
        return _fail([f"{where}: {exc.format_message()}; fix: see {where} --help"])
    except click.ClickException as exc:
        return _fail([exc.format_message()])
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        return 130
    except (BrokenPipeError, _PipeClosed):  # `seqkit ... | head`: the reader has all it wanted
        _silence_stdout()
        return 0
    except OSError as exc:
        # seqkit's own writers name their file; a nameless write error is standard output's
        stdout = exc.filename is None and exc.errno in STDOUT_ERRNOS
        if stdout:
            _silence_stdout()
        return _fail([str(from_os_error(exc, "<stdout>" if stdout else None))])
    return 0


def console() -> None:
    """The ``seqkit`` console script (and ``python -m seqkit.cli``, which ``torchrun`` starts): exit with
    :func:`main`'s status. A process that joined a ``torchrun`` group leaves through
    :func:`seqkit.train.distributed.end_process`, which skips the interpreter shutdown that can abort it."""
    status = main()
    distributed = sys.modules.get("seqkit.train.distributed")  # imported only by a command that used it
    if distributed is not None:
        distributed.end_process(status)
    sys.exit(status)


STDOUT_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EIO, errno.EBADF, errno.EPIPE}


def _fail(lines: list[str]) -> int:
    for line in lines:
        click.echo(f"error: {line}", err=True)
    return 2


def _silence_stdout() -> None:
    """Point stdout at /dev/null so the interpreter's own flush at exit cannot fail again."""
    import os

    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


if __name__ == "__main__":
    console()
