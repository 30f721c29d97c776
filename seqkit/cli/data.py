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
@click.option("--src", "src", multiple=True, metavar="FILE",
              help="source sentences, one a line (.gz ok); repeat it or give a quoted glob for shards")
@click.option("--tgt", "tgt", multiple=True, metavar="FILE", help="target sentences: one file per --src, line-aligned")
@click.option("--hub", default=None, metavar="NAME",
              help="instead of files: a datasets corpus read with streaming=True (hub name, or a local "
                   "JSON/CSV/Parquet file)")
@click.option("--langs", default=None, metavar="SRC-TGT",
              help="the language pair, e.g. de-en (needed with --hub; with files, recorded in OUT/meta.json "
                   "[default: what the file names say, train.de/train.en -> de-en])")
@click.option("--config", default=None, help="with --hub: the datasets config")
@click.option("--split", default="train", show_default=True, help="with --hub: the split")
@click.option("--limit", type=click.IntRange(min=1), default=None, help="use only the first N pairs")
@click.option("--pretokenize", "pretokenize", multiple=True, metavar="SIDE=HOW",
              help="cut a Chinese side into words first: src=jieba, tgt=char ... (repeat for both sides)")
@click.option("--spm", "spm_model", type=click.Path(dir_okay=False), default=None,
              help="sentencepiece .model to tokenize with [default: train one on a sample, saved in OUT]")
@click.option("--vocab-size", type=click.IntRange(min=8), default=None,
              help=f"without --spm: joint pieces [default: {32_000:,}]")
@click.option("--model-type", type=click.Choice(["unigram", "bpe", "char", "word"]), default=None,
              help="without --spm: sentencepiece model type [default: unigram]")
@click.option("--character-coverage", type=click.FloatRange(0.9, 1.0), default=None,
              help="without --spm: share of characters kept [default: auto: 0.9995 when a side is cut as Chinese "
                   "(--pretokenize), else 1.0; a vocabulary too small for the characters kept is raised]")
@click.option("--input-sentence-size", type=click.IntRange(min=0), default=None,
              help=f"without --spm: sentences to train on, half from each side of a uniform sample "
                   f"(0: all) [default: {2_000_000:,}]")
@click.option("--seed", type=int, default=None, help="without --spm: the sample's seed [default: 0]")
@click.option("-o", "--out", "out", required=True, type=click.Path(file_okay=False),
              help="a new (or empty) folder to write, whole; or one this command wrote before")
@click.option("--force", is_flag=True,
              help="replace the prepared corpus in OUT when its inputs or options differ (only ever a folder "
                   "seqkit data prepare wrote)")
@click.option("--workers", type=click.IntRange(min=1), default=None,
              help="encoding processes [default: the cores not busy with other work]")
@click.option("--chunk-lines", type=click.IntRange(min=1), default=20_000, show_default=True,
              help="pairs per unit of work")
def prepare_cmd(src: tuple[str, ...], tgt: tuple[str, ...], hub: str | None, langs: str | None, config: str | None,
                split: str, limit: int | None, pretokenize: tuple[str, ...], spm_model: str | None, out: str,
                workers: int | None, chunk_lines: int, force: bool, **spm_options) -> None:
    """Tokenize a parallel corpus once into OUT: flat ids (uint16/uint32) + offsets, read by training a batch at a time.

    Shards (several --src/--tgt, or globs, in sorted order) go into one corpus with one vocabulary.
    Without --spm a joint sentencepiece model is trained on a sample first (OUT/spm.model), by the
    trainer the NMT recipes use (seqkit.data.joint_spm).
    Re-running with unchanged files, model and options returns at once (the folder is re-used); other
    inputs or options replace the earlier corpus only with --force. A folder of other files, a run
    directory or a folder inside one, and the current folder are refused before any work.

    \b
      seqkit data prepare --src train.de --tgt train.en --spm spm.model -o prep
      seqkit data prepare --src 'shards/*.de.gz' --tgt 'shards/*.en.gz' --vocab-size 32000 -o prep
      seqkit data prepare --hub wmt14 --config de-en --langs de-en -o prep
      seqkit data prepare --src train.zh --tgt train.en --pretokenize src=jieba -o prep
    """
    import time

    from seqkit.data.prepared import OUTPUT_KIND, prepare_stream
    from seqkit.data.stream import ParallelStream
    from seqkit.errors import SeqkitError
    from seqkit.outputs import check_output_folder
    from seqkit.text import SentencePieceTokenizer
    from seqkit.threads import choose_threads

    check_output_folder(out, OUTPUT_KIND, replace=True)  # an earlier corpus: re-used, or replaced with --force
    if hub:
        if src or tgt:
            raise SeqkitError("give either --hub or --src/--tgt files, not both", fix="drop one of them")
        pair = (langs or "").split("-")
        if len(pair) != 2 or not all(pair):
            raise SeqkitError(f"--langs {langs!r}: --hub needs the language pair", fix="e.g. --langs de-en")
        stream = ParallelStream.hub(hub, src=pair[0], tgt=pair[1], config=config, split=split, limit=limit)
    else:
        if not src or not tgt:
            raise SeqkitError("no corpus given", fix="give --src FILE --tgt FILE (or --hub NAME --langs SRC-TGT)")
        stream = ParallelStream.files(list(src), list(tgt), limit=limit)
        if langs:
            pair = langs.split("-")
            if len(pair) != 2 or not all(pair):
                raise SeqkitError(f"--langs {langs!r}", fix="give SRC-TGT, e.g. --langs de-en")
            stream.langs = (pair[0], pair[1])
    spm_options = {k: v for k, v in spm_options.items() if v is not None}
    if spm_model and spm_options:
        raise SeqkitError(f"--{next(iter(spm_options)).replace('_', '-')} trains a model, but --spm gives one",
                          fix="drop --spm to train one, or drop the training options")
    cuts = dict(item.partition("=")[::2] for item in pretokenize)
    if any(not side or not how for side, how in cuts.items()) or len(cuts) != len(pretokenize):
        raise SeqkitError(f"--pretokenize {' '.join(pretokenize)}", fix="give SIDE=HOW once per side, e.g. src=jieba")
    tok = SentencePieceTokenizer.load(spm_model, num_threads=1) if spm_model else None
    workers = workers or choose_threads(None).threads
    start = time.perf_counter()
    corpus = prepare_stream(stream, tok, out, spm=spm_options, pretokenize=cuts, workers=workers,
                            chunk_lines=chunk_lines, replace=force)
    m = corpus.meta
    click.echo(f"{out}: {m['pairs']:,} pairs, {m['src_tokens']:,} + {m['tgt_tokens']:,} pieces ({m['dtype']}, "
               f"vocabulary {m['vocab_size']:,}), {corpus.disk_bytes() / 1e6:.1f} MB, "
               f"{time.perf_counter() - start:.1f} s")
