"""The translation engines and the one function that picks one.

Two engines translate raw text behind the same methods (``translate``, ``translate_scored``,
``translate_ids``, ``report``) and read the same :class:`~seqkit.seq2seq.decoding.DecodeSettings`:

* ``seqkit``: :class:`~seqkit.seq2seq.translator.Translator`, seqkit's own search over the run's
  PyTorch model (ensembles, attention, sampling, int8 through torch);
* ``ct2``: :class:`CT2Translator`, CTranslate2 over the run's export (``seqkit export ct2``).

:func:`load_translator` is where the choice is made; ``seqkit translate`` and ``seqkit serve`` both call
it. For the same settings both engines apply the same length penalty and report scores on the same
scale (``score = log P / L ** alpha``, ``L`` counting ``<eos>``; see :mod:`seqkit.seq2seq.decoding`).

How :class:`CT2Translator` maps seqkit's search onto ``translate_batch``: the source gets ``<eos>``
appended and is cut to ``max_src_len`` as seqkit's batcher does; the output cap
``floor(max_len_a * source length + max_len_b)`` tokens before ``<eos>`` is per sentence in seqkit but
one number per ``translate_batch`` call, so sentences are grouped by cap (sorted by length, few
groups). Greedy output is identical (1,000 of 1,000 Multi30k test sentences); beam search is identical
unless CTranslate2's stopping rule (``patience``) ends a search before seqkit's exact one, or a
hypothesis reaches the length cap (``docs/benchmarks.md``).
"""

from __future__ import annotations

import math
import os
from typing import Any

from seqkit.errors import SeqkitError
from seqkit.sentences import one_or_many
from seqkit.seq2seq.decoding import DecodeSettings, check_engine
from seqkit.seq2seq.export import ctranslate2_module
from seqkit.seq2seq.translator import TextSide
from seqkit.text.vocab import EOS_ID, UNK_ID

#: CTranslate2's patience where the settings ask for seqkit's exact stop (``patience`` unset), which it lacks
EXACT_PATIENCE = 2.0

#: engine name (``--engine``) -> whether it gives attention (and so alignments and heatmaps)
ENGINES = {"seqkit": True, "ct2": False}


def load_translator(runs: list[str | os.PathLike] | str | os.PathLike, engine: str = "seqkit",
                    settings: DecodeSettings | None = None, *, weights: str | os.PathLike | None = None,
                    device: Any = "cpu", threads: int | None = None, quantize: str | None = None) -> Any:
    """The engine ``engine`` over ``runs`` (one run directory, model or export folder; several: an
    ensemble, seqkit's engine only) with ``settings``; anything the engine cannot do is refused in one
    line before loading. ``device``: a torch device or its name; ``threads``: CTranslate2's own
    thread count (seqkit's torch threads are set by the caller)."""
    runs = [runs] if isinstance(runs, str | os.PathLike) else list(runs)
    if engine not in ENGINES:
        raise SeqkitError(f"unknown engine {engine!r}", fix=f"use one of {', '.join(ENGINES)}")
    settings = settings or DecodeSettings()
    check_engine(settings, engine)
    if engine == "seqkit":
        from seqkit.seq2seq.translator import Translator

        return Translator.from_runs(runs, settings, weights=weights, device=device, quantize=quantize)
    if quantize:
        raise SeqkitError("--quantize applies to the seqkit engine",
                          fix="export with `seqkit export ct2 --quantization int8` instead")
    if len(runs) != 1:
        raise SeqkitError("the ct2 engine translates with one model, not an ensemble", fix="give one --run")
    if weights is not None:
        raise SeqkitError("--checkpoint does not apply to the ct2 engine",
                          fix="export those weights (seqkit export ct2) and give that folder")
    kind = getattr(device, "type", str(device).split(":")[0])  # CTranslate2 takes "cpu" / "cuda"
    return CT2Translator(runs[0], settings, device=kind, threads=threads or 0)


