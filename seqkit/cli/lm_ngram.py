"""``seqkit lm ngram``: train an n-gram model to ARPA, score text with one, sample from one.

::

    seqkit lm ngram train --order 5 --smoothing mkn train.txt -o model.arpa
    seqkit lm ngram train --order 3 --prune 0 1 - -o - < train.txt > model.arpa   # stdin/stdout, pruned
    seqkit lm ngram ppl model.arpa test.txt            # perplexity: 141.19   OOVs: 0 ...
    seqkit lm ngram ppl model.arpa < test.txt          # text from stdin
    seqkit lm ngram sample model.arpa --prefix "the company" --seed 1
    seqkit lm ngram stats train.txt --zipf zipf.png    # d2l's top n-grams and Zipf plot
"""

from __future__ import annotations

import time

import click

from seqkit.cli.params import OUTPUT, spaced_command, threads_option
from seqkit.io import iter_input, iter_lines
from seqkit.lm.ngram.smoothing import SMOOTHERS


@click.group()
def ngram() -> None:
    """n-gram language models (KenLM-compatible ARPA files)."""


@ngram.command(cls=spaced_command(**{"--prune": str.isdigit}))
@click.argument("train_file", type=click.Path(dir_okay=False))
@click.option("-o", "--output", "--arpa", "output", required=True, type=OUTPUT,
              help="model to write: ARPA (- for stdout), or safetensors for a *.safetensors name (reloads much faster)")
@click.option("--order", default=3, show_default=True, type=click.IntRange(min=1), help="N of the n-grams")
@click.option("--smoothing", default="mkn", show_default=True, help=f"one of: {', '.join(SMOOTHERS)}")
@click.option("--min-freq", default=1, show_default=True, type=click.IntRange(min=1), help="rarer words become <unk>")
@click.option("--vocab", "--limit_vocab_file", "vocab_file", type=click.Path(dir_okay=False),
              help="close the vocabulary to these words (lmplz's --limit_vocab_file)")
@click.option("--k", "k_add", type=float, help="add-k constant (addk; default 1)")
@click.option("--alpha", type=float, help="stupid backoff factor (default 0.4)")
@click.option("--discount-fallback", "--discount_fallback", "discount_fallback", is_flag=True,
              help="when Kneser-Ney discounts cannot be estimated, use D1=0.5 D2=1 D3+=1.5 (as KenLM)")
@click.option("--prune", default=None, metavar="N N ...",
              help="lmplz's count pruning: drop n-grams seen at most N times, one N per order from unigrams "
                   "(0 0 1: singleton trigrams and above; the last repeats)")
@threads_option(torch=False)
def train(train_file, output, order, smoothing, min_freq, vocab_file, k_add, alpha, discount_fallback, prune,
          threads) -> None:
    """Count TRAIN_FILE (one sentence per line, whitespace tokens; - for stdin) and write an ARPA model."""
    from pathlib import Path

    from seqkit.errors import SeqkitError

    if Path(output).name.isdigit():  # lmplz's habit: -o 5 is the order there
        raise SeqkitError(f"-o {output} would write a model file named {Path(output).name!r}", path=output,
                          fix=f"-o is the output file here; for the order use --order {Path(output).name} -o model.arpa")
    from seqkit.lm.ngram import NGramLM

    start = time.perf_counter()
    lm = NGramLM.train(list(iter_input(train_file)), order=order, smoothing=smoothing, min_freq=min_freq,
                       vocab=vocab_file, k=k_add, alpha=alpha, discount_fallback=discount_fallback,
                       prune=_thresholds(prune), source=train_file)
    built = time.perf_counter()
    lm.save(output)
    done = time.perf_counter()
    counts = " ".join(f"{k}:{n}" for k, n in enumerate(lm.counts, 1))
    click.echo(f"{smoothing} order {order}: {lm.info['tokens']} tokens, vocab {len(lm.vocab)}, n-grams {counts}", err=True)
    for k, d in enumerate(lm.info.get("discounts") or [], 1):
        click.echo(f"  {k}-gram discounts D1={d[0]:.6g} D2={d[1]:.6g} D3+={d[2]:.6g}", err=True)
    click.echo(f"built in {built - start:.2f} s, wrote {output} in {done - built:.2f} s", err=True)


def _thresholds(value: str | None) -> list[int] | None:
    from seqkit.errors import SeqkitError

    if value is None:
        return None
    parts = value.replace(",", " ").split()
    if not parts or not all(p.isdigit() for p in parts):
        raise SeqkitError(f"--prune {value}: expected counts such as 0 0 1", fix="give one count per order")
    return [int(p) for p in parts]


