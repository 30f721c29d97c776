"""``python -m seqkit``: the command line (part of the ``cli`` layer, like ``seqkit.cli`` itself)."""

import sys

from seqkit.cli import main

sys.exit(main())
