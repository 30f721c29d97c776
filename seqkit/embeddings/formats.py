"""The vector file formats: GloVe text, word2vec/fastText text and word2vec binary -- read and written.

:func:`read_vector_file` reads

* GloVe text (``word v1 .. vd`` per line, no header), word2vec/fastText text (a ``count dim`` header
  line first) and word2vec binary; plain, ``.gz`` or ``.zip``; the format is detected from the file
  (:func:`detect_format`);
* real files as they are: a token may contain U+00A0 or even ASCII spaces (the last ``d`` fields are
  the vector, everything before them the token), lines may be malformed or have the wrong number of
  fields (skipped and counted -- or, with ``strict=True``, one error naming the line), tokens may be
  invalid UTF-8 (replaced, counted);
* ``limit=N`` reads only the first N entries.

Text is parsed in blocks of a few hundred KB: numpy finds each line's end and its vector's first
field (the d-th space from the end), and one ``np.fromstring`` call converts a whole block of numbers
straight into the rows, so Python only touches each token once. The matrix is preallocated from a
count of the lines and the tokens gathered compactly (:class:`~seqkit.embeddings.tokenlist.TokenCollector`:
one string per block, a length and a hash per token), so the peak memory is the float32 matrix plus
the tokens' text, ~20 bytes a token and one block (400,000 x 100: 1.05-1.1x the matrix). Repeated
tokens are found by their hashes and dropped in place (``unique=True``). What was read and skipped is
counted in a :class:`LoadReport`.

:func:`write_word2vec` writes the word2vec text or binary format that gensim and word2vec.c read.
"""

from __future__ import annotations

import gzip
import io
import os
import re
import warnings
import zipfile
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from seqkit.embeddings.tokenlist import TokenCollector, TokenList
from seqkit.errors import SeqkitError
from seqkit.io import atomic_write

PathLike = str | os.PathLike
FORMATS = ("glove", "word2vec-text", "word2vec-binary")
BLOCK_BYTES = 1 << 18  # text is parsed in blocks of this size: bounds the memory beside the matrix
_HEADER = re.compile(rb"^\s*(\d+)\s+(\d+)\s*$")


# ----------------------------------------------------------------------------- the report

@dataclass
class LoadReport:
    """What loading found; ``str(report)`` is the one-line summary."""

    path: str
    format: str
    dim: int
    loaded: int = 0
    lines: int = 0
    duplicates: int = 0
    malformed: int = 0
    wrong_dim: int = 0
    encoding_errors: int = 0
    from_cache: bool = False
    seconds: float = 0.0
    examples: list[str] = field(default_factory=list)  # the first few problems, "line N: why"

    def __str__(self) -> str:
        skipped = [f"{n} {what}" for n, what in ((self.duplicates, "duplicate tokens"),
                                                 (self.malformed, "malformed lines"),
                                                 (self.wrong_dim, "lines with the wrong dimension"))
                   if n]
        text = f"{self.loaded} vectors x {self.dim} from {self.path} ({self.format}"
        text += ", cached)" if self.from_cache else ")"
        if skipped:
            text += "; skipped " + ", ".join(skipped)
            if self.examples:
                text += " (" + "; ".join(self.examples[:2]) + ")"
        if self.encoding_errors:
            text += f"; {self.encoding_errors} tokens with invalid UTF-8 (replaced)"
        return text

    def problem(self, lineno: int, why: str) -> None:
        if len(self.examples) < 5:
            self.examples.append(f"line {lineno}: {why}")


# ----------------------------------------------------------------------------- memory

def release_free_memory() -> None:
    """Hand freed parse buffers back to the OS (glibc keeps them otherwise, inflating the process's
    resident memory by tens of MB over a large file); a no-op elsewhere."""
    global _malloc_trim
    if _malloc_trim is None:
        try:
            import ctypes

            _malloc_trim = ctypes.CDLL("libc.so.6").malloc_trim
        except (OSError, AttributeError):
            _malloc_trim = False
    if _malloc_trim:
        _malloc_trim(0)


_malloc_trim = None


# ----------------------------------------------------------------------------- opening files

