"""Tokenized BLEU: the number most papers print, to set beside sacreBLEU's, never instead of it.

Papers on Multi30k, IWSLT and older WMT tasks score *tokenized* text: hypotheses and references cut
by the Moses tokenizer (``tokenizer.perl -l LANG``, without ``-a``), often lowercased, then
``multi-bleu.perl``, which counts n-grams of those tokens as they are. seqkit reproduces that with
sacremoses (the Python port of the Moses tokenizer that fairseq uses) and sacreBLEU with
``tokenize="none"`` (so sacreBLEU adds no tokenization of its own): the same n-gram counts as
``multi-bleu.perl`` on the same tokens.

Such numbers depend on the tokenizer and are not comparable with sacreBLEU's detokenized BLEU
(Post 2018); they are labelled ``tokenized`` wherever seqkit reports them, and the signature names
the pre-tokenization (``|pretok:moses-de``).
"""

from __future__ import annotations

from collections.abc import Sequence

from seqkit.errors import SeqkitError
from seqkit.metrics.corpus import CorpusScore, reference_streams, segments


def moses_tokenize(lines: Sequence[str], lang: str) -> list[str]:
    """``lines`` cut by the Moses tokenizer of ``lang`` (sacremoses; no escaping of ``&<>'"``, as
    ``tokenizer.perl -no-escape``; hyphens kept, as without ``-a``)."""
    try:
        from sacremoses import MosesTokenizer
    except ImportError:
        raise SeqkitError("tokenized BLEU needs sacremoses", fix="pip install sacremoses") from None
    tokenizer = MosesTokenizer(lang=lang)
    return [tokenizer.tokenize(line or "", escape=False, return_str=True) for line in lines]


def tokenized_bleu(hyps: str | Sequence[str], refs: Sequence[str] | Sequence[Sequence[str]], lang: str,
                   lowercase: bool = False, pretokenized: bool = False) -> CorpusScore:
    """BLEU of Moses-tokenized ``hyps`` against Moses-tokenized ``refs`` (target language ``lang``),
    lowercased when ``lowercase`` (see the module docstring). The score is named ``BLEU (tokenized)``.

    ``pretokenized``: the text is tokenized already (fairseq's prepared IWSLT14 text, with its ``@-@``):
    its tokens are counted as they are, as ``multi-bleu.perl`` counts them -- a second Moses pass would
    cut ``@-@`` and ``'s`` again. The signature then ends in ``|pretok:given``."""
    from sacrebleu.metrics import BLEU

    hyps, refs = segments(hyps, refs)  # a bare string is one segment, as in seqkit.metrics.bleu
    streams = reference_streams(hyps, refs)
    metric = BLEU(tokenize="none", lowercase=lowercase, force=True)  # force: the text *is* tokenized
    cut = (lambda lines: [line or "" for line in lines]) if pretokenized else (lambda lines: moses_tokenize(lines, lang))
    result = metric.corpus_score(cut(hyps), [cut(s) for s in streams])
    signature = f"{metric.get_signature()}|pretok:{'given' if pretokenized else f'moses-{lang}'}"
    return CorpusScore("BLEU (tokenized)", result.score, signature, f"tokenized {result}")
