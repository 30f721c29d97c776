"""The ``word2vec`` recipe's stages.

=================  ===============================================================================
``w2v.train``      trains word2vec on ``corpus.path`` (default: gensim's ``lee_background.cor``) with
                   the ``word2vec`` section -> ``vectors.bin`` (word2vec binary, gensim-readable),
                   ``vectors.safetensors`` + ``vectors.safetensors.vocab.json``, ``train.json``
``w2v.evaluate``   analogy accuracy and word-pair correlations (gensim's scoring) and the nearest
                   neighbours of ``eval.similar`` -> ``scores.json``
=================  ===============================================================================
"""

from __future__ import annotations

from seqkit.embeddings.keyedvectors import KeyedVectors
from seqkit.errors import SeqkitError
from seqkit.io import save_json
from seqkit.recipes.pipeline import Run, stage
from seqkit.settings import problems


def check(cfg: dict) -> list[str]:
    """Every bad value of a ``word2vec`` config, one line each."""
    from seqkit.embeddings.word2vec import Word2VecConfig

    found = problems(Word2VecConfig, cfg.get("word2vec"), "word2vec")
    restrict = (cfg.get("eval") or {}).get("restrict_vocab")
    if restrict is not None and restrict < 1:
        found.append(f"eval.restrict_vocab: must be >= 1, got {restrict}")
    return found


def _corpus_path(run: Run) -> str:
    path = run.cfg.corpus.path
    if path is None:
        from gensim.test.utils import datapath

        return datapath("lee_background.cor")
    return str(path)


@stage("w2v.train", uses=("corpus", "word2vec"), check=check)
def train_stage(run: Run) -> dict:
    """Train word2vec on corpus.path; write vectors.bin and vectors.safetensors."""
    from seqkit.embeddings.word2vec import Word2Vec

    corpus = run.input(_corpus_path(run))
    options = {k: v for k, v in run.cfg.word2vec.items() if v is not None}
    options["seed"] = int(run.cfg.seed if run.cfg.get("seed") is not None else 1)
    options["threads"] = run.cfg.get("threads")  # None: Word2Vec picks for its backend (seqkit.threads)
    if run.cfg.get("device"):
        options.setdefault("device", str(run.cfg.device))
    last = [0.0]

    def progress(info: dict) -> None:
        if info["done"] - last[0] >= 0.1:  # a line every 10%
            last[0] = info["done"]
            run.log(f"epoch {info['epoch']} {100 * info['done']:.0f}%: "
                    f"{info['words_per_sec'] / 1000:.1f}k words/s, loss {info['loss']:.4f}")

    model = Word2Vec(corpus, progress=progress, **options)
    model.wv.save_word2vec_format(run.path("vectors.bin"), binary=True)
    model.wv.save(run.path("vectors.safetensors"))
    stats = model.stats
    result = {"words": len(model.wv), "dim": model.wv.vector_size, "corpus": str(corpus),
              "seconds": round(stats.seconds, 2), "words_per_sec": round(stats.words_per_sec),
              "epoch_loss": [round(x, 5) for x in stats.epoch_loss], "backend": stats.backend}
    save_json(run.path("train.json"), result)
    run.log_metrics({"words_per_sec": result["words_per_sec"], "loss": result["epoch_loss"][-1]})
    run.log(f"{result['words']} words x {result['dim']} in {result['seconds']} s "
            f"({result['words_per_sec']:,} words/s, {stats.backend}) -> vectors.bin")
    return result


@stage("w2v.evaluate", uses=("eval",), check=check)
def evaluate_stage(run: Run) -> dict:
    """Analogies, word-pair correlation and nearest neighbours of the trained vectors."""
    from gensim.test.utils import datapath

    kv = KeyedVectors.load(run.path("vectors.safetensors"))
    cfg = run.cfg.eval
    analogies = str(run.input(cfg.analogies or datapath("questions-words.txt")))
    pairs = str(run.input(cfg.pairs or datapath("wordsim353.tsv")))
    score, sections = kv.evaluate_word_analogies(analogies, restrict_vocab=int(cfg.restrict_vocab))
    answered = len(sections[-1]["correct"]) + len(sections[-1]["incorrect"])
    (pearson, _), (spearman, _), oov = kv.evaluate_word_pairs(pairs, restrict_vocab=int(cfg.restrict_vocab))
    neighbours = {}
    for word in cfg.similar or []:
        if word not in kv:
            raise SeqkitError(f"eval.similar word {word!r} is not in the trained vocabulary",
                              fix="choose a word from the corpus, or lower word2vec.min_freq")
        neighbours[word] = [k for k, _ in kv.most_similar(word, topn=5)]
    result = {"analogy_accuracy": score, "analogies_answered": answered, "spearman": spearman,
              "pearson": pearson, "pairs_oov_percent": oov, "neighbours": neighbours}
    save_json(run.path("scores.json"), result)
    run.log_metrics({k: result[k] for k in ("analogy_accuracy", "spearman", "pearson")})
    run.log(f"analogies {100 * score:.2f}% of {answered}; wordsim spearman {spearman:.4f} "
            f"(oov {oov:.1f}%)")
    for word, near in neighbours.items():
        run.log(f"{word}: {', '.join(near)}")
    return result
