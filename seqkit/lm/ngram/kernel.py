"""The compiled scoring loop (``score_kernel.c``, built by :mod:`seqkit.native` at first use).

One pass over the token stream with KenLM's per-token backoff walk: no per-order arrays as long as the
corpus, which is what the numpy path in :meth:`~seqkit.lm.ngram.NGramLM.score_packed` builds. Both give
the same numbers (tests/lm/test_ngram_model.py); ``SEQKIT_NGRAM_KERNEL=0`` forces the numpy path.
"""

from __future__ import annotations

import ctypes
import re
from pathlib import Path

import numpy as np

from seqkit.native import kernel

_SOURCE = Path(__file__).with_name("score_kernel.c")
MAX_ORDER = 16
#: overflow slots after a table's home slots (``TABLE_PAD`` in score_kernel.c)
TABLE_PAD = 4096
#: how full a slot table is: any size is possible (not only powers of two), so exactly this; at 1/2 about
#: the memory that powers of two at up to 3/4 full took, and shorter probes
LOAD = 0.5


_P, _I64 = ctypes.c_void_p, ctypes.c_int64
_SIGNATURES = {
    "ngram_score": (_I64, [ctypes.c_int, _I64, _P, _I64, _P, _P, _P, _P, _P, _P]),
    "ngram_vocab_index": (None, [ctypes.c_char_p, _P, _I64, _P, ctypes.c_int]),
    "ngram_score_text": (_I64, [ctypes.c_int, _I64, ctypes.c_char_p, _I64, _P, ctypes.c_int, ctypes.c_char_p,
                                _P, _P, _P, _P, _P, _P, _P, _P, _P]),
    "ngram_arpa_format": (_I64, [_I64, ctypes.c_int, _P, _P, _P, ctypes.c_char_p, _P, _P]),
    "ngram_table_fill": (_I64, [_P, _I64, _I64, _P, _P, _P, _P]),
    "ngram_arpa_section": (ctypes.c_int, [_P, _I64, _I64, ctypes.c_int, ctypes.c_int, _P, ctypes.c_int, ctypes.c_char_p,
                                          _P, _I64, _P, _P, _P, _P, _P, _P, _P, _P, _P]),
}


def load() -> ctypes.CDLL | None:
    """The compiled kernel, or ``None`` (no compiler, or ``SEQKIT_NGRAM_KERNEL=0``)."""
    return kernel(_SOURCE, "SEQKIT_NGRAM_KERNEL", _SIGNATURES)


def home_size(table: np.ndarray) -> int:
    """A slot table's home slots (its rows less the overflow ones)."""
    return len(table) - TABLE_PAD


def new_table(n: int, size: int | None = None) -> np.ndarray:
    """An empty slot table for ``n`` n-grams: (size + TABLE_PAD, 3) int64 (size: n / :data:`LOAD` by
    default), key -1 (empty), then the float64 log10 p and backoff stored bit for bit."""
    table = np.zeros(((size or _size(n)) + TABLE_PAD, 3), dtype=np.int64)
    table[:, 0] = -1
    return table


def _size(n: int) -> int:
    return max(16, int(np.ceil(n / LOAD)))


def fill(lib: ctypes.CDLL, n: int, keys: np.ndarray, logp: np.ndarray, logbo: np.ndarray | None):
    """(table, slot of each key, index of the first key listed twice or -1): ``keys`` (int64) with their
    values put in a :func:`new_table` in the order of their home slots (which lets a miss stop early,
    see ``score_kernel.c``); a table too full for its overflow slots is retried twice as large."""
    keys = np.ascontiguousarray(keys, dtype=np.int64)
    logp = np.ascontiguousarray(logp, dtype=np.float64)
    logbo = None if logbo is None else np.ascontiguousarray(logbo, dtype=np.float64)
    size = _size(n)
    while True:
        table = new_table(n, size)
        slot = np.empty(len(keys), dtype=np.int64)
        twice = lib.ngram_table_fill(table.ctypes.data, size, len(keys), keys.ctypes.data, logp.ctypes.data,
                                     None if logbo is None else logbo.ctypes.data, slot.ctypes.data)
        if twice == -3:
            raise MemoryError("out of memory filling an n-gram table")
        if twice != -2:
            return table, slot, int(twice)
        size *= 2


