"""What the server decodes with, and what it says about the run.

The engine interface is one method, the one :class:`seqkit.seq2seq.Translator` already has::

    engine.translate_scored(sentences: list[str], settings: DecodeSettings, *, attention: bool)
        -> list[list[Translation]]   # per sentence, its settings.nbest translations, best first

Each :class:`~seqkit.seq2seq.translator.Translation` carries ``text``, ``score``, ``log_prob``, ``pieces``,
``src_pieces`` and, with ``attention=True``, ``alignment`` and ``attention`` (a tensor of shape
(len(pieces) + 1, len(src_pieces) + 1): one row per output piece and ``<eos>``, one column per source
piece and ``</s>``; an engine without attention leaves both ``None``). The server calls it from one
worker thread only, so an engine need not be thread-safe. The engines are built by
:func:`seqkit.seq2seq.engines.load_translator`, the function ``seqkit translate`` uses too.
"""

from __future__ import annotations

import os
from typing import Any, Protocol

from seqkit.errors import SeqkitError


class Engine(Protocol):
    """The one method :mod:`seqkit.serve` needs from a translation engine (see the module docstring)."""

    def translate_scored(self, sentences: list[str], settings: Any = None, *, attention: bool = False
                         ) -> list[list[Any]]: ...


def run_info(run_dir: str | os.PathLike) -> dict[str, Any]:
    """What ``GET /info`` shows of a run: its folder's name (never a path on the server's disk), the model (``model.json``'s architecture and sizes), the
    languages, and the test score the recipe's evaluate stage wrote (``scores.json`` beside ``model/``:
    BLEU and chrF with their sacreBLEU signatures; ``None`` when the run was never evaluated).
    ``test.current`` is false when the weights are newer than the score (retrained, not re-evaluated).

    Everything is read through the artifacts' loaders (the model folder's, ``scores.json``'s, and a
    CTranslate2 export's for a bare export folder), so a damaged file is one line naming it."""
    from pathlib import Path

    from seqkit.seq2seq.export_folder import find_export, open_export
    from seqkit.seq2seq.model_folder import model_dir, open_model_folder
    from seqkit.seq2seq.training import read_scores

    try:
        model_dir(run_dir)
    except SeqkitError:  # a bare CTranslate2 export folder: its seqkit.json says what it is
        if find_export(run_dir) is None:
            raise
        info = open_export(run_dir).info
        return {"run": Path(run_dir).resolve().name, "model": info["model"], "vocab_size": info["vocab_size"], "src": info.get("src"),
                "tgt": info.get("tgt"), "test": None}
    folder = open_model_folder(run_dir)
    model = folder.info
    run = folder.path.parent if folder.path.name == "model" else folder.path  # RUN/model/ -> RUN/
    test = None
    scores_file = Path(run) / "scores.json"
    if scores_file.is_file():
        scores = read_scores(scores_file)
        test = {k: scores.get(k) for k in ("bleu", "chrf", "bleu_signature", "chrf_signature", "bleu_text")}
        test["current"] = scores_file.stat().st_mtime >= folder.weights.stat().st_mtime
    return {"run": Path(run).resolve().name, "model": model.get("model"), "vocab_size": model.get("vocab_size"),
            "src": model.get("src"), "tgt": model.get("tgt"), "test": test}


def source_lengths(engine: Any, sentences: list[str]) -> list[int]:
    """How many source pieces the engine reads of each sentence (``</s>`` not counted): its own
    tokenizer after its preprocessing, so the server can price a request and refuse an over-long
    sentence before decoding. An engine without a ``tokenizer`` counts characters instead (a
    sentencepiece piece holds at least one, so it is at least as many)."""
    tokenizer = getattr(engine, "tokenizer", None)
    if tokenizer is None:
        return [len(s) for s in sentences]
    pre = getattr(engine, "preprocess", None)
    texts = [pre(s) if pre else s for s in sentences]
    return [len(ids) for ids in tokenizer.encode_ids_batch(texts)]
