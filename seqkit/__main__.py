import sys

from seqkit.cli import main

sys.exit(main())
