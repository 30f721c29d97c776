"""ARPA files: the plain-text backoff format that KenLM, SRILM and IRSTLM read and write.

::

    \\data\\
    ngram 1=4            <- how many n-grams each section below holds
    ngram 2=3

    \\1-grams:
    -1.2041  <unk>  0    <- log10 p, the words, log10 backoff (absent or 0 = none)
    ...
    \\end\\

Both ways go through the compiled n-gram kernel (:mod:`seqkit.lm.ngram.kernel`) when a C compiler is
there: writing formats each section's lines in C; reading parses each section in C straight into the
scorer's hash tables, as KenLM builds its probing tables. Without a compiler (or with
``SEQKIT_NGRAM_KERNEL=0``) the same bytes are written by assembling each section as a byte matrix in
numpy (digits of the numbers by integer arithmetic, words gathered from a padded table of the
vocabulary's UTF-8 bytes, the padding squeezed out), and the same model is read with C-level
``str.split`` and the sorted key tables of :mod:`seqkit.lm.ngram.counts`.
"""

from __future__ import annotations

import os
import re
from itertools import repeat

import numpy as np

from seqkit.errors import SeqkitError
from seqkit.io import open_out, read_bytes
from seqkit.lm.ngram.counts import lookup
from seqkit.lm.ngram.model import NGramLM
from seqkit.lm.ngram.vocab import SPECIALS, NGramVocab

#: log10 written for a zero probability or weight (the ARPA convention).
LOG_ZERO = -99.0
#: log10 probability KenLM gives ``<unk>`` when an ARPA file lacks it.
MISSING_UNK = -100.0
_DECIMALS = 6


# ----------------------------------------------------------------------------- writing


