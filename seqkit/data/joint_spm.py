"""The joint sentencepiece model of a parallel corpus: one trainer for the NMT recipes and ``seqkit data prepare``.

Both sides share one vocabulary (one embedding matrix, tied with the output projection). The trainer
reads a sample of the corpus (:meth:`~seqkit.data.stream.ParallelStream.spm_sample`: half the
sentences from each side of a uniform sample of pairs; every sentence with ``input_sentence_size=0``),
cuts a pretokenized (Chinese) side into words first, and applies the same coverage rule everywhere:

* ``character_coverage="auto"``: 0.9995 when a side is cut as Chinese (sentencepiece's own value for
  CJK: the rarest characters of a script with thousands become ``<unk>``), else 1.0 (every character
  of an alphabetic script kept);
* the vocabulary must hold every character kept plus sentencepiece's few control pieces; a
  ``vocab_size`` too small for that is raised (rounded up to a hundred, with 50% room for pieces
  above characters), and the returned note says so.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

#: What a joint model is trained with unless told otherwise (``seqkit data prepare``'s defaults).
SPM_DEFAULTS: dict[str, Any] = {"vocab_size": 32_000, "model_type": "unigram", "character_coverage": "auto",
                                "input_sentence_size": 2_000_000, "seed": 0}
#: sentencepiece's character coverage for scripts of thousands of characters (Chinese, Japanese).
CJK_COVERAGE = 0.9995
MODEL_TYPES = ("unigram", "bpe", "char", "word")


def coverage_for(coverage: float | str, pretokenize: dict[str, str] | None) -> float:
    """The character coverage to train with: ``coverage``, or for ``"auto"`` :data:`CJK_COVERAGE` when a
    side is pretokenized (Chinese) and 1.0 otherwise."""
    if coverage == "auto":
        return CJK_COVERAGE if pretokenize else 1.0
    return float(coverage)


def required_characters(texts: list[str], coverage: float) -> int:
    """How many distinct characters sentencepiece keeps at ``character_coverage`` (the most frequent
    ones covering that share of all non-space characters): the vocabulary must be larger."""
    counts: Counter = Counter()
    for text in texts:
        counts.update(text.replace(" ", ""))
    if not counts:
        return 0
    freq = sorted(counts.values(), reverse=True)
    total, running = sum(freq), 0
    for k, c in enumerate(freq, 1):
        running += c
        if running >= coverage * total:
            return k
    return len(freq)


@dataclass
class JointSpm:
    """What :func:`train_joint_spm` made: the ``tokenizer``, the ``vocab_size`` and
    ``character_coverage`` it was trained with, the ``sentences`` it read, and a ``note`` when the
    vocabulary had to be raised (None otherwise)."""

    tokenizer: Any
    vocab_size: int
    character_coverage: float
    sentences: int
    note: str | None = None


def train_joint_spm(stream: Any, *, vocab_size: int = SPM_DEFAULTS["vocab_size"],
                    model_type: str = SPM_DEFAULTS["model_type"],
                    character_coverage: float | str = SPM_DEFAULTS["character_coverage"],
                    input_sentence_size: int = SPM_DEFAULTS["input_sentence_size"], seed: int = SPM_DEFAULTS["seed"],
                    pretokenize: dict[str, str] | None = None) -> JointSpm:
    """Train the joint model of the :class:`~seqkit.data.stream.ParallelStream` ``stream`` (see the
    module docstring for the sample, the coverage rule and the vocabulary floor)."""
    from seqkit.text import SentencePieceTokenizer
    from seqkit.text.pretokenize import pretokenizer

    pretokenize = pretokenize or {}
    texts: list[str] = []
    for side, lines in zip(("src", "tgt"), stream.spm_sample(int(input_sentence_size), seed=int(seed))):
        cut = pretokenizer(pretokenize.get(side))
        texts.extend([cut(x) for x in lines] if cut else lines)
    coverage = coverage_for(character_coverage, {k: v for k, v in pretokenize.items() if pretokenizer(v)})
    size, note = int(vocab_size), None
    needed = required_characters(texts, coverage)
    if size < needed + 8:  # sentencepiece: the characters plus its few control pieces must fit
        raised = -(-(needed + max(needed // 2, 64)) // 100) * 100
        note = (f"vocab_size {size} is too small for the {needed:,} characters kept at coverage {coverage}: "
                f"using {raised} (set a larger vocabulary or a lower character coverage to choose yourself)")
        size = raised
    tok = SentencePieceTokenizer.train(texts, vocab_size=size, model_type=model_type, character_coverage=coverage)
    return JointSpm(tok, size, coverage, len(texts), note)
