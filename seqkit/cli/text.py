"""``seqkit tokenize`` and ``seqkit vocab``: parse options, call :mod:`seqkit.text`, print."""

from __future__ import annotations

import sys
from collections.abc import Iterator

import click

from seqkit.cli.params import OUTPUT, naming
from seqkit.errors import SeqkitError
from seqkit.text.registry import TOKENIZERS, get_tokenizer

_CHUNK = 10000  # lines handed to encode_batch at once (sentencepiece encodes them in parallel)


def _input_lines(files: tuple[str, ...]) -> Iterator[str]:
    from seqkit.io import iter_lines, iter_stdin_lines

    if not files:
        yield from iter_stdin_lines()
        return
    for path in files:
        empty = True
        for line in iter_lines(path):
            empty = False
            yield line
        if empty:
            raise SeqkitError("empty file", path=path, line=1, fix="give a file with text")


def _chunks(lines: Iterator[str], size: int) -> Iterator[list[str]]:
    chunk: list[str] = []
    for line in lines:
        chunk.append(line)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def build_tokenizer(name: str, model=None, jieba_mode=None, no_hmm=False, user_dict=None, level=None,
                    lang=None, lowercase=False):
    """The tokenizer the CLI options describe; an option that does not apply to ``name`` is an error."""
    given = {"--model": model, "--jieba-mode": jieba_mode, "--no-hmm": no_hmm or None,
             "--user-dict": user_dict, "--level": level, "--lang": lang, "--lowercase": lowercase or None}
    applies = {
        "spm": {"--model": "model"}, "bpe": {"--model": "model"},
        "jieba": {"--jieba-mode": "mode", "--user-dict": "user_dict"},
        "timemachine": {"--level": "level"},
        "regex": {"--lang": "lang", "--lowercase": "lowercase"},
        "whitespace": {"--lowercase": "lowercase"}, "word": {"--lowercase": "lowercase"},
        "char": {"--lowercase": "lowercase"},
    }.get(name, {})
    options = {}
    for flag, value in given.items():
        if value is None:
            continue
        if flag == "--no-hmm" and name == "jieba":
            options["hmm"] = False
        elif flag in applies:
            options[applies[flag]] = value
        else:
            raise SeqkitError(f"option {flag} does not apply to --tokenizer {name}",
                              fix="drop it or choose a tokenizer it applies to")
    return get_tokenizer(name, **options)


def _tokenizer_options(fn):
    """The options shared by ``tokenize`` and ``vocab build``."""
    options = [
        click.option("--tokenizer", "-t", "name", default="whitespace", show_default=True,
                     type=click.Choice(list(TOKENIZERS)), help="which tokenizer"),
        click.option("--model", "-m", type=click.Path(dir_okay=False),
                     help="spm: the .model file; bpe: the merges JSON"),
        click.option("--jieba-mode", type=click.Choice(["accurate", "search", "full"]),
                     help="jieba: segmentation mode [accurate]"),
        click.option("--no-hmm", is_flag=True, help="jieba: no HMM for out-of-dictionary words"),
        click.option("--user-dict", type=click.Path(dir_okay=False), help="jieba: user dictionary file"),
        click.option("--level", type=click.Choice(["char", "word"]), help="timemachine: tokens [char]"),
        click.option("--lang", "-l", "lang", type=click.Choice(["en", "fr"]),
                     help="regex: language [en] (-l: sacremoses' name)"),
        click.option("--lowercase", is_flag=True, help="whitespace/char/regex: lowercase first"),
    ]
    for option in reversed(options):
        fn = option(fn)
    return fn


@click.command()
@click.argument("files", nargs=-1, type=click.Path(dir_okay=False))
@_tokenizer_options
@click.option("--ids", is_flag=True, help="spm: print ids instead of pieces")
@click.option("--decode", "-d", is_flag=True, help="read space-separated tokens (or ids), print text")
def tokenize(files, name, model, jieba_mode, no_hmm, user_dict, level, lang, lowercase, ids, decode):
    """Tokenize FILES (default: stdin) to stdout: one line in, one line of space-joined tokens out.

    \b
    seqkit tokenize < en.txt
    seqkit tokenize -t jieba --jieba-mode search < zh.txt
    seqkit tokenize -t spm -m run/spm.model --ids < de.txt | seqkit tokenize -t spm -m run/spm.model --ids -d
    """
    tok = build_tokenizer(name, model, jieba_mode, no_hmm, user_dict, level, lang, lowercase)
    if ids and name != "spm":
        raise SeqkitError("--ids needs --tokenizer spm", fix="use -t spm -m MODEL, or map tokens with a Vocab")
    out = sys.stdout
    # typed at a terminal: answer each line at once; piped: big chunks for the batch paths
    size = 1 if not files and sys.stdin.isatty() else _CHUNK
    for chunk in _chunks(_input_lines(files), size):
        if decode and ids:
            try:
                texts = tok.decode_ids_batch([[int(x) for x in line.split()] for line in chunk])
            except ValueError as exc:
                raise SeqkitError(f"not an id: {exc}", path="<input>", fix="give space-separated integers") from None
        elif decode:
            texts = tok.decode_batch([line.split() for line in chunk])
        elif ids:
            texts = [" ".join(map(str, t)) for t in tok.encode_ids_batch(chunk)]
        else:
            texts = [" ".join(t) for t in tok.encode_batch(chunk)]
        out.write("\n".join(texts) + "\n")
        if size == 1:
            out.flush()


