"""ARPA files: the plain-text backoff format that KenLM, SRILM and IRSTLM read and write.

::

    \\data\\
    ngram 1=4            <- how many n-grams each section below holds
    ngram 2=3

    \\1-grams:
    -1.2041  <unk>  0    <- log10 p, the words, log10 backoff (absent or 0 = none)
    ...
    \\end\\

Writing is vectorized: each section is assembled as a byte matrix in numpy (digits of the numbers
computed with integer arithmetic, words gathered from a padded table of the vocabulary's UTF-8
bytes) and the padding is squeezed out, so a 5-gram PTB model (2.3M lines) writes in about a second
instead of the many seconds of a ``"%f\\t%s" % ...`` loop. Reading splits the lines with
C-level ``map``/``str.split`` and builds the sorted key tables of :mod:`seqkit.lm.ngram_counts`.
"""

from __future__ import annotations

import os
import re
from itertools import chain, repeat

import numpy as np

from seqkit.errors import SeqkitError
from seqkit.io import atomic_write, read_lines
from seqkit.lm.ngram import NGramLM
from seqkit.lm.ngram_counts import lookup
from seqkit.lm.ngram_vocab import SPECIALS, UNK, NGramVocab

#: log10 written for a zero probability or weight (the ARPA convention).
LOG_ZERO = -99.0
#: log10 probability KenLM gives ``<unk>`` when an ARPA file lacks it.
MISSING_UNK = -100.0
_DECIMALS = 6


# ----------------------------------------------------------------------------- writing


