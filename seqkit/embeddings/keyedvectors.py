"""Word vectors with gensim's query API: ``most_similar``, ``similarity``, the two evaluations.

:class:`KeyedVectors` is what :class:`~seqkit.embeddings.word2vec.Word2Vec` trains and what
:func:`~seqkit.embeddings.vectors.load_vectors` reads. It stores a float32 matrix (possibly
memory-mapped) and the keys in row order; the key -> row dictionary is built only when first needed,
so loading a 400k-word file does not pay for it. Duplicate keys keep their first row.

Files: :meth:`save`/:meth:`load` write safetensors plus a JSON vocabulary (no pickle);
:meth:`save_word2vec_format` / :meth:`load_word2vec_format` write and read the formats of
:mod:`seqkit.embeddings.formats`; :meth:`to_gensim`/:meth:`from_gensim` convert.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from seqkit.embeddings.formats import write_word2vec
from seqkit.errors import SeqkitError
from seqkit.io import atomic_write, load_json, save_json

PathLike = str | os.PathLike


class KeyedVectors:
    """``vectors`` (n, d) float32 rows, ``index_to_key`` the n keys, ``counts`` (n,) optional."""

    def __init__(self, vectors: np.ndarray, index_to_key: Sequence[str], counts: np.ndarray | None = None):
        if vectors.ndim != 2 or len(vectors) != len(index_to_key):
            raise ValueError(f"vectors {vectors.shape} do not match {len(index_to_key)} keys")
        self.vectors = vectors
        self.index_to_key = index_to_key
        self.counts = counts
        self._key_to_index: dict[str, int] | None = None
        self._norms: np.ndarray | None = None

    # ------------------------------------------------------------------ lookup
    @property
    def vector_size(self) -> int:
        return int(self.vectors.shape[1])

    @property
    def key_to_index(self) -> dict[str, int]:
        if self._key_to_index is None:
            table: dict[str, int] = {}
            for i, key in enumerate(self.index_to_key):
                table.setdefault(key, i)  # first occurrence wins
            self._key_to_index = table
        return self._key_to_index

    def __len__(self) -> int:
        return len(self.index_to_key)

    def __contains__(self, key: str) -> bool:
        return key in self.key_to_index

    def has_index_for(self, key: str) -> bool:
        return key in self.key_to_index

    def get_index(self, key: str, default: int | None = None) -> int:
        index = self.key_to_index.get(key, default)
        if index is None:
            raise KeyError(f"word {key!r} not in vocabulary")
        return index

    def get_vector(self, key: str, norm: bool = False) -> np.ndarray:
        vec = np.asarray(self.vectors[self.get_index(key)], dtype=np.float32)
        return vec / max(float(np.linalg.norm(vec)), 1e-12) if norm else vec

    def __getitem__(self, keys: str | Sequence[str]) -> np.ndarray:
        """One key -> (d,) vector; a list of keys -> (len, d)."""
        if isinstance(keys, str):
            return self.get_vector(keys)
        return np.stack([self.get_vector(k) for k in keys])

    @property
    def norms(self) -> np.ndarray:
        """(n,) L2 norms of the rows (zero rows get 1 so that divisions stay finite)."""
        if self._norms is None:
            norms = np.empty(len(self), dtype=np.float32)
            for a in range(0, len(self), 65536):  # blockwise: a memory-mapped matrix is not copied
                norms[a:a + 65536] = np.linalg.norm(self.vectors[a:a + 65536], axis=1)
            norms[norms == 0] = 1.0
            self._norms = norms
        return self._norms

    def get_normed_vectors(self) -> np.ndarray:
        return self.vectors / self.norms[:, None]

    def fill_norms(self, force: bool = False) -> None:
        """Compute the row norms now (gensim's ``fill_norms``); ``force`` recomputes them."""
        if force:
            self._norms = None
        _ = self.norms

    def get_vecattr(self, key: str, attr: str):
        """A per-key attribute, as gensim's ``get_vecattr`` (seqkit keeps ``"count"``)."""
        if attr != "count":
            raise KeyError(f"unknown attribute {attr!r}: seqkit keeps 'count'")
        if self.counts is None:
            raise KeyError("these vectors carry no counts")
        return int(self.counts[self.get_index(key)])

    def set_vecattr(self, key: str, attr: str, value) -> None:
        """Set a per-key attribute (``"count"``), as gensim's ``set_vecattr``."""
        if attr != "count":
            raise KeyError(f"unknown attribute {attr!r}: seqkit keeps 'count'")
        if self.counts is None:
            self.counts = np.zeros(len(self), dtype=np.int64)
        self.counts[self.get_index(key)] = value

    def add_vectors(self, keys: str | Sequence[str], weights, replace: bool = False) -> None:
        """Append keys with their vectors (gensim's ``add_vectors``): keys already present keep their
        vector unless ``replace``; a key listed twice counts once (its first vector)."""
        keys = [keys] if isinstance(keys, str) else list(keys)
        weights = np.asarray(weights, dtype=np.float32).reshape(len(keys), -1)
        if weights.shape[1] != self.vector_size:
            raise SeqkitError(f"vectors of {weights.shape[1]} dimensions cannot join {self.vector_size}-d ones",
                              fix=f"give {self.vector_size} values per key")
        new_rows, new_keys = [], []
        seen = set()
        for key, row in zip(keys, weights):
            if key in seen:
                continue
            seen.add(key)
            if key in self.key_to_index:
                if replace:
                    if not self.vectors.flags.writeable:
                        self.vectors = np.array(self.vectors)  # a memory-mapped file is never written
                    self.vectors[self.key_to_index[key]] = row
            else:
                new_rows.append(row)
                new_keys.append(key)
        if new_keys:
            self.vectors = np.concatenate([np.asarray(self.vectors), np.stack(new_rows)])
            start = len(self.index_to_key)
            self.index_to_key = [*self.index_to_key, *new_keys]
            if self.counts is not None:
                self.counts = np.concatenate([self.counts, np.zeros(len(new_keys), dtype=np.int64)])
            if self._key_to_index is not None:
                self._key_to_index.update((k, start + i) for i, k in enumerate(new_keys))
        self._norms = None

    # ------------------------------------------------------------------ queries
    def most_similar(self, positive: str | Sequence = (), negative: str | Sequence = (), topn: int = 10,
                     restrict_vocab: int | None = None) -> list[tuple[str, float]]:
        """Keys nearest by cosine to the mean of the unit vectors of ``positive`` minus ``negative``
        (3CosAdd for analogies); the query keys themselves are never returned.  Items may be keys or
        raw vectors, as in gensim."""
        positive = [positive] if isinstance(positive, str) or _is_vector(positive) else list(positive)
        negative = [negative] if isinstance(negative, str) or _is_vector(negative) else list(negative)
        if not positive and not negative:
            raise SeqkitError("most_similar needs at least one positive or negative word")
        mean = np.zeros(self.vector_size, dtype=np.float64)
        exclude = set()
        for sign, items in ((1.0, positive), (-1.0, negative)):
            for item in items:
                if isinstance(item, str):
                    self._check_key(item)
                    exclude.add(self.get_index(item))
                    mean += sign * self.get_vector(item, norm=True)
                else:
                    vec = np.asarray(item, dtype=np.float64)
                    mean += sign * vec / max(np.linalg.norm(vec), 1e-12)
        return self.similar_by_vector(mean, topn=topn, restrict_vocab=restrict_vocab, exclude=exclude)

    def similar_by_vector(self, vector: np.ndarray, topn: int = 10, restrict_vocab: int | None = None,
                          exclude: set[int] = frozenset()) -> list[tuple[str, float]]:
        """The ``topn`` keys with the highest cosine similarity to ``vector``."""
        end = min(restrict_vocab or len(self), len(self))
        unit = np.asarray(vector, dtype=np.float32)
        unit = unit / max(float(np.linalg.norm(unit)), 1e-12)
        sims = (self.vectors[:end] @ unit) / self.norms[:end]
        k = min(topn + len(exclude), end)
        best = np.argpartition(-sims, k - 1)[:k] if k < end else np.arange(end)
        best = best[np.argsort(-sims[best], kind="stable")]
        return [(self.index_to_key[i], float(sims[i])) for i in best if i not in exclude][:topn]

    def similarity(self, key1: str, key2: str) -> float:
        """Cosine similarity of two keys."""
        self._check_key(key1)
        self._check_key(key2)
        return float(np.dot(self.get_vector(key1, norm=True), self.get_vector(key2, norm=True)))

    def similar_by_word(self, word: str, topn: int = 10, restrict_vocab: int | None = None
                        ) -> list[tuple[str, float]]:
        """The ``topn`` keys nearest to ``word`` (gensim's name for ``most_similar(word)``)."""
        return self.most_similar(word, topn=topn, restrict_vocab=restrict_vocab)

    similar_by_key = similar_by_word  # gensim 4's name for it

    def most_similar_cosmul(self, positive: str | Sequence = (), negative: str | Sequence = (),
                            topn: int = 10, restrict_vocab: int | None = None) -> list[tuple[str, float]]:
        """3CosMul (Levy and Goldberg 2014), as gensim: each key's product of ``(1 + cos) / 2`` with the
        positive words over that with the negative ones (plus 1e-6); the query keys are left out."""
        positive = [positive] if isinstance(positive, str) else list(positive)
        negative = [negative] if isinstance(negative, str) else list(negative)
        if not positive and not negative:
            raise SeqkitError("most_similar_cosmul needs at least one positive or negative word")
        for key in (*positive, *negative):
            self._check_key(key)
        end = min(restrict_vocab or len(self), len(self))
        vectors, norms = self.vectors[:end], self.norms[:end]

        def shifted(key: str) -> np.ndarray:
            return (1 + (vectors @ self.get_vector(key, norm=True)) / norms) / 2

        pos = np.prod([shifted(k) for k in positive], axis=0) if positive else np.ones(end)
        neg = np.prod([shifted(k) for k in negative], axis=0) if negative else np.ones(end)
        dists = pos / (neg + 0.000001)
        exclude = {self.get_index(k) for k in (*positive, *negative)}
        best = np.argsort(-dists, kind="stable")[: topn + len(exclude)]
        return [(self.index_to_key[i], float(dists[i])) for i in best if i not in exclude][:topn]

    def distance(self, key1: str, key2: str) -> float:
        """Cosine distance, ``1 - similarity``."""
        return 1.0 - self.similarity(key1, key2)

    def distances(self, word_or_vector: str | np.ndarray, other_words: Sequence[str] = ()) -> np.ndarray:
        """Cosine distances from a key (or vector) to ``other_words`` (all keys when empty)."""
        if isinstance(word_or_vector, str):
            self._check_key(word_or_vector)
            vec = self.get_vector(word_or_vector, norm=True)
        else:
            vec = np.asarray(word_or_vector, dtype=np.float32)
            vec = vec / max(float(np.linalg.norm(vec)), 1e-12)
        if not other_words:
            return 1 - (self.vectors @ vec) / self.norms
        for key in other_words:
            self._check_key(key)
        idx = [self.get_index(k) for k in other_words]
        return 1 - (self.vectors[idx] @ vec) / self.norms[idx]

    def n_similarity(self, ws1: Sequence[str], ws2: Sequence[str]) -> float:
        """Cosine similarity of the means of two sets of keys' vectors (as gensim: raw vectors)."""
        if not len(ws1) or not len(ws2):
            raise SeqkitError("n_similarity needs at least one word on each side")
        v1, v2 = self[list(ws1)].mean(axis=0), self[list(ws2)].mean(axis=0)
        return float(np.dot(v1 / np.linalg.norm(v1), v2 / np.linalg.norm(v2)))

    def doesnt_match(self, words: Sequence[str]) -> str:
        """The key furthest from the mean of the others' unit vectors (unknown keys are ignored)."""
        used = [w for w in words if w in self]
        if not used:
            raise SeqkitError("doesnt_match: none of the words is in the vocabulary")
        vectors = np.vstack([self.get_vector(w, norm=True) for w in used]).astype(np.float32)
        mean = vectors.mean(axis=0)
        mean = mean / max(float(np.linalg.norm(mean)), 1e-12)
        return sorted(zip(vectors @ mean, used))[0][1]

    def closer_than(self, key1: str, key2: str) -> list[str]:
        """Every key closer to ``key1`` than ``key2`` is."""
        distances = self.distances(key1)
        i1, i2 = self.get_index(key1), self.get_index(key2)
        return [self.index_to_key[i] for i in np.flatnonzero(distances < distances[i2]) if i != i1]

    def rank(self, key1: str, key2: str) -> int:
        """The rank of ``key2`` among ``key1``'s neighbours (1: the nearest)."""
        self._check_key(key2)
        return len(self.closer_than(key1, key2)) + 1

    def _check_key(self, key: str) -> None:
        if key not in self.key_to_index:
            raise SeqkitError(f"word {key!r} is not in the vocabulary ({len(self)} words)",
                              fix="check the spelling or case")

    def evaluate_word_analogies(self, path: PathLike, restrict_vocab: int = 300_000,
                                case_insensitive: bool = True):
        """Accuracy on an analogy file (``: section`` headers, ``a b c d`` lines); as gensim's method.

        Returns ``(score, sections)``; see :func:`seqkit.embeddings.evaluation.word_analogies`."""
        from seqkit.embeddings.evaluation import word_analogies
        return word_analogies(self, path, restrict_vocab, case_insensitive)

    def evaluate_word_pairs(self, path: PathLike, delimiter: str = "\t", restrict_vocab: int = 300_000,
                            case_insensitive: bool = True):
        """``((pearson, p), (spearman, p), oov_percent)`` on a word-pair similarity file, as gensim."""
        from seqkit.embeddings.evaluation import word_pairs
        return word_pairs(self, path, delimiter, restrict_vocab, case_insensitive)

    # ------------------------------------------------------------------ files
    def save(self, path: PathLike) -> None:
        """``path`` (``.safetensors``) holds the matrix (and counts); ``path.vocab.json`` the keys.

        A ``.kv`` path writes gensim's own format instead (through gensim's ``KeyedVectors.save``), for
        ``gensim.models.KeyedVectors.load``. seqkit itself never reads ``.kv`` files back: they are
        Python pickles (see :meth:`load`).
        """
        from safetensors.numpy import save as to_bytes

        path = Path(path)
        if path.suffix == ".kv":
            with atomic_write(path, "wb") as fh:
                self.to_gensim().save(fh)
            return
        tensors = {"vectors": np.ascontiguousarray(self.vectors, dtype=np.float32)}
        if self.counts is not None:
            tensors["counts"] = np.asarray(self.counts, dtype=np.int64)
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_write(path, "wb") as fh:
            fh.write(to_bytes(tensors))
        save_json(_vocab_path(path), {"format": "seqkit.keyedvectors", "version": 1,
                                      "index_to_key": list(self.index_to_key)})

    @classmethod
    def load(cls, path: PathLike) -> KeyedVectors:
        """Read what :meth:`save` wrote (safetensors + vocabulary JSON). A gensim ``.kv`` file is a
        Python pickle, which seqkit never loads from a file (unpickling runs code the file names):
        convert it where gensim runs, as the error says."""
        from safetensors import SafetensorError
        from safetensors.numpy import load_file

        path = Path(path)
        refuse_pickle(path)
        meta = load_json(_vocab_path(path))
        try:
            tensors = load_file(str(path))
        except (SafetensorError, OSError) as exc:
            raise SeqkitError(f"not a readable safetensors file ({exc})", path=path,
                              fix="re-save the vectors with KeyedVectors.save") from None
        keys = meta.get("index_to_key") if isinstance(meta, dict) else None
        if keys is None or "vectors" not in tensors or len(keys) != len(tensors["vectors"]):
            raise SeqkitError("vocabulary and vectors do not match", path=_vocab_path(path),
                              fix="save both files again together")
        return cls(tensors["vectors"], keys, tensors.get("counts"))

    def save_word2vec_format(self, path: PathLike, binary: bool = False, write_header: bool = True) -> None:
        """word2vec's format: ``n d`` header, then ``word v1 .. vd`` lines (text) or the word, a space
        and d little-endian float32 (binary). Text uses 9 significant digits: float32 round-trips."""
        write_word2vec(path, self.vectors, self.index_to_key, binary=binary, write_header=write_header)

    @classmethod
    def load_word2vec_format(cls, path: PathLike, binary: bool | None = None, no_header: bool | None = None,
                             limit: int | None = None, **options) -> KeyedVectors:
        """Read word2vec text/binary or GloVe text; see :func:`seqkit.embeddings.vectors.load_vectors`."""
        from seqkit.embeddings.vectors import load_vectors

        fmt = None
        if binary:
            fmt = "word2vec-binary"
        elif binary is False:
            fmt = "glove" if no_header else ("word2vec-text" if no_header is False else None)
        elif no_header:
            fmt = "glove"
        return load_vectors(path, format=fmt, limit=limit, **options)

    # ------------------------------------------------------------------ gensim
    def to_gensim(self):
        """A ``gensim.models.KeyedVectors`` with the same keys, vectors (and counts)."""
        from gensim.models import KeyedVectors as GensimKV

        kv = GensimKV(self.vector_size)
        kv.add_vectors(list(self.index_to_key), np.asarray(self.vectors, dtype=np.float32))
        if self.counts is not None:
            kv.expandos["count"] = np.asarray(self.counts, dtype=np.int64).copy()
        return kv

    @classmethod
    def from_gensim(cls, kv) -> KeyedVectors:
        counts = None
        if "count" in getattr(kv, "expandos", {}):
            counts = np.asarray(kv.expandos["count"], dtype=np.int64)
        return cls(np.asarray(kv.vectors, dtype=np.float32).copy(), list(kv.index_to_key), counts)

    def __repr__(self) -> str:
        return f"KeyedVectors({len(self)} keys x {self.vector_size} dims)"


def refuse_pickle(path: Path) -> None:
    """A gensim ``.kv``/``.model`` file (a pickle) gets one line with the conversion, never unpickled."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(2)
    except OSError:
        return  # the caller's reader reports a missing or unreadable file
    if path.suffix in (".kv", ".model", ".pkl", ".pickle") or (len(head) == 2 and head[0] == 0x80 and head[1] <= 5):
        raise SeqkitError(
            "a gensim .kv/.model file is a Python pickle, and seqkit never unpickles a file", path=path,
            fix=f"convert it once where you trust it: python -c \"from gensim.models import KeyedVectors as K; "
                f"K.load('{path}').save_word2vec_format('{path.with_suffix('.bin')}', binary=True)\" "
                "(or pass a loaded gensim object to seqkit.embeddings.KeyedVectors.from_gensim)")


def _vocab_path(path: Path) -> Path:
    return path.with_name(path.name + ".vocab.json")


def _is_vector(item) -> bool:
    return isinstance(item, np.ndarray) and item.ndim == 1

