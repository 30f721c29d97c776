"""Names a package exports but imports on first use (PEP 562), so that importing the package stays cheap.

``seqkit.lm``, ``seqkit.data`` and ``seqkit.seq2seq`` use it for their torch modules: the commands that
never compute with torch (the n-gram commands, ``seqkit shortlist build``) do not pay for importing it.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from typing import Any


def lazy_exports(package: str, exports: dict[str, str]) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """A package's ``(__getattr__, __dir__)`` for ``exports`` (name -> the module that defines it)."""

    def __getattr__(name: str) -> Any:
        if name in exports:
            return getattr(importlib.import_module(exports[name]), name)
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    def __dir__() -> list[str]:
        return sorted(set(vars(sys.modules[package])) | set(exports))

    return __getattr__, __dir__