def _number_bytes(x: np.ndarray) -> np.ndarray:
    """(n, 11) uint8: ``x`` formatted as ``%.6f`` (-inf as -99), left-padded with zero bytes."""
    x = np.where(np.isfinite(x), x, LOG_ZERO)
    v = np.rint(np.abs(x) * 10**_DECIMALS).astype(np.int64)
    negative = (x < 0) & (v > 0)
    whole, frac = v // 10**_DECIMALS, v % 10**_DECIMALS
    if whole.max(initial=0) > 999:
        raise SeqkitError(f"cannot write log10 value {x[np.argmax(whole)]} in an ARPA file")
    out = np.zeros((len(x), 5 + _DECIMALS), dtype=np.uint8)
    out[:, 0] = np.where(negative, ord("-"), 0)
    out[:, 1] = np.where(whole >= 100, 48 + whole // 100 % 10, 0)
    out[:, 2] = np.where(whole >= 10, 48 + whole // 10 % 10, 0)
    out[:, 3] = 48 + whole % 10
    out[:, 4] = ord(".")
    for d in range(_DECIMALS):
        out[:, 4 + _DECIMALS - d] = 48 + frac % 10
        frac //= 10
    return out


def _token_table(tokens: list[str]) -> np.ndarray:
    """(V, L) uint8: every token's UTF-8 bytes, zero-padded to the longest."""
    encoded = [t.encode("utf-8") for t in tokens]
    if any(b"\0" in e for e in encoded):
        raise SeqkitError("a vocabulary token contains a NUL byte; it cannot be written to ARPA")
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
        out[:, col : col + width_tok] = token_table[words[:, j]]
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
    """Write ``model`` to ``path`` as ARPA, atomically. Zero probabilities are written as -99."""
    tokens = model.vocab.tokens
    table = _token_table(tokens)
    header = "\\data\\\n" + "".join(f"ngram {k}={n}\n" for k, n in enumerate(model.counts, 1)) + "\n"
    with atomic_write(path, "wb") as fh:
        fh.write(header.encode())
        for k, words in enumerate(ngram_words(model), 1):
            fh.write(f"\\{k}-grams:\n".encode())
            has_bo = k < model.order
            for start in range(0, len(words), chunk_rows):
                sl = slice(start, start + chunk_rows)
                fh.write(_section_bytes(words[sl], model.logp[k - 1][sl],
                                        model.logbo[k - 1][sl] if has_bo else None, table))
            fh.write(b"\n")
        fh.write(b"\\end\\\n")


# ----------------------------------------------------------------------------- reading

_COUNT_LINE = re.compile(r"^ngram\s+(\d+)\s*=\s*(\d+)\s*$")
_SECTION = re.compile(r"^\\(\d+)-grams:\s*$")


def _bad(path, line: int, message: str, fix: str = "regenerate the ARPA file (e.g. with seqkit or lmplz)"):
    return SeqkitError(message, path=path, line=line, fix=fix)


def _parse_floats(values: np.ndarray, lines: np.ndarray, path, what: str) -> np.ndarray:
    try:
        return values.astype(np.float64)
    except ValueError:
        for v, line in zip(values, lines):
            try:
                float(v)
            except ValueError:
                raise _bad(path, int(line), f"cannot read the {what} '{v}' as a number") from None
        raise


def read_arpa(path: str | os.PathLike) -> NGramLM:
    """Read an ARPA file into an :class:`~seqkit.lm.ngram.NGramLM`.

    The ``\\data\\`` counts must agree with the sections; every n-gram's words must be unigrams and
    its first n-1 words an (n-1)-gram of the file (as KenLM requires). A file without ``<unk>``
    gets it with log10 p = -100, as KenLM does.
    """
    lines = read_lines(path)
    i = 0
    while i < len(lines) and lines[i].strip() != "\\data\\":
        i += 1
    if i == len(lines):
        raise _bad(path, 1, "not an ARPA file: no \\data\\ line")
    declared: list[tuple[int, int]] = []  # (count, line number) per order
    i += 1
    while i < len(lines) and lines[i].strip():
        m = _COUNT_LINE.match(lines[i].strip())
        if not m or int(m.group(1)) != len(declared) + 1:
            raise _bad(path, i + 1, f"expected 'ngram {len(declared) + 1}=COUNT' in the \\data\\ header, "
                                    f"got '{lines[i].strip()}'")
        declared.append((int(m.group(2)), i + 1))
        i += 1
    if not declared:
        raise _bad(path, i + 1, "the \\data\\ header lists no n-gram counts")
    order = len(declared)

    sections: list[tuple[int, list[str]]] = []  # (first line number, entries)
    for k in range(1, order + 1):
        while i < len(lines) and not lines[i].strip():
            i += 1
        if i == len(lines) or not _SECTION.match(lines[i].strip()) or int(_SECTION.match(lines[i].strip()).group(1)) != k:
            got = lines[i].strip() if i < len(lines) else "the end of the file"
            raise _bad(path, min(i + 1, len(lines)), f"expected the section \\{k}-grams:, got '{got}'")
        i += 1
        start = i
        while i < len(lines) and lines[i].strip() and not lines[i].startswith("\\"):
            i += 1
        entries = lines[start:i]
        count, count_line = declared[k - 1]
        if len(entries) != count:
            raise _bad(path, count_line,
                       f"the \\data\\ header says ngram {k}={count} but the \\{k}-grams: section "
                       f"has {len(entries)} entries",
                       fix="the file is truncated or edited; regenerate it or correct the count")
        sections.append((start + 1, entries))
    while i < len(lines) and not lines[i].strip():
        i += 1
    if i == len(lines) or lines[i].strip() != "\\end\\":
        got = lines[i].strip() if i < len(lines) else "the end of the file"
        raise _bad(path, min(i + 1, len(lines)), f"expected \\end\\ after the {order}-grams, got '{got}'")

    vocab, logp1, logbo1 = _read_unigrams(path, *sections[0], has_backoff=order > 1)
    keys = [np.arange(len(vocab), dtype=np.int64)]
    logp, logbo = [logp1], [logbo1]
    for k in range(2, order + 1):
        key, lp, lb = _read_section(path, k, *sections[k - 1], vocab, keys, has_backoff=k < order)
        keys.append(key)
        logp.append(lp)
        logbo.append(lb)
    logbo[-1] = np.zeros(0)
    return NGramLM(vocab, keys, logp, logbo, {"source": os.fspath(path)})


def _split_section(path, k: int, first_line: int, entries: list[str], has_backoff: bool):
    """Fields of a section: (log10 p, (n, k) words as an object array, log10 backoff, line numbers)."""
    parts = list(map(str.split, entries))
    n_fields = np.fromiter(map(len, parts), dtype=np.int64, count=len(parts))
    line_no = np.arange(first_line, first_line + len(entries))
    allowed = (n_fields == k + 1) | ((n_fields == k + 2) & has_backoff)
    if not allowed.all():
        bad = int(np.argmin(allowed))
        want = f"{k + 1} or {k + 2}" if has_backoff else f"{k + 1}"
        raise _bad(path, int(line_no[bad]), f"a {k}-gram line needs {want} fields (log10 p, {k} words"
                   + (", optional backoff" if has_backoff else "") + f"), got {n_fields[bad]}")
    flat = np.empty(int(n_fields.sum()), dtype=object)
    flat[:] = list(chain.from_iterable(parts))
    offsets = np.cumsum(n_fields) - n_fields
    logp = _parse_floats(flat[offsets], line_no, path, "log10 probability")
    words = np.stack([flat[offsets + 1 + j] for j in range(k)], axis=1) if len(parts) else np.empty((0, k), object)
    logbo = np.zeros(len(parts))
    with_bo = n_fields == k + 2
    if with_bo.any():
        logbo[with_bo] = _parse_floats(flat[offsets[with_bo] + k + 1], line_no[with_bo], path, "backoff")
    return logp, words, logbo, line_no


def _read_unigrams(path, first_line: int, entries: list[str], has_backoff: bool):
    logp, words, logbo, line_no = _split_section(path, 1, first_line, entries, has_backoff)
    tokens = words[:, 0].tolist()
    position = {}
    for t, line in zip(tokens, line_no):
        if t in position:
            raise _bad(path, int(line), f"the unigram '{t}' is listed twice")
        position[t] = len(position)
    for special in SPECIALS[1:]:
        if special not in position:
            raise _bad(path, first_line, f"the \\1-grams: section lacks {special}",
                       fix="an ARPA model must list <s> and </s>")
    ordered = [*SPECIALS, *(t for t in tokens if t not in SPECIALS)]
    vocab = NGramVocab(ordered)
    lp = np.empty(len(vocab))
    lb = np.zeros(len(vocab))
    src = np.array([position.get(t, -1) for t in ordered])
    present = src >= 0
    lp[present] = logp[src[present]]
    lb[present] = logbo[src[present]]
    if UNK not in position:
        lp[0] = MISSING_UNK
    return vocab, lp, lb


def _read_section(path, k: int, first_line: int, entries: list[str], vocab: NGramVocab,
                  keys: list[np.ndarray], has_backoff: bool):
    logp, words, logbo, line_no = _split_section(path, k, first_line, entries, has_backoff)
    n_vocab = len(vocab)
    ids = np.empty(words.shape, dtype=np.int64)
    for j in range(k):
        ids[:, j] = np.fromiter(map(vocab.index.get, words[:, j], repeat(-1)), dtype=np.int64, count=len(words))
    if (ids < 0).any():
        row, col = np.argwhere(ids < 0)[0]
        raise _bad(path, int(line_no[row]), f"the word '{words[row, col]}' of this {k}-gram is not a unigram")
    prefix = ids[:, 0]
    for j in range(2, k):
        prefix = lookup(keys[j - 1], n_vocab, prefix, ids[:, j - 1])
    if (prefix < 0).any():
        row = int(np.argmin(prefix >= 0))
        raise _bad(path, int(line_no[row]), f"the context '{' '.join(words[row, :-1])}' of this {k}-gram "
                   f"is not a {k - 1}-gram of the file")
    key = prefix * n_vocab + ids[:, -1]
    order = np.argsort(key, kind="stable")
    key = key[order]
    dup = np.flatnonzero(key[1:] == key[:-1])
    if len(dup):
        row = int(order[dup[0] + 1])
        raise _bad(path, int(line_no[row]), f"the {k}-gram '{' '.join(words[row])}' is listed twice")
    return key, logp[order], logbo[order]