def _open_stream(path: Path, member: str | None = None) -> tuple[io.BufferedIOBase, int | None]:
    """A binary stream of the (decompressed) file and its uncompressed size when known."""
    if not path.exists():
        raise SeqkitError("vector file not found", path=path, fix="check the path")
    if path.is_dir():
        raise SeqkitError("is a directory, expected a vector file", path=path)
    if path.suffix == ".zip" or zipfile.is_zipfile(path):
        zf = zipfile.ZipFile(path)
        names = [i for i in zf.infolist() if not i.is_dir()]
        if member is not None:
            names = [i for i in names if i.filename == member or i.filename.endswith("/" + member)]
        else:
            names = [i for i in names if i.filename.endswith((".txt", ".vec", ".bin"))] or names
        if len(names) != 1:
            raise SeqkitError(f"zip holds {len(names)} candidate vector files "
                              f"({', '.join(i.filename for i in names[:5])})", path=path,
                              fix="name one with member=...")
        return zf.open(names[0]), names[0].file_size
    if path.suffix == ".gz":
        return gzip.open(path, "rb"), None
    return open(path, "rb"), path.stat().st_size


def _count_lines(path: Path, member: str | None) -> int:
    """Newlines in the file (+1 for a last line without one): an upper bound on the rows."""
    stream, _ = _open_stream(path, member)
    count, last = 0, b"\n"
    with stream:
        while block := stream.read(4 << 20):
            count += block.count(b"\n")
            last = block[-1:]
    return count + (last != b"\n")


def detect_format(path: PathLike, member: str | None = None) -> tuple[str, int, int | None]:
    """``(format, dim, header_count)`` from the first bytes of the file."""
    path = Path(path)
    stream, _ = _open_stream(path, member)
    with stream:
        head = stream.read(1 << 16)
    first, _, rest = head.partition(b"\n")
    match = _HEADER.match(first)
    if match:
        count, dim = int(match.group(1)), int(match.group(2))
        if dim < 1:
            raise SeqkitError(f"header says dimension {dim}", path=path, line=1, fix="fix the header line")
        # text: the next line ends in `dim` numbers; binary: raw float bytes follow the first word
        fields = rest.split(b"\n", 1)[0].rstrip(b"\r ").split(b" ")
        try:
            textual = len(fields) > dim and all(np.isfinite(float(x)) for x in fields[-dim:])
        except ValueError:
            textual = False
        return ("word2vec-text" if textual else "word2vec-binary"), dim, count
    # GloVe: the dimension most lines of the first block have, so one odd line (even the first) is
    # skipped and counted instead of deciding the dimension for the whole file
    lines = [line for line in (head.split(b"\n")[:-1] or [first]) if line.strip()]
    widths = Counter(len(line.rstrip(b"\r ").split(b" ")) - 1 for line in lines)
    dim = max(widths, key=lambda w: (widths[w], w == len(first.rstrip(b"\r ").split(b" ")) - 1)) if widths else 0
    if dim < 1:
        raise SeqkitError("the first line has no vector (expected 'word v1 v2 ...' or 'count dim')",
                          path=path, line=1, fix="check that this is a GloVe or word2vec file")
    return "glove", dim, None


# ----------------------------------------------------------------------------- text parsing

class _Matrix:
    """Rows appended into a preallocated float32 array (untouched capacity costs no memory)."""

    def __init__(self, capacity: int, dim: int) -> None:
        self.data = np.empty((max(capacity, 1), dim), dtype=np.float32)
        self.n = 0

    def append(self, rows: np.ndarray) -> None:
        end = self.n + len(rows)
        if end > len(self.data):  # only when the capacity estimate was short (compressed input)
            grown = np.empty((max(end, 2 * len(self.data)), self.data.shape[1]), dtype=np.float32)
            grown[:self.n] = self.data[:self.n]
            self.data = grown
        self.data[self.n:end] = rows
        self.n = end