def tables(keys: list[np.ndarray], logp: list[np.ndarray], logbo: list[np.ndarray],
           n_vocab: int) -> list[np.ndarray | None]:
    """Per order >= 2, the kernel's slot table (:func:`new_table`, :func:`fill`).

    An n-gram's id in these tables is its slot; a k-gram's key is ``slot of its prefix * n_vocab + w``
    (order 1: the word id), so the tables are built order by order from the sorted ``keys``.
    """
    lib = load()
    out: list[np.ndarray | None] = [None]
    slot_of = np.arange(n_vocab, dtype=np.int64)  # order 1: an id is its own slot
    for k in range(2, len(keys) + 1):
        prefix, word = np.divmod(keys[k - 1], n_vocab)
        table, slot_of, _ = fill(lib, len(prefix), slot_of[prefix] * n_vocab + word, logp[k - 1],
                                 logbo[k - 1] if k < len(keys) else None)
        out.append(table)
    return out


def score(lib: ctypes.CDLL, ids: np.ndarray, order: int, n_vocab: int, tables: list, logp1: np.ndarray,
          logbo1: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(log10 p, matched order) of every token of ``ids`` (int32, ``<s> ... </s>`` sentences) but
    the ``<s>``; ``tables`` from :func:`tables`, ``logp1``/``logbo1`` the unigram arrays."""
    ids = np.ascontiguousarray(ids, dtype=np.int32)
    out_logp = np.empty(len(ids), dtype=np.float64)
    out_order = np.empty(len(ids), dtype=np.int32)
    sizes = np.array([0] + [home_size(t) for t in tables[1:]], dtype=np.int64)
    pointers = (ctypes.c_void_p * order)(*[None if t is None else t.ctypes.data for t in tables])
    logp1 = np.ascontiguousarray(logp1, dtype=np.float64)
    logbo1 = np.ascontiguousarray(logbo1 if order > 1 else np.zeros(n_vocab), dtype=np.float64)
    n = lib.ngram_score(order, n_vocab, ids.ctypes.data, len(ids), pointers, sizes.ctypes.data,
                        logp1.ctypes.data, logbo1.ctypes.data, out_logp.ctypes.data, out_order.ctypes.data)
    return out_logp[:n], out_order[:n]


class VocabIndex:
    """The vocabulary as the kernel reads it: the words' UTF-8 bytes end to end, their offsets, and an
    open-addressing table of (FNV-1a hash, id) built in C."""

    def __init__(self, lib: ctypes.CDLL, tokens: list[str]) -> None:
        encoded = [t.encode("utf-8", "surrogatepass") for t in tokens]
        self.words = b"".join(encoded)
        self.offsets = np.zeros(len(encoded) + 1, dtype=np.int64)
        np.cumsum([len(e) for e in encoded], out=self.offsets[1:])
        self.bits = max(4, int(np.ceil(np.log2(2 * len(encoded) + 2))))
        self.table = np.full((1 << self.bits) * 2, -1, dtype=np.int64)
        lib.ngram_vocab_index(self.words, self.offsets.ctypes.data, len(encoded), self.table.ctypes.data, self.bits)


# Python's str.split() also splits on these; the kernel splits on ASCII space, tab, CR, VT, FF only
_OTHER_SPACE = re.compile("[\x1c-\x1f\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]")


def text_fits(lines: list[str]) -> str | None:
    """The lines joined for :func:`score_text`, or None when the kernel would split them differently
    from ``str.split`` (a newline inside a line, Unicode whitespace): the caller packs them instead."""
    text = "\n".join(lines)
    if text.count("\n") != len(lines) - 1:
        return None
    if text.isascii():  # only \x1c-\x1f can hide there: four C-speed scans instead of the regex
        return None if any(c in text for c in "\x1c\x1d\x1e\x1f") else text
    return None if _OTHER_SPACE.search(text) else text


def score_text(lib: ctypes.CDLL, text: str, n_lines: int, order: int, vocab: VocabIndex, n_vocab: int,
               tables: list, logp1: np.ndarray, logbo1: np.ndarray):
    """(log10 p, matched order, oov, sentence) of every word and ``</s>`` of ``text`` (lines joined by
    newlines, see :func:`text_fits`)."""
    data = text.encode("utf-8", "surrogatepass")
    cap = len(data) + n_lines + 1  # every word takes a byte, every line one </s>
    out_logp = np.empty(cap, dtype=np.float64)
    out_order = np.empty(cap, dtype=np.int32)
    out_oov = np.empty(cap, dtype=np.uint8)
    out_sentence = np.empty(cap, dtype=np.int64)
    sizes = np.array([0] + [home_size(t) for t in tables[1:]], dtype=np.int64)
    pointers = (ctypes.c_void_p * order)(*[None if t is None else t.ctypes.data for t in tables])
    logp1 = np.ascontiguousarray(logp1, dtype=np.float64)
    logbo1 = np.ascontiguousarray(logbo1, dtype=np.float64)
    n = lib.ngram_score_text(order, n_vocab, data, len(data), vocab.table.ctypes.data, vocab.bits, vocab.words,
                             vocab.offsets.ctypes.data, pointers, sizes.ctypes.data, logp1.ctypes.data,
                             logbo1.ctypes.data, out_logp.ctypes.data, out_order.ctypes.data, out_oov.ctypes.data,
                             out_sentence.ctypes.data)
    return out_logp[:n], out_order[:n], out_oov[:n].astype(bool), out_sentence[:n]


#: what :func:`parse_section` found wrong on a line (the C kernel's codes)
ARPA_ERRORS = {1: "fields", 2: "number", 3: "word", 4: "context"}


def parse_section(lib: ctypes.CDLL, buf: np.ndarray, start: int, n: int, k: int, has_backoff: bool,
                  vocab: VocabIndex | None = None, n_vocab: int = 0, tables: list | None = None,
                  rank_prev: np.ndarray | None = None):
    """Parse the ARPA section that starts at ``buf[start]`` (``buf``: the file as uint8), up to an empty
    line, a ``\\`` line or the end; its first ``n`` lines (the declared count), any more only counted.

    Returns ``(error, lines, next, log10 p, log10 backoff, where)``: ``lines`` in the section,
    ``next`` the offset of the line after them; ``where`` for order 1 the (n, 2) start (from ``start``)
    and length of each word, for order k >= 2 ``(key of each k-gram in order k's slot table, its key
    in the sorted tables)``, found through ``tables`` of orders 2..k-1; a sorted key's prefix is
    ``rank_prev[slot of the (k-1)-gram]`` (k = 2: the word id). ``error`` is None or
    ``(kind, line in the section, field, fields on the line, offset of the line from start)``, kind
    one of :data:`ARPA_ERRORS`' values.
    """
    logp = np.empty(n, dtype=np.float64)
    logbo = np.empty(n, dtype=np.float64)
    ref = np.empty((n, 2) if k == 1 else n, dtype=np.int64)
    key = np.empty(n if k > 1 else 0, dtype=np.int64)
    err = np.zeros(4, dtype=np.int64)
    info = np.zeros(2, dtype=np.int64)
    at, limit = buf.ctypes.data + start, len(buf) - start
    if k == 1:
        code = lib.ngram_arpa_section(at, limit, n, 1, int(has_backoff), None, 0, None, None, 0, None, None, None,
                                      logp.ctypes.data, logbo.ctypes.data, ref.ctypes.data, None, err.ctypes.data,
                                      info.ctypes.data)
    else:
        sizes = np.array([0] + [home_size(t) for t in tables[1:]], dtype=np.int64)
        pointers = (ctypes.c_void_p * k)(*[None if t is None else t.ctypes.data for t in tables[:k]])
        code = lib.ngram_arpa_section(at, limit, n, k, int(has_backoff), vocab.table.ctypes.data, vocab.bits,
                                      vocab.words, vocab.offsets.ctypes.data, n_vocab, pointers, sizes.ctypes.data,
                                      None if rank_prev is None else rank_prev.ctypes.data, logp.ctypes.data,
                                      logbo.ctypes.data, ref.ctypes.data, key.ctypes.data, err.ctypes.data,
                                      info.ctypes.data)
    error = (ARPA_ERRORS[code], *err.tolist()) if code else None
    return error, int(info[0]), start + int(info[1]), logp, logbo, (ref if k == 1 else (ref, key))


def format_section(lib: ctypes.CDLL, words: np.ndarray, logp: np.ndarray, logbo: np.ndarray | None,
                   vocab: VocabIndex, out: np.ndarray | None = None) -> np.ndarray | int:
    """The ARPA lines of one section's rows (``words``: (n, k) word ids; ``logbo`` None for the top
    order), formatted as ``%.6f`` in C, as a view of ``out`` (a buffer to reuse, grown when too small:
    pass the ``.base`` of the last result); or the index of a row with a value too large to write."""
    n, k = words.shape
    words = np.ascontiguousarray(words, dtype=np.int32)
    logp = np.ascontiguousarray(logp, dtype=np.float64)
    logbo = None if logbo is None else np.ascontiguousarray(logbo, dtype=np.float64)
    longest = int(np.diff(vocab.offsets).max(initial=0))
    need = n * (24 + k * (longest + 1)) + 16
    if out is None or len(out) < need:
        out = np.empty(need, dtype=np.uint8)
    used = lib.ngram_arpa_format(n, k, words.ctypes.data, logp.ctypes.data,
                                 None if logbo is None else logbo.ctypes.data, vocab.words,
                                 vocab.offsets.ctypes.data, out.ctypes.data)
    return -used - 1 if used < 0 else out[:used]
