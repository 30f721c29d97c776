"""Pretrained word vectors: read GloVe / word2vec / fastText files fast, cache them, use them.

:func:`load_vectors` reads

* GloVe text (``word v1 .. vd`` per line, no header), word2vec/fastText text (a ``count dim`` header
  line first) and word2vec binary; plain, ``.gz`` or ``.zip``; the format is detected from the file;
* real files as they are: a token may contain U+00A0 or even ASCII spaces (the last ``d`` fields are
  the vector, everything before them the token), a token may repeat (the first row wins, the others
  are counted), lines may be malformed or have the wrong number of fields (skipped and counted -- or,
  with ``strict=True``, one error naming the line), tokens may be invalid UTF-8 (replaced, counted);
* ``limit=N`` reads only the first N entries.

Text is parsed in blocks of a few MB: numpy finds each line's end and its vector's first field (the
d-th space from the end), and one ``np.fromstring`` call converts a whole block of numbers, so Python
only touches each token once. The matrix is preallocated from a count of the lines, so the peak
memory is the float32 matrix plus one block. The result is cached (``vectors.npy``, ``tokens.txt``,
``offsets.npy``, ``meta.json`` under ``$SEQKIT_CACHE/vectors``) and later loads memory-map it.

Named sets (``glove.6B.50d`` ... ``wiki.en``, see :data:`REGISTRY`) are downloaded once, verified
against their checksum, and cached; offline, one error says where to put the file.

Using them: :func:`align_to_vocab` gives a matrix in a seqkit ``Vocab``'s order (exact match, then
lowercase; coverage reported), :func:`pretrained_embedding` an ``nn.Embedding`` (frozen, or trained
with its own learning rate via :func:`param_groups`), and :func:`knn` / :func:`similar_tokens` /
:func:`analogy` are d2l's queries -- with the query words excluded from the answers.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import re
import time
import warnings
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from seqkit.embeddings.keyedvectors import KeyedVectors
from seqkit.errors import SeqkitError
from seqkit.io import cache_dir, load_json, save_json, write_text_atomic

PathLike = str | os.PathLike
FORMATS = ("glove", "word2vec-text", "word2vec-binary")
BLOCK_BYTES = 1 << 20  # text is parsed in blocks of this size: bounds the memory beside the matrix
CACHE_VERSION = 1
_HEADER = re.compile(rb"^\s*(\d+)\s+(\d+)\s*$")


# ----------------------------------------------------------------------------- tokens

class TokenList(Sequence):
    """The keys of a large vector file in one string: ``text`` holds the tokens joined by newlines and
    ``offsets`` (n+1,) int64 their start positions (and the end). 400k tokens cost ~6 MB this way
    instead of ~25 MB as a list of str."""

    def __init__(self, text: str, offsets: np.ndarray) -> None:
        self.text, self.offsets = text, offsets

    @classmethod
    def from_strings(cls, tokens: Sequence[str]) -> TokenList:
        lengths = np.fromiter(map(len, tokens), dtype=np.int64, count=len(tokens))
        offsets = np.zeros(len(tokens) + 1, dtype=np.int64)
        np.cumsum(lengths + 1, out=offsets[1:])
        return cls("\n".join(tokens) + ("\n" if tokens else ""), offsets)

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        if i < 0:
            i += len(self)
        if not 0 <= i < len(self):
            raise IndexError(i)
        return self.text[int(self.offsets[i]):int(self.offsets[i + 1]) - 1]

    def __iter__(self) -> Iterator[str]:
        return iter(self.text.split("\n")[:-1])


class _TokenCollector:
    """Gathers decoded tokens block by block into one string plus their lengths, so that no list of
    all tokens as separate str objects (~60 bytes each) is ever held."""

    def __init__(self) -> None:
        self.texts: list[str] = []
        self.lengths: list[np.ndarray] = []

    def add(self, tokens: list[str]) -> None:
        if tokens:
            self.texts.append("\n".join(tokens) + "\n")
            self.lengths.append(np.fromiter(map(len, tokens), dtype=np.int32, count=len(tokens)))

    def finish(self) -> TokenList:
        lengths = np.concatenate(self.lengths) if self.lengths else np.zeros(0, np.int32)
        self.lengths = []
        offsets = np.zeros(len(lengths) + 1, dtype=np.int64)
        np.cumsum(lengths + 1, out=offsets[1:])
        del lengths
        text, self.texts = "".join(self.texts), []
        return TokenList(text, offsets)


def _release_free_memory() -> None:
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
        if self.encoding_errors:
            text += f"; {self.encoding_errors} tokens with invalid UTF-8 (replaced)"
        return text

    def problem(self, lineno: int, why: str) -> None:
        if len(self.examples) < 5:
            self.examples.append(f"line {lineno}: {why}")


# ----------------------------------------------------------------------------- opening files

def _open_stream(path: Path, member: str | None = None) -> tuple[io.BufferedIOBase, int | None]:
    """A binary stream of the (decompressed) file and its uncompressed size when known."""
    if not path.exists():
        raise SeqkitError("vector file not found", path=path,
                          fix=f"check the path, or use a named set: {', '.join(REGISTRY)}")
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
    fields = first.rstrip(b"\r\n ").split(b" ")
    if len(fields) < 2:
        raise SeqkitError("the first line has no vector (expected 'word v1 v2 ...' or 'count dim')",
                          path=path, line=1, fix="check that this is a GloVe or word2vec file")
    return "glove", len(fields) - 1, None


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
                limit: int | None, strict: bool, report: LoadReport) -> tuple[np.ndarray, TokenList]:
    capacity = _count_lines(path, member)
    if header is not None:
        capacity = min(capacity, header)
    if limit is not None:
        capacity = min(capacity, limit)
    matrix, collector = _Matrix(capacity, dim), _TokenCollector()
    parser = _TextParser(path, dim, report, strict)
    stream, _ = _open_stream(path, member)
    with stream:
        for k, (buf, lineno) in enumerate(_iter_blocks(stream, skip_first_line=header is not None)):
            if k % 16 == 15:
                _release_free_memory()
            rows, raw = parser.parse(buf, lineno)
            report.lines += buf.count(b"\n")
            if limit is not None and matrix.n + len(rows) > limit:
                rows, raw = rows[:limit - matrix.n], raw[:limit - matrix.n]
            collector.add(_decode_tokens(raw, matrix.n, report, strict, path))
            matrix.append(rows)

            if limit is not None and matrix.n >= limit:
                break
    _release_free_memory()
    return matrix.data[:matrix.n], collector.finish()


def _parse_binary(path: Path, member: str | None, dim: int, header: int, limit: int | None,
                  strict: bool, report: LoadReport) -> tuple[np.ndarray, TokenList]:
    n = header if limit is None else min(header, limit)
    matrix = np.empty((n, dim), dtype=np.float32)
    raw: list[bytes] = []
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
        report.lines = n
    bad = ~np.isfinite(matrix).all(axis=1)
    if bad.any():
        if strict:
            raise SeqkitError(f"vector {int(np.argmax(bad)) + 1} has inf or nan", path=path,
                              fix="repair the file or load with strict=False")
        report.malformed += int(bad.sum())
        matrix = matrix[~bad]
        raw = [t for t, b in zip(raw, bad) if not b]
    collector = _TokenCollector()
    for a in range(0, len(raw), 65536):
        collector.add(_decode_tokens(raw[a:a + 65536], a, report, strict, path))
    return matrix, collector.finish()


def _token_hashes(tokens: TokenList) -> np.ndarray:
    hashes = np.empty(len(tokens), dtype=np.int64)
    for a in range(0, len(tokens), 16384):
        b = min(a + 16384, len(tokens))
        words = tokens.text[tokens.offsets[a]:tokens.offsets[b] - 1].split("\n")
        hashes[a:b] = np.fromiter(map(hash, words), dtype=np.int64, count=b - a)
    return hashes


def _drop_duplicates(matrix: np.ndarray, tokens: TokenList, report: LoadReport):
    """Keep the first row of each token: the matrix is compacted in place and the tokens rebuilt block
    by block, so dropping duplicates costs no second copy of either."""
    hashes = _token_hashes(tokens)
    order = np.argsort(hashes, kind="stable")
    ordered = hashes[order]
    repeats = ordered[1:] == ordered[:-1]
    if not repeats.any():
        return matrix, tokens
    suspects = np.zeros(len(tokens), dtype=bool)  # rows whose hash repeats (equal hashes may differ)
    suspects[order[1:][repeats]] = True
    suspects[order[:-1][repeats]] = True
    del order, ordered, repeats, hashes
    keep = np.ones(len(tokens), dtype=bool)
    seen: set[str] = set()
    for i in np.flatnonzero(suspects).tolist():
        token = tokens[i]
        if token in seen:
            keep[i] = False
        seen.add(token)
    report.duplicates = int((~keep).sum())
    dropped = np.flatnonzero(~keep).tolist()
    del keep, suspects
    # matrix: shift each run of kept rows up, in place (few duplicates: few runs)
    dst, prev = 0, 0
    for d in [*dropped, len(tokens)]:
        for a in range(prev, d, 4096):  # small blocks: destination rows never overtake source rows
            b = min(a + 4096, d)
            matrix[dst:dst + b - a] = matrix[a:b]
            dst += b - a
        prev = d + 1
    # tokens: the text without the dropped tokens, and their offsets shifted by what was removed
    text, offsets = tokens.text, tokens.offsets
    pieces, prev = [], 0
    for d in dropped:
        pieces.append(text[offsets[prev]:offsets[d]])
        prev = d + 1
    pieces.append(text[offsets[prev]:])
    new_offsets = np.delete(offsets, dropped)
    for k, d in enumerate(dropped):  # tokens after d start earlier by d's length (and its newline)
        new_offsets[d - k:] -= offsets[d + 1] - offsets[d]
    del tokens, offsets
    new_text = "".join(pieces)
    del pieces, text
    return matrix[:dst], TokenList(new_text, new_offsets)


# ----------------------------------------------------------------------------- cache

def vectors_cache_dir() -> Path:
    """``$SEQKIT_CACHE/vectors``: parsed-vector caches and downloaded vector sets."""
    return cache_dir() / "vectors"


def _cache_key(path: Path, member, fmt, limit, strict) -> str:
    st = path.stat()
    text = f"{path.resolve()}|{st.st_size}|{st.st_mtime_ns}|{member}|{fmt}|{limit}|{strict}|{CACHE_VERSION}"
    return f"{path.name}-{hashlib.sha256(text.encode()).hexdigest()[:16]}"


def _save_cache(folder: Path, kv: KeyedVectors, report: LoadReport) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    tokens: TokenList = kv.index_to_key  # type: ignore[assignment]
    tmp = folder / ".vectors.npy.tmp"
    with open(tmp, "wb") as fh:
        np.save(fh, np.ascontiguousarray(kv.vectors))
    os.replace(tmp, folder / "vectors.npy")
    tmp = folder / ".offsets.npy.tmp"
    with open(tmp, "wb") as fh:
        np.save(fh, tokens.offsets)
    os.replace(tmp, folder / "offsets.npy")
    write_text_atomic(folder / "tokens.txt", tokens.text)
    save_json(folder / "meta.json", {"version": CACHE_VERSION, "report": asdict(report)})  # written last


def _load_cache(folder: Path) -> KeyedVectors | None:
    if not (folder / "meta.json").exists():
        return None
    meta = load_json(folder / "meta.json")
    if meta.get("version") != CACHE_VERSION:
        return None
    vectors = np.load(folder / "vectors.npy", mmap_mode="r")
    offsets = np.load(folder / "offsets.npy")
    text = (folder / "tokens.txt").read_text(encoding="utf-8")
    kv = KeyedVectors(vectors, TokenList(text, offsets))
    kv.load_report = LoadReport(**{**meta["report"], "from_cache": True})
    return kv


# ----------------------------------------------------------------------------- the entry point

def load_vectors(path_or_name: PathLike, *, format: str | None = None, limit: int | None = None,
                 strict: bool = False, cache: bool = True, member: str | None = None) -> KeyedVectors:
    """Load a vector file or a named set (:data:`REGISTRY`) as :class:`KeyedVectors`.

    Args:
        path_or_name: a file (plain, ``.gz``, ``.zip``) or a registry name such as ``glove.6B.100d``.
        format: ``glove``, ``word2vec-text`` or ``word2vec-binary``; detected when ``None``.
        limit: read only the first ``limit`` entries.
        strict: raise on the first bad line instead of skipping and counting it.
        cache: reuse (and write) the parsed copy under ``$SEQKIT_CACHE/vectors``, memory-mapped.
        member: the file inside a ``.zip`` (needed when it holds several).

    The returned object's ``load_report`` (:class:`LoadReport`) says what was loaded and skipped.
    """
    start = time.perf_counter()
    path = Path(path_or_name)
    if not path.exists() and str(path_or_name) in REGISTRY:
        path, member = fetch(str(path_or_name))
    if format is not None and format not in FORMATS:
        raise SeqkitError(f"unknown vector format {format!r}", fix=f"use one of {', '.join(FORMATS)}")
    folder = None
    if cache and path.exists():
        folder = vectors_cache_dir() / _cache_key(path, member, format, limit, strict)
        cached = _load_cache(folder)
        if cached is not None:
            cached.load_report.seconds = time.perf_counter() - start
            return cached
    detected, dim, header = detect_format(path, member)
    fmt = format or detected
    if fmt == "word2vec-binary" and header is None:
        raise SeqkitError("word2vec binary files start with a 'count dim' header line; this one has none",
                          path=path, line=1, fix="use format='glove' or 'word2vec-text'")
    report = LoadReport(path=str(path), format=fmt, dim=dim)
    if fmt == "word2vec-binary":
        matrix, tokens = _parse_binary(path, member, dim, header, limit, strict, report)
    else:
        matrix, tokens = _parse_text(path, member, fmt, dim,
                                     header if fmt == "word2vec-text" else None, limit, strict, report)
    if len(tokens) == 0:
        raise SeqkitError(f"no vectors could be read ({report.malformed + report.wrong_dim} bad lines; "
                          + "; ".join(report.examples[:2]) + ")", path=path,
                          fix="check the format (GloVe: 'word v1 .. vd' per line)")
    matrix, tokens = _drop_duplicates(matrix, tokens, report)
    _release_free_memory()
    report.loaded = len(tokens)
    kv = KeyedVectors(matrix, tokens)
    kv.load_report = report
    if folder is not None:
        _save_cache(folder, kv, report)
    report.seconds = time.perf_counter() - start
    return kv


# ----------------------------------------------------------------------------- named sets

@dataclass(frozen=True)
class VectorSet:
    """A downloadable vector file: ``member`` inside the zip at ``url``; ``sha1`` of that zip (as d2l
    records it) or ``None`` where no trusted checksum is known."""

    url: str
    member: str
    dim: int
    sha1: str | None
    description: str


_D2L = "http://d2l-data.s3-accelerate.amazonaws.com/"
_STANFORD = "https://nlp.stanford.edu/data/"
REGISTRY: dict[str, VectorSet] = {
    "glove.6B.50d": VectorSet(_D2L + "glove.6B.50d.zip", "vec.txt", 50,
                              "0b8703943ccdb6eb788e6f091b8946e82231bc4d", "GloVe, Wikipedia+Gigaword 6B, 400k words"),
    "glove.6B.100d": VectorSet(_D2L + "glove.6B.100d.zip", "vec.txt", 100,
                               "cd43bfb07e44e6f27cbcc7bc9ae3d80284fdaf5a", "GloVe, Wikipedia+Gigaword 6B, 400k words"),
    "glove.6B.200d": VectorSet(_STANFORD + "glove.6B.zip", "glove.6B.200d.txt", 200, None,
                               "GloVe, Wikipedia+Gigaword 6B, 400k words (822 MB zip of all four sizes)"),
    "glove.6B.300d": VectorSet(_STANFORD + "glove.6B.zip", "glove.6B.300d.txt", 300, None,
                               "GloVe, Wikipedia+Gigaword 6B, 400k words (822 MB zip of all four sizes)"),
    "glove.42B.300d": VectorSet(_D2L + "glove.42B.300d.zip", "vec.txt", 300,
                                "b5116e234e9eb9076672cfeabf5469f3eec904fa", "GloVe, Common Crawl 42B, 1.9M words"),
    "glove.840B.300d": VectorSet(_STANFORD + "glove.840B.300d.zip", "glove.840B.300d.txt", 300, None,
                                 "GloVe, Common Crawl 840B, 2.2M cased words (tokens with spaces inside)"),
    "wiki.en": VectorSet(_D2L + "wiki.en.zip", "vec.txt", 300,
                         "c1816da3821ae9f43899be655002f6c723e91b88", "fastText, English Wikipedia, 2.5M words"),
}


def fetch(name: str) -> tuple[Path, str]:
    """The local zip of a named set: ``$SEQKIT_DATA/vectors/<zip>``, the cache, or a verified download."""
    from seqkit.data.download import download, offline

    info = REGISTRY[name]
    zip_name = info.url.rsplit("/", 1)[-1]
    candidates = []
    if os.environ.get("SEQKIT_DATA"):
        candidates.append(Path(os.environ["SEQKIT_DATA"]) / "vectors" / zip_name)
    target = vectors_cache_dir() / "downloads" / zip_name
    candidates.append(target)
    for path in candidates:
        if path.exists():
            return path, info.member
    if offline():
        raise SeqkitError(f"vector set {name} is not available offline", path=target,
                          fix=f"download {info.url} and place it there (or under $SEQKIT_DATA/vectors/)")
    download(info.url, target, f"sha1:{info.sha1}" if info.sha1 else None)
    return target, info.member


# ----------------------------------------------------------------------------- using vectors

@dataclass
class Coverage:
    """How many vocabulary tokens found a vector: exactly, through their lowercase form, or not."""

    total: int
    exact: int
    lowercase: int
    missing: list[str]

    @property
    def ratio(self) -> float:
        return (self.exact + self.lowercase) / self.total if self.total else 0.0

    def __str__(self) -> str:
        return (f"{self.exact + self.lowercase}/{self.total} tokens covered ({100 * self.ratio:.1f}%: "
                f"{self.exact} exact, {self.lowercase} lowercase); missing e.g. {self.missing[:5]}")


def align_to_vocab(kv: KeyedVectors, vocab, lowercase_fallback: bool = True, missing: str = "zeros",
                   seed: int = 0) -> tuple[np.ndarray, Coverage]:
    """A (len(vocab), d) float32 matrix whose row i is the vector of ``vocab``'s token i.

    Tokens are looked up exactly, then (``lowercase_fallback``) lowercased. Tokens without a vector
    get zeros (``missing="zeros"``, like d2l's ``<unk>``) or small normal noise with the vectors' own
    standard deviation (``missing="normal"``), except the padding token, which stays zero."""
    tokens = list(vocab.itos) if hasattr(vocab, "itos") else list(vocab)
    out = np.zeros((len(tokens), kv.vector_size), dtype=np.float32)
    rng = np.random.default_rng(seed)
    std = float(np.asarray(kv.vectors[:10000]).std())
    exact = lower = 0
    missed: list[str] = []
    pad_id = getattr(vocab, "pad_id", None)
    for i, token in enumerate(tokens):
        row = kv.key_to_index.get(token)
        if row is not None:
            exact += 1
        elif lowercase_fallback and (row := kv.key_to_index.get(token.lower())) is not None:
            lower += 1
        if row is not None:
            out[i] = kv.vectors[row]
        else:
            missed.append(token)
            if missing == "normal" and i != pad_id:
                out[i] = rng.normal(0.0, std, kv.vector_size)
    return out, Coverage(len(tokens), exact, lower, missed)


def pretrained_embedding(kv: KeyedVectors, vocab, freeze: bool = True, **align_options):
    """An ``nn.Embedding`` initialised from the vectors in ``vocab`` order, and its :class:`Coverage`.

    ``freeze=True`` keeps the vectors fixed. To fine-tune them without wrecking them in the first
    updates, pass ``freeze=False`` and give the embedding a smaller learning rate with
    :func:`param_groups`."""
    import torch
    from torch import nn

    matrix, coverage = align_to_vocab(kv, vocab, **align_options)
    emb = nn.Embedding.from_pretrained(torch.from_numpy(matrix), freeze=freeze,
                                       padding_idx=getattr(vocab, "pad_id", None))
    return emb, coverage


def param_groups(model, embedding, lr: float, embedding_lr: float) -> list[dict]:
    """Optimizer parameter groups: ``embedding``'s weights at ``embedding_lr``, the rest at ``lr``.

    >>> torch.optim.Adam(param_groups(model, model.embedding, 1e-3, 1e-5))  # doctest: +SKIP"""
    emb_ids = {id(p) for p in embedding.parameters()}
    rest = [p for p in model.parameters() if id(p) not in emb_ids and p.requires_grad]
    emb = [p for p in embedding.parameters() if p.requires_grad]
    groups = [{"params": rest, "lr": lr}]
    if emb:
        groups.append({"params": emb, "lr": embedding_lr})
    return groups


def knn(W, x, k: int):
    """d2l's ``knn``: the ``k`` rows of ``W`` (n, d) with the highest cosine similarity to ``x`` (d,).

    Returns ``(indices (k,), cosines (k,))`` as torch tensors."""
    import torch

    W, x = torch.as_tensor(np.asarray(W)), torch.as_tensor(np.asarray(x))
    cos = torch.mv(W, x.reshape(-1)) / (torch.sqrt(torch.sum(W * W, dim=1) + 1e-9)
                                        * torch.sqrt((x * x).sum()))
    top = torch.topk(cos, k=k)
    return top.indices, top.values


def similar_tokens(kv: KeyedVectors, query: str, k: int = 3) -> list[tuple[str, float]]:
    """d2l's ``get_similar_tokens``: the ``k`` nearest tokens by cosine, the query itself excluded."""
    kv._check_key(query)
    idx, cos = knn(kv.vectors, kv.get_vector(query), k + 1)
    q = kv.get_index(query)
    return [(kv.index_to_key[i], float(c)) for i, c in zip(idx.tolist(), cos.tolist()) if i != q][:k]


def analogy(kv: KeyedVectors, a: str, b: str, c: str) -> str:
    """d2l's ``get_analogy`` (a : b :: c : ?, nearest to ``b - a + c``) with a, b and c excluded --
    d2l's version can answer with one of its own query words."""
    for word in (a, b, c):
        kv._check_key(word)
    x = kv.get_vector(b) - kv.get_vector(a) + kv.get_vector(c)
    banned = {kv.get_index(w) for w in (a, b, c)}
    idx, _ = knn(kv.vectors, x, 4)
    return next(kv.index_to_key[i] for i in idx.tolist() if i not in banned)
