"""Stages of the ``lm_ngram`` recipe: train an ARPA model, evaluate perplexity, sample, d2l statistics.

Files in the run directory: ``model.arpa``, ``valid.txt`` / ``test.txt`` (the tokenized held-out
lines the evaluation reads), ``samples.txt``, ``top_ngrams.json``, ``zipf.png``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from seqkit.io import save_json, write_text_atomic
from seqkit.recipes.pipeline import Run, stage
from seqkit.settings import from_dict, problems, setting

MODEL_FILE = "model.arpa"


@dataclass
class DataSettings:
    """The recipe's ``data:`` section."""

    name: str = "timemachine"
    config: str | None = None  # a datasets config name (hf:NAME)
    files: dict | list | str | None = None  # datasets data_files (hf:csv, hf:json, hf:text)
    tokenizer: str | None = None
    heldout_fraction: float = setting(0.1, ge=0, lt=1)


@dataclass
class SampleSettings:
    """The recipe's ``sample:`` section (``seqkit.sampling``'s convention: temperature 0 is greedy)."""

    prefix: str | None = ""
    num: int = setting(3, ge=0)
    max_tokens: int = setting(30, ge=1)
    temperature: float = setting(1.0, ge=0)


@dataclass
class StatsSettings:
    """The recipe's ``stats:`` section."""

    top: int = setting(10, ge=1)


def check(cfg: dict) -> list[str]:
    """Every bad value of an ``lm_ngram`` config, one line each."""
    from seqkit.lm.ngram.model import NGramConfig

    sections = (("data", DataSettings), ("model", NGramConfig), ("sample", SampleSettings),
                ("stats", StatsSettings))
    return [p for name, cls in sections for p in problems(cls, cfg.get(name), name)]


def load_lines(name: str, options: dict | None = None) -> tuple[list[str], list[str], list[str]]:
    """(train, valid, test) raw lines of a registered corpus, a local file/folder, or ``gensim:FILE``
    (a text file bundled with gensim, e.g. ``gensim:lee_background.cor``, always offline)."""
    if name.startswith("gensim:"):
        from gensim.test.utils import datapath

        from seqkit.io import read_lines

        return read_lines(datapath(name[len("gensim:"):])), [], []
    import seqkit.data as skdata

    corpus = skdata.load(name, **(options or {}))
    return list(corpus.train), list(corpus.valid), list(corpus.test)


def tokenize(lines: list[str], tokenizer: str | None, name: str) -> list[str]:
    """Lines as space-joined tokens, blank ones dropped. ``None``: d2l's time-machine cleanup (letters,
    lower case) for the time machine, whitespace tokens otherwise."""
    if tokenizer is None and name == "timemachine":
        tokenizer = "timemachine"
    if tokenizer in (None, "whitespace"):
        out = [" ".join(line.split()) for line in lines]
    else:
        from seqkit.text import get_tokenizer

        tok = get_tokenizer("timemachine", level="word") if tokenizer == "timemachine" else get_tokenizer(tokenizer)
        out = [" ".join(tok.encode(line)) for line in lines]
    return [line for line in out if line]


def _split(train: list[str], valid: list[str], test: list[str], fraction: float):
    """Hold out the last ``fraction`` of train as test, and the part before it as valid, if missing."""
    n = int(len(train) * fraction)
    if not test and n:
        train, test = train[:-n], train[-n:]
    if not valid and n:
        train, valid = train[:-n], train[-n:]
    return train, valid, test


