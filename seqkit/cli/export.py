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
              help="a new (or empty) folder to write the export into, whole [default: RUN/ct2]")
@click.option("--force", is_flag=True,
              help="replace the earlier export in -o DIR (only ever a folder seqkit export ct2 wrote)")
@click.option("--quantization", default="float32", show_default=True,
              type=click.Choice(["float32", "int8", "int16"]), help="weight type CTranslate2 stores")
@click.option("--vmap", default=None, type=click.Path(dir_okay=False),
              help="a vocabulary shortlist (seqkit shortlist build) to ship as vmap.txt, for --shortlist")
def ct2(run_dir: str, out_dir: str | None, force: bool, quantization: str, vmap: str | None) -> None:
    """Convert the run's Transformer to CTranslate2 (seqkit translate --engine ct2 --run OUT).

    The folder holds CTranslate2's model.bin, config.json and vocabulary (seqkit's ids and pieces)
    beside the run's spm.model; with --vmap FILE, a vocabulary shortlist as vmap.txt (translate with
    --engine ct2 --shortlist). GRU/RNN-attention models cannot be exported. Writing RUN/ct2 takes the
    run directory's lock: it waits for no one, and stops at once while a recipe runs there.

    \b
    Nothing seqkit did not make is deleted or replaced:
      no -o    RUN/ct2, the run's own export, replaced each time
               (never a folder of other files)
      -o DIR   a new or empty folder; an earlier export there is replaced
               only with --force; never a run directory or a folder in one,
               the current folder, or a folder holding RUN
    """
    import os
    from pathlib import Path

    from seqkit.outputs import check_output_folder
    from seqkit.recipes.pipeline import RunLock
    from seqkit.seq2seq.export import OUTPUT_KIND, RUN_SUBDIR, export_ct2
    from seqkit.seq2seq.model_folder import model_dir

    folder = model_dir(run_dir)
    run = Path(run_dir) if folder != Path(run_dir) else folder.parent
    default = run / RUN_SUBDIR
    if out_dir is not None and os.path.realpath(out_dir) == os.path.realpath(default):
        out_dir = None  # -o RUN/ct2 is the default target
    if out_dir is None:  # RUN/ct2 is written into the run directory: only while no run holds it
        with RunLock(run):
            out = export_ct2(run_dir, default, quantization, vmap)
    else:
        check_output_folder(out_dir, OUTPUT_KIND, replace=force, source=run_dir)
        out = export_ct2(run_dir, out_dir, quantization, vmap)
    click.echo(f"{out}: CTranslate2 model ({quantization}{', with a vocabulary shortlist' if vmap else ''})")
