"""Subword regularization: a new segmentation of the training text in every epoch.

Kudo (2018) trains a unigram model on segmentations sampled from the model itself; Provilkov et al.
(2020) drop BPE merges at random (BPE-dropout). Both are a training-side augmentation only: validation,
test and decoding use the one deterministic segmentation.

:class:`SubwordSampling` holds the settings (the recipe's ``spm.sampling``); :class:`SubwordSampler`
re-segments rows of deterministic piece ids:

- **unigram** models: each word's segmentation is drawn from its ``nbest_size`` best segmentations
  (``-1``: all of them, up to :data:`MAX_NBEST`) with probability proportional to ``P(seg) ** alpha``
  (``alpha`` in (0, 1]: small values flatten the distribution). A unigram lattice does not cross word
  boundaries, so drawing word by word draws from the sentence's distribution when every segmentation
  of each word is a candidate (the usual ``nbest_size=-1``); with ``nbest_size=N`` it is each word's N
  best, not the sentence's N best.
- **bpe** models: BPE-dropout, ``alpha`` the probability that a merge is skipped (in [0, 1)): the
  merges are applied as sentencepiece applies them (the highest-scoring adjacent pair first), each
  candidate dropped with probability ``alpha``; ``alpha = 0`` gives the deterministic segmentation
  (a test checks it on a corpus).

Why not sentencepiece's own sampling (``encode(..., enable_sampling=True)``): its generator is seeded by
``set_random_generator_seed`` and gives the same samples for one seed within a process, but not in
another process (sentencepiece 0.2.3, checked: two processes, one seed, different samples), so a resumed
run would not see the batches an uninterrupted one saw. Here every random draw comes from numpy
generators seeded by ``(seed, epoch, pool, side)``, and the candidates come from deterministic calls
(``nbest_encode``, the merge table), so a segmentation is a pure function of those numbers -- in any
process, after any resume. The work starts from piece ids (what a prepared corpus stores), so no raw
text needs to be kept: a word is the run of pieces from one ``▁`` piece to the next.

Words holding a piece that is not a normal one (``<unk>``, user-defined symbols, byte pieces) and the
rare word whose candidates do not reproduce its deterministic segmentation keep that segmentation.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass
from typing import Any

import numpy as np

from seqkit.errors import SeqkitError
from seqkit.settings import setting

#: The most candidates a word is drawn from (``nbest_size=-1`` means all of them, up to this many).
MAX_NBEST = 256

SPACE = "\u2581"


@dataclass
class SubwordSampling:
    """The recipe's ``spm.sampling``: re-segment the training pairs every epoch (see the module doc)."""

    enabled: bool = False
    alpha: float = setting(0.1, ge=0, le=1)  # unigram: the exponent on P(seg); bpe: the merge dropout rate
    nbest_size: int = -1  # unigram: candidates per word, -1 for all (up to MAX_NBEST); not used by bpe

    def checks(self) -> list[str]:
        if self.nbest_size != -1 and not 2 <= self.nbest_size <= MAX_NBEST:
            return [f"nbest_size: must be -1 (every segmentation of a word, up to {MAX_NBEST}) or in "
                    f"[2, {MAX_NBEST}], got {self.nbest_size}"]
        return []

    def problems_for(self, model_type: str) -> list[str]:
        """What rules these settings out for a sentencepiece model of ``model_type`` (one line each)."""
        if not self.enabled:
            return []
        if model_type not in ("unigram", "bpe"):
            return [f"spm.sampling: needs a unigram or bpe sentencepiece model, not {model_type} "
                    "(set spm.model_type=unigram, or spm.sampling.enabled=false)"]
        if model_type == "bpe" and self.alpha >= 1:
            return [f"spm.sampling.alpha: a bpe model's merge dropout rate must be < 1, got {self.alpha} (e.g. 0.1)"]
        if model_type == "unigram" and self.alpha <= 0:
            return [f"spm.sampling.alpha: a unigram model's exponent must be > 0, got {self.alpha} (e.g. 0.1)"]
        return []


class _Candidates:
    """A unigram word's segmentations (id arrays) and the cumulative draw probabilities."""

    __slots__ = ("segs", "cum")

    def __init__(self, segs: list[np.ndarray], cum: np.ndarray) -> None:
        self.segs, self.cum = segs, cum


