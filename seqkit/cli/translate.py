"""``seqkit translate``: stdin -> stdout with a trained run (interactive at a terminal)."""

from __future__ import annotations

import sys

import click

from seqkit.cli.params import threads_option


@click.command()
@click.option("--run", "--model", "run_dir", required=True, type=click.Path(file_okay=False),
              help="run directory of an nmt_transformer / nmt_rnn_attention run")
@click.option("--beam", default=5, show_default=True, type=click.IntRange(min=1), help="beam size (1: greedy)")
@click.option("--nbest", default=1, show_default=True, type=click.IntRange(min=1),
              help="print the N best translations of each line as 'LINE ||| translation'")
@click.option("--alpha", default=1.0, show_default=True, type=float, help="GNMT length penalty")
@click.option("--max-len-a", default=1.5, show_default=True, type=float,
              help="output cap: a * source length + b pieces")
@click.option("--max-len-b", default=10, show_default=True, type=int)
@click.option("--device", default="cpu", show_default=True, help="cpu, cuda or auto")
@click.option("--weights", default=None, type=click.Path(dir_okay=False),
              help="a checkpoint's .safetensors instead of the run's best weights")
@click.option("--batch-lines", default=500, show_default=True, type=click.IntRange(min=1),
              help="lines read before translating a chunk of piped input")
@threads_option
def translate(run_dir: str, beam: int, nbest: int, alpha: float, max_len_a: float, max_len_b: int, device: str,
              weights: str | None, batch_lines: int, threads) -> None:
    """Translate sentences from stdin, one per line, to detokenized text on stdout.

    At a terminal each line is translated as soon as it is entered (Ctrl-D ends); from a pipe the
    input is read in chunks and decoded in length-sorted batches. Empty lines give empty lines;
    pieces the model does not know are reported on stderr.
    """
    from seqkit.errors import SeqkitError
    from seqkit.seq2seq.nmt import DecodeConfig, Translator
    from seqkit.settings import from_dict
    from seqkit.train import resolve_device

    if nbest > beam:
        raise SeqkitError(f"--nbest {nbest} is larger than --beam {beam}", fix=f"use --beam {nbest} or more")
    decode = from_dict(DecodeConfig, {"beam": beam, "alpha": alpha, "max_len_a": max_len_a,
                                      "max_len_b": max_len_b}, "translate")
    translator = Translator.from_run(run_dir, weights=weights, device=resolve_device(device),
                                     **decode.translator_options())

    def emit(lines: list[str], first: int) -> None:
        outs = translator.translate(lines, beam=beam, nbest=nbest)
        for i, out in enumerate(outs):
            if nbest == 1:
                click.echo(out)
            else:
                for hyp in out:
                    click.echo(f"{first + i} ||| {hyp}")
        sys.stdout.flush()

    if sys.stdin.isatty():
        click.echo(f"seqkit translate: {run_dir} (beam {beam}); one sentence per line, Ctrl-D to quit",
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
        from seqkit.io import iter_stdin_lines

        chunk: list[str] = []
        n = 0
        for line in iter_stdin_lines():
            chunk.append(line)
            if len(chunk) >= batch_lines:
                emit(chunk, n)
                n += len(chunk)
                chunk = []
        if chunk:
            emit(chunk, n)
    translator.report()
