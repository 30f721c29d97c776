"""``python -m seqkit.cli``: the command line, as the ``seqkit`` console script runs it."""

from seqkit.cli import console

console()