# ASCII digits of 0..999: zero-padded (for the fraction) and right-aligned without leading zeros,
# zero bytes instead (for the integer part); looked up with np.take instead of dividing per digit.
_DIGITS3 = np.array([[48 + i // 100, 48 + i // 10 % 10, 48 + i % 10] for i in range(1000)], dtype=np.uint8)
_WHOLE3 = np.where(np.array([[i < 100, i < 10, False] for i in range(1000)]), 0, _DIGITS3).astype(np.uint8)


def _number_bytes(x: np.ndarray) -> np.ndarray:
    """(n, 11) uint8: ``x`` formatted as ``%.6f`` (-inf as -99), left-padded with zero bytes."""
    x = np.where(np.isfinite(x), x, LOG_ZERO)
    v = np.rint(np.abs(x) * 10**_DECIMALS).astype(np.int64)
    whole, frac = np.divmod(v, 10**_DECIMALS)
    if whole.max(initial=0) > 999:
        raise SeqkitError(f"cannot write log10 value {x[np.argmax(whole)]} in an ARPA file")
    out = np.empty((len(x), 5 + _DECIMALS), dtype=np.uint8)
    out[:, 0] = np.where((x < 0) & (v > 0), ord("-"), 0)
    out[:, 1:4] = np.take(_WHOLE3, whole, axis=0)
    out[:, 4] = ord(".")
    out[:, 5:8] = np.take(_DIGITS3, frac // 1000, axis=0)
    out[:, 8:11] = np.take(_DIGITS3, frac % 1000, axis=0)
    return out


def _check_tokens(tokens: list[str]) -> None:
    if any("\0" in t for t in tokens):
        raise SeqkitError("a vocabulary token contains a NUL byte; it cannot be written to ARPA")


def _token_table(tokens: list[str]) -> np.ndarray:
    """(V, L) uint8: every token's UTF-8 bytes, zero-padded to the longest."""
    encoded = [t.encode("utf-8") for t in tokens]
    table = np.zeros((len(encoded), max(map(len, encoded))), dtype=np.uint8)
    for i, e in enumerate(encoded):
        table[i, : len(e)] = np.frombuffer(e, dtype=np.uint8)
    return table


def _section_bytes(words: np.ndarray, logp: np.ndarray, logbo: np.ndarray | None,
                   token_table: np.ndarray) -> bytes:
    """The lines ``logp \\t w1 ... wk [\\t logbo] \\n`` of one section, assembled in numpy.

    words: (n, k) ids; logp, logbo: (n,). Every row is built at a fixed width with zero bytes as
    padding, then the zero bytes are dropped from the flat buffer.
    """
    n, k = words.shape
    width_tok = token_table.shape[1]
    width = 11 + 1 + k * (width_tok + 1) + (12 if logbo is not None else 0)
    out = np.zeros((n, width), dtype=np.uint8)
    out[:, :11] = _number_bytes(logp)
    out[:, 11] = ord("\t")
    col = 12
    for j in range(k):
        out[:, col : col + width_tok] = np.take(token_table, words[:, j], axis=0)  # take: ~10x [] here
        col += width_tok
        out[:, col] = ord(" ") if j < k - 1 else (ord("\t") if logbo is not None else ord("\n"))
        col += 1
    if logbo is not None:
        out[:, col : col + 11] = _number_bytes(logbo)
        out[:, col + 11] = ord("\n")
    flat = out.ravel()
    return flat[flat != 0].tobytes()


def ngram_words(model: NGramLM) -> list[np.ndarray]:
    """Per order k, (n_k, k) int32 word ids of every n-gram, in table order."""
    n_vocab = len(model.vocab)
    out = [model.keys[0].astype(np.int32)[:, None]]
    for k in range(2, model.order + 1):
        keys = model.keys[k - 1]
        out.append(np.concatenate([out[-1][keys // n_vocab], (keys % n_vocab).astype(np.int32)[:, None]],
                                  axis=1))
    return out


def write_arpa(model: NGramLM, path: str | os.PathLike, chunk_rows: int = 200_000) -> None:
    """Write ``model`` to ``path`` as ARPA, atomically (``-``: stdout). Zero probabilities are written as -99.

    The lines are formatted by the compiled kernel (:mod:`seqkit.lm.ngram.kernel`) when it can be
    built, else assembled in numpy; both write the same bytes."""
    from seqkit.lm.ngram import kernel

    _check_tokens(model.vocab.tokens)
    lib = kernel.load()
    vocab = model._text_vocab() if lib is not None else None
    table = _token_table(model.vocab.tokens) if lib is None else None
    buffer = None  # the kernel's output buffer, reused from chunk to chunk
    header = "\\data\\\n" + "".join(f"ngram {k}={n}\n" for k, n in enumerate(model.counts, 1)) + "\n"
    with open_out(path, "wb") as fh:
        fh.write(header.encode())
        for k, words in enumerate(ngram_words(model), 1):
            fh.write(f"\\{k}-grams:\n".encode())
            has_bo = k < model.order
            for start in range(0, len(words), chunk_rows):
                sl = slice(start, start + chunk_rows)
                logp, logbo = model.logp[k - 1][sl], model.logbo[k - 1][sl] if has_bo else None
                if lib is None:
                    fh.write(_section_bytes(words[sl], logp, logbo, table))
                    continue
                lines = kernel.format_section(lib, words[sl], logp, logbo, vocab, buffer)
                if isinstance(lines, int):
                    bad = logp[lines] if abs(logp[lines]) >= 999.9999995 else logbo[lines]
                    raise SeqkitError(f"cannot write log10 value {bad} in an ARPA file")
                fh.write(lines)
                buffer = lines.base
            fh.write(b"\n")
        fh.write(b"\\end\\\n")


# ----------------------------------------------------------------------------- reading

_COUNT_LINE = re.compile(rb"ngram\s+(\d+)\s*=\s*(\d+)\s*")
_BOM = "\ufeff".encode()


def _bad(path, line: int, message: str, fix: str = "regenerate the ARPA file (e.g. with seqkit or lmplz)"):
    return SeqkitError(message, path=path, line=line, fix=fix)


class _Text:
    """The ARPA file's bytes with a cursor; line numbers are computed only when a message needs one.
    ``lf``: CRLF line ends made LF (for the ``str.split`` parser; the compiled one reads CR as a blank)."""

    def __init__(self, path, data: bytes, lf: bool) -> None:
        if data.startswith(_BOM):
            data = data[len(_BOM):]
        if lf and b"\r" in data:
            data = data.replace(b"\r\n", b"\n")
        self.path, self.text, self.pos = path, data, 0

    def line_no(self, offset: int) -> int:
        return self.text.count(b"\n", 0, offset) + 1

    def next_line(self) -> tuple[str, int]:
        """The next line (stripped, decoded for messages) and its offset; ``("", len)`` at the end."""
        start = self.pos
        if start >= len(self.text):
            return "", start
        end = self.text.find(b"\n", start)
        end = len(self.text) if end < 0 else end
        self.pos = end + 1
        return self.text[start:end].strip().decode("utf-8", "replace"), start

    def next_nonblank(self) -> tuple[str, int]:
        while True:
            line, offset = self.next_line()
            if line or self.pos >= len(self.text):
                return line, offset

    def block(self, start: int) -> tuple[int, int, int]:
        """The lines from ``start`` up to the next blank line or ``\\`` line: their end, how many, and
        where the line after them starts."""
        if self.text.startswith(b"\\", start):  # the next section's line: no entries
            return start, 0, start
        ends = [i for i in (self.text.find(b"\n\n", start), self.text.find(b"\n\\", start)) if i >= 0]
        end = min(ends) if ends else len(self.text)
        # a body of blanks only is no entry (a long one is left to the line checks, which name it)
        empty = end == start or (end - start < 4096 and not self.text[start:end].strip())
        return end, 0 if empty else self.text.count(b"\n", start, end) + 1, end + 1

    def fields(self, at: int) -> list[str]:
        """The fields of the line at offset ``at``, for a message."""
        end = self.text.find(b"\n", at)
        return self.text[at:end if end >= 0 else len(self.text)].decode("utf-8", "replace").split()

    def decoded(self, start: int, end: int) -> str:
        """``text[start:end]`` as a string; bad UTF-8 is reported with its line."""
        try:
            return self.text[start:end].decode("utf-8")
        except UnicodeDecodeError as exc:
            raise _bad(self.path, self.line_no(start + exc.start), "invalid UTF-8 in the ARPA file",
                       fix="re-encode the file as UTF-8 (e.g. iconv -f latin1 -t utf-8)") from None


def read_arpa(path: str | os.PathLike) -> NGramLM:
    """Read an ARPA file into an :class:`~seqkit.lm.ngram.NGramLM`.

    The ``\\data\\`` counts must agree with the sections; every n-gram's words must be unigrams and
    its first n-1 words an (n-1)-gram of the file (as KenLM requires). A file without ``<unk>``
    gets it with log10 p = -100, as KenLM does. Lines before ``\\data\\`` are ignored.

    The sections are parsed by the compiled kernel (:mod:`seqkit.lm.ngram.kernel`) straight into the
    scorer's hash tables, as KenLM builds its probing tables (fields split on ASCII blanks, as KenLM
    splits them); without a C compiler (or with ``SEQKIT_NGRAM_KERNEL=0``) by ``str.split`` and numpy,
    to the same model.
    """
    from seqkit.lm.ngram import kernel

    big = os.path.getsize(path) >= 8 << 20 if os.path.isfile(path) else False
    bar = None
    if big:  # a long load shows where it is (on a terminal only: tqdm's disable=None)
        from tqdm import tqdm

        bar = tqdm(total=1, desc=f"reading {os.path.basename(path)}", unit="file", leave=False, disable=None)
    data = read_bytes(path)
    lib = kernel.load()
    src = _Text(path, data, lf=lib is None)
    declared = _header(src)
    if lib is not None and len(declared) > kernel.MAX_ORDER:
        lib, src = None, _Text(path, data, lf=True)
        declared = _header(src)
    model = _NativeParser(lib, src).read(declared) if lib is not None else _parse_python(src, declared)
    if bar is not None:
        bar.close()
    return model


def _header(src: _Text) -> list[tuple[int, int]]:
    """The ``\\data\\`` counts: (count, offset of its line) per order; the cursor is left after them."""
    path = src.path
    data_at = src.text.find(b"\\data\\")
    while data_at > 0 and src.text[data_at - 1] != ord("\n"):
        data_at = src.text.find(b"\\data\\", data_at + 1)
    if data_at < 0:
        raise _bad(path, 1, "not an ARPA file: no \\data\\ line")
    src.pos = data_at
    src.next_line()
    declared: list[tuple[int, int]] = []
    while True:
        line, offset = src.next_line()
        if not line:
            break
        m = _COUNT_LINE.fullmatch(line.encode())
        if not m or int(m.group(1)) != len(declared) + 1:
            raise _bad(path, src.line_no(offset), f"expected 'ngram {len(declared) + 1}=COUNT' in the "
                                                  f"\\data\\ header, got '{line}'")
        declared.append((int(m.group(2)), offset))
    if not declared:
        raise _bad(path, src.line_no(src.pos), "the \\data\\ header lists no n-gram counts")
    return declared


def _sections(src: _Text, declared: list[tuple[int, int]], parse) -> list:
    """Walk the sections after the header: each ``\\k-grams:`` line, then ``parse(k, start, count)`` ->
    (lines, offset after them, result) on its lines, whose number must be the declared count (checked
    first; a result that is a :class:`SeqkitError` is raised next); then ``\\end\\``. Returns the results."""
    path, order, results = src.path, len(declared), []
    for k in range(1, order + 1):
        line, offset = src.next_nonblank()
        if line != f"\\{k}-grams:":
            raise _bad(path, src.line_no(offset),
                       f"expected the section \\{k}-grams:, got '{line or 'the end of the file'}'")
        count, count_at = declared[k - 1]
        n_entries, src.pos, result = parse(k, src.pos, count)  # result: a mistake to raise, or what it parsed
        if n_entries != count:
            raise _bad(path, src.line_no(count_at),
                       f"the \\data\\ header says ngram {k}={count} but the \\{k}-grams: section "
                       f"has {n_entries} entries",
                       fix="the file is truncated or edited; regenerate it or correct the count")
        if isinstance(result, SeqkitError):
            raise result
        results.append(result)
    line, offset = src.next_nonblank()
    if line != "\\end\\":
        raise _bad(path, src.line_no(offset),
                   f"expected \\end\\ after the {order}-grams, got '{line or 'the end of the file'}'")
    return results


# one message per mistake, whichever parser finds it

def _fields_error(src: _Text, line: int, k: int, has_backoff: bool, got: int) -> SeqkitError:
    want = " or ".join(map(str, (k + 1, k + 2) if has_backoff else (k + 1,)))
    return _bad(src.path, line, f"a {k}-gram line needs {want} fields (log10 p, {k} words"
                + (", optional backoff" if has_backoff else "") + f"), got {got}")


def _number_error(src: _Text, line: int, what: str, value: str) -> SeqkitError:
    return _bad(src.path, line, f"cannot read the {what} '{value}' as a number")


def _word_error(src: _Text, line: int, k: int, word: str) -> SeqkitError:
    return _bad(src.path, line, f"the word '{word}' of this {k}-gram is not in the \\1-grams: section")


def _context_error(src: _Text, line: int, k: int, words: list[str]) -> SeqkitError:
    return _bad(src.path, line, f"the context '{' '.join(words[:-1])}' of this {k}-gram is not a "
                                f"{k - 1}-gram of the file")


def _twice_error(src: _Text, line: int, k: int, words: list[str]) -> SeqkitError:
    return _bad(src.path, line, f"the {k}-gram '{' '.join(words)}' is listed twice")


class _NativeParser:
    """The compiled parser: each section straight into the scorer's hash tables (no Python object per
    line); the sorted tables of :class:`NGramLM` from the keys it hands back."""

    def __init__(self, lib, src: _Text) -> None:
        self.lib, self.src = lib, src
        self.buf = np.frombuffer(src.text, dtype=np.uint8)

    def read(self, declared: list[tuple[int, int]]) -> NGramLM:
        self.order = len(declared)
        self.keys, self.logp, self.logbo, self.tables, self.rank = [], [], [], [None], None
        _sections(self.src, declared, self.section)
        logbo = [*self.logbo[:-1], np.zeros(0)]
        model = NGramLM(self.vocab, self.keys, self.logp, logbo, {"source": os.fspath(self.src.path)})
        if self.order > 1:
            model._native = self.tables
        model._vocab_index = self.vocab_index
        return model

    def section(self, k: int, start: int, count: int):
        from seqkit.lm.ngram import kernel

        src, has_backoff = self.src, k < self.order
        if count > (len(self.buf) - start) // 4 + 1:  # more lines than the rest of the file can hold
            _, lines, after, *_ = kernel.parse_section(self.lib, self.buf, start, 0, k, has_backoff,
                                                       getattr(self, "vocab_index", None), 0, self.tables)
            return lines, after, None  # counted only: the count check names the header line
        if k == 1:
            error, lines, after, lp, lb, where = kernel.parse_section(self.lib, self.buf, start, count, 1, has_backoff)
            if error or lines != count:
                return lines, after, error and self._error(error, start, k, has_backoff)
            tokens = [src.decoded(start + a, start + a + b) for a, b in where.tolist()]
            self.vocab, lp, lb = _unigrams(src, start, lp, [tokens], lb)
            self.vocab_index = kernel.VocabIndex(self.lib, self.vocab.tokens)
            self.keys.append(np.arange(len(self.vocab), dtype=np.int64))
            self.logp.append(lp)
            self.logbo.append(lb)
            return lines, after, None
        error, lines, after, lp, lb, (native, key) = kernel.parse_section(
            self.lib, self.buf, start, count, k, has_backoff, self.vocab_index, len(self.vocab), self.tables, self.rank)
        if error or lines != count:
            return lines, after, error and self._error(error, start, k, has_backoff)
        table, slots, twice = kernel.fill(self.lib, count, native, lp, lb if has_backoff else None)
        if twice >= 0:
            at = start
            for _ in range(twice):
                at = src.text.index(b"\n", at) + 1
            return lines, after, _twice_error(src, src.line_no(at), k, src.fields(at)[1:k + 1])
        self.tables.append(table)
        if count > 1 and not (key[1:] > key[:-1]).all():  # seqkit writes sorted sections; lmplz does not
            by_key = np.argsort(key)
            key, lp, lb, slots = key[by_key], lp[by_key], lb[by_key], slots[by_key]
        self.keys.append(key)
        self.logp.append(lp)
        self.logbo.append(lb)
        if has_backoff:
            self.rank = np.empty(len(table), dtype=np.int64)
            self.rank[slots] = np.arange(count, dtype=np.int64)
        return lines, after, None

    def _error(self, error: tuple, body_at: int, k: int, has_backoff: bool) -> SeqkitError:
        src = self.src
        kind, _, field, n_fields, line_at = error
        line = src.line_no(body_at + line_at)
        fields = src.fields(body_at + line_at)
        if kind == "fields":
            return _fields_error(src, line, k, has_backoff, n_fields)
        if kind == "number":
            return _number_error(src, line, "log10 probability" if field == 0 else "backoff", fields[field])
        words = fields[1:k + 1]
        if kind == "word":
            return _word_error(src, line, k, words[field - 1])
        return _context_error(src, line, k, words)


def _parse_python(src: _Text, declared: list[tuple[int, int]]) -> NGramLM:
    """The parser without a C compiler: ``str.split`` of each section, numpy for the rest."""
    def block(k, start, count):
        end, lines, after = src.block(start)
        return lines, after, (start, end, lines)

    sections = _sections(src, declared, block)
    order = len(sections)
    bodies = [(src.decoded(start, end) if n else "", start) for start, end, n in sections]
    fields = [_split_section(src, k, *bodies[k - 1], has_backoff=k < order) for k in range(1, order + 1)]
    vocab, logp1, logbo1 = _unigrams(src, sections[0][0], *fields[0])
    keys = [np.arange(len(vocab), dtype=np.int64)]
    logp, logbo = [logp1], [logbo1]
    for k in range(2, order + 1):
        key, lp, lb = _higher_order(src, k, sections[k - 1][0], *fields[k - 1], vocab, keys)
        keys.append(key)
        logp.append(lp)
        logbo.append(lb)
    logbo[-1] = np.zeros(0)
    return NGramLM(vocab, keys, logp, logbo, {"source": os.fspath(src.path)})


def _split_section(src: _Text, k: int, body: str, body_at: int, has_backoff: bool):
    """Fields of one section: log10 p (n,), the k word columns (lists of n strings), log10 backoff (n,).

    Fast path: every line has the same number of fields (KenLM writes a backoff on every line
    below the top order), so one ``str.split`` of the whole section and strided list slices do.
    Otherwise the lines are split one by one, which also finds the line of any malformed entry.
    """
    n = body.count("\n") + 1 if body.strip() else 0
    flat = body.split()
    for n_fields in ((k + 2, k + 1) if has_backoff else (k + 1,)):
        if n and len(flat) == n * n_fields and body.count("\t") in (0, n * (n_fields - k)):
            columns = [flat[j::n_fields] for j in range(n_fields)]
            break
    else:
        allowed = (k + 1, k + 2) if has_backoff else (k + 1,)
        rows = []
        for i, line in enumerate(body.split("\n") if n else []):
            parts = line.split()
            if len(parts) not in allowed:
                raise _fields_error(src, src.line_no(body_at) + i, k, has_backoff, len(parts))
            rows.append(parts if len(parts) == k + 2 or not has_backoff else [*parts, "0"])
        columns = [list(c) for c in zip(*rows)] if rows else [[] for _ in range(k + 1)]
    logp = _floats(src, body_at, columns[0], "log10 probability")
    logbo = _floats(src, body_at, columns[k + 1], "backoff") if len(columns) == k + 2 else np.zeros(n)
    return logp, columns[1 : k + 1], logbo


def _floats(src: _Text, body_at: int, values: list[str], what: str) -> np.ndarray:
    try:
        return np.array(values, dtype=np.float64)
    except ValueError:
        for i, v in enumerate(values):
            try:
                float(v)
            except ValueError:
                raise _number_error(src, src.line_no(body_at) + i, what, v) from None
        raise


def _unigrams(src: _Text, body_at: int, logp: np.ndarray, words: list[list[str]], logbo: np.ndarray):
    """The vocabulary (specials first, then the file's order) and the dense unigram table."""
    tokens = words[0]
    position = {t: i for i, t in enumerate(tokens)}
    if len(position) != len(tokens):
        seen: set[str] = set()
        for i, t in enumerate(tokens):
            if t in seen:
                raise _bad(src.path, src.line_no(body_at) + i, f"the unigram '{t}' is listed twice")
            seen.add(t)
    for special in SPECIALS[1:]:
        if special not in position:
            raise _bad(src.path, src.line_no(body_at), f"the \\1-grams: section lacks {special}",
                       fix="an ARPA model must list <s> and </s>")
    vocab = NGramVocab([*SPECIALS, *(t for t in tokens if t not in SPECIALS)])
    order = np.array([position.get(t, -1) for t in vocab.tokens])
    present = order >= 0
    lp = np.full(len(vocab), MISSING_UNK)
    lb = np.zeros(len(vocab))
    lp[present] = logp[order[present]]
    lb[present] = logbo[order[present]]
    return vocab, lp, lb


def _higher_order(src: _Text, k: int, body_at: int, logp: np.ndarray, words: list[list[str]],
                  logbo: np.ndarray, vocab: NGramVocab, keys: list[np.ndarray]):
    """Sorted keys (and the matching log10 p and backoff) of one order k >= 2."""
    n_vocab = len(vocab)
    n = len(logp)
    ids = np.stack([np.fromiter(map(vocab.index.get, col, repeat(-1)), dtype=np.int64, count=n)
                    for col in words], axis=1)
    if (ids < 0).any():
        row, col = np.argwhere(ids < 0)[0]
        raise _word_error(src, src.line_no(body_at) + int(row), k, words[col][row])
    prefix = ids[:, 0]
    for j in range(2, k):
        prefix = lookup(keys[j - 1], n_vocab, prefix, ids[:, j - 1])
    if (prefix < 0).any():
        row = int(np.argmin(prefix >= 0))
        raise _context_error(src, src.line_no(body_at) + row, k, [col[row] for col in words])
    key = prefix * n_vocab + ids[:, -1]
    order = np.argsort(key, kind="stable")
    key = key[order]
    dup = np.flatnonzero(key[1:] == key[:-1])
    if len(dup):
        row = int(order[dup[0] + 1])
        raise _twice_error(src, src.line_no(body_at) + row, k, [col[row] for col in words])
    return key, logp[order], logbo[order]