class SubwordSampler:
    """Sampled segmentations of rows of deterministic ids, a function of ``(seed, epoch, pool)``.

    ``sampler(epoch, pool, src_rows, tgt_rows) -> (src_rows, tgt_rows)`` (lists of int64 arrays, pieces
    without ``<bos>``/``<eos>``): what :class:`seqkit.data.ParallelBatches` calls (its ``resample``
    option) when an epoch reaches a pool. The per-word candidates (unigram) and merge checks (bpe) are
    cached per distinct word.
    """

    def __init__(self, tokenizer: Any, settings: SubwordSampling, seed: int = 0) -> None:
        sp = tokenizer._sp
        self.kind = tokenizer.model_type
        self.settings, self.seed = settings, int(seed)
        problem = settings.problems_for(self.kind)
        if problem:
            raise SeqkitError(problem[0])
        self._sp = sp
        n = sp.get_piece_size()
        self._pieces = [sp.id_to_piece(i) for i in range(n)]
        self._scores = np.array([sp.get_score(i) for i in range(n)], dtype=np.float64)
        types = tokenizer.piece_types()
        self._normal = np.array([t == 1 for t in types], dtype=bool)  # ModelProto NORMAL
        self._starts = np.array([p.startswith(SPACE) for p in self._pieces], dtype=bool)
        # bpe: the mergeable pieces (string -> (score, id)); sentencepiece merges the best score first
        self._merge = {p: (float(self._scores[i]), i) for i, p in enumerate(self._pieces) if self._normal[i]}
        self._words: dict[tuple[int, ...], Any] = {}  # word ids -> _Candidates | list of chars | None (fixed)

    # -- words -----------------------------------------------------------------------------------
    def _split(self, row: np.ndarray) -> list[tuple[int, ...]]:
        """A row of ids as its words (tuples of ids), each starting at a ``▁`` piece."""
        if len(row) == 0:
            return []
        cuts = np.flatnonzero(self._starts[row])
        cuts = cuts[cuts > 0].tolist()
        ids = row.tolist()
        return [tuple(ids[b:e]) for b, e in zip([0, *cuts], [*cuts, len(ids)])]

    def _learn(self, words: set[tuple[int, ...]]) -> None:
        """Candidates (unigram) or characters (bpe) of the words not seen yet."""
        new = [w for w in words if w not in self._words]
        if not new:
            return
        texts, todo = [], []
        for w in new:
            if len(w) == 1 and len(self._pieces[w[0]]) == 1 or not self._normal[list(w)].all():
                self._words[w] = None  # one character, or a special piece: nothing to sample
            else:
                texts.append("".join(self._pieces[i] for i in w))
                todo.append(w)
        if self.kind == "unigram":
            size = MAX_NBEST if self.settings.nbest_size == -1 else self.settings.nbest_size
            nbests = self._sp.nbest_encode(texts, nbest_size=size) if texts else []
            for w, segs in zip(todo, nbests):
                if not segs or tuple(segs[0]) != w:
                    self._words[w] = None
                    continue
                arrays = [np.asarray(s, dtype=np.int64) for s in segs]
                logp = np.array([self._scores[a].sum() for a in arrays])
                weights = np.exp(self.settings.alpha * (logp - logp.max()))
                cum = np.cumsum(weights)
                self._words[w] = _Candidates(arrays, cum / cum[-1]) if len(arrays) > 1 else None
        else:
            for w, text in zip(todo, texts):
                chars = list(text)
                ok = all(c in self._merge for c in chars) and tuple(self._bpe(chars, None)) == w
                self._words[w] = chars if ok else None

    def _bpe(self, chars: list[str], drops: Any) -> list[int]:
        """sentencepiece's BPE over ``chars``: the best-scoring adjacent pair whose concatenation is a
        piece merges first (the leftmost among equals); with ``drops`` (an iterator of uniforms), each
        candidate taken from the queue is skipped when its draw is below ``alpha`` (BPE-dropout)."""
        merge, alpha = self._merge, self.settings.alpha
        syms = list(chars)
        prev = list(range(-1, len(syms) - 1))
        nxt = list(range(1, len(syms) + 1))
        nxt[-1] = -1
        agenda: list[tuple[float, int, str, int]] = []

        def add(left: int, right: int) -> None:
            if left < 0 or right < 0:
                return
            piece = syms[left] + syms[right]
            found = merge.get(piece)
            if found is not None:
                heapq.heappush(agenda, (-found[0], left, piece, right))

        for i in range(len(syms) - 1):
            add(i, i + 1)
        while agenda:
            _, left, piece, right = heapq.heappop(agenda)
            if not syms[left] or not syms[right] or nxt[left] != right or syms[left] + syms[right] != piece:
                continue  # stale: one side was merged since
            if drops is not None and next(drops) < alpha:
                continue
            syms[left], syms[right] = piece, ""
            nxt[left] = nxt[right]
            if nxt[right] >= 0:
                prev[nxt[right]] = left
            add(prev[left], left)
            add(left, nxt[left])
        return [merge[s][1] for s in syms if s]

    # -- sampling ----------------------------------------------------------------------------------
    def sample_rows(self, rows: list[np.ndarray], rng: np.random.Generator) -> list[np.ndarray]:
        """Each row re-segmented, word by word, with draws from ``rng`` (in row order)."""
        split = [self._split(np.asarray(r, dtype=np.int64)) for r in rows]
        self._learn({w for words in split for w in words})
        words_of = self._words
        out = []
        if self.kind == "unigram":
            draws = rng.random(sum(len(words) for words in split))
            k = 0
            for words in split:
                parts = []
                for w in words:
                    cand = words_of[w]
                    if cand is None:
                        parts.append(w)
                    else:
                        parts.append(cand.segs[int(np.searchsorted(cand.cum, draws[k], side="right"))])
                    k += 1
                out.append(np.fromiter((i for p in parts for i in p), dtype=np.int64) if parts
                           else np.zeros(0, dtype=np.int64))
            return out
        uniforms = iter(_Uniforms(rng))
        for words in split:
            ids: list[int] = []
            for w in words:
                chars = words_of[w]
                ids.extend(w if chars is None else self._bpe(chars, uniforms))
            out.append(np.asarray(ids, dtype=np.int64))
        return out

    def __call__(self, epoch: int, pool: int, src_rows: list[np.ndarray],
                 tgt_rows: list[np.ndarray]) -> tuple[list[np.ndarray], list[np.ndarray]]:
        return tuple(self.sample_rows(rows, np.random.default_rng([self.seed, epoch, pool, side, 0x5B3]))
                     for side, rows in enumerate((src_rows, tgt_rows)))  # type: ignore[return-value]


class _Uniforms:
    """Uniform draws from ``rng`` in blocks (one numpy call per 4,096), read one at a time."""

    def __init__(self, rng: np.random.Generator) -> None:
        self.rng = rng

    def __iter__(self):
        while True:
            yield from self.rng.random(4096).tolist()
