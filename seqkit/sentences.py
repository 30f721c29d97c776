"""One rule for a bare string where a call expects several sentences (docs/design.md, "Sentences").

A ``str`` is itself a sequence (of characters), so ``translate("Hello.")`` or ``perplexity("a b c")``
would otherwise run on every character. Every library call that takes sentences decides once, here:

* **Scoring and translating calls treat a bare string as one sentence** and answer in that sentence's
  shape: ``Translator.translate("Hello.")`` returns one string (fairseq's hub ``translate`` does the
  same), ``translate_scored("Hello.")`` that sentence's n-best list, ``NGramLM.perplexity("a b c")`` and
  ``score_corpus`` that sentence's figures (``kenlm.Model.perplexity`` takes one sentence), and
  ``seqkit.metrics.bleu("hyp", "ref")`` / ``chrf`` / ``ter`` / ``paired_bootstrap`` score one segment
  (with one hypothesis string, a list of references are that segment's references, as in sacreBLEU's
  ``sentence_score``).
* **Batch calls refuse it**, naming their one-sentence sibling: ``encode_batch`` / ``decode_batch`` of
  every tokenizer and sentencepiece's ``encode_ids_batch`` (use ``encode`` / ``decode`` /
  ``encode_ids``).
* **Training calls that take sentences refuse it** (a string there is most often a file name meant to
  be read: pass ``seqkit.io.read_lines(path)``): ``NGramLM.train``, ``BPE.train``. The two whose
  documented input is "a file path or sentences" read it as that path: ``SentencePieceTokenizer.train``
  (as ``spm_train --input``) and ``Word2Vec`` (as gensim's ``corpus_file``).
* The RNN LM's ``encode_stream`` (one id stream for all its lines) takes a string as one line.
"""

from __future__ import annotations

from typing import Any

from seqkit.errors import SeqkitError


def one_or_many(sentences: Any) -> tuple[list[Any], bool]:
    """``(sentences as a list, True if a bare string was given)``: a ``str`` becomes ``[str]``."""
    if isinstance(sentences, str):
        return [sentences], True
    return sentences if isinstance(sentences, list) else list(sentences), False


def refuse_string(sentences: Any, call: str, fix: str) -> None:
    """A :class:`~seqkit.errors.SeqkitError` when ``sentences`` is a bare string (see the module rule)."""
    if isinstance(sentences, (str, bytes)):
        raise SeqkitError(f"{call} takes a list of sentences, not one string ({_preview(sentences)})", fix=fix)


def _preview(text: str | bytes) -> str:
    text = text.decode("utf-8", "replace") if isinstance(text, bytes) else text
    return repr(text[:30] + ("..." if len(text) > 30 else ""))