@click.group()
def vocab():
    """Build and inspect vocabularies (JSON, see seqkit.text.Vocab)."""


def _print_summary(v, path, top: int) -> None:
    click.echo(f"{path}: {len(v)} tokens ({len(v.reserved)} reserved, {len(v.specials)} specials)")
    if top and v.token_freqs:
        click.echo("top: " + ", ".join(f"{t} ({c})" for t, c in v.token_freqs[:top]))


@vocab.command("build")
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("--output", "-o", required=True, type=OUTPUT, help="vocab JSON to write")
@_tokenizer_options
@click.option("--min-freq", "--min-count", "min_freq", default=1, show_default=True, type=click.IntRange(min=1),
              help="drop rarer tokens (--min-count: gensim's name)")
@click.option("--max-size", "--max-tokens", "max_size", type=click.IntRange(min=1),
              help="cap on the vocab size, specials included (--max-tokens: torchtext's name)")
@click.option("--specials", default="", help="extra special tokens, comma-separated (after <unk> <pad> <bos> <eos>)")
@click.option("--d2l", is_flag=True, help="d2l layout: <unk> is the only reserved token")
@click.option("--top", default=10, show_default=True, help="how many top tokens to print")
def build(files, output, name, model, jieba_mode, no_hmm, user_dict, level, lang, lowercase, min_freq,
          max_size, specials, d2l, top):
    """Count tokens of FILES (UTF-8, .gz ok) and write a vocabulary JSON."""
    from seqkit.text.vocab import RESERVED, UNK, Vocab

    tok = build_tokenizer(name, model, jieba_mode, no_hmm, user_dict, level, lang, lowercase)
    v = Vocab.from_files(files, tok, min_freq=min_freq, max_size=max_size,
                         specials=[s for s in specials.split(",") if s], reserved=(UNK,) if d2l else RESERVED)
    v.save(output)
    _print_summary(v, output, top)


@vocab.command("from-spm")
@click.argument("model", type=click.Path(dir_okay=False))
@click.option("--output", "-o", required=True, type=OUTPUT, help="vocab JSON to write")
def from_spm(model, output):
    """Write the vocab of a sentencepiece MODEL (same ids) as JSON."""
    from seqkit.text.spm import SentencePieceTokenizer
    from seqkit.text.vocab import Vocab

    v = Vocab.from_spm(SentencePieceTokenizer.load(model))
    v.save(output)
    _print_summary(v, output, 0)


@vocab.command("show")
@click.argument("path", type=click.Path(dir_okay=False))
@click.option("--top", default=10, show_default=True, help="how many top tokens to print")
def show(path, top):
    """Print the size and top tokens of a vocab JSON."""
    from seqkit.text.vocab import Vocab

    _print_summary(Vocab.load(path), path, top)


@vocab.command("spm")
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("--output", "-o", required=True, type=OUTPUT, help="the .model file to write")
@click.option("--vocab-size", "--vocab_size", "vocab_size", default=8000, show_default=True,
              type=click.IntRange(min=1))
@click.option("--model-type", "--model_type", "model_type", default="unigram", show_default=True,
              type=click.Choice(["unigram", "bpe", "char", "word"]))
@click.option("--character-coverage", "--character_coverage", "character_coverage", default=1.0,
              show_default=True, type=click.FloatRange(0, 1))
@click.option("--byte-fallback", "--byte_fallback", "byte_fallback", is_flag=True,
              help="spell unseen characters as UTF-8 byte pieces")
@click.option("--user-symbols", "--user_defined_symbols", "user_symbols", default="",
              help="pieces never split, comma-separated")
@click.option("--vocab", "vocab_out", type=OUTPUT, help="also write the matching vocab JSON")
def spm_train(files, output, vocab_size, model_type, character_coverage, byte_fallback, user_symbols, vocab_out):
    """Train a sentencepiece model on FILES (UTF-8, .gz ok); ids line up with seqkit's Vocab."""
    from pathlib import Path

    from seqkit.text.spm import SentencePieceTokenizer
    from seqkit.text.vocab import Vocab

    with naming(*files):
        tok = SentencePieceTokenizer.train([Path(f) for f in files], vocab_size=vocab_size, model_type=model_type,
                                           character_coverage=character_coverage, byte_fallback=byte_fallback,
                                           user_defined_symbols=[s for s in user_symbols.split(",") if s])
    tok.save(output)
    click.echo(f"{output}: sentencepiece {model_type} model with {len(tok)} pieces")
    if vocab_out:
        Vocab.from_spm(tok).save(vocab_out)
        click.echo(f"{vocab_out}: the matching vocab")


@vocab.command("bpe")
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("--output", "-o", required=True, type=OUTPUT, help="merges JSON to write")
@click.option("--merges", "-s", "--symbols", "num_merges", default=10000, show_default=True,
              type=click.IntRange(min=1), help="merges to learn (-s/--symbols: subword-nmt's name)")
@click.option("--end-of-word", default="</w>", show_default=True, help="marker appended to every word")
def bpe_train(files, output, num_merges, end_of_word):
    """Learn BPE merges (seqkit's from-scratch learner) from the words of FILES."""
    from seqkit.io import iter_lines
    from seqkit.text.bpe import BPE

    def lines():
        for path in files:
            yield from iter_lines(path)

    with naming(*files):
        bpe = BPE.train(lines(), num_merges, end_of_word=end_of_word or None)
    bpe.save(output)
    click.echo(f"{output}: {len(bpe.merges)} merges")
