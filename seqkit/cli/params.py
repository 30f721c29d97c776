"""Click parameter types shared by the commands."""

from __future__ import annotations

import click

from seqkit.io import output_file


class OutputFile(click.ParamType):
    """A file to write: its folder must exist and it must not be a folder (``seqkit.io.output_file``);
    a mistake is one :class:`~seqkit.errors.SeqkitError` line naming the path."""

    name = "file"

    def convert(self, value, param, ctx):
        return str(output_file(value))


OUTPUT = OutputFile()