@ngram.command()
@click.argument("model", type=click.Path(dir_okay=False))
@click.argument("text_file", type=click.Path(dir_okay=False), default="-")
@click.option("--per-sentence", is_flag=True, help="also print each sentence's log10 p and perplexity")
@click.option("--per-token", is_flag=True, help="also print every token's log10 p (KenLM full_scores)")
@threads_option(torch=False)
def ppl(model, text_file, per_sentence, per_token, threads) -> None:
    """Perplexity of MODEL (ARPA or .safetensors) on TEXT_FILE (default -: stdin); unknown words score
    as <unk>. An ARPA file's first load leaves a binary copy in the cache folder; later loads read it."""
    import numpy as np

    from seqkit.lm.ngram import NGramLM

    start = time.perf_counter()
    lm = NGramLM.load(model)
    loaded = time.perf_counter()
    lines = list(iter_input(text_file))
    start_scoring = time.perf_counter()
    scores = lm.score_corpus(lines, threads=threads)
    took = time.perf_counter() - start_scoring
    if per_token or per_sentence:
        sent_lp = scores.sentence_log10()
        sent_ppl = scores.sentence_perplexities()
        bounds = [0, *np.cumsum(np.bincount(scores.sentence, minlength=scores.n_sentences)).tolist()]
        for i, line in enumerate(lines):
            if per_token:
                words = [*line.split(), "</s>"]
                for j, w in zip(range(bounds[i], bounds[i + 1]), words):
                    mark = " OOV" if scores.oov[j] else ""
                    click.echo(f"{w}\t{scores.log10[j]:.6f}\t{scores.ngram_length[j]}{mark}")
            if per_sentence:
                click.echo(f"sentence {i + 1}\tlog10 {sent_lp[i]:.4f}\tperplexity {sent_ppl[i]:.4f}")
    click.echo(f"perplexity: {scores.perplexity():.4f}")
    click.echo(f"perplexity excluding OOVs: {scores.perplexity(include_oov=False):.4f}")
    click.echo(f"OOVs: {scores.n_oov}")
    click.echo(f"tokens: {scores.n_tokens} (words and </s>), sentences: {scores.n_sentences}, "
               f"log10 p: {scores.total_log10:.4f}")
    click.echo(f"loaded in {loaded - start:.2f} s, scored in {took:.3f} s "
               f"({scores.n_tokens / max(took, 1e-9):,.0f} tokens/s)", err=True)


@ngram.command()
@click.argument("model", type=click.Path(dir_okay=False))
@click.option("--prefix", default="", help="words to continue (the sentence start)")
@click.option("-n", "--num", default=1, show_default=True, type=click.IntRange(min=0), help="how many samples")
@click.option("--max-tokens", default=50, show_default=True, type=click.IntRange(min=1))
@click.option("--seed", default=0, show_default=True, type=int)
@click.option("--temperature", default=1.0, show_default=True, type=click.FloatRange(min=0),
              help="0: greedy")
@click.option("--no-unk", is_flag=True, help="never sample <unk>")
@threads_option(torch=False)
def sample(model, prefix, num, max_tokens, seed, temperature, no_unk, threads) -> None:
    """Sample continuations of --prefix from MODEL (ARPA or .safetensors)."""
    from seqkit.lm.ngram import NGramLM

    lm = NGramLM.load(model)
    for i in range(num):
        words = lm.sample(prefix, max_tokens=max_tokens, seed=seed + i, temperature=temperature,
                          allow_unk=not no_unk)
        click.echo(" ".join([*prefix.split(), *words]))


@ngram.command()
@click.argument("text_file", type=click.Path(dir_okay=False))
@click.option("--top", default=10, show_default=True, type=click.IntRange(min=1))
@click.option("--zipf", "zipf_png", type=OUTPUT, help="write the Zipf log-log plot here")
def stats(text_file, top, zipf_png) -> None:
    """d2l's n-gram statistics of TEXT_FILE: the most frequent uni-, bi- and trigrams."""
    from seqkit.lm.ngram.stats import top_ngrams, zipf_plot

    lines = list(iter_lines(text_file))
    tables = top_ngrams(lines, orders=(1, 2, 3), top=top)
    for k, rows in tables.items():
        click.echo(f"top {k}-grams:")
        for gram, count in rows:
            click.echo(f"  {count}\t{' '.join(gram)}")
    if zipf_png:
        zipf_plot(lines, zipf_png)
        click.echo(f"wrote {zipf_png}", err=True)
