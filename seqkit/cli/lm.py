"""``seqkit lm``: the n-gram (``seqkit lm ngram ...``) and RNN (``seqkit lm rnn ...``) language models."""

from __future__ import annotations

import click


class _LMGroup(click.Group):
    _SUB = {"ngram": "seqkit.cli.lm_ngram:ngram", "rnn": "seqkit.cli.lm_rnn:rnn"}

    def list_commands(self, ctx):
        return sorted(self._SUB)

    def get_command(self, ctx, name):
        import importlib

        if name not in self._SUB:
            return None
        module, attr = self._SUB[name].split(":")
        return getattr(importlib.import_module(module), attr)


@click.group(cls=_LMGroup)
def lm() -> None:
    """n-gram and RNN language models."""
