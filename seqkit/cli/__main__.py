"""``python -m seqkit.cli``: the command line, as the ``seqkit`` console script runs it."""

import sys

from seqkit.cli import main

sys.exit(main())