@stage("lm.ngram.train", uses=("data", "model"), check=check)
def train_stage(run: Run) -> dict:
    """Count the training text and estimate the n-gram model -> model.arpa."""
    import time

    from seqkit.lm.ngram import NGramLM
    from seqkit.lm.ngram.model import NGramConfig

    data, model = run.cfg.data, run.cfg.model
    name = str(data.name)
    from seqkit.recipes.config import corpus_options

    lines = load_lines(name, corpus_options(data, ("config",)))
    train, valid, test = (tokenize(part, data.tokenizer, name) for part in lines)
    train, valid, test = _split(train, valid, test, float(data.heldout_fraction))
    start = time.perf_counter()
    settings = from_dict(NGramConfig, run.section("model"), "model")
    lm = NGramLM.train(train, **dataclasses.asdict(settings), source=name)
    built = time.perf_counter() - start
    lm.save_arpa(run.path(MODEL_FILE))
    write_text_atomic(run.path("valid.txt"), "".join(line + "\n" for line in valid))
    write_text_atomic(run.path("test.txt"), "".join(line + "\n" for line in test))
    counts = dict(zip(range(1, lm.order + 1), lm.counts))
    run.log(f"{model.smoothing} order {lm.order} on {name}: {lm.info['tokens']} tokens, vocab {len(lm.vocab)}, "
            f"n-grams {counts}, built in {built:.2f} s")
    run.log_metrics({"build_seconds": built, "tokens": lm.info["tokens"], "vocab": len(lm.vocab)})
    return {"files": [MODEL_FILE, "valid.txt", "test.txt"], "vocab": len(lm.vocab), "ngrams": lm.counts,
            "discounts": lm.info.get("discounts"), "train_lines": len(train), "build_seconds": round(built, 3)}


@stage("lm.ngram.evaluate", uses=())
def evaluate_stage(run: Run) -> dict:
    """Perplexity (words and </s>, OOVs as <unk>) on the valid and test lines."""
    from seqkit.io import read_lines
    from seqkit.lm.ngram import NGramLM

    lm = NGramLM.load_arpa(run.path(MODEL_FILE))
    result = {}
    for split in ("valid", "test"):
        lines = read_lines(run.path(f"{split}.txt"))
        if not lines:
            continue
        scores = lm.score_corpus(lines)
        ppl = scores.perplexity()
        result[split] = {"perplexity": ppl, "oov": scores.n_oov, "tokens": scores.n_tokens}
        run.log(f"{split} perplexity {ppl:.2f} ({scores.n_tokens} tokens, {scores.n_oov} OOV)")
        run.log_metrics({f"{split}_perplexity": ppl, f"{split}_oov": scores.n_oov})
    return result


@stage("lm.ngram.sample", uses=("sample",), check=check)
def sample_stage(run: Run) -> dict:
    """Continue sample.prefix a few times -> samples.txt."""
    from seqkit.lm.ngram import NGramLM

    cfg = run.cfg.sample
    lm = NGramLM.load_arpa(run.path(MODEL_FILE))
    seed = int(run.cfg.get("seed") or 0)
    prefix = str(cfg.prefix or "")
    samples = [" ".join([*prefix.split(), *lm.sample(prefix, max_tokens=int(cfg.max_tokens), seed=seed + i,
                                                     temperature=float(cfg.temperature))])
               for i in range(int(cfg.num))]
    for s in samples:
        run.log(s)
    write_text_atomic(run.path("samples.txt"), "".join(s + "\n" for s in samples))
    return {"files": ["samples.txt"], "samples": samples}


@stage("lm.ngram.stats", uses=("data", "stats"), check=check)
def stats_stage(run: Run) -> dict:
    """d2l's statistics: the most frequent uni-, bi- and trigrams, and the Zipf plot -> zipf.png."""
    from seqkit.lm.ngram.stats import top_ngrams, zipf_plot

    name = str(run.cfg.data.name)
    from seqkit.recipes.config import corpus_options

    lines = tokenize(load_lines(name, corpus_options(run.cfg.data, ("config",)))[0], run.cfg.data.tokenizer, name)
    top = int(run.cfg.stats.top)
    tables = top_ngrams(lines, orders=(1, 2, 3), top=top)
    for k, rows in tables.items():
        run.log(f"top {k}-grams: " + ", ".join(f"{' '.join(g)} {c}" for g, c in rows))
    exponents = zipf_plot(lines, run.path("zipf.png"))
    save_json(run.path("top_ngrams.json"), {str(k): [[" ".join(g), c] for g, c in rows] for k, rows in tables.items()})
    return {"files": ["zipf.png", "top_ngrams.json"], "zipf_exponents": {str(k): v for k, v in exponents.items()}}
