"""``seqkit w2v``: train word2vec, evaluate vectors, query nearest neighbours.

    seqkit w2v train CORPUS -o OUT.bin --dim 100 --window 5 --negative 5 --min-freq 5 --sample 1e-4 \\
        --epochs 5
    seqkit w2v eval VECTORS                     # analogies (questions-words) + wordsim353
    seqkit w2v similar VECTORS WORD [-n 10]

OUT ending in ``.bin`` is word2vec binary, ``.txt``/``.vec`` word2vec text (both readable by gensim's
``load_word2vec_format``), ``.safetensors`` seqkit's own format. VECTORS may be any of these, a GloVe
file, or a named set (``glove.6B.100d``).
"""

from __future__ import annotations

from pathlib import Path

import click

from seqkit.cli.params import OUTPUT
from seqkit.errors import SeqkitError

#: output extension -> what is written
_WRITERS = {".bin": "word2vec binary", ".txt": "word2vec text", ".vec": "word2vec text",
            ".safetensors": "safetensors + vocab JSON", ".kv": "gensim KeyedVectors (for gensim's load)"}


def vector_format(out: Path) -> str:
    """What ``out``'s extension writes; an unknown one is refused before any training."""
    suffix = out.suffix.lower()
    if suffix not in _WRITERS:
        raise SeqkitError(f"unknown output extension {suffix!r}", path=out,
                          fix="use .bin (word2vec binary), .txt (word2vec text), .safetensors or .kv (gensim)")
    return _WRITERS[suffix]


def save_vectors(kv, out: Path) -> str:
    """Write by extension; returns the format written."""
    written = vector_format(out)
    if out.suffix.lower() in (".safetensors", ".kv"):
        kv.save(out)
    else:
        kv.save_word2vec_format(out, binary=written == "word2vec binary")
    return written


def open_vectors(spec: str):
    """Vectors from a path or a named set; ``.safetensors`` is seqkit's own format."""
    from seqkit.embeddings.keyedvectors import KeyedVectors
    from seqkit.embeddings.vectors import load_vectors

    if spec.endswith(".safetensors"):
        return KeyedVectors.load(spec)
    kv = load_vectors(spec)
    report = getattr(kv, "load_report", None)
    if report is not None and (report.duplicates or report.malformed or report.wrong_dim):
        click.echo(f"note: {report}", err=True)  # what was skipped, and why, is never silent
    return kv


@click.group()
def w2v() -> None:
    """Train, evaluate and query word2vec vectors."""


@w2v.command()
@click.argument("corpus", type=click.Path(path_type=Path))
@click.option("-o", "--output", "out", required=True, type=OUTPUT,
              help="vectors to write: .bin, .txt or .safetensors")
@click.option("--dim", "--vector-size", "--size", "dim", default=100, show_default=True,
              help="vector size (gensim's vector_size, word2vec.c's -size)")
@click.option("--window", default=5, show_default=True)
@click.option("--negative", default=5, show_default=True)
@click.option("--min-freq", "--min-count", "min_freq", default=5, show_default=True,
              help="drop rarer words (gensim's and word2vec.c's min-count)")
@click.option("--max-vocab", "--max-final-vocab", "max_vocab", default=None, type=int,
              help="keep only the most frequent words (gensim's max_final_vocab)")
@click.option("--sample", default=1e-3, show_default=True, help="subsampling threshold (0: off)")
@click.option("--epochs", "--iter", "epochs", default=5, show_default=True, help="passes over the corpus "
              "(word2vec.c's -iter)")
@click.option("--alpha", default=0.025, show_default=True, help="initial learning rate")
@click.option("--cbow", is_flag=True, help="CBOW instead of skip-gram")
@click.option("--threads", "--workers", "threads", type=click.IntRange(min=1), default=None,
              help="worker threads (gensim's workers) [default: the cores not busy with other work]")
@click.option("--seed", default=1, show_default=True)
@click.option("--backend", type=click.Choice(["auto", "kernel", "torch"]), default="auto", show_default=True)
@click.option("--device", default="auto", show_default=True, help="torch backend: auto, cpu, cuda")
@click.option("--optimizer", type=click.Choice(["sgd", "adam"]), default="sgd", show_default=True,
              help="adam: d2l's recipe (torch backend; --alpha is Adam's constant lr, e.g. 0.002)")
@click.option("--batch-size", default=None, type=int, help="torch backend: pairs per minibatch "
              "(default 1024 on CPU, 65536 on CUDA)")
@click.option("--save-model", type=OUTPUT, default=None,
              help="also write the whole model (both matrices, counts, settings) to continue it later")
@click.option("--continue-from", "continue_from", type=click.Path(dir_okay=False), default=None,
              help="continue a model written by --save-model on CORPUS (new words join the vocabulary); "
                   "its settings apply, except --epochs, --alpha, --threads and --seed")
