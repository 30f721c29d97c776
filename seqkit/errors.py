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


_OS_ERRORS = {
    "ENOSPC": ("no space left on the device", "free some space, or write somewhere else"),
    "EDQUOT": ("disk quota exceeded", "free some space, or write somewhere else"),
    "EACCES": ("permission denied", "choose a folder you can write to, or change its permissions"),
    "EPERM": ("operation not permitted", "choose a folder you can write to, or change its permissions"),
    "EROFS": ("read-only file system", "write somewhere else"),
    "EISDIR": ("is a folder, expected a file", "give a file path"),
    "ENOTDIR": ("a part of this path is a file, not a folder", "check the path"),
    "ENOENT": ("no such file or folder", "check the path; a parent folder must already exist"),
    "EEXIST": ("already exists", "choose another path or remove it first"),
    "EPIPE": ("the reader closed the pipe", "keep the reading end open"),
    "EMFILE": ("too many open files", "raise the limit (ulimit -n)"),
}


def from_os_error(exc: OSError, path: str | os.PathLike | None = None) -> SeqkitError:
    """A file-system error as one :class:`SeqkitError` line naming the path and a fix."""
    import errno

    name = errno.errorcode.get(exc.errno or 0, "")
    message, fix = _OS_ERRORS.get(name, (exc.strerror or str(exc), "check the path and the disk"))
    return SeqkitError(message, path=path if path is not None else exc.filename, fix=fix)
