"""User-facing errors.

Every mistake a user can make (a bad file, an unknown key, a missing corpus) is raised as
:class:`SeqkitError`. The CLI prints it as one line and exits with status 2 -- never a traceback.
Library callers can catch it like any other exception.
"""

from __future__ import annotations

import os


class SeqkitError(Exception):
    """An error caused by user input, with where it happened and how to fix it.

    >>> str(SeqkitError("empty corpus", path="train.txt", fix="give a file with text"))
    'train.txt: empty corpus; fix: give a file with text'
    """

    def __init__(
        self,
        message: str,
        *,
        path: str | os.PathLike | None = None,
        line: int | None = None,
        fix: str | None = None,
    ) -> None:
        self.message, self.path, self.line, self.fix = message, path, line, fix
        super().__init__(str(self))

    def __str__(self) -> str:
        where = ""
        if self.path is not None:
            where = f"{os.fspath(self.path)}"
            if self.line is not None:
                where += f":{self.line}"
            where += ": "
        text = where + self.message
        if self.fix:
            text += f"; fix: {self.fix}"
        return text