class _TextParser:
    """Parses blocks of complete lines of ``token v1 .. vd`` into rows and tokens."""

    def __init__(self, path: Path, dim: int, report: LoadReport, strict: bool) -> None:
        self.path, self.dim, self.report, self.strict = path, dim, report, strict

    def _fail(self, lineno: int, why: str, kind: str) -> None:
        if self.strict:
            raise SeqkitError(why, path=self.path, line=lineno,
                              fix="repair or delete that line, or load with strict=False to skip it")
        setattr(self.report, kind, getattr(self.report, kind) + 1)
        self.report.problem(lineno, why)

    def parse(self, buf: bytes, first_lineno: int) -> tuple[np.ndarray, list[bytes]]:
        """``buf`` holds whole lines, the last ending in a newline. Returns rows (m, d) and m tokens."""
        arr = np.frombuffer(buf, dtype=np.uint8)
        ends = np.flatnonzero(arr == 10)
        starts = np.empty_like(ends)
        starts[0], starts[1:] = 0, ends[:-1] + 1
        for _ in range(3):  # trailing "\r" and spaces are not fields
            trail = (ends > starts) & ((arr[ends - 1] == 32) | (arr[ends - 1] == 13))
            if not trail.any():
                break
            ends[trail] -= 1
        spaces = np.flatnonzero(arr == 32)
        k = np.searchsorted(spaces, ends) - self.dim  # index of the space before the vector
        sep = spaces[np.clip(k, 0, max(len(spaces) - 1, 0))] if len(spaces) else np.zeros_like(ends)
        good = (k >= 0) & (sep > starts) & (ends > starts)
        if len(spaces):  # the token must not end in a space (two spaces before the vector)
            good &= (k <= 0) | (spaces[np.clip(k - 1, 0, None)] < sep - 1)
        blank = ends == starts
        starts_l, sep_l, ends_l = starts.tolist(), sep.tolist(), ends.tolist()
        idx = np.flatnonzero(good).tolist()
        tokens = [buf[starts_l[i]:sep_l[i]] for i in idx]
        numbers = b" ".join([buf[sep_l[i] + 1:ends_l[i]] for i in idx])
        try:  # a bad number stops the conversion: warns (older numpy) or raises; the count catches both
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                rows = np.fromstring(numbers, dtype=np.float32, sep=" ") if idx else np.zeros(0, np.float32)
        except ValueError:
            rows = np.zeros(0, np.float32)
        fast_ok = len(rows) == len(idx) * self.dim and bool(np.isfinite(rows).all() if len(rows) else True)
        if fast_ok and (good | blank).all():
            bad_tokens = [j for j, t in enumerate(tokens) if b" " in t and _looks_numeric(t)]
            if not bad_tokens:
                return rows.reshape(-1, self.dim), tokens
        return self._slow(buf, starts_l, ends_l, first_lineno)

    def _slow(self, buf: bytes, starts: list[int], ends: list[int], first_lineno: int):
        """Line by line, to find and count (or report) exactly which lines are wrong."""
        rows, tokens = [], []
        for j, (a, b) in enumerate(zip(starts, ends)):
            if a == b:
                continue
            lineno = first_lineno + j
            fields = buf[a:b].split(b" ")
            if len(fields) <= self.dim:
                self._fail(lineno, f"{len(fields) - 1} fields after the token, expected {self.dim}",
                           "wrong_dim")
                continue
            token = b" ".join(fields[:-self.dim])
            if not token or token.endswith(b" "):
                self._fail(lineno, "empty token or empty field", "malformed")
                continue
            if b" " in token and _looks_numeric(token):
                self._fail(lineno, f"more than {self.dim} numbers on the line", "wrong_dim")
                continue
            try:
                vec = np.array([float(x) for x in fields[-self.dim:]], dtype=np.float32)
            except ValueError:
                self._fail(lineno, "a vector field is not a number", "malformed")
                continue
            if not np.isfinite(vec).all():
                self._fail(lineno, "the vector has inf or nan", "malformed")
                continue
            rows.append(vec)
            tokens.append(token)
        return (np.stack(rows) if rows else np.zeros((0, self.dim), np.float32)), tokens


def _looks_numeric(token: bytes) -> bool:
    """A token ending in ' <float>' is a line with one number too many, not a token with a space."""
    last = token.rsplit(b" ", 1)[-1]
    if not any(c in last for c in b".eE"):
        return False
    try:
        float(last)
        return True
    except ValueError:
        return False


