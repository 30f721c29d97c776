"""Click parameter types shared by the commands."""

from __future__ import annotations

import contextlib

import click

from seqkit.errors import SeqkitError
from seqkit.io import output_file


class OutputFile(click.ParamType):
    """A file to write: its folder must exist and it must not be a folder (``seqkit.io.output_file``);
    a mistake is one :class:`~seqkit.errors.SeqkitError` line naming the path."""

    name = "file"

    def convert(self, value, param, ctx):
        return str(output_file(value))


OUTPUT = OutputFile()


@contextlib.contextmanager
def naming(*paths):
    """Inside the block, an error that names no file names ``paths`` (the inputs of the command)."""
    try:
        yield
    except SeqkitError as exc:
        if exc.path is None and paths:
            exc.path = ", ".join(str(p) for p in paths)
        raise


def threads_option(command=None, *, torch: bool = True):
    """``--threads N`` for a command that computes: N CPU threads, or by default the cores not busy
    with other work (:mod:`seqkit.threads`; ``SEQKIT_THREADS`` also sets it). Applied before the
    command runs; the command receives the count as ``threads``. ``@threads_option(torch=False)``: a
    command that never uses PyTorch (the n-gram engine's own threads) gets the count it was given, or
    None: the engine picks when it has work to split (:meth:`seqkit.lm.ngram.NGramLM.score_corpus`),
    without importing PyTorch to set a thread pool (that import alone took half of `seqkit lm ngram
    train`'s time) and without sampling the machine's load where nothing is split."""
    import functools

    def decorate(command):
        @functools.wraps(command)
        def with_threads(*args, threads=None, **kwargs):
            from seqkit.threads import use_threads

            if not torch:
                return command(*args, threads=threads, **kwargs)
            return command(*args, threads=use_threads(threads).threads, **kwargs)

        return click.option("--threads", type=click.IntRange(min=1), default=None,
                            help="CPU threads [default: the cores not busy with other work]")(with_threads)

    return decorate(command) if command is not None else decorate


class SpacedValues(click.Command):
    """A command whose options in ``spaced`` take several values after one flag, as lmplz's
    ``--prune 0 0 1``: the values that follow (while ``spaced[flag](value)`` holds) are joined into one
    comma-separated value for click."""

    spaced: dict[str, object] = {}

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        out, i = [], 0
        while i < len(args):
            arg = args[i]
            out.append(arg)
            i += 1
            test = self.spaced.get(arg)
            if test is not None:
                values = []
                while i < len(args) and test(args[i]):
                    values.append(args[i])
                    i += 1
                if values:
                    out.append(",".join(values))
        return super().parse_args(ctx, out)


def spaced_command(**flags):
    """``@group.command(cls=spaced_command(**{"--prune": str.isdigit}))``."""
    return type("SpacedCommand", (SpacedValues,), {"spaced": flags})
