"""``seqkit bleu HYP REF [REF ...]``: corpus BLEU (and chrF, TER) like the sacrebleu command line.

Prints sacrebleu's report line (``BLEU = 48.53 82.4/50.0/45.5/37.5 (BP = ...)``) and the signature
for each metric. ``-`` reads the hypotheses (or one reference) from stdin. Lines are read as
sacrebleu reads them (trailing whitespace stripped), so the numbers equal ``sacrebleu REF -i HYP``.
"""

from __future__ import annotations

import click

from seqkit.cli.params import threads_option
from seqkit.errors import SeqkitError
from seqkit.io import iter_lines, iter_stdin_lines
from seqkit.metrics.corpus import METRICS, corpus_score
from seqkit.metrics.significance import paired_bootstrap


def read_segments(path: str) -> list[str]:
    """Lines of ``path`` (or stdin for ``-``) with trailing whitespace removed, as sacrebleu does."""
    lines = iter_stdin_lines() if path == "-" else iter_lines(path)
    return [line.rstrip() for line in lines]


class _MultiValueMetrics(click.Command):
    """Accept sacrebleu's ``-m bleu chrf ter`` (several values after one flag) besides
    ``-m bleu -m chrf``: the values after ``-m`` are rewritten into repeated flags."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        out, i = [], 0
        while i < len(args):
            arg = args[i]
            out.append(arg)
            i += 1
            if arg in ("-m", "--metrics"):
                if i < len(args):  # the first value, checked by click like any other
                    out.append(args[i])
                    i += 1
                while i < len(args) and args[i].lower() in METRICS:
                    out += ["-m", args[i]]
                    i += 1
        return super().parse_args(ctx, out)


@click.command(cls=_MultiValueMetrics)
@click.argument("hyp")
@click.argument("refs", nargs=-1, required=True)
@click.option("-m", "--metrics", multiple=True, type=click.Choice(METRICS, case_sensitive=False),
              help="metrics to compute (default: bleu); sacrebleu style '-m bleu chrf ter' works")
@click.option("-tok", "--tokenize", default=None,
              help="BLEU tokenizer (13a, zh, intl, char, none, ...); default: zh for Chinese references, "
                   "else 13a")
@click.option("-lc", "--lowercase", is_flag=True, help="case-insensitive scoring")
@click.option("--paired-bs", "paired_bs", default=None, metavar="OTHER_HYP",
              help="paired bootstrap resampling of HYP against the baseline OTHER_HYP")
@click.option("--n-bootstrap", default=1000, show_default=True, type=click.IntRange(min=1),
              help="resamples for --paired-bs")
@threads_option
def bleu(hyp: str, refs: tuple[str, ...], metrics: tuple[str, ...], tokenize: str | None,
         lowercase: bool, paired_bs: str | None, n_bootstrap: int, threads) -> None:
    """Score HYP against one or more reference files REF (use - for stdin)."""
    if [hyp, *refs].count("-") > 1:
        raise SeqkitError("stdin ('-') can be used for only one file", fix="write the others to files")
    hyps = read_segments(hyp)
    if not hyps:
        raise SeqkitError("no hypotheses to score: the file is empty", path="<stdin>" if hyp == "-" else hyp,
                          fix="give a hypothesis file with one line per test sentence")
    streams = [read_segments(r) for r in refs]
    for path, stream in zip(refs, streams):
        if len(stream) != len(hyps):
            raise SeqkitError(f"{len(stream)} reference lines but {len(hyps)} hypothesis lines in {hyp}",
                              path=path, fix="give one reference line per hypothesis line")
    metrics = tuple(dict.fromkeys(m.lower() for m in metrics)) or ("bleu",)
    if paired_bs is not None:
        baseline = read_segments(paired_bs)
        if len(baseline) != len(hyps):
            raise SeqkitError(f"{len(baseline)} lines but {hyp} has {len(hyps)}", path=paired_bs,
                              fix="both systems must translate the same test set")
        for result in paired_bootstrap(baseline, hyps, streams, metrics, tokenize, n_bootstrap):
            click.echo(str(result))
        return
    for name in metrics:
        click.echo(str(corpus_score(name, hyps, streams, tokenize, lowercase=lowercase)))