def _iter_blocks(stream, skip_first_line: bool) -> Iterator[tuple[bytes, int]]:
    """Blocks of whole lines and the 1-based number of each block's first line."""
    lineno, carry = 1, b""
    if skip_first_line:
        stream.readline()
        lineno = 2
    while True:
        block = stream.read(BLOCK_BYTES)
        if not block:
            break
        block = carry + block
        cut = block.rfind(b"\n") + 1
        if cut == 0:
            carry = block
            continue
        carry = block[cut:]
        yield block[:cut], lineno
        lineno += block.count(b"\n", 0, cut)
    if carry:
        yield carry + b"\n", lineno


def _decode_tokens(tokens: list[bytes], first_rows: int, report: LoadReport, strict: bool,
                   path: Path) -> list[str]:
    try:
        return b"\n".join(tokens).decode("utf-8").split("\n") if tokens else []
    except UnicodeDecodeError:
        out = []
        for j, tok in enumerate(tokens):
            try:
                out.append(tok.decode("utf-8"))
            except UnicodeDecodeError:
                if strict:
                    raise SeqkitError(f"token {tok!r} (entry {first_rows + j + 1}) is not valid UTF-8",
                                      path=path, fix="re-encode the file as UTF-8") from None
                report.encoding_errors += 1
                out.append(tok.decode("utf-8", errors="replace"))
        return out


def _parse_text(path: Path, member: str | None, fmt: str, dim: int, header: int | None,
                limit: int | None, strict: bool, report: LoadReport) -> tuple[np.ndarray, TokenCollector]:
    capacity = _count_lines(path, member)
    if header is not None:
        capacity = min(capacity, header)
    if limit is not None:
        capacity = min(capacity, limit)
    matrix, collector = _Matrix(capacity, dim), TokenCollector(capacity)
    parser = _TextParser(path, dim, report, strict)
    stream, _ = _open_stream(path, member)
    with stream:
        for k, (buf, lineno) in enumerate(_iter_blocks(stream, skip_first_line=header is not None)):
            if k % 32 == 31:
                release_free_memory()
            rows, raw = parser.parse(buf, lineno)
            report.lines += buf.count(b"\n")
            if limit is not None and matrix.n + len(rows) > limit:
                rows, raw = rows[:limit - matrix.n], raw[:limit - matrix.n]
            collector.add(_decode_tokens(raw, matrix.n, report, strict, path))
            matrix.append(rows)
            del buf, rows, raw
            if limit is not None and matrix.n >= limit:
                break
    release_free_memory()
    return matrix.data[:matrix.n], collector


