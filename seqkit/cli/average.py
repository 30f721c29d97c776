"""``seqkit average``: checkpoint averaging -- the mean of a run's best checkpoints, or of given files."""

from __future__ import annotations

import click

from seqkit.cli.params import OUTPUT


@click.command()
@click.argument("checkpoints", nargs=-1, type=click.Path(dir_okay=False))
@click.option("--run", "run_dir", default=None, type=click.Path(file_okay=False),
              help="average this run's best checkpoints (train/checkpoints/best.json)")
@click.option("--best", "n_best", default=None, type=click.IntRange(min=1), help="only the N best of them")
@click.option("--last", "n_last", default=None, type=click.IntRange(min=1),
              help="the run's N newest step checkpoints instead (kept with train.keep_last)")
@click.option("-o", "--output", required=True, type=OUTPUT,
              help="the averaged weights (.safetensors): a file, replaced if it exists, but never one inside "
                   "a run directory")
def average(checkpoints, run_dir, n_best, n_last, output) -> None:
    """Average CHECKPOINTS (.safetensors of one model), or the best (or --last) ones of --run, into --output.

    The result loads wherever the run's weights do: seqkit translate --run RUN --weights OUT.
    OUT is written atomically; a file inside a run directory (RUN/model/model.safetensors) is refused.
    """
    from pathlib import Path

    from seqkit.errors import SeqkitError
    from seqkit.seq2seq.model_folder import check_averaged
    from seqkit.train import average_weights, best_checkpoints, last_checkpoints, save_weights

    if run_dir is not None:
        if checkpoints:
            raise SeqkitError("give --run or checkpoint files, not both", fix="drop one of them")
        folder = Path(run_dir) / "train" / "checkpoints"
        paths = last_checkpoints(folder, n_last) if n_last else best_checkpoints(folder, n_best)
    else:
        paths = [Path(p) for p in checkpoints][:n_best] if n_best else [Path(p) for p in checkpoints]
    # every file read through the loaders: readable headers, one model's shapes, one tokenizer (and
    # with --run, its model folder's); the tokenizer travels with the average
    tokenizer = check_averaged(paths, run_dir)
    meta = {"averaged": ",".join(p.name for p in paths), **({"tokenizer_sha256": tokenizer} if tokenizer else {})}
    save_weights(output, average_weights(paths), meta)
    click.echo(f"{output}: the mean of {len(paths)} checkpoint(s): {', '.join(p.name for p in paths)}")
