"""word2vec: skip-gram (or CBOW) with negative sampling, built for throughput.

The algorithm is Mikolov et al. (2013), as the d2l chapter and gensim describe it:

* **vocabulary**: words seen at least ``min_freq`` times, most frequent first (ties: first seen),
  at most ``max_vocab`` of them; other words are dropped before windows are formed.
* **subsampling** of frequent words: an occurrence of word ``w`` with count ``c`` among ``N`` in-vocabulary
  words is kept with probability ``min(1, (sqrt(c / (sample*N)) + 1) * sample*N / c)`` -- the formula
  word2vec.c and gensim apply (d2l's ``sqrt(t/f)`` is its large-count limit).
* **dynamic window**: each centre word draws its window uniformly from ``1..window``.
* **negatives**: ``negative`` noise words per positive pair from unigram counts to the power 0.75.
* **learning rate**: linear from ``alpha`` to ``min_alpha`` over all epochs.

Two trainers compute it. The default is a small C kernel (``sgns_kernel.c``, compiled at first use by
:mod:`seqkit.embeddings.kernel`) run by ``threads`` Python threads that update the shared matrices
without locks, like word2vec.c and gensim. The fallback -- and the GPU path -- is pure torch: large
minibatches of (centre, context, negatives) scored with one batched matmul and applied as sparse
``index_add_`` updates of plain SGD, each row's summed step per batch capped (a frequent word occurs
thousands of times in a large batch; see :func:`_duplicate_scale`). With one thread and a seed both
are reproducible.
``optimizer="adam"`` (torch trainer) follows d2l's chapter instead: Adam at a constant learning rate
``alpha`` on dense gradients -- better than SGD for few epochs on a small corpus such as PTB.

Example::

    >>> model = Word2Vec("corpus.txt", dim=100, window=5, negative=5, min_freq=5)  # doctest: +SKIP
    >>> model.wv.most_similar("king", topn=3)  # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import json
import os
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from seqkit.embeddings.kernel import load_kernel
from seqkit.embeddings.keyedvectors import KeyedVectors
from seqkit.errors import SeqkitError
from seqkit.io import iter_lines
from seqkit.settings import SettingsError, problems, setting

if TYPE_CHECKING:
    import torch

MAX_SENTENCE_LENGTH = 10_000  # longer lines are cut into pieces of this many words (as gensim does)
MODEL_FORMAT = "seqkit.word2vec/1"
CHUNK_WORDS = 20_000  # words per kernel call: the unit of work a thread takes and of progress reports


@dataclass
class Word2VecConfig:
    """Hyper-parameters; the defaults are gensim's except where noted (``min_freq`` is gensim's
    ``min_count``: one name for it across seqkit)."""

    dim: int = setting(100, ge=1)
    window: int = setting(5, ge=1)
    negative: int = setting(5, ge=1)  # noise words per pair: this is negative sampling
    min_freq: int = setting(5, ge=1)
    max_vocab: int | None = setting(None, ge=1)
    sample: float = setting(1e-3, ge=0)
    epochs: int = setting(5, ge=1)
    alpha: float = setting(0.025, gt=0)
    min_alpha: float = setting(0.0001, ge=0)
    sg: bool = True  # skip-gram; False = CBOW (mean of the context vectors)
    threads: int | None = setting(None, ge=1)  # None: the free cores (seqkit.threads)
    seed: int = setting(1, ge=0)
    backend: str = setting("auto", choices=("auto", "kernel", "torch"))  # auto: C kernel on CPU, torch on CUDA
    device: str = "auto"  # for the torch backend: "auto", "cpu", "cuda"
    batch_size: int | None = setting(None, ge=1)  # torch backend: pairs per minibatch (None: 1024 CPU, 65536 CUDA)
    optimizer: str = setting("sgd", choices=("sgd", "adam"))  # torch backend: sgd (linear decay) | adam (d2l's)
    compute_loss: bool = True

    def validate(self) -> None:
        found = problems(type(self), dataclasses.asdict(self), "word2vec")
        if found:
            raise SettingsError(found)


@dataclass
class TrainStats:
    """What a training run measured: words are corpus tokens (before subsampling) times epochs."""

    words: int = 0
    seconds: float = 0.0
    epoch_loss: list[float] = field(default_factory=list)
    backend: str = ""

    @property
    def words_per_sec(self) -> float:
        return self.words / self.seconds if self.seconds > 0 else 0.0


# ----------------------------------------------------------------------------- corpus and vocabulary

def iter_sentences(corpus: str | os.PathLike | Iterable) -> Iterable[list[str]]:
    """Token lists from a path (whitespace-split lines, ``.gz`` aware), strings, or token lists."""
    if isinstance(corpus, (str, os.PathLike)):
        lines: Iterable = iter_lines(corpus)
    else:
        lines = corpus
    for item in lines:
        tokens = item.split() if isinstance(item, str) else list(item)
        for start in range(0, len(tokens), MAX_SENTENCE_LENGTH):
            yield tokens[start:start + MAX_SENTENCE_LENGTH]


@dataclass
class PreparedCorpus:
    """A corpus as word ids: ``ids`` (n,) int32 of in-vocabulary words, ``sent_start`` (S+1,) int64."""

    words: list[str]
    counts: np.ndarray  # (V,) int64
    ids: np.ndarray
    sent_start: np.ndarray
    raw_words: int  # tokens in the corpus, out-of-vocabulary ones included


def prepare_corpus(corpus, min_freq: int = 5, max_vocab: int | None = None,
                   known: tuple[Sequence[str], np.ndarray] | None = None) -> PreparedCorpus:
    """Count words, keep the frequent ones (most frequent first, ties by first occurrence), map to ids.

    ``known`` (words, counts) is the vocabulary of a model that continues training: its words keep
    their ids and gain this corpus's counts; new words that reach ``min_freq`` here are appended (as
    gensim's ``build_vocab(update=True)``).
    """
    sentences = list(iter_sentences(corpus))
    counter: Counter[str] = Counter()
    for sent in sentences:
        counter.update(sent)
    raw_words = sum(counter.values())
    old = set(known[0]) if known is not None else set()
    # Counter keeps first-seen order and sorted() is stable: equal counts stay in first-seen order
    vocab = sorted(((w, c) for w, c in counter.items() if c >= min_freq and w not in old), key=lambda wc: -wc[1])
    if max_vocab is not None:
        vocab = vocab[:max(0, max_vocab - len(old))]
    if not vocab and known is None:
        where = corpus if isinstance(corpus, (str, os.PathLike)) else None
        raise SeqkitError(f"no word occurs at least min_freq={min_freq} times ({raw_words} tokens)",
                          path=where, fix="lower min_freq or give a larger corpus")
    words = [w for w, _ in vocab]
    counts = np.array([c for _, c in vocab], dtype=np.int64)
    if known is not None:
        old_counts = np.asarray(known[1], dtype=np.int64) + np.array([counter.get(w, 0) for w in known[0]],
                                                                      dtype=np.int64)
        words, counts = [*known[0], *words], np.concatenate([old_counts, counts])
    lookup = {w: i for i, w in enumerate(words)}.get
    ids_parts, starts, total = [], [0], 0
    for sent in sentences:
        arr = np.fromiter((lookup(w, -1) for w in sent), dtype=np.int32, count=len(sent))
        arr = arr[arr >= 0]
        if len(arr) == 0:
            continue
        ids_parts.append(arr)
        total += len(arr)
        starts.append(total)
    ids = np.concatenate(ids_parts) if ids_parts else np.zeros(0, np.int32)
    return PreparedCorpus(words, counts, ids, np.array(starts, dtype=np.int64), raw_words)


def keep_probabilities(counts: np.ndarray, sample: float) -> np.ndarray:
    """Probability of keeping one occurrence of each word: ``(sqrt(c/t) + 1) * t/c`` capped at 1,
    with ``t = sample * sum(counts)``; ``sample <= 0`` keeps everything.  Returns (V,) float32."""
    counts = np.asarray(counts, dtype=np.float64)
    if sample <= 0:
        return np.ones(len(counts), dtype=np.float32)
    threshold = sample * counts.sum()
    keep = (np.sqrt(counts / threshold) + 1.0) * threshold / counts
    return np.minimum(keep, 1.0).astype(np.float32)


def noise_distribution(counts: np.ndarray, power: float = 0.75) -> np.ndarray:
    """Noise-word probabilities ``c**power / sum(c**power)``: (V,) float64."""
    weights = np.asarray(counts, dtype=np.float64) ** power
    return weights / weights.sum()


def alias_table(probs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Walker's alias table: draw ``i`` uniformly, keep it with ``prob[i]``, else take ``alias[i]``.

    Returns ``prob`` (V,) float32 and ``alias`` (V,) int32; drawing costs O(1) whatever V is."""
    n = len(probs)
    scaled = np.asarray(probs, dtype=np.float64) * n
    prob = np.ones(n, dtype=np.float64)
    alias = np.arange(n, dtype=np.int32)
    small = [i for i in range(n) if scaled[i] < 1.0]
    large = [i for i in range(n) if scaled[i] >= 1.0]
    while small and large:
        s, g = small.pop(), large.pop()
        prob[s], alias[s] = scaled[s], g
        scaled[g] -= 1.0 - scaled[s]
        (small if scaled[g] < 1.0 else large).append(g)
    return prob.astype(np.float32), alias


