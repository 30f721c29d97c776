"""``seqkit shortlist``: vocabulary shortlists (CTranslate2's vmap) learned from a run's training data."""

from __future__ import annotations

import click


@click.group()
def shortlist() -> None:
    """Vocabulary shortlists: the target pieces each source piece calls for (CTranslate2's vmap)."""


@shortlist.command()
@click.option("--run", "--model", "run_dir", required=True, type=click.Path(file_okay=False),
              help="run directory (or model folder) of a translation run")
@click.option("-o", "--output", "out", default=None, type=click.Path(dir_okay=False),
              help="the vmap file to write [default: RUN/vmap.txt]")
@click.option("--src", "src", default=None, type=click.Path(dir_okay=False),
              help="source training text [default: the run's training data]")
@click.option("--tgt", "tgt", default=None, type=click.Path(dir_okay=False),
              help="target training text, line by line with --src")
@click.option("--top-k", default=100, show_default=True, type=click.IntRange(1, 100_000),
              help="target pieces kept for each source piece")
@click.option("--frequent", default=500, show_default=True, type=click.IntRange(0, 10_000_000),
              help="the most frequent target pieces, always candidates")
@click.option("--score", default="prob", show_default=True, type=click.Choice(["prob", "dice"]),
              help="rank by p(t|s) = c(s,t)/c(s), or by Dice 2c(s,t)/(c(s)+c(t)) (sentence co-occurrence)")
@click.option("--order", default=1, show_default=True, type=click.IntRange(1, 2),
              help="1: source pieces; 2: source bigrams too")
@click.option("--min-count", default=1, show_default=True, type=click.IntRange(1, None),
              help="keep a target piece only if it co-occurs this often with the source")
@click.option("--max-pairs", default=None, type=click.IntRange(1, None),
              help="learn from the first N training pairs only [default: all]")
def build(run_dir: str, out: str | None, src: str | None, tgt: str | None, top_k: int, frequent: int, score: str,
          order: int, min_count: int, max_pairs: int | None) -> None:
    """Learn a shortlist from the training corpus by co-occurrence, and write it as a vmap file.

    \b
    Use it with:  seqkit translate --run RUN --shortlist         (RUN/vmap.txt)
                  seqkit export ct2 --run RUN --vmap RUN/vmap.txt
                  seqkit translate --engine ct2 --run RUN --shortlist

    The coverage printed is measured on the run's validation pairs (data/valid.*): the share of
    reference target pieces that are candidates of their own source sentence.

    An existing -o FILE is replaced only when it is a vocabulary map already; the default target,
    RUN/vmap.txt, is written while no recipe runs there (the run directory's lock).
    """
    import os
    from pathlib import Path

    from seqkit.errors import SeqkitError
    from seqkit.io import output_file
    from seqkit.recipes.pipeline import RunLock
    from seqkit.seq2seq.model_folder import model_dir
    from seqkit.seq2seq.shortlist import VMAP_FILE, check_replaceable_vmap, describe, shortlist_for_run

    if (src is None) != (tgt is None):
        raise SeqkitError("--src and --tgt go together", fix="give both training files, or neither")
    folder = model_dir(run_dir)
    run = Path(run_dir) if folder != Path(run_dir) else folder.parent
    default = run / VMAP_FILE
    if out is not None and os.path.realpath(out) == os.path.realpath(default):
        out = None  # -o RUN/vmap.txt is the default target
    options = dict(src=src, tgt=tgt, top_k=top_k, frequent=frequent, score=score, order=order,
                   min_count=min_count, max_pairs=max_pairs)
    if out is None:  # RUN/vmap.txt is written into the run directory: only while no run holds it
        with RunLock(run):
            check_replaceable_vmap(default)
            learned = shortlist_for_run(run_dir, **options)
            path = learned.save(default)
    else:
        path = output_file(out)
        check_replaceable_vmap(path)
        learned = shortlist_for_run(run_dir, **options)
        learned.save(path)
    click.echo(f"{path}: {describe(learned, run)}")
