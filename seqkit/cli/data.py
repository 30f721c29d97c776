"""``seqkit data``: list the named corpora and fetch them (download + verify, or find local copies)."""

from __future__ import annotations

import click


@click.group()
def data() -> None:
    """List and fetch named corpora (SEQKIT_DATA: local copies; SEQKIT_CACHE: downloads)."""


@data.command("ls")
def ls() -> None:
    """Print each corpus: name, kind, languages, where it would be read from, and what it is."""
    from seqkit.data.download import cache_dir
    from seqkit.data.registry import CORPORA, HUB_CORPORA, data_dir, status

    rows = [(name, info.kind, "/".join(info.languages), status(name), info.description)
            for name, info in sorted(CORPORA.items())]
    rows += [(f"hf:{name}", "parallel", "", "hub", desc) for name, (_, _, desc) in sorted(HUB_CORPORA.items())]
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    for row in rows:
        click.echo("  ".join(cell.ljust(w) for cell, w in zip(row[:4], widths)) + "  " + row[4])
    click.echo(f"\nSEQKIT_DATA={data_dir() or '(unset)'}  SEQKIT_CACHE={cache_dir()}")


@data.command("get")
@click.argument("name")
@click.option("--src", default=None, help="source language (parallel corpora)")
@click.option("--tgt", default=None, help="target language (parallel corpora)")
@click.option("--config", default=None, help="hub dataset config (hf:NAME only)")
def get(name: str, src: str | None, tgt: str | None, config: str | None) -> None:
    """Make corpus or vector set NAME available locally (verified download into the cache if needed) and summarize it."""
    from seqkit.data.corpus import LMCorpus, load
    from seqkit.data.registry import CORPORA, fetch

    if name in CORPORA:
        for key in CORPORA[name].files:
            path = fetch(name, key)
            click.echo(f"{key}\t{path}")
        if CORPORA[name].kind == "vectors":
            return
    corpus = load(name, src=src, tgt=tgt, config=config)
    if isinstance(corpus, LMCorpus):
        click.echo(f"{name}: train {len(corpus.train)}, valid {len(corpus.valid)}, test {len(corpus.test)} lines")
    else:
        click.echo(f"{name} {corpus.src_lang}->{corpus.tgt_lang}: train {len(corpus.train)}, "
                   f"valid {len(corpus.valid)}, test {len(corpus.test)} pairs")