def _drop_rows(matrix: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """``matrix`` without ``rows`` (ascending), compacted in place: each run of kept rows moves up in
    small blocks, so no second copy of the matrix is made. Returns the shorter view."""
    dst, prev = 0, 0
    for d in [*np.asarray(rows).tolist(), len(matrix)]:
        for a in range(prev, d, 4096):  # small blocks: destination rows never overtake source rows
            b = min(a + 4096, d)
            if dst != a:
                matrix[dst:dst + b - a] = matrix[a:b]
            dst += b - a
        prev = d + 1
    return matrix[:dst]


# ----------------------------------------------------------------------------- binary parsing

def _parse_binary(path: Path, member: str | None, dim: int, header: int, limit: int | None,
                  strict: bool, report: LoadReport) -> tuple[np.ndarray, TokenCollector]:
    n = header if limit is None else min(header, limit)
    matrix = np.empty((n, dim), dtype=np.float32)
    collector = TokenCollector(n)
    raw: list[bytes] = []  # the tokens of the current chunk of rows, decoded every 4,096 rows
    width = 4 * dim
    stream, _ = _open_stream(path, member)
    with stream:
        stream.readline()
        buf, pos = stream.read(BLOCK_BYTES), 0
        for row in range(n):
            while True:
                space = buf.find(b" ", pos)
                if space >= 0 and len(buf) - space - 1 >= width:
                    break
                more = stream.read(BLOCK_BYTES)
                if not more:
                    raise SeqkitError(f"file ends after {row} of the {header} vectors its header announces",
                                      path=path, fix="the file is truncated: download it again")
                buf, pos = buf[pos:] + more, 0
            raw.append(buf[pos:space].lstrip(b"\n"))
            matrix[row] = np.frombuffer(buf, dtype="<f4", count=dim, offset=space + 1)
            pos = space + 1 + width
            if len(raw) == 4096:
                collector.add(_decode_tokens(raw, collector.n, report, strict, path))
                raw = []
                if collector.n % (4096 * 16) == 0:
                    release_free_memory()
        collector.add(_decode_tokens(raw, collector.n, report, strict, path))
        report.lines = n
    bad = np.concatenate([a + np.flatnonzero(~np.isfinite(matrix[a:a + 8192]).all(axis=1))  # in chunks: no
                          for a in range(0, max(n, 1), 8192)])  # (n, d) bool temporary beside the matrix
    if len(bad):
        if strict:
            raise SeqkitError(f"vector {int(bad[0]) + 1} has inf or nan", path=path,
                              fix="repair the file or load with strict=False")
        report.malformed += len(bad)
        matrix = _drop_rows(matrix, bad)
        collector.drop(bad)
    return matrix, collector


# ----------------------------------------------------------------------------- reading and writing

def read_vector_file(path: Path, member: str | None = None, format: str | None = None, limit: int | None = None,
                     strict: bool = False, *, unique: bool = False) -> tuple[np.ndarray, TokenList, LoadReport]:
    """The rows (n, d) float32, the n tokens and the :class:`LoadReport` of a vector file, in file order.
    ``format`` is one of :data:`FORMATS`, detected when ``None``. A repeated token is kept, unless
    ``unique``: then its first row wins and the others are dropped (the matrix compacted in place)
    and counted in ``report.duplicates``."""
    detected, dim, header = detect_format(path, member)
    fmt = format or detected
    if fmt == "word2vec-binary" and header is None:
        raise SeqkitError("word2vec binary files start with a 'count dim' header line; this one has none",
                          path=path, line=1, fix="use format='glove' or 'word2vec-text'")
    report = LoadReport(path=str(path), format=fmt, dim=dim)
    if fmt == "word2vec-binary":
        matrix, collector = _parse_binary(path, member, dim, header, limit, strict, report)
    else:
        matrix, collector = _parse_text(path, member, fmt, dim,
                                        header if fmt == "word2vec-text" else None, limit, strict, report)
    if collector.n == 0:
        raise SeqkitError(f"no vectors could be read ({report.malformed + report.wrong_dim} bad lines; "
                          + "; ".join(report.examples[:2]) + ")", path=path,
                          fix="check the format (GloVe: 'word v1 .. vd' per line)")
    if unique:
        repeats = collector.repeats()
        if len(repeats):
            report.duplicates = len(repeats)
            matrix = _drop_rows(matrix, repeats)
            collector.drop(repeats)
    tokens = collector.finish()
    release_free_memory()
    return matrix, tokens, report


def write_word2vec(path: PathLike, vectors: np.ndarray, keys: Sequence[str], binary: bool = False,
                   write_header: bool = True) -> None:
    """word2vec's format: ``n d`` header, then ``word v1 .. vd`` lines (text) or the word, a space
    and d little-endian float32 (binary). Text uses 9 significant digits: float32 round-trips."""
    n, dim = vectors.shape
    with atomic_write(path, "wb") as fh:
        if write_header:
            fh.write(f"{n} {dim}\n".encode())
        for a in range(0, n, 10_000):
            block = np.asarray(vectors[a:a + 10_000], dtype="<f4")
            block_keys = [keys[i] for i in range(a, a + len(block))]
            _check_keys(block_keys, a)
            if binary:
                fh.write(b"".join(k.encode("utf-8") + b" " + row.tobytes() + b"\n"
                                  for k, row in zip(block_keys, block)))
            else:
                fmt = " ".join(["%.9g"] * dim)
                fh.write("".join(f"{k} {fmt % tuple(row)}\n" for k, row in zip(block_keys, block.tolist()))
                         .encode("utf-8"))


def _check_keys(keys: list[str], offset: int) -> None:
    """word2vec files separate fields by spaces and entries by newlines: keys must contain neither."""
    for i, key in enumerate(keys):
        if not key or any(c in key for c in " \n\t\r"):
            raise SeqkitError(f"key {key!r} (row {offset + i}) is empty or contains whitespace and cannot "
                              "be written in word2vec format", fix="use save() instead")