class CT2Translator(TextSide):
    """:class:`~seqkit.seq2seq.translator.Translator`'s translation methods, run by CTranslate2.

    Args:
        path: an export folder (``seqkit export ct2``) or a run directory holding one in ``ct2/``.
        settings, knobs: the :class:`~seqkit.seq2seq.decoding.DecodeSettings` (as ``Translator``);
            the length penalty must be ``length`` (CTranslate2's ``L ** alpha``) or ``none``, and
            sampling and ``unk_penalty`` are seqkit's engine's only. ``shortlist`` decodes with the
            export's ``vmap.txt`` (CTranslate2's ``use_vmap``: the softmax over the candidates of the
            batch's source pieces); a hypothesis cut at the length cap is rescored over the whole
            vocabulary (``score_batch`` has no shortlist).
        threads: CTranslate2's ``intra_threads`` (0: its default); ``compute_type``: ``"default"``
            (the exported weight type) or a CTranslate2 compute type such as ``"int8"``, ``"float32"``.

    The settings' ``patience`` is CTranslate2's own; unset (seqkit's exact stop, which CTranslate2 does not
    have) it is 2: with 1 (CTranslate2's default) CTranslate2 returned a worse-scoring translation than
    seqkit's exact search for 9 of the 1,000 seqkit-en-fr test sentences (beam 5, alpha 1); with 2, for none.

    ``translate_scored`` gives :class:`~seqkit.seq2seq.translator.Translation` objects with the same
    fields (no attention); ``score`` is the ranking score, ``log_prob`` the summed log-probability of
    the pieces and ``<eos>``.
    """

    ENGINE = "ct2"

    def __init__(self, path: str | os.PathLike, settings: DecodeSettings | None = None, *, device: str = "cpu",
                 threads: int = 0, compute_type: str = "default", **knobs: Any) -> None:
        from seqkit.seq2seq.export_folder import open_export
        from seqkit.seq2seq.model_folder import model_pretokenize, side_functions

        self.settings = DecodeSettings()
        self.settings = self.resolve(settings, **knobs)
        ct2 = ctranslate2_module()
        export = open_export(path)  # the one loader: files, hashes, vocabulary, staleness checked
        self.folder = export.path
        self.tokenizer = export.tokenizer()
        self.pieces = self.tokenizer.pieces()
        try:
            self.translator = ct2.Translator(os.fspath(self.folder), device=device, compute_type=compute_type,
                                             inter_threads=1, intra_threads=threads)
        except (RuntimeError, ValueError, OSError) as exc:
            text = str(exc).strip().splitlines()
            raise SeqkitError(f"CTranslate2 cannot load this export on {device} ({text[0][:160] if text else exc!r})",
                              path=self.folder / "model.bin", fix=export.fix) from None
        self.preprocess, self.postprocess = side_functions(model_pretokenize(export.info))
        self.vmap = export.vmap
        self.stats = self._new_stats()

    # -- the Translator methods -------------------------------------------------------------------
    def search(self, src_ids: list[list[int]], settings: DecodeSettings | None = None, *,
               prefix_ids: list[list[int]] | None = None, **knobs: Any) -> list[list[tuple[list[int], float, float]]]:
        """For each source, its ``nbest`` ``(ids, score, log_prob)`` best first; empty in -> empty out."""
        s = self.resolve(settings, **knobs)
        beam, nbest = s.beam, s.nbest
        if s.shortlist and self.vmap is None:
            raise SeqkitError("--shortlist: this export holds no vocabulary shortlist (vmap.txt)", path=self.folder,
                              fix="export with one: seqkit shortlist build --run RUN, then seqkit export ct2 --run RUN "
                                  "--vmap RUN/vmap.txt")
        self.count_sources(src_ids)
        results: list[list[tuple[list[int], float, float]]] = [[([], 0.0, 0.0)] * nbest for _ in src_ids]
        groups: dict[int, list[int]] = {}
        for i, ids in enumerate(src_ids):
            if not ids:
                continue
            n = min(len(ids) + 1, s.max_src_len)  # with <eos>, cut as seqkit's batcher cuts
            cap = max(1, math.floor(s.max_len_a * n + s.max_len_b))  # seqkit's max_lengths
            if prefix_ids is not None:
                cap = max(cap, len(prefix_ids[i]) + 1)
            groups.setdefault(cap, []).append(i)
        # greedy search ranks by log-probability in seqkit; beam search by log P / L^alpha in both
        alpha = s.alpha if beam > 1 and s.penalty is not None else 0.0
        eos = self.pieces[EOS_ID]
        for cap, rows in sorted(groups.items()):
            sources = [[self.pieces[t] for t in src_ids[i][: s.max_src_len - 1]] + [eos] for i in rows]
            prefixes = None
            if prefix_ids is not None:
                prefixes = [[self.pieces[t] for t in prefix_ids[i]] or None for i in rows]
            # seqkit allows `cap` tokens and then forces <eos>; CTranslate2 stops at max_decoding_length
            # without one. One more step shows which hypotheses ran into the cap (no <eos> at the end):
            # they are cut to `cap` tokens and rescored with <eos>, as seqkit scores them. All `beam`
            # hypotheses come back, so that rescoring can re-rank them before the n best are kept.
            # (Beam search can still differ at the cap: seqkit keeps the best non-<eos> extensions of
            # the last step alive among 2 * beam candidates, CTranslate2 ends there.)
            out = self.translator.translate_batch(
                sources, prefixes, beam_size=max(beam, 1), num_hypotheses=max(beam, 1), length_penalty=alpha,
                max_decoding_length=cap + 1, max_input_length=0, patience=s.patience or EXACT_PATIENCE, return_scores=True,
                return_end_token=True, max_batch_size=s.batch_tokens, batch_type="tokens", use_vmap=s.shortlist)
            capped = []  # (row, hypothesis index, source pieces, the cap tokens)
            for i, source, result in zip(rows, sources, out):
                hyps = []
                for tokens, score in zip(result.hypotheses, result.scores):
                    if tokens and tokens[-1] == eos:
                        ids = [self.tokenizer.piece_to_id(p) for p in tokens[:-1]]
                        # CTranslate2 normalises by the length counting <eos>, as seqkit does
                        hyps.append([ids, score, score * (len(ids) + 1) ** alpha])
                    else:
                        capped.append((i, len(hyps), source, tokens[:cap]))
                        hyps.append([[self.tokenizer.piece_to_id(p) for p in tokens[:cap]], 0.0, 0.0])
                results[i] = hyps
            if capped:
                scored = self.translator.score_batch([c[2] for c in capped], [c[3] for c in capped],
                                                     max_input_length=0)
                for (i, j, _, tokens), res in zip(capped, scored):
                    log_prob = float(sum(res.log_probs))  # the tokens and <eos>
                    lp = float(len(tokens) + 1) ** alpha if alpha else 1.0
                    results[i][j][1:] = [log_prob / lp, log_prob]
        for i, hyps in enumerate(results):
            hyps = sorted((tuple(h) for h in hyps), key=lambda h: h[1], reverse=True)[:nbest]
            results[i] = hyps + [([], 0.0, 0.0)] * (nbest - len(hyps))
        return results

    def translate_ids(self, src_ids: list[list[int]], settings: DecodeSettings | None = None, **knobs: Any
                      ) -> list[list[list[int]]]:
        return [[[t for t in ids if t != UNK_ID] for ids, _, _ in hyps]
                for hyps in self.search(src_ids, self.resolve(settings, **knobs))]

    def translate_scored(self, sentences: list[str] | str, settings: DecodeSettings | None = None, *,
                         attention: bool = False, prefix: str | list[str] | None = None,
                         token_scores: bool = False, **knobs: Any) -> list[list[Any]] | list[Any]:
        """For each sentence its ``nbest`` :class:`~seqkit.seq2seq.translator.Translation` (best first);
        one sentence given as a string gets its own n-best list back (:mod:`seqkit.sentences`)."""
        from seqkit.seq2seq.translator import Translation, encode_prefix

        if attention:
            raise SeqkitError("the ct2 engine gives no attention/alignments", fix="use --engine seqkit")
        s = self.resolve(settings, **knobs)
        sentences, one = one_or_many(sentences)
        src_ids = self.encode(sentences)
        prefix_ids = encode_prefix(self.tokenizer, prefix, len(sentences))
        out = []
        for ids, hyps in zip(src_ids, self.search(src_ids, s, prefix_ids=prefix_ids)):
            src_pieces = [self.pieces[t] for t in ids]
            out.append([Translation(self.decode(tokens), score, log_prob, [self.pieces[t] for t in tokens],
                                    src_pieces, None, None,
                                    self.token_log_probs(ids, tokens, s) if token_scores and ids else None)
                        for tokens, score, log_prob in hyps])
        self.count_outputs([hs[0].text for hs in out])
        return out[0] if one else out

    def token_log_probs(self, src_ids: list[int], tokens: list[int], settings: DecodeSettings | None = None
                        ) -> list[float]:
        """Each of ``tokens`` and then ``<eos>``'s log-probability after ``src_ids`` (CTranslate2's
        ``score_batch``, teacher-forced)."""
        max_src_len = (settings or self.settings).max_src_len
        src = [self.pieces[t] for t in src_ids[: max_src_len - 1]] + [self.pieces[EOS_ID]]
        result = self.translator.score_batch([src], [[self.pieces[t] for t in tokens]])[0]
        return list(result.log_probs)
