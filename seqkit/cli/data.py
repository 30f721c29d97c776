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


@data.command("prepare")
@click.option("--src", "src", required=True, type=click.Path(dir_okay=False), help="source sentences, one a line (.gz ok)")
@click.option("--tgt", "tgt", required=True, type=click.Path(dir_okay=False), help="target sentences, line-aligned")
@click.option("--spm", "spm_model", required=True, type=click.Path(dir_okay=False), help="sentencepiece .model file")
@click.option("-o", "--out", "out", required=True, type=click.Path(file_okay=False), help="folder to write")
@click.option("--workers", type=click.IntRange(min=1), default=None,
              help="encoding processes [default: the cores not busy with other work]")
@click.option("--chunk-lines", type=click.IntRange(min=1), default=20_000, show_default=True,
              help="pairs per unit of work")
def prepare_cmd(src: str, tgt: str, spm_model: str, out: str, workers: int | None, chunk_lines: int) -> None:
    """Tokenize a parallel corpus once into OUT: flat ids (uint16/uint32) + offsets, memory-mapped by training.

    Re-running with unchanged inputs and model returns at once (the folder is re-used).
    """
    import time

    from seqkit.data.prepared import prepare_files
    from seqkit.text import SentencePieceTokenizer
    from seqkit.threads import choose_threads

    tok = SentencePieceTokenizer.load(spm_model, num_threads=1)
    workers = workers or choose_threads(None).threads
    start = time.perf_counter()
    corpus = prepare_files(src, tgt, tok, out, workers=workers, chunk_lines=chunk_lines)
    m = corpus.meta
    click.echo(f"{out}: {m['pairs']:,} pairs, {m['src_tokens']:,} + {m['tgt_tokens']:,} pieces ({m['dtype']}), "
               f"{corpus.disk_bytes() / 1e6:.1f} MB, {time.perf_counter() - start:.1f} s")