# ----------------------------------------------------------------------------- gensim's names

#: gensim's ``Word2Vec`` keyword -> seqkit's setting of the same meaning (the other shared names --
#: ``window``, ``negative``, ``sample``, ``epochs``, ``alpha``, ``min_alpha``, ``sg``, ``seed``,
#: ``compute_loss`` -- are spelled alike).
GENSIM_NAMES = {"vector_size": "dim", "min_count": "min_freq", "workers": "threads",
                "max_final_vocab": "max_vocab"}
#: gensim keywords for what seqkit does one way only: accepted at that value, refused otherwise.
GENSIM_FIXED = {"hs": (0, "hierarchical softmax is not implemented: seqkit trains with negative sampling"),
                "cbow_mean": (1, "CBOW averages the context vectors here (cbow_mean=1)"),
                "ns_exponent": (0.75, "the noise distribution is unigram counts ** 0.75"),
                "sorted_vocab": (1, "the vocabulary is always sorted by frequency"),
                "shrink_windows": (True, "windows are always shrunk at random, as word2vec.c"),
                "null_word": (0, "there is no null word"),
                "max_vocab_size": (None, "counting keeps every word (use max_final_vocab / max_vocab to cap "
                                         "the vocabulary)"),
                "trim_rule": (None, "there is no trim rule (use min_count / min_freq)"),
                "callbacks": ((), "there are no callbacks (use progress=fn(dict))"),
                "batch_words": (10000, "the kernel's unit of work is fixed"),
                "comment": (None, "there is no comment field"),
                "hashfxn": (hash, "random vectors come from seed alone")}
