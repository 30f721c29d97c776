"""``seqkit translate``: stdin -> stdout with a trained run (interactive at a terminal)."""

from __future__ import annotations

import sys

import click

from seqkit.cli.params import OUTPUT, threads_option
from seqkit.seq2seq.decoding import click_options, describe


@click.command()
@click.option("--run", "--model", "run_dirs", required=True, multiple=True, type=click.Path(file_okay=False),
              help="run directory of an nmt_transformer / nmt_rnn_attention run; several: an ensemble")
@click.option("-i", "--input", "input_file", default=None, type=click.Path(dir_okay=False),
              help="sentences to translate, one per line [default: stdin]")
@click.option("-o", "--output", "output_file", default=None, type=OUTPUT,
              help="where the translations go (written whole at the end) [default: stdout]")
@click.option("--scores", is_flag=True,
              help="1-best: print 'translation ||| score ||| log_prob' (score: length-normalised, log_prob: summed)")
@click.option("--token-scores", is_flag=True,
              help="append ' ||| lp1 lp2 ... lp_eos': each piece's log-probability (then <eos>'s)")
@click.option("--print-alignment", is_flag=True,
              help="append ' ||| 0-0 1-2 ...': source-target piece pairs by argmax attention (Pharaoh format)")
@click.option("--prefix", default=None, help="the text every translation must begin with (forced, then scored)")
@click.option("--heatmaps", "heatmap_dir", default=None, type=click.Path(file_okay=False),
              help="write an attention heatmap (PNG) of each translation into this new folder (written whole "
                   "at the end; a folder of other files is refused)")
@click.option("--force", is_flag=True, help="replace an earlier --heatmaps folder seqkit wrote")
@click.option("--max-len", default=None, type=click.IntRange(min=1),
              help="a fixed output cap in pieces (instead of --max-len-a/--max-len-b)")
@click.option("--device", default="cpu", show_default=True, help="cpu, cuda or auto")
@click.option("--checkpoint", "--weights", "weights", default=None, metavar="best|last|FILE",
              help="best: the model folder's weights (default; the best so far while a run trains), last: the "
                   "newest step checkpoint of a running or killed run, or a .safetensors file")
@click.option("--engine", default="seqkit", show_default=True, type=click.Choice(["seqkit", "ct2"]),
              help="ct2: decode with CTranslate2 (--run: a `seqkit export ct2` folder, or a run holding one)")
@click.option("--quantize", default=None, type=click.Choice(["int8"]),
              help="seqkit engine: int8 weights (Linear layers, output projection, embedding; CPU)")
@click.option("--batch-lines", default=500, show_default=True, type=click.IntRange(min=1),
              help="lines read before translating a chunk of piped input")
@click_options("translate")
@threads_option
def translate(run_dirs: tuple[str, ...], input_file: str | None, output_file: str | None, scores: bool,
              token_scores: bool, print_alignment: bool, prefix: str | None, heatmap_dir: str | None,
              max_len: int | None, device: str, weights: str | None, engine: str, quantize: str | None,
              batch_lines: int, threads, force: bool, **decode) -> None:
    """Translate sentences (stdin or -i FILE), one per line, to detokenized text (stdout or -o FILE).

    At a terminal each line is translated as soon as it is entered (Ctrl-D ends); otherwise the
    input is read in chunks and decoded in length-sorted batches, with a progress bar for -i/-o.
    Empty lines give empty lines; pieces the model does not know are reported on stderr.
    -o FILE is replaced as usual, but never a file inside a run directory.
    """
    import contextlib

    from seqkit.errors import SeqkitError
    from seqkit.io import atomic_dir, iter_lines, iter_stdin_lines, write_text_atomic
    from seqkit.seq2seq.decoding import from_cli
    from seqkit.seq2seq.engines import ENGINES, load_translator
    from seqkit.train import resolve_device

    if max_len is not None:  # a fixed cap, as JoeyNMT's max_output_length
        decode.update(max_len_a=0.0, max_len_b=max_len)
    settings = from_cli(decode, "translate")
    nbest = settings.nbest
    if not ENGINES[engine] and (print_alignment or heatmap_dir is not None):
        raise SeqkitError(f"the {engine} engine gives no attention (--print-alignment, --heatmaps)",
                          fix="use --engine seqkit")
    if heatmap_dir is not None:  # before the model loads: never a folder of other files, nor in a run
        from seqkit.outputs import check_output_folder

        check_output_folder(heatmap_dir, "heatmaps", replace=force, make_parents=False)
    translator = load_translator(list(run_dirs), engine, settings, weights=weights, device=resolve_device(device),
                                 threads=threads, quantize=quantize)
    written: list[str] = []

    def put(text: str) -> None:
        if output_file is None:
            click.echo(text)
        else:
            written.append(text + "\n")

    def emit(lines: list[str], first: int) -> None:
        for i, hyps in enumerate(translator.translate_scored(lines, attention=print_alignment or heatmap_dir is not None,
                                                             prefix=prefix, token_scores=token_scores)):
            if heatmap_dir is not None and hyps[0].attention is not None:
                hyps[0].heatmap(heatmap_path / f"{first + i:05d}.png")
            for hyp in hyps:
                fields = [f"{first + i}"] if nbest > 1 else []
                fields.append(hyp.text)
                if nbest > 1 or scores:
                    fields += [f"{hyp.score:.6f}", f"{hyp.log_prob:.6f}"]
                if token_scores:
                    fields.append(" ".join(f"{x:.4f}" for x in hyp.token_log_probs or []))
                if print_alignment:
                    fields.append(hyp.pharaoh())
                put(" ||| ".join(fields))
        if output_file is None:
            sys.stdout.flush()

    heatmaps = atomic_dir(heatmap_dir, "heatmaps") if heatmap_dir is not None else contextlib.nullcontext()
    with heatmaps as heatmap_path:
        interactive = input_file is None and sys.stdin.isatty()
        if interactive:
            click.echo(f"seqkit translate: {', '.join(run_dirs)} ({describe(settings)}); one sentence per line, Ctrl-D to quit",
                       err=True)
            n = 0
            while True:
                try:
                    line = input("> ")
                except EOFError:
                    break
                emit([line], n)
                n += 1
        else:
            from tqdm import tqdm

            lines = iter_lines(input_file) if input_file else iter_stdin_lines()
            bar = tqdm(unit=" lines", disable=output_file is None or not sys.stderr.isatty(), file=sys.stderr)
            chunk: list[str] = []
            n = 0
            for line in lines:
                chunk.append(line)
                if len(chunk) >= batch_lines:
                    emit(chunk, n)
                    n += len(chunk)
                    bar.update(len(chunk))
                    chunk = []
            if chunk:
                emit(chunk, n)
                bar.update(len(chunk))
            bar.close()
    if output_file is not None:
        write_text_atomic(output_file, "".join(written))
    translator.report()