def train(corpus: Path, out: Path, dim, window, negative, min_freq, max_vocab, sample, epochs, alpha,
          cbow, threads, seed, backend, device, optimizer, batch_size, save_model, continue_from) -> None:
    """Train skip-gram (or CBOW) with negative sampling on CORPUS (one sentence per line)."""
    from seqkit.embeddings.word2vec import Word2Vec
    out = Path(out)
    vector_format(out)  # a bad extension is refused now, not after training
    if save_model and not str(save_model).endswith(".safetensors"):
        raise SeqkitError("the model file must end in .safetensors", path=save_model,
                          fix="e.g. --save-model model.safetensors")

    import sys

    terminal = sys.stderr.isatty()
    shown = {"epoch": None}

    def progress(info: dict) -> None:
        line = (f"epoch {info['epoch']}/{epochs}  {100 * info['done']:5.1f}%  "
                f"{info['words_per_sec'] / 1000:7.1f}k words/s  loss {info['loss']:.4f}  lr {info['alpha']:.5f}")
        if terminal:  # one line redrawn in place
            click.echo("\r" + line, nl=False, err=True)
        elif info["epoch"] != shown["epoch"]:  # a log file or a pipe: plain lines, one per epoch
            shown["epoch"] = info["epoch"]
            click.echo(line, err=True)

    if continue_from:
        model = Word2Vec.load(continue_from, epochs=epochs, alpha=alpha, threads=threads, seed=seed)
        model.progress = progress
        before = len(model.wv)
        model.train(corpus, update=True)
        click.echo(f"{chr(10) if terminal else ''}continued {continue_from}: {before} words before, "
                   f"{len(model.wv)} now", err=True)
        dim = model.config.dim
    else:
        model = Word2Vec(corpus, dim=dim, window=window, negative=negative, min_freq=min_freq,
                         max_vocab=max_vocab, sample=sample, epochs=epochs, alpha=alpha, sg=not cbow,
                         threads=threads, seed=seed, backend=backend, device=device, optimizer=optimizer,
                         batch_size=batch_size, progress=progress)
    if terminal:
        click.echo("", err=True)  # end the redrawn line
    if save_model:
        model.save(save_model)
    stats = model.stats
    written = save_vectors(model.wv, out)
    click.echo(f"{len(model.wv)} words x {dim}: {stats.words:,} words in {stats.seconds:.1f} s "
               f"({stats.words_per_sec / 1000:.1f}k words/s, {stats.backend}); loss per epoch "
               + " ".join(f"{x:.4f}" for x in stats.epoch_loss) + f"; wrote {out} ({written})")


@w2v.command("eval")
@click.argument("vectors")
@click.option("--analogies", default=None, help="analogy file (default: gensim's questions-words.txt)")
@click.option("--pairs", default=None, help="word-pair file (default: gensim's wordsim353.tsv)")
@click.option("--restrict-vocab", default=30000, show_default=True, type=click.IntRange(min=1))
def evaluate(vectors: str, analogies, pairs, restrict_vocab: int) -> None:
    """Analogy accuracy and word-pair correlations of VECTORS, scored as gensim scores them."""
    from gensim.test.utils import datapath

    kv = open_vectors(vectors)
    analogies = analogies or datapath("questions-words.txt")
    pairs = pairs or datapath("wordsim353.tsv")
    score, sections = kv.evaluate_word_analogies(analogies, restrict_vocab=restrict_vocab)
    total = sections[-1]
    n = len(total["correct"]) + len(total["incorrect"])
    click.echo(f"analogies: {100 * score:.2f}% ({len(total['correct'])}/{n}, restrict_vocab={restrict_vocab}) "
               f"[{Path(analogies).name}]")
    (pearson, _), (spearman, _), oov = kv.evaluate_word_pairs(pairs, restrict_vocab=restrict_vocab)
    click.echo(f"word pairs: spearman {spearman:.4f}  pearson {pearson:.4f}  oov {oov:.1f}% [{Path(pairs).name}]")


@w2v.command()
@click.argument("vectors")
@click.argument("words", nargs=-1)
@click.option("--positive", "-p", multiple=True, help="a word to add (repeatable; WORDS are positive too)")
@click.option("--negative", multiple=True, help="a word to subtract (repeatable): king woman --negative man")
@click.option("--cosmul", is_flag=True, help="3CosMul (Levy & Goldberg 2014) instead of 3CosAdd, as "
              "gensim's most_similar_cosmul")
@click.option("-n", "--topn", default=10, show_default=True, type=click.IntRange(min=1))
@click.option("--restrict-vocab", type=click.IntRange(min=1), default=None,
              help="search only the first N (most frequent) words")
def similar(vectors: str, words: tuple[str, ...], positive, negative, cosmul: bool, topn: int,
            restrict_vocab) -> None:
    """The TOPN nearest words to WORDS (plus --positive, minus --negative) by cosine similarity, as
    gensim's most_similar."""
    positive = [*words, *positive]
    if not positive and not negative:
        raise SeqkitError("no query words", fix="give a word, e.g. seqkit w2v similar vectors.bin king")
    kv = open_vectors(vectors)
    for word in (*positive, *negative):
        if word not in kv:
            raise SeqkitError(f"{word!r} is not in the vocabulary ({len(kv)} words)", path=vectors,
                              fix="check the spelling and case")
    query = kv.most_similar_cosmul if cosmul else kv.most_similar
    for key, sim in query(positive=positive, negative=list(negative), topn=topn, restrict_vocab=restrict_vocab):
        click.echo(f"{sim:.4f}\t{key}")