#: gensim 3's names, gone from gensim 4 (which raises TypeError for them)
GENSIM_3 = {"size": "vector_size", "iter": "epochs"}


def from_gensim_names(options: dict[str, Any]) -> dict[str, Any]:
    """``Word2Vec`` keywords with gensim's names mapped to seqkit's (see :data:`GENSIM_NAMES`); a gensim
    option seqkit does not support, at a value it does not do, or an unknown keyword is one
    :class:`~seqkit.errors.SeqkitError` naming it and what to do."""
    import difflib

    fields = {f.name for f in dataclasses.fields(Word2VecConfig)}
    out: dict[str, Any] = {}
    for key, value in options.items():
        if key in GENSIM_3:
            raise SeqkitError(f"Word2Vec({key}=...) is gensim 3's name", fix=f"use {GENSIM_3[key]}= (gensim 4's)")
        if key in GENSIM_FIXED:
            allowed, why = GENSIM_FIXED[key]
            if value != allowed and not (allowed == () and not value):
                raise SeqkitError(f"Word2Vec({key}={value!r}) is not supported: {why}",
                                  fix=f"drop {key}= (or give {key}={allowed!r})")
            continue
        name = GENSIM_NAMES.get(key, key)
        if name not in fields:
            close = difflib.get_close_matches(key, [*fields, *GENSIM_NAMES], n=1)
            raise SeqkitError(f"Word2Vec got an unknown option {key!r}",
                              fix=(f"did you mean {close[0]!r}? " if close else "") +
                                  f"options: {', '.join(sorted(fields))} (or gensim's {', '.join(GENSIM_NAMES)})")
        if name in out:
            raise SeqkitError(f"Word2Vec got {name} twice (as {name}= and gensim's name for it)",
                              fix="give one of them")
        if name == "sg" and value in (0, 1):
            value = bool(value)
        out[name] = value
    return out


