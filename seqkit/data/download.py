"""Verified downloads into the cache, and archive extraction that cannot escape its folder.

Every file that comes from the network is checked against a sha256 before it is used: it is written
to a temporary name, hashed, and only then renamed into place, so a cut connection or a changed file
upstream never leaves a bad file where the loader would trust it.
"""

from __future__ import annotations

import functools
import hashlib
import os
import shutil
import tarfile
import tempfile
import urllib.error
import urllib.request
import zipfile
from pathlib import Path

from seqkit.errors import SeqkitError
from seqkit.io import cache_dir  # noqa: F401  (re-exported as seqkit.data.cache_dir)

PathLike = str | os.PathLike


def offline() -> bool:
    """True when ``$SEQKIT_OFFLINE`` is set to anything but ``0``/empty: never touch the network."""
    return os.environ.get("SEQKIT_OFFLINE", "") not in ("", "0")


def file_digest(path: PathLike, algorithm: str = "sha256", chunk: int = 1 << 20) -> str:
    """Hex digest of a file (``sha256``, ``sha1``, ``md5`` ...), read in chunks."""
    digest = hashlib.new(algorithm, usedforsecurity=False)
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def sha256_file(path: PathLike, chunk: int = 1 << 20) -> str:
    return file_digest(path, "sha256", chunk)


def parse_checksum(checksum: str | None) -> tuple[str, str] | None:
    """``"md5:ab12..."`` -> ``("md5", "ab12...")``; a bare hex string is a sha256; ``None`` stays None."""
    if checksum is None:
        return None
    algorithm, sep, value = checksum.partition(":")
    return (algorithm.lower(), value.lower()) if sep else ("sha256", checksum.lower())


def verify(path: PathLike, checksum: str | None) -> bool:
    """True when ``path`` exists and matches ``checksum`` (always True for ``None`` on an existing file)."""
    parsed = parse_checksum(checksum)
    if not Path(path).is_file():
        return False
    return parsed is None or file_digest(path, parsed[0]) == parsed[1]


def check_checksum(path: PathLike, checksum: str | None, what: str, dest: PathLike, fix: str) -> None:
    """Raise :class:`SeqkitError` (naming ``what`` and ``dest``) unless ``path`` matches ``checksum``;
    ``None`` is not checked."""
    parsed = parse_checksum(checksum)
    if parsed is None:
        return
    algorithm, expected = parsed
    got = file_digest(path, algorithm)
    if got != expected:
        raise SeqkitError(f"checksum mismatch for {what}: expected {algorithm} {expected}, got {got}",
                          path=dest, fix=fix)


def download(url: str, dest: PathLike, checksum: str | None, *, timeout: float = 60.0) -> Path:
    """Fetch ``url`` to ``dest`` and check its checksum (``"md5:HEX"``, ``"sha1:HEX"``, ``"sha256:HEX"``
    or a bare sha256 hex; ``None``: no known checksum, not checked).

    The file appears at ``dest`` only once complete and verified. Raises :class:`SeqkitError` on a
    network failure or a checksum mismatch.
    """
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent)
    try:
        with os.fdopen(fd, "wb") as out:
            request = urllib.request.Request(url, headers={"User-Agent": "seqkit"})
            with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 (http/file only)
                shutil.copyfileobj(response, out, 1 << 20)
        check_checksum(tmp, checksum, url, dest, fix="the file upstream changed or the download was corrupted; "
                       "retry, or place a verified copy there by hand")
        os.replace(tmp, dest)
    except (urllib.error.URLError, OSError, TimeoutError) as exc:
        raise SeqkitError(f"download of {url} failed ({exc})", path=dest,
                          fix="check the network, or put the file there by hand") from None
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return dest


def _check_member(name: str, target: Path, archive: Path) -> Path:
    """Where an archive member would land, refusing absolute paths, ``..`` that leave ``target`` and
    names of a folder (``.``, ``dir/``) for a file."""
    if name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":"):
        raise SeqkitError(f"archive member {name!r} has an absolute path", path=archive, fix="use a trusted archive")
    out = (target / name).resolve()
    root = target.resolve()
    if out != root and root not in out.parents:
        raise SeqkitError(f"archive member {name!r} would be written outside {root}", path=archive,
                          fix="use a trusted archive")
    if out == root or out.is_dir():
        raise SeqkitError(f"archive member {name!r} is a file named like a folder", path=archive,
                          fix="use a trusted archive")
    return out


def _extract_member(name: str, target: Path, archive: Path, open_member) -> Path:
    """Copy one archive member (``open_member()`` opens it) to where ``name`` lands below ``target``."""
    out = _check_member(name, target, archive)
    out.parent.mkdir(parents=True, exist_ok=True)
    with open_member() as src, open(out, "wb") as dst:
        shutil.copyfileobj(src, dst)
    return out


def extract(archive: PathLike, target: PathLike, members: list[str] | None = None) -> list[Path]:
    """Extract a ``.zip`` or ``.tar[.gz|.bz2|.xz]`` into ``target``; returns the written files.

    Safe against hostile archives: absolute member names, ``..`` components, and symbolic or hard
    links (tar) are refused, so nothing can be written outside ``target``. ``members`` limits the
    extraction to those names.
    """
    archive, target = Path(archive), Path(target)
    target.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    wanted = set(members) if members is not None else None
    if zipfile.is_zipfile(archive):
        with zipfile.ZipFile(archive) as zf:
            for info in zf.infolist():
                if info.is_dir() or (wanted is not None and info.filename not in wanted):
                    continue
                if (info.external_attr >> 16) & 0o170000 == 0o120000:  # a symlink stored in a zip
                    raise SeqkitError(f"archive member {info.filename!r} is a link", path=archive,
                                      fix="use a trusted archive")
                written.append(_extract_member(info.filename, target, archive, functools.partial(zf.open, info)))
        return written
    try:
        tf = tarfile.open(archive)
    except tarfile.TarError:
        raise SeqkitError("not a zip or tar archive", path=archive, fix="delete it and download again") from None
    with tf:
        for member in tf.getmembers():
            if member.isdir() or (wanted is not None and member.name not in wanted):
                continue
            if member.issym() or member.islnk():
                raise SeqkitError(f"archive member {member.name!r} is a link", path=archive,
                                  fix="use a trusted archive")
            if not member.isfile():
                raise SeqkitError(f"archive member {member.name!r} is not a regular file", path=archive,
                                  fix="use a trusted archive")
            written.append(_extract_member(member.name, target, archive, functools.partial(tf.extractfile, member)))
    return written
