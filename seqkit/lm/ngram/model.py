"""The n-gram language model: training, vectorized scoring, perplexity and sampling.

>>> lm = NGramLM.train(["the cat sat", "the dog sat"], order=2, smoothing="wb")
>>> round(lm.perplexity(["the cat sat"]), 4) > 1
True

A model is a backoff table per order (see :mod:`seqkit.lm.ngram.smoothing`): the sorted int64 keys
of its n-grams (:mod:`seqkit.lm.ngram.counts`), their log10 probabilities and backoff weights. It
scores like KenLM's ``query``: for each token the longest n-gram in the table that ends with it,
plus the backoff weights of the longer contexts (``log10 p(w | h) = log10 p(w | h_m) + sum b``).
Scoring a corpus is one vectorized hash lookup per order over all tokens at once
(:class:`~seqkit.lm.ngram.counts.KeyIndex`), then the backoff sums as array arithmetic -- no loop
over tokens, which is what makes it run at millions of tokens per second.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

from seqkit.errors import SeqkitError
from seqkit.lm.ngram.counts import KeyIndex, count_ngrams, lookup
from seqkit.lm.ngram.smoothing import DEFAULT_FALLBACK, SMOOTHERS, estimate
from seqkit.lm.ngram.vocab import BOS_ID, EOS_ID, NGramVocab, Packed, build_vocab, pack, read_vocab_file
from seqkit.sentences import one_or_many, refuse_string
from seqkit.settings import setting
from seqkit.threads import choose_threads


@dataclass
class NGramConfig:
    """The settings of :meth:`NGramLM.train` (the ``lm_ngram`` recipe's ``model:`` section)."""

    order: int = setting(3, ge=1)
    smoothing: str = setting("mkn", choices=tuple(SMOOTHERS))
    min_freq: int = setting(1, ge=1)
    vocab: str | None = None
    k: float | None = setting(None, gt=0)
    alpha: float | None = setting(None, gt=0, le=1)
    discount_fallback: bool = False
    prune: list[int] | None = None  # lmplz's --prune thresholds per order, e.g. [0, 0, 1]


@dataclass
class CorpusScores:
    """Per-token scores of a corpus (like KenLM's ``full_scores`` for every sentence at once).

    Attributes:
        log10: (n,) float64 log10 p of every predicted token (the words and each ``</s>``).
        ngram_length: (n,) int32 order of the n-gram that matched (1 = unigram).
        oov: (n,) bool, the token was outside the vocabulary (scored as ``<unk>``).
        sentence: (n,) int64 index of the sentence each token belongs to.
        n_sentences: number of sentences.
    """

    log10: np.ndarray
    ngram_length: np.ndarray
    oov: np.ndarray
    sentence: np.ndarray
    n_sentences: int

    @property
    def n_tokens(self) -> int:
        return len(self.log10)

    @property
    def n_oov(self) -> int:
        return int(self.oov.sum())

    @property
    def total_log10(self) -> float:
        return float(self.log10.sum())

    def perplexity(self, include_oov: bool = True) -> float:
        """10 ** (-mean log10 p) over the tokens (KenLM's "Perplexity including OOVs" by default)."""
        keep = slice(None) if include_oov else ~self.oov
        lp = self.log10[keep]
        return float(10.0 ** (-lp.mean())) if len(lp) else float("nan")

    @classmethod
    def concatenate(cls, parts: Sequence[CorpusScores]) -> CorpusScores:
        """The scores of consecutive blocks of one corpus as one."""
        offsets = np.cumsum([0, *(p.n_sentences for p in parts[:-1])])
        return cls(np.concatenate([p.log10 for p in parts]), np.concatenate([p.ngram_length for p in parts]),
                   np.concatenate([p.oov for p in parts]),
                   np.concatenate([p.sentence + o for p, o in zip(parts, offsets)]),
                   sum(p.n_sentences for p in parts))

    def sentence_log10(self) -> np.ndarray:
        """(n_sentences,) total log10 probability of each sentence (``</s>`` included)."""
        return np.bincount(self.sentence, weights=self.log10, minlength=self.n_sentences)

    def sentence_perplexities(self) -> np.ndarray:
        """(n_sentences,) perplexity of each sentence over its words and ``</s>``."""
        lengths = np.bincount(self.sentence, minlength=self.n_sentences)
        return 10.0 ** (-self.sentence_log10() / lengths)


@dataclass
class NGramLM:
    """A backoff n-gram model.

    Attributes:
        vocab: the closed vocabulary (``<unk>`` 0, ``<s>`` 1, ``</s>`` 2).
        keys: per order k, (n_k,) sorted int64 keys ``prefix_id * |vocab| + word`` (k=1: all ids).
        logp: per order, (n_k,) log10 probabilities.
        logbo: per order, (n_k,) log10 backoff weights (order N: empty).
        info: how it was made (smoothing, discounts, token counts); not part of the ARPA file.
    """

    vocab: NGramVocab
    keys: list[np.ndarray]
    logp: list[np.ndarray]
    logbo: list[np.ndarray]
    info: dict = field(default_factory=dict)
    _indexes: list | None = field(default=None, repr=False, compare=False)
    _searched: dict = field(default_factory=dict, repr=False, compare=False)  # order -> keys binary-searched
    _native: list | None = field(default=None, repr=False, compare=False)  # the kernel's slot tables
    _vocab_index: object = field(default=None, repr=False, compare=False)  # the text kernel's word table

    # ------------------------------------------------------------------ building

    @property
    def order(self) -> int:
        return len(self.keys)

    @property
    def counts(self) -> list[int]:
        """Number of n-grams of each order (what an ARPA header lists)."""
        return [len(k) for k in self.keys]

    @classmethod
    def train(cls, lines: Iterable[str] | Iterable[Sequence[str]], order: int = 3, smoothing: str = "mkn", *,
              min_freq: int = 1, vocab: str | os.PathLike | Iterable[str] | None = None,
              k: float | None = None, alpha: float | None = None, discounts=None,
              discount_fallback: bool | Sequence[float] = False, prune: Sequence[int] | None = None,
              source: str | os.PathLike | None = None) -> NGramLM:
        """Count and estimate a model of ``order`` from text lines (or pre-tokenized sentences).

        Args:
            lines: training text, one sentence per line, whitespace-tokenized (or token lists).
            order: N >= 1.
            smoothing: one of :data:`seqkit.lm.ngram.smoothing.SMOOTHERS` (``mkn`` = KenLM's).
            min_freq: words rarer than this become ``<unk>`` (closed vocabulary).
            vocab: a vocab file path or a list of words that closes the vocabulary instead.
            k: the add-k constant (``addk``; default 1).
            alpha: stupid backoff's factor (default 0.4).
            discounts: explicit discounts per order, D or (D1, D2, D3+) (``absolute``/``kn``/``mkn``).
            discount_fallback: when discounts cannot be estimated (tiny or artificial data), use
                these (True = KenLM's 0.5, 1, 1.5) instead of raising.
            prune: lmplz's count thresholds per order (``(0, 0, 1)``: drop singleton trigrams and
                above), see :mod:`seqkit.lm.ngram.prune`.
            source: where ``lines`` came from (a file, a corpus name), named by errors about them.
        """
        if order < 1:
            raise SeqkitError(f"order must be >= 1, got {order}", fix="use --order 3 (trigrams) or more")
        refuse_string(lines, "NGramLM.train", "give the sentences, e.g. seqkit.io.read_lines(path) for a file")
        sentences = [line if isinstance(line, str) else list(line) for line in lines]
        nul = next((i for i, s in enumerate(sentences, 1) if isinstance(s, str) and "\0" in s), None)
        if nul is not None:  # a NUL cannot be written to ARPA (nor read back by KenLM)
            raise SeqkitError("the text contains a NUL byte", path=source, line=nul,
                              fix="remove NUL bytes (e.g. tr -d '\\000' < in > out)")
        if not any(s.strip() if isinstance(s, str) else s for s in sentences):
            raise SeqkitError("empty training text: no tokens to count", path=source,
                              fix="give a non-empty text file, one sentence per line")
        vocab_words = None
        if vocab is not None:
            vocab_words = read_vocab_file(vocab) if isinstance(vocab, (str, os.PathLike)) else list(vocab)
        nvocab, packed = build_vocab(sentences, min_freq=min_freq, vocab_words=vocab_words)
        return cls.from_packed(packed, nvocab, order, smoothing, k=k, alpha=alpha, discounts=discounts,
                               discount_fallback=discount_fallback, prune=prune)

    @classmethod
    def from_packed(cls, packed: Packed, vocab: NGramVocab, order: int, smoothing: str = "mkn", *,
                    k: float | None = None, alpha: float | None = None, discounts=None,
                    discount_fallback: bool | Sequence[float] = False,
                    prune: Sequence[int] | None = None) -> NGramLM:
        """Estimate from an already packed corpus (see :meth:`train` for the arguments)."""
        if prune is not None:
            from seqkit.lm.ngram.prune import thresholds_for

            thresholds_for(prune, order)  # bad thresholds fail before the counting
        counts = count_ngrams(packed, order, len(vocab), vocab.first_seen)
        fallback = (DEFAULT_FALLBACK if discount_fallback is True
                    else (tuple(discount_fallback) if discount_fallback else None))
        options = {"k_add": k, "alpha": alpha, "discounts": discounts,
                   "fallback": fallback if smoothing in ("absolute", "kn", "mkn") else None}
        tables = estimate(counts, smoothing, vocab.n_predictable, **options)
        info = {"smoothing": smoothing, "order": order, "tokens": counts.n_tokens,
                "sentences": counts.n_sentences}
        if tables.discounts is not None:
            info["discounts"] = [list(d) for d in tables.discounts]
        model = cls(vocab, [o.keys for o in counts.orders], tables.logp, tables.logbo, info)
        if prune is not None and any(prune):
            from seqkit.lm.ngram.prune import prune as prune_model

            model = prune_model(model, [o.counts for o in counts.orders], prune)
        return model

    # ------------------------------------------------------------------ lookup and scoring

    def _lookup(self, k: int, prefix: np.ndarray, words: np.ndarray) -> np.ndarray:
        """Ids of the k-grams (prefix (k-1)-gram id, last word) in order k's table; -1 if absent.

        prefix, words: (n,) int64; a negative prefix means "no such prefix" and gives -1.
        """
        table = self.keys[k - 1]
        built = self._indexes is not None and self._indexes[k - 1] is not None
        searched = self._searched.get(k, 0) + len(words)
        if not built and searched * 8 < len(table):
            # a few lookups (one sentence, one small corpus): binary search beats building the hash
            # index first; once the lookups add up (repeated scoring), the index pays for itself
            self._searched[k] = searched
            return lookup(table, len(self.vocab), prefix, words)
        out = np.full(len(words), -1, dtype=np.int64)
        live = np.flatnonzero(prefix >= 0)
        if len(live) and len(table):
            out[live] = self._index(k).find(prefix[live] * len(self.vocab) + words[live])
        return out

    def build_index(self) -> NGramLM:
        """Build the hash index of every order now (else on first use); returns the model."""
        for k in range(2, self.order + 1):
            self._index(k)
        return self

    def _index(self, k: int) -> KeyIndex:
        """The hash index of order k's keys, built on first use."""
        if self._indexes is None or len(self._indexes) != self.order:
            self._indexes = [None] * self.order
        if self._indexes[k - 1] is None:
            self._indexes[k - 1] = KeyIndex(self.keys[k - 1])
        return self._indexes[k - 1]

    def _combine(self, found: list[np.ndarray], contexts: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """Backoff arithmetic for n targets.

        Args:
            found: per order k = 1..N, (n,) id of the k-gram ending with the target (-1 absent).
            contexts: per length c = 1..N-1, (n,) id of the c-gram just before the target (-1 absent).

        Returns ``(log10 p, matched order)``, each (n,).
        """
        logp = np.take(self.logp[0], found[0])
        matched = np.ones(len(logp), dtype=np.int32)
        for k in range(2, self.order + 1):
            hit = np.flatnonzero(found[k - 1] >= 0)
            logp[hit] = np.take(self.logp[k - 1], found[k - 1][hit])
            matched[hit] = k
        for c in range(1, self.order):
            use = np.flatnonzero((contexts[c - 1] >= 0) & (matched <= c))
            logp[use] += np.take(self.logbo[c - 1], contexts[c - 1][use])
        return logp, matched

    def score_packed(self, packed: Packed, *, bos: bool = True, native: bool = True) -> CorpusScores:
        """Score every token of a packed corpus at once.

        Each sentence starts in state ``<s>`` (``bos=False``: in the empty context, KenLM's
        ``NullContextState``). ``native`` runs the compiled loop of :mod:`seqkit.lm.ngram.kernel` when
        it can be built (one pass, KenLM's per-token walk); otherwise, or with ``native=False``, the
        numpy path below, which gives the same numbers.
        """
        from seqkit.lm.ngram import kernel

        lib = kernel.load() if native and bos and 1 < self.order <= kernel.MAX_ORDER else None
        if lib is not None:
            logp, matched = kernel.score(lib, packed.ids, self.order, len(self.vocab), self._native_tables(),
                                         self.logp[0], self.logbo[0])
            target = packed.ids != BOS_ID
            sentence = np.cumsum(packed.ids == BOS_ID)[target] - 1
            return CorpusScores(logp, matched, packed.oov[target], sentence, packed.n_sentences)
        ids = packed.ids.astype(np.int64)
        pos = packed.pos_in_sentence
        # by_order[k-1][t]: id of the k-gram ending at t (-1 if absent or crossing the sentence start)
        by_order = [ids if bos else np.where(pos == 0, -1, ids)]  # without <s>, nothing precedes word 1
        for k in range(2, self.order + 1):
            prefix = np.empty_like(ids)
            prefix[0] = -1
            prefix[1:] = by_order[-1][:-1]
            prefix[pos < k - 1] = -1
            by_order.append(self._lookup(k, prefix, ids))
        target = np.flatnonzero(pos > 0)
        found = [ids[target], *(ids_k[target] for ids_k in by_order[1:])]
        contexts = []
        for c in range(1, self.order):
            ctx = by_order[c - 1][target - 1]
            contexts.append(np.where(pos[target] >= c, ctx, -1))
        logp, matched = self._combine(found, contexts)
        sentence = np.cumsum(ids == BOS_ID)[target] - 1
        return CorpusScores(logp, matched, packed.oov[target], sentence, packed.n_sentences)

    def _native_tables(self) -> list:
        """The compiled kernel's slot tables (built once, from the hash index)."""
        from seqkit.lm.ngram import kernel

        if self._native is None:
            self._native = kernel.tables(self.keys, self.logp, self.logbo, len(self.vocab))
        return self._native

    def score_corpus(self, lines: str | Iterable[str] | Iterable[Sequence[str]], *, bos: bool = True,
                     threads: int | None = None) -> CorpusScores:
        """Per-token log10 scores of text lines (or token lists); unknown words score as ``<unk>``.

        Text lines go straight to the compiled kernel, which splits and looks up the words itself
        (lines with Unicode whitespace or token lists are mapped to ids in Python first);
        ``threads`` > 1 scores blocks of lines at once (the kernel releases the GIL); by default the
        cores not busy now, as the CLI chooses (:mod:`seqkit.threads`). A bare string is one sentence
        (:mod:`seqkit.sentences`).
        """
        lines, _ = one_or_many(lines)
        if threads is None:  # only a corpus of several blocks can use more than one
            threads = choose_threads().threads if len(lines) > 2000 else 1
        block = max(2000, -(-len(lines) // threads))
        if threads <= 1 or len(lines) <= block:
            return self._score_block(lines, bos)
        from concurrent.futures import ThreadPoolExecutor

        from seqkit.lm.ngram import kernel

        # once, before the threads share them
        self._native_tables() if bos and kernel.load() is not None else self.build_index()
        self._text_vocab()
        blocks = [lines[i:i + block] for i in range(0, len(lines), block)]
        with ThreadPoolExecutor(threads) as pool:
            parts = list(pool.map(lambda b: self._score_block(b, bos), blocks))
        return CorpusScores.concatenate(parts)

    def _score_block(self, lines: list, bos: bool) -> CorpusScores:
        """Text lines straight through the compiled kernel (words looked up in C) when it can, else
        packed to ids first."""
        from seqkit.lm.ngram import kernel

        lib = kernel.load() if bos and 1 < self.order <= kernel.MAX_ORDER and lines else None
        text = kernel.text_fits(lines) if lib is not None and isinstance(lines[0], str) else None
        if text is None:
            return self.score_packed(pack(lines, self.vocab), bos=bos)
        logp, matched, oov, sentence = kernel.score_text(lib, text, len(lines), self.order, self._text_vocab(),
                                                         len(self.vocab), self._native_tables(), self.logp[0],
                                                         self.logbo[0])
        return CorpusScores(logp, matched, oov, sentence, len(lines))

    def _text_vocab(self):
        """The vocabulary table of the text kernel (built once)."""
        from seqkit.lm.ngram import kernel

        lib = kernel.load()
        if self._vocab_index is None and lib is not None:
            self._vocab_index = kernel.VocabIndex(lib, list(self.vocab.tokens))
        return self._vocab_index

    def perplexity(self, lines: str | Iterable[str] | Iterable[Sequence[str]], include_oov: bool = True) -> float:
        """Corpus perplexity over words and ``</s>`` (KenLM's ``query`` "including OOVs"); of one sentence
        given as a string, that sentence's (``kenlm.Model.perplexity``)."""
        return self.score_corpus(lines).perplexity(include_oov)

    def full_scores(self, sentence: str | Sequence[str], bos: bool = True,
                    eos: bool = True) -> list[tuple[float, int, bool]]:
        """``(log10 p, ngram length, is_oov)`` per word and, with ``eos``, the final ``</s>``; ``bos``
        starts in the ``<s>`` context (else the empty one) -- as ``kenlm.Model.full_scores``."""
        s = self.score_corpus([sentence], bos=bos)
        rows = list(zip(s.log10.tolist(), s.ngram_length.tolist(), s.oov.tolist()))
        return rows if eos else rows[:-1]

    def score(self, sentence: str | Sequence[str], bos: bool = True, eos: bool = True) -> float:
        """Total log10 probability of one sentence (``kenlm.Model.score``): ``</s>`` included with
        ``eos``, the ``<s>`` context with ``bos``."""
        return float(sum(lp for lp, _, _ in self.full_scores(sentence, bos=bos, eos=eos)))

    # ------------------------------------------------------------------ next-token distribution

    def _context_ids(self, history: Sequence[int]) -> list[int]:
        """Ids of the c-grams that end the history, c = 1..N-1 (-1 where absent)."""
        out = []
        for c in range(1, self.order):
            if c > len(history):
                out.append(-1)
                continue
            gram = history[-c:]
            idx = np.array([gram[0]], dtype=np.int64)
            for j in range(2, c + 1):
                idx = self._lookup(j, idx, np.array([gram[j - 1]], dtype=np.int64))
            out.append(int(idx[0]))
        return out

    def next_log10(self, context: Sequence[str] | str = (), bos: bool = True) -> np.ndarray:
        """(|vocab|,) log10 p(w | context) for every vocabulary id (``<s>``: -inf).

        ``context`` is the preceding words of the sentence; ``bos`` prefixes ``<s>``.
        """
        words = context.split() if isinstance(context, str) else list(context)
        history = ([BOS_ID] if bos else []) + [self.vocab[w] for w in words]
        history = history[-(self.order - 1):] if self.order > 1 else []
        ctx_ids = self._context_ids(history)
        n = len(self.vocab)
        all_words = np.arange(n, dtype=np.int64)
        found = [all_words]
        for k in range(2, self.order + 1):
            prefix = np.full(n, ctx_ids[k - 2], dtype=np.int64)
            found.append(self._lookup(k, prefix, all_words))
        contexts = [np.full(n, c, dtype=np.int64) for c in ctx_ids]
        logp, _ = self._combine(found, contexts)
        logp[BOS_ID] = -np.inf
        return logp

    def sample(self, prefix: str | Sequence[str] = (), *, max_tokens: int = 50, seed: int | None = 0,
               temperature: float = 1.0, allow_unk: bool = True) -> list[str]:
        """Continue ``prefix`` by sampling words until ``</s>`` or ``max_tokens``; returns the new words.

        The next-word distribution is renormalized (stupid backoff scores do not sum to 1), sharpened
        or flattened by ``temperature`` (0: greedy, as :mod:`seqkit.sampling`); the same ``seed``
        gives the same continuation.
        """
        from seqkit.sampling import check_sampling

        check_sampling(temperature)
        rng = np.random.default_rng(seed)
        words = prefix.split() if isinstance(prefix, str) else list(prefix)
        out: list[str] = []
        for _ in range(max_tokens):
            lp = self.next_log10(words + out)
            if not allow_unk:
                lp[0] = -np.inf
            if temperature == 0:
                w = int(np.argmax(lp))
            else:
                p = np.exp((lp - lp.max()) / temperature * np.log(10.0))
                w = int(rng.choice(len(p), p=p / p.sum()))
            if w == EOS_ID:
                break
            out.append(self.vocab.tokens[w])
        return out

    # ------------------------------------------------------------------ files

    def save_arpa(self, path: str | os.PathLike) -> None:
        """Write the model as an ARPA file (loads in KenLM, SRILM, NLTK-free tools)."""
        from seqkit.lm.ngram.arpa import write_arpa

        write_arpa(self, path)

    @classmethod
    def load_arpa(cls, path: str | os.PathLike, *, cache: bool = True) -> NGramLM:
        """Read an ARPA file (e.g. from KenLM's ``lmplz``); mistakes are reported with their line.

        With ``cache`` (default), the first load also writes a binary copy with its hash index to
        ``$SEQKIT_CACHE/ngram`` and later loads of the unchanged file read that instead (KenLM's
        ``build_binary``, done for you; see :mod:`seqkit.lm.ngram.binary`).
        """
        if cache:
            from seqkit.lm.ngram.binary import load_arpa_cached

            return load_arpa_cached(path)
        from seqkit.lm.ngram.arpa import read_arpa

        return read_arpa(path)

    def save(self, path: str | os.PathLike) -> None:
        """Write to ``path``: safetensors for ``*.safetensors`` (fast to reload), ARPA otherwise."""
        if os.fspath(path).endswith(".safetensors"):
            from seqkit.lm.ngram.binary import save_binary

            save_binary(self, path)
        else:
            self.save_arpa(path)

    @classmethod
    def load(cls, path: str | os.PathLike) -> NGramLM:
        """Read a model written by :meth:`save`: safetensors by extension, else ARPA."""
        if os.fspath(path).endswith(".safetensors"):
            from seqkit.lm.ngram.binary import load_binary

            return load_binary(path)
        return cls.load_arpa(path)

    def __repr__(self) -> str:
        how = self.info.get("smoothing", "arpa")
        return f"NGramLM(order={self.order}, vocab={len(self.vocab)}, ngrams={self.counts}, smoothing={how!r})"