# ----------------------------------------------------------------------------- the model

class Word2Vec:
    """Train word vectors; ``model.wv`` is a :class:`KeyedVectors` with gensim's query methods.

    ``corpus`` is a path (one sentence per line, whitespace-tokenized, ``.gz`` read on the fly), an
    iterable of strings, or an iterable of token lists; gensim's ``sentences=`` and ``corpus_file=``
    name it too. Keyword arguments are :class:`Word2VecConfig` fields or gensim's names with gensim's
    meaning (``vector_size``, ``min_count``, ``workers``, ``max_final_vocab``; ``sg=0`` is CBOW);
    gensim options seqkit does not support are refused by name (:func:`from_gensim_names`).
    ``progress(dict)`` is called about once a second with ``epoch``, ``words_per_sec``, ``loss``,
    ``alpha`` and ``done`` (fraction).

    >>> Word2Vec(vector_size=20, min_count=1, workers=1, sg=0).config.dim
    20
    """

    def __init__(self, corpus=None, *, progress: Callable[[dict], None] | None = None, sentences=None,
                 corpus_file=None, **options) -> None:
        given = [c for c in (corpus, sentences, corpus_file) if c is not None]
        if len(given) > 1:
            raise SeqkitError("Word2Vec got more than one corpus (corpus, sentences=, corpus_file=)",
                              fix="give one of them")
        corpus = given[0] if given else None
        self.config = Word2VecConfig(**from_gensim_names(options))
        self.config.validate()
        self.progress = progress
        self.stats = TrainStats()
        self.wv: KeyedVectors | None = None
        self.syn1neg: np.ndarray | None = None
        if corpus is not None:
            self.train(corpus)

    def train(self, corpus, *, update: bool = False) -> KeyedVectors:
        """Train on ``corpus``; returns (and sets) ``self.wv``.

        ``update`` continues a trained (or :meth:`load`-ed) model on new text, as gensim's
        ``build_vocab(update=True)`` then ``train``: known words keep their vectors as the starting
        point, new words reaching ``min_freq`` get fresh rows, the counts (and so the noise
        distribution) add up, and the learning rate decays from ``alpha`` again over the new corpus.
        """
        cfg = self.config
        if update and (self.wv is None or self.syn1neg is None):
            raise SeqkitError("nothing to continue: this model has not been trained",
                              fix="train it first, or load one saved with Word2Vec.save")
        known = (list(self.wv.index_to_key), self.wv.counts) if update else None
        prepared = prepare_corpus(corpus, cfg.min_freq, cfg.max_vocab, known=known)
        if len(prepared.ids) < 2:
            raise SeqkitError("corpus has fewer than two in-vocabulary words",
                              fix="give a larger corpus or lower min_freq")
        if update:
            n_old = len(self.wv)
            fresh_in, fresh_out = _init_weights(len(prepared.words) - n_old, cfg.dim, cfg.seed + n_old)
            win = np.concatenate([np.asarray(self.wv.vectors, dtype=np.float32), fresh_in])
            wout = np.concatenate([np.asarray(self.syn1neg, dtype=np.float32), fresh_out])
        else:
            win, wout = _init_weights(len(prepared.words), cfg.dim, cfg.seed)
        device = _pick_device(cfg)
        use_kernel = cfg.backend == "kernel" or (cfg.backend == "auto" and device.type == "cpu"
                                                 and cfg.optimizer == "sgd")
        kernel = load_kernel() if use_kernel else None
        if cfg.backend == "kernel" and kernel is None:
            raise SeqkitError("word2vec: the C kernel could not be compiled",
                              fix="install gcc, or use backend=torch")
        if cfg.threads is None:  # decided now: the kernel's Hogwild workers never wait for each other
            from seqkit.threads import choose_threads

            cfg = self.config = dataclasses.replace(cfg, threads=choose_threads(independent=kernel is not None).threads)
        start = time.perf_counter()
        if kernel is not None:
            losses = _train_kernel(kernel, prepared, win, wout, cfg, self._report)
            self.stats.backend = f"kernel x{cfg.threads} threads"
        else:
            from seqkit.embeddings.w2v_torch import train_torch

            losses = train_torch(prepared, win, wout, cfg, device, self._report)
            self.stats.backend = f"torch on {device}"
        self.stats.seconds = time.perf_counter() - start
        self.stats.words = prepared.raw_words * cfg.epochs
        self.stats.epoch_loss = losses
        self.wv = KeyedVectors(win, prepared.words, counts=prepared.counts)
        self.syn1neg = wout
        return self.wv

    def save(self, path: str | os.PathLike) -> None:
        """The whole model, to continue training later: input and output vectors, counts, words and
        settings in one safetensors file (atomically; nothing pickled)."""
        from safetensors.numpy import save as to_bytes

        from seqkit.io import write_bytes_atomic

        if self.wv is None or self.syn1neg is None:
            raise SeqkitError("nothing to save: this model has not been trained", path=path,
                              fix="train it first")
        tensors = {"input": np.ascontiguousarray(self.wv.vectors, dtype=np.float32),
                   "output": np.ascontiguousarray(self.syn1neg, dtype=np.float32),
                   "counts": np.asarray(self.wv.counts, dtype=np.int64)}
        config = {k: v for k, v in asdict(self.config).items() if k != "threads"}
        meta = {"format": MODEL_FORMAT, "words": json.dumps(list(self.wv.index_to_key)),
                "config": json.dumps(config)}
        write_bytes_atomic(path, to_bytes(tensors, metadata=meta))

    @classmethod
    def load(cls, path: str | os.PathLike, **overrides) -> Word2Vec:
        """A model written by :meth:`save`; ``overrides`` replace settings (``epochs``, ``alpha``,
        ``threads`` ...) for the training that continues it."""
        from seqkit.embeddings.keyedvectors import refuse_pickle
        from seqkit.io import read_safetensors

        refuse_pickle(Path(path))
        meta, tensors = read_safetensors(path, MODEL_FORMAT, "word2vec model",
                                         fix="give a file written by Word2Vec.save or seqkit w2v train --save-model")
        missing = {"input", "output", "counts"} - set(tensors)
        if missing or "words" not in meta or "config" not in meta:
            raise SeqkitError(f"cannot read the model (missing {', '.join(sorted(missing)) or 'metadata'})",
                              path=path, fix="save it again with Word2Vec.save")
        words, config = json.loads(meta["words"]), json.loads(meta["config"])
        model = cls(**{**config, **overrides})
        model.wv = KeyedVectors(tensors["input"].copy(), words, counts=tensors["counts"].copy())
        model.syn1neg = tensors["output"].copy()
        return model

    def _report(self, info: dict) -> None:
        if self.progress is not None:
            self.progress(info)

    def config_dict(self) -> dict:
        return asdict(self.config)


