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
