"""Reading and writing files safely: gzip-aware UTF-8 text, atomic writes, JSON.

Every reader reports invalid UTF-8 with the file and line number; every writer goes through
:func:`atomic_write`, so a crash never leaves a half-written artifact behind.
"""

from __future__ import annotations

import contextlib
import gzip
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from seqkit.errors import SeqkitError, from_os_error
from seqkit.outputs import check_output_file

PathLike = str | os.PathLike


def _open_binary(path: PathLike):
    path = Path(path)
    if not path.exists():
        raise SeqkitError("file not found", path=path, fix="check the path")
    if path.is_dir():
        raise SeqkitError("is a directory, expected a file", path=path)
    if path.suffix == ".gz":
        return gzip.open(path, "rb")
    return open(path, "rb")


def cache_dir() -> Path:
    """``$SEQKIT_CACHE`` (default ``~/.cache/seqkit``): verified downloads, parsed-vector caches, kernels."""
    return Path(os.environ.get("SEQKIT_CACHE") or Path.home() / ".cache" / "seqkit").expanduser()


BOM = "\ufeff"


def _decoded_lines(raw_lines, where: Any, *, strip_newline: bool = True) -> Iterator[str]:
    """UTF-8 lines of a binary line stream: a leading byte-order mark and CRLF endings removed, so a
    BOM+CRLF file reads exactly like the same text without them; bad bytes name ``where`` and the line."""
    for lineno, raw in enumerate(raw_lines, 1):
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise SeqkitError(
                f"invalid UTF-8 at byte {exc.start} of the line",
                path=where,
                line=lineno,
                fix="re-encode the file as UTF-8 (e.g. iconv -f latin1 -t utf-8)",
            ) from None
        if lineno == 1 and line.startswith(BOM):
            line = line[1:]
        if strip_newline:
            yield line.rstrip("\r\n")
        else:
            yield line[:-2] + "\n" if line.endswith("\r\n") else line


def iter_lines(path: PathLike, *, strip_newline: bool = True) -> Iterator[str]:
    """Yield the lines of a UTF-8 text file (``.gz`` is decompressed on the fly).

    A byte-order mark and CRLF line ends are removed; invalid UTF-8 raises :class:`SeqkitError`
    naming the file and the 1-based line number.
    """
    with _open_binary(path) as fh:
        yield from _decoded_lines(fh, path, strip_newline=strip_newline)


def iter_stdin_lines(*, strip_newline: bool = True) -> Iterator[str]:
    """The lines of standard input, read as :func:`iter_lines` reads a file (errors name ``<stdin>``)."""
    import sys

    stream = getattr(sys.stdin, "buffer", None)  # a text stream without one (tests, notebooks): re-encode
    raw = stream if stream is not None else (line.encode("utf-8", "surrogateescape") for line in sys.stdin)
    yield from _decoded_lines(raw, "<stdin>", strip_newline=strip_newline)


def read_lines(path: PathLike) -> list[str]:
    """All lines of a UTF-8 (optionally gzipped) text file, newline stripped."""
    return list(iter_lines(path))


def read_text(path: PathLike) -> str:
    """The whole UTF-8 (optionally gzipped) file as one string, decoded in one pass (a byte-order mark
    and CRLF line ends removed).

    Invalid UTF-8 raises :class:`SeqkitError` naming the file and the 1-based line number.
    """
    data = read_bytes(path)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        start = data.rfind(b"\n", 0, exc.start) + 1
        raise SeqkitError(
            f"invalid UTF-8 at byte {exc.start - start} of the line",
            path=path,
            line=line,
            fix="re-encode the file as UTF-8 (e.g. iconv -f latin1 -t utf-8)",
        ) from None
    return text.removeprefix(BOM).replace("\r\n", "\n")


def read_bytes(path: PathLike) -> bytes:
    """The raw bytes of a file (``.gz`` decompressed), with seqkit's missing-file errors."""
    with _open_binary(path) as fh:
        return fh.read()


@contextlib.contextmanager
def atomic_write(path: PathLike, mode: str = "w", encoding: str | None = "utf-8", *, make_parents: bool = True):
    """Open a temporary file beside ``path``; on success fsync and rename it over ``path``.

    If the block raises, the temporary file is removed and ``path`` is untouched; a file-system error
    (a full disk, a read-only folder) becomes one :class:`SeqkitError` naming ``path``. Missing parent
    folders are created (``make_parents``); a path a user typed is checked with :func:`output_file`
    first, which refuses them.
    """
    binary = "b" in mode
    with atomic_path(path, make_parents=make_parents) as tmp, \
            open(tmp, mode, encoding=None if binary else encoding) as fh:
        yield fh


