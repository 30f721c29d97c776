"""``seqkit export``: a trained model in another engine's format (``seqkit export ct2``)."""

from __future__ import annotations

import click


@click.group()
def export() -> None:
    """Export a trained model to another inference engine."""


@export.command()
@click.option("--run", "--model", "run_dir", required=True, type=click.Path(file_okay=False),
              help="run directory (or model folder) of an nmt_transformer run")
@click.option("-o", "--output", "out_dir", default=None, type=click.Path(file_okay=False),
              help="the export folder (written whole) [default: RUN/ct2]")
@click.option("--quantization", default="float32", show_default=True,
              type=click.Choice(["float32", "int8", "int16"]), help="weight type CTranslate2 stores")
def ct2(run_dir: str, out_dir: str | None, quantization: str) -> None:
    """Convert the run's Transformer to CTranslate2 (seqkit translate --engine ct2 --run OUT).

    The folder holds CTranslate2's model.bin, config.json and vocabulary (seqkit's ids and pieces)
    beside the run's spm.model. GRU/RNN-attention models cannot be exported.
    """
    from seqkit.seq2seq.export import export_ct2

    out = export_ct2(run_dir, out_dir, quantization)
    click.echo(f"{out}: CTranslate2 model ({quantization})")