def _init_weights(n_words: int, dim: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Input vectors uniform in ``[-1/dim, 1/dim)`` (gensim's range), output vectors zero.

    word2vec.c draws from half that range; on the text8 prefix (5 epochs) the wider start measured
    ~0.6 analogy points and ~0.005 wordsim353 Spearman better over two seeds."""
    gen = np.random.default_rng(seed)
    win = ((gen.random((n_words, dim), dtype=np.float32) * 2.0 - 1.0) / dim).astype(np.float32)
    wout = np.zeros((n_words, dim), dtype=np.float32)
    return win, wout


def _pick_device(cfg: Word2VecConfig) -> torch.device:
    import torch

    if cfg.device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if cfg.device.startswith("cuda") and not torch.cuda.is_available():
        raise SeqkitError("word2vec: device cuda requested but CUDA is not available", fix="use device=cpu")
    return torch.device(cfg.device)


def _sentence_chunks(sent_start: np.ndarray) -> list[tuple[int, int]]:
    """Split sentences into consecutive runs of about CHUNK_WORDS words: (first, end) sentence indices."""
    chunks, first, n_sent = [], 0, len(sent_start) - 1
    while first < n_sent:
        end = int(np.searchsorted(sent_start, sent_start[first] + CHUNK_WORDS, side="left"))
        end = min(max(end, first + 1), n_sent)
        chunks.append((first, end))
        first = end
    return chunks


def _train_kernel(kernel, prepared: PreparedCorpus, win, wout, cfg: Word2VecConfig, report) -> list[float]:
    """Hogwild training: ``threads`` Python threads pull (epoch, chunk) jobs and call the C kernel."""
    keep = keep_probabilities(prepared.counts, cfg.sample)
    noise_prob, noise_alias = alias_table(noise_distribution(prepared.counts))
    ids, sent_start = np.ascontiguousarray(prepared.ids), np.ascontiguousarray(prepared.sent_start)
    chunks = _sentence_chunks(sent_start)
    jobs = [(epoch, k, a, b) for epoch in range(cfg.epochs) for k, (a, b) in enumerate(chunks)]
    total = len(ids) * cfg.epochs
    progress = np.zeros(1, dtype=np.int64)
    loss_sum = np.zeros(cfg.epochs)
    step_sum = np.zeros(cfg.epochs)
    lock = threading.Lock()
    next_job = iter(jobs)
    errors: list[BaseException] = []

    def worker() -> None:
        out = np.zeros(3, dtype=np.float64)
        try:
            while True:
                with lock:
                    job = next(next_job, None)
                if job is None:
                    return
                epoch, k, a, b = job
                seed = (cfg.seed * 1_000_003 + epoch) * 1_000_003 + k  # per chunk: threads do not matter
                rc = kernel.sgns_train_chunk(
                    win, wout, cfg.dim, ids, sent_start, a, b, keep, noise_prob, noise_alias,
                    len(prepared.words), int(cfg.sg), cfg.window, cfg.negative, cfg.alpha, cfg.min_alpha,
                    total, progress, seed & (2**64 - 1), int(cfg.compute_loss), out)
                if rc != 0:
                    raise MemoryError("word2vec kernel could not allocate its buffers")
                with lock:
                    loss_sum[epoch] += out[0]
                    step_sum[epoch] += out[1]
        except BaseException as exc:  # surfaced in the main thread
            errors.append(exc)

    def _report_progress() -> None:
        done = int(progress[0])
        epoch = min(done * cfg.epochs // max(total, 1), cfg.epochs - 1)
        with lock:  # the newest epoch with finished chunks
            seen = [e for e in range(epoch + 1) if step_sum[e]]
            loss = loss_sum[seen[-1]] / step_sum[seen[-1]] if seen else float("nan")
        report({"epoch": epoch + 1, "done": done / total, "loss": float(loss),
                "words_per_sec": done * prepared.raw_words / len(ids) / (time.perf_counter() - start),
                "alpha": max(cfg.min_alpha, cfg.alpha - (cfg.alpha - cfg.min_alpha) * done / total)})

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(cfg.threads)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        while t.is_alive():
            t.join(timeout=1.0)
            if t.is_alive():
                _report_progress()
    _report_progress()  # the final figures, also for runs shorter than a second
    if errors:
        raise errors[0]
    return [float(ls / st) if st else float("nan") for ls, st in zip(loss_sum, step_sum)]

# ----------------------------------------------------------------------------- the torch trainer

__all__ = ["Word2Vec", "Word2VecConfig", "TrainStats", "prepare_corpus", "keep_probabilities",
           "noise_distribution", "alias_table", "iter_sentences"]