@contextlib.contextmanager
def atomic_path(path: PathLike, *, make_parents: bool = True):
    """:func:`atomic_write` for a writer that takes a file name (safetensors' ``save_file``): yields
    the temporary file's path; on success the file is fsynced and renamed over ``path``."""
    path = Path(path)
    try:
        if make_parents:
            path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        os.close(fd)
    except OSError as exc:
        raise from_os_error(exc, path) from None
    try:
        yield tmp
        fd = os.open(tmp, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give the file the usual permissions
        os.replace(tmp, path)
    except BaseException as exc:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        if isinstance(exc, OSError):  # a full disk, a folder in the way ...: one line naming the file
            raise from_os_error(exc, path) from None
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def output_file(path: PathLike, *, make_parents: bool = False) -> Path:
    """Check a file path a user gave for output: its folder must exist (unless ``make_parents``), it
    must not be a folder itself, nor lie inside a run directory or a folder seqkit marked as its output
    (:func:`seqkit.outputs.check_output_file`). An ordinary file is overwritten, as ``-o`` always does.
    Returns it as a ``Path``; ``-`` (stdout) passes unchanged."""
    path = Path(path)
    if os.fspath(path) == "-":
        return path
    if path.is_dir():
        raise SeqkitError("is a folder, expected a file to write", path=path, fix="give a file name inside it")
    parent = path.parent
    if parent.exists() and not parent.is_dir():
        raise SeqkitError(f"{parent} is a file, not a folder", path=path, fix="check the path")
    if not parent.exists() and not make_parents:
        raise SeqkitError(f"the folder {parent} does not exist", path=path,
                          fix=f"create it first (mkdir -p {parent}) or write somewhere else")
    check_output_file(path)
    return path


def read_safetensors(path: PathLike, fmt: str, what: str, fix: str) -> tuple[dict[str, str], dict[str, Any]]:
    """The metadata and every array (numpy) of a safetensors file whose metadata says ``format: fmt``.

    A missing file, another format, or a truncated or foreign file is one :class:`SeqkitError` naming
    ``path``: "not a seqkit ``what``" or "cannot read the model", with ``fix``. Nothing is unpickled.
    """
    from safetensors import safe_open

    if not os.path.exists(path):
        raise SeqkitError("file not found", path=path, fix="check the path")
    try:
        with safe_open(os.fspath(path), framework="numpy") as fh:
            meta = fh.metadata() or {}
            if meta.get("format") != fmt:
                raise SeqkitError(f"not a seqkit {what} (format {meta.get('format')!r})", path=path, fix=fix)
            return meta, {name: fh.get_tensor(name) for name in fh.keys()}
    except SeqkitError:
        raise
    except Exception as exc:  # a truncated or foreign file: safetensors' own errors vary
        raise SeqkitError(f"cannot read the model ({exc})", path=path, fix=fix) from None


def write_bytes_atomic(path: PathLike, data: bytes) -> None:
    with atomic_write(path, "wb") as fh:
        fh.write(data)


def copy_file_atomic(src: PathLike, dst: PathLike) -> None:
    """Copy ``src`` to ``dst`` through :func:`atomic_write`: ``dst`` is the old file or the whole new
    one, and a failure (a full disk) leaves no partial temporary file."""
    import shutil

    try:
        source = open(src, "rb")
    except OSError as exc:
        raise from_os_error(exc, src) from None
    with source, atomic_write(dst, "wb") as fh:
        shutil.copyfileobj(source, fh, 1 << 20)


def append_line(path: PathLike, line: str) -> None:
    """Append one line to a log-like file (``metrics.jsonl``); a file-system error names the file."""
    try:
        with open(path, "a", encoding="utf-8") as fh:
            fh.write(line + "\n")
    except OSError as exc:
        raise from_os_error(exc, path) from None


def write_text_atomic(path: PathLike, text: str) -> None:
    with atomic_write(path, "w") as fh:
        fh.write(text)


def save_json(path: PathLike, obj: Any) -> None:
    """Write ``obj`` as pretty UTF-8 JSON, atomically."""
    write_text_atomic(path, json.dumps(obj, ensure_ascii=False, indent=2) + "\n")


def load_json(path: PathLike) -> Any:
    try:
        return json.loads(read_text(path))
    except json.JSONDecodeError as exc:
        raise SeqkitError(f"invalid JSON: {exc.msg}", path=path, line=exc.lineno,
                          fix="restore the file or re-create it") from None


def open_out(path: PathLike, mode: str = "w"):
    """Output to a path (atomically, see :func:`atomic_write`), or to stdout for ``-``; ``mode`` "w"
    for text, "wb" for bytes."""
    import sys

    if os.fspath(path) == "-":
        return contextlib.nullcontext(sys.stdout.buffer if "b" in mode else sys.stdout)
    return atomic_write(path, mode)


def iter_input(path: PathLike) -> Iterator[str]:
    """Lines of a file, or of stdin for ``-`` (both as :func:`iter_lines` reads them)."""
    return iter_stdin_lines() if os.fspath(path) == "-" else iter_lines(path)


def sha256_file(path: PathLike) -> str:
    """SHA-256 of a file's bytes; of a folder: of its files' relative names and contents, in order."""
    import hashlib

    path = Path(path)
    h = hashlib.sha256()
    if path.is_dir():
        for child in sorted(p for p in path.rglob("*") if p.is_file()):
            h.update(str(child.relative_to(path)).encode())
            h.update(sha256_file(child).encode())
        return h.hexdigest()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


_HASHED: dict[tuple[str, int, int], str] = {}  # (path, size, mtime_ns) -> SHA-256, for this process


def file_stamp(path: PathLike, *, with_hash: bool = True) -> dict[str, Any]:
    """What identifies a file's content: ``path`` (absolute), ``size`` (bytes), ``mtime_ns`` and
    ``sha256`` (hashed once per process for an unchanged size and mtime)."""
    path = os.path.abspath(path)
    st = os.stat(path)
    stamp: dict[str, Any] = {"path": path, "size": st.st_size, "mtime_ns": st.st_mtime_ns}
    if with_hash:
        key = (path, st.st_size, st.st_mtime_ns)
        if key not in _HASHED:
            _HASHED[key] = sha256_file(path)
        stamp["sha256"] = _HASHED[key]
    return stamp


def unchanged(old: dict[str, Any], path: PathLike) -> bool:
    """Whether ``path`` still has the content ``old`` (a :func:`file_stamp`) describes.

    Size and modification time equal: unchanged, without reading it (as ``make`` decides). A touched
    file of the same size is hashed and compared, so copying or touching an input changes nothing.
    """
    try:
        now = file_stamp(path, with_hash=False)
    except OSError:
        return False
    if now["size"] != old.get("size"):
        return False
    if now["mtime_ns"] == old.get("mtime_ns"):
        return True
    return file_stamp(path)["sha256"] == old.get("sha256")


@contextlib.contextmanager
def atomic_dir(path: PathLike, kind: str):
    """Build a folder of ``kind`` (see :data:`seqkit.outputs.KINDS`) aside and swap it in for ``path``
    when the block succeeds.

    ``path`` must be missing, an empty folder, or seqkit's own output of the same ``kind``
    (:func:`seqkit.outputs.check_replaceable`): anything else is refused before the block runs, so a
    folder seqkit did not make is never deleted. Temporary folders a killed write to ``path`` left
    beside it are removed first (:func:`seqkit.outputs.remove_stale_temps`). Yields a fresh temporary
    folder beside ``path``, already holding the marker of ``kind``. On success its files are fsynced
    and it replaces ``path`` (the old folder is renamed away first and deleted after), so a reader sees
    the old set of files or the new one, never a mix. If the block raises, the temporary folder is
    removed and ``path`` is untouched.
    """
    import shutil

    from seqkit.outputs import check_replaceable, remove_stale_temps, temp_prefix, write_marker

    path = Path(os.path.realpath(path))  # "." and links name the real folder
    check_replaceable(path, kind)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        remove_stale_temps(path)
        tmp = Path(tempfile.mkdtemp(prefix=temp_prefix(path), suffix=".tmp", dir=path.parent))
    except OSError as exc:
        raise from_os_error(exc, path) from None
    try:
        write_marker(tmp, kind)
        yield tmp
        for child in tmp.rglob("*"):
            if child.is_file():
                with open(child, "rb") as fh:
                    os.fsync(fh.fileno())
        os.chmod(tmp, 0o777 & ~_umask())
        old = None
        if os.path.lexists(path):
            check_replaceable(path, kind)  # again: something else may have been put there meanwhile
            old = path.with_name(f".{path.name}.{os.getpid()}.old")
            os.replace(path, old)
        os.replace(tmp, path)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        if isinstance(exc, OSError):
            raise from_os_error(exc, path) from None
        raise
