"""``python -m seqkit``: the command line, as the ``seqkit`` console script runs it (an entry point,
not a library module: ``tests/test_layers.py`` allows this one file to import ``seqkit.cli``)."""

import sys

from seqkit.cli import main

sys.exit(main())
