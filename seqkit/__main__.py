"""``python -m seqkit``: the installed ``seqkit`` console script (``[project.scripts]`` in pyproject.toml).

The command is looked up as the package's declared entry point, so this file imports no layer above the
library (the command line lives in the application layer, ``seqkit.cli``)."""

import sys
from importlib.metadata import entry_points

found = [ep for ep in entry_points(group="console_scripts", name="seqkit") if ep.dist is None or ep.dist.name == "seqkit"]
if not found:
    sys.exit("seqkit: the `seqkit` command is not installed; fix: pip install -e . (or pip install seqkit)")
sys.exit(found[0].load()())
