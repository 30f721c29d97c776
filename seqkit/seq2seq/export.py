"""Export a trained Transformer to CTranslate2, and translate with the exported model.

:func:`export_ct2` fills CTranslate2's own model specification (``ctranslate2.specs.TransformerSpec``:
the encoder/decoder ``LayerSpec`` variables) from seqkit's weights, then ``validate()``,
``optimize(quantization)`` and ``save()`` -- CTranslate2 writes its binary format itself. The export
folder holds ``model.bin``, ``config.json``, ``shared_vocabulary.json`` (CTranslate2's files), and
``spm.model`` plus ``seqkit.json`` (the seqkit model.json and the quantization) so the folder
translates raw text on its own.

How seqkit's Transformer maps onto the spec (``seqkit/seq2seq/transformer.py``):

* ``pre_norm`` maps to the spec's ``pre_norm``; pre-norm closes each stack with a LayerNorm
  (``enc_norm``/``dec_norm`` -> ``encoder.layer_norm``/``decoder.layer_norm``); post-norm has none.
  LayerNorm epsilon is torch's 1e-5 (``config.layer_norm_epsilon``; CTranslate2's default differs).
* Fused projections have CTranslate2's layout already: self-attention ``qkv_proj`` (3d, d) is
  ``[W_q; W_k; W_v]`` row blocks with the heads contiguous in each -> ``linear[0]``; cross-attention
  ``q_proj`` -> ``linear[0]``, ``kv_proj`` ``[W_k; W_v]`` -> ``linear[1]``; ``out_proj`` -> the last.
* Positions: seqkit interleaves sin/cos (``PE[p, 2i] = sin, PE[p, 2i+1] = cos``) while CTranslate2's
  built-in table puts all sines first, so the exact table (``max_len`` rows, position 0 first) is
  stored as ``position_encodings.encodings``. Embeddings are scaled by sqrt(d_model) in both.
* One joint vocabulary: the encoder and decoder embeddings and (tied) the output projection are the
  same matrix; ``optimize`` stores it once. The vocabulary is the sentencepiece pieces in id order,
  so CTranslate2's ids are seqkit's ids; ``<unk>``/``<bos>``/``<eos>`` are named in ``config.json``.

Decoding (:class:`CT2Translator`) maps seqkit's settings onto ``translate_batch``: the source gets
``<eos>`` appended and is cut to ``max_src_len`` as seqkit's batcher does; the output cap
``floor(max_len_a * source length + max_len_b)`` tokens before ``<eos>`` is per sentence in seqkit but
one number per ``translate_batch`` call, so sentences are grouped by cap (sorted by length, few
groups). Length penalty: seqkit's default is GNMT ``((5 + L) / 6) ** alpha``; CTranslate2 divides by
``L ** alpha`` -- seqkit's ``length_penalty="d2l"`` (L counting ``<eos>``). With ``"d2l"`` greedy output
is identical (1,000 of 1,000 Multi30k test sentences); beam search is identical unless CTranslate2's
stopping rule (``patience``, see :class:`CT2Translator`) ends a search before seqkit's exact one, or a
hypothesis reaches the length cap (988 of 1,000 on an under-trained Multi30k model, 1,000 of 1,000 on
a trained en-fr one; ``docs/benchmarks.md``). With GNMT the rankings differ slightly.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

from seqkit.errors import SeqkitError
from seqkit.io import atomic_dir, copy_file_atomic, load_json, save_json
from seqkit.seq2seq.nmt import TextSide
from seqkit.text.vocab import BOS_ID, EOS_ID, UNK_ID

#: CTranslate2 weight types ``seqkit export ct2 --quantization`` offers (CPU kernels exist for all).
QUANTIZATIONS = ("float32", "int8", "int16")
#: The file that marks an export folder (CTranslate2's weights).
CT2_WEIGHTS = "model.bin"
#: Where ``seqkit export ct2 --run R`` writes by default, and where ``--engine ct2`` looks in a run.
RUN_SUBDIR = "ct2"


def _ctranslate2():
    try:
        import ctranslate2
    except ImportError:
        raise SeqkitError("CTranslate2 is not installed", fix='pip install "seqkit[ct2]" (or: pip install ctranslate2)'
                          ) from None
    return ctranslate2


def exportable(config: dict[str, Any]) -> str | None:
    """Why the model ``config`` (model.json's ``model``) cannot go to CTranslate2, or None if it can."""
    arch = config.get("arch")
    if arch != "transformer":
        return (f"a {arch!r} model (GRU/RNN encoder-decoder with attention) cannot be exported: CTranslate2 "
                "runs Transformer models only")
    if config.get("activation", "relu") not in ("relu", "gelu"):
        return f"activation {config.get('activation')!r} has no CTranslate2 equivalent (relu, gelu)"
    return None


def _numpy(t) -> Any:
    return t.detach().float().contiguous().numpy()


def _linear(spec, layer) -> None:
    spec.weight = _numpy(layer.weight)
    if layer.bias is not None:
        spec.bias = _numpy(layer.bias)


def _norm(spec, norm) -> None:
    spec.gamma, spec.beta = _numpy(norm.weight), _numpy(norm.bias)


def transformer_spec(model, pieces: list[str]) -> Any:
    """A filled, validated ``ctranslate2.specs.TransformerSpec`` of seqkit ``Transformer`` ``model``
    over the joint vocabulary ``pieces`` (id order). Not optimized or quantized yet."""
    _ctranslate2()
    from ctranslate2.specs import common_spec
    from ctranslate2.specs import transformer_spec as ts

    activation = {"relu": common_spec.Activation.RELU, "gelu": common_spec.Activation.GELU}[
        getattr(model.encoder[0].ff.act, "__name__", "relu")]
    spec = ts.TransformerSpec.from_config((len(model.encoder), len(model.decoder)), model.encoder[0].self_attn.n_heads,
                                          pre_norm=model.pre_norm, activation=activation)
    embed = _numpy(model.embed.weight)  # (V, d); scaled by sqrt(d) inside CTranslate2 as in seqkit
    table = _numpy(model.positions.table)  # (max_len, d), seqkit's interleaved sin/cos
    enc, dec = spec.encoder, spec.decoder
    enc.embeddings[0].weight = embed
    dec.embeddings.weight = embed
    enc.position_encodings.encodings = table
    dec.position_encodings.encodings = table
    enc.scale_embeddings = dec.scale_embeddings = True
    if model.pre_norm:
        _norm(enc.layer_norm, model.enc_norm)
        _norm(dec.layer_norm, model.dec_norm)
    dec.projection.weight = embed if model.out_proj is None else _numpy(model.out_proj.weight)
    for layer_spec, layer in zip(enc.layer, model.encoder):
        _norm(layer_spec.self_attention.layer_norm, layer.norms[0])
        _linear(layer_spec.self_attention.linear[0], layer.self_attn.qkv_proj)
        _linear(layer_spec.self_attention.linear[1], layer.self_attn.out_proj)
        _norm(layer_spec.ffn.layer_norm, layer.norms[1])
        _linear(layer_spec.ffn.linear_0, layer.ff.w1)
        _linear(layer_spec.ffn.linear_1, layer.ff.w2)
    for layer_spec, layer in zip(dec.layer, model.decoder):
        _norm(layer_spec.self_attention.layer_norm, layer.norms[0])
        _linear(layer_spec.self_attention.linear[0], layer.self_attn.qkv_proj)
        _linear(layer_spec.self_attention.linear[1], layer.self_attn.out_proj)
        _norm(layer_spec.attention.layer_norm, layer.norms[1])
        _linear(layer_spec.attention.linear[0], layer.cross_attn.q_proj)
        _linear(layer_spec.attention.linear[1], layer.cross_attn.kv_proj)
        _linear(layer_spec.attention.linear[2], layer.cross_attn.out_proj)
        _norm(layer_spec.ffn.layer_norm, layer.norms[2])
        _linear(layer_spec.ffn.linear_0, layer.ff.w1)
        _linear(layer_spec.ffn.linear_1, layer.ff.w2)
    config = spec.config
    config.unk_token, config.bos_token, config.eos_token = pieces[UNK_ID], pieces[BOS_ID], pieces[EOS_ID]
    config.decoder_start_token = pieces[BOS_ID]
    config.add_source_bos = config.add_source_eos = False  # CT2Translator appends <eos> itself, as seqkit does
    config.layer_norm_epsilon = 1e-5  # torch.nn.LayerNorm's
    spec.register_source_vocabulary(pieces)
    spec.register_target_vocabulary(pieces)
    try:
        spec.validate()
    except ValueError as exc:
        raise SeqkitError(f"CTranslate2 refused the model specification: {exc}") from None
    return spec


def export_ct2(run_or_model_dir: str | os.PathLike, out_dir: str | os.PathLike | None = None,
               quantization: str = "float32") -> Path:
    """Convert the Transformer of a run (``RUN/model/``) or model folder to a CTranslate2 folder.

    ``out_dir`` defaults to ``RUN/ct2``; it is written whole (atomically). ``quantization``: one of
    :data:`QUANTIZATIONS` (CTranslate2 quantizes the weights; int8 keeps a per-row float scale).
    A model CTranslate2 cannot run (the RNN encoder-decoder, an unknown activation) raises a one-line
    :class:`SeqkitError`. Returns the export folder.
    """
    from seqkit.seq2seq.nmt import build_model, model_dir
    from seqkit.text import SentencePieceTokenizer
    from seqkit.train.checkpoint import load_weights

    if quantization not in QUANTIZATIONS:
        raise SeqkitError(f"unknown quantization {quantization!r}", fix=f"use one of: {', '.join(QUANTIZATIONS)}")
    folder = model_dir(run_or_model_dir)
    info = load_json(folder / "model.json")
    config = info.get("model") if isinstance(info, dict) else None
    if not isinstance(config, dict) or "vocab_size" not in info:
        raise SeqkitError("model.json lacks 'model' or 'vocab_size'", path=folder / "model.json",
                          fix="re-run the recipe's train stage (force=true)")
    why = exportable(config)
    if why:
        raise SeqkitError(why, path=folder, fix="export a model trained with the nmt_transformer recipe")
    _ctranslate2()
    model = build_model(config, info["vocab_size"])
    try:
        model.load_state_dict(load_weights(folder / "model.safetensors"))
    except RuntimeError as exc:
        raise SeqkitError(f"weights do not fit model.json ({str(exc).splitlines()[0]})",
                          path=folder / "model.safetensors", fix="use the weights written by this run") from None
    pieces = SentencePieceTokenizer.load(folder / "spm.model").pieces()
    if len(pieces) != info["vocab_size"]:
        raise SeqkitError(f"spm.model has {len(pieces)} pieces but the model {info['vocab_size']}", path=folder,
                          fix="keep the files of one model folder together")
    spec = transformer_spec(model.eval(), pieces)
    spec.optimize(quantization=quantization)
    if out_dir is None:
        out_dir = (Path(run_or_model_dir) if folder != Path(run_or_model_dir) else folder.parent) / RUN_SUBDIR
    out = Path(out_dir)
    with atomic_dir(out) as tmp:
        spec.save(os.fspath(tmp))
        copy_file_atomic(folder / "spm.model", tmp / "spm.model")
        save_json(tmp / "seqkit.json", {**info, "ct2_quantization": quantization})
    return out


def ct2_dir(path: str | os.PathLike) -> Path:
    """The export folder ``path`` is, or the one inside a run directory (``RUN/ct2``)."""
    path = Path(path)
    for folder in (path, path / RUN_SUBDIR):
        if (folder / CT2_WEIGHTS).is_file() and (folder / "spm.model").is_file():
            return folder
    raise SeqkitError("no CTranslate2 export here (model.bin and spm.model)", path=path,
                      fix="run `seqkit export ct2 --run RUN_DIR` first, or give the folder it wrote")


class CT2Translator(TextSide):
    """:class:`~seqkit.seq2seq.nmt.Translator`'s translation methods, run by CTranslate2.

    Args:
        path: an export folder (:func:`export_ct2`) or a run directory holding one in ``ct2/``.
        beam, alpha, max_len_a, max_len_b, max_src_len, batch_tokens: as in ``Translator``.
        length_penalty: must be ``"d2l"`` (CTranslate2's ``L ** alpha``) or ``"gnmt"``; with
            ``"gnmt"`` (seqkit's default) ``alpha`` is passed on as CTranslate2's exponent, which
            normalises by ``L ** alpha`` instead -- a near but not identical ranking.
        threads: CTranslate2's ``intra_threads`` (0: its default); ``compute_type``: ``"default"``
            (the exported weight type) or a CTranslate2 compute type such as ``"int8"``, ``"float32"``.
        patience: CTranslate2 ends a sentence's beam search once ``beam * patience`` hypotheses have
            finished; seqkit goes on while an alive hypothesis can still win. With 1 (CTranslate2's
            default) it returned a worse-scoring translation than seqkit for 9 of the 1,000 seqkit-en-fr
            test sentences (beam 5, alpha 1); with 2, for none.

    ``translate_scored`` gives :class:`~seqkit.seq2seq.nmt.Translation` objects with the same fields
    (no attention); ``score`` is the ranking score, ``log_prob`` the summed log-probability of the
    pieces and ``<eos>``.
    """

    def __init__(self, path: str | os.PathLike, *, device: str = "cpu", beam: int = 5, alpha: float = 1.0,
                 max_len_a: float = 1.5, max_len_b: int = 10, max_src_len: int = 250, batch_tokens: int = 3000,
                 length_penalty: str = "gnmt", threads: int = 0, compute_type: str = "default",
                 patience: float = 2.0, **unsupported: Any) -> None:
        from seqkit.seq2seq.nmt import model_pretokenize, side_functions
        from seqkit.text import SentencePieceTokenizer

        bad = {k: v for k, v in unsupported.items() if v not in (None, 0, 0.0, False)}
        if bad:
            raise SeqkitError(f"the ct2 engine does not support {', '.join(sorted(bad))}",
                              fix="drop the option or use --engine seqkit")
        if length_penalty not in ("gnmt", "d2l"):
            raise SeqkitError(f"the ct2 engine has no {length_penalty!r} length penalty", fix="use gnmt or d2l")
        ct2 = _ctranslate2()
        self.folder = ct2_dir(path)
        self.translator = ct2.Translator(os.fspath(self.folder), device=device, compute_type=compute_type,
                                         inter_threads=1, intra_threads=threads)
        self.tokenizer = SentencePieceTokenizer.load(self.folder / "spm.model")
        self.pieces = self.tokenizer.pieces()
        info = load_json(self.folder / "seqkit.json") if (self.folder / "seqkit.json").is_file() else {}
        self.preprocess, self.postprocess = side_functions(model_pretokenize(info))
        self.beam, self.alpha, self.max_len_a, self.max_len_b = beam, alpha, max_len_a, max_len_b
        self.max_src_len, self.batch_tokens, self.length_penalty = max_src_len, batch_tokens, length_penalty
        self.patience = patience
        self.stats = {"sentences": 0, "empty": 0, "truncated": 0, "unknown_tokens": 0}

    @classmethod
    def from_runs(cls, run_dirs: list[str | os.PathLike], *, weights: Any = None, device: str = "cpu",
                  **options: Any) -> CT2Translator:
        """The ``Translator.from_runs`` signature: one export folder or run (no ensembles, no --weights)."""
        if len(run_dirs) != 1:
            raise SeqkitError("the ct2 engine translates with one model, not an ensemble", fix="give one --run")
        if weights is not None:
            raise SeqkitError("--weights does not apply to the ct2 engine",
                              fix="export those weights (seqkit export ct2) and give that folder")
        return cls(run_dirs[0], device=device, **options)

    # -- the Translator methods -------------------------------------------------------------------
    def search(self, src_ids: list[list[int]], *, beam: int | None = None, nbest: int = 1,
               prefix_ids: list[list[int]] | None = None) -> list[list[tuple[list[int], float, float]]]:
        """For each source, its ``nbest`` ``(ids, score, log_prob)`` best first; empty in -> empty out."""
        beam = self.beam if beam is None else beam
        if nbest > max(beam, 1):
            raise SeqkitError(f"nbest ({nbest}) cannot exceed the beam size ({beam})", fix="raise --beam")
        self.stats["sentences"] += len(src_ids)
        results: list[list[tuple[list[int], float, float]]] = [[([], 0.0, 0.0)] * nbest for _ in src_ids]
        groups: dict[int, list[int]] = {}
        for i, ids in enumerate(src_ids):
            if not ids:
                self.stats["empty"] += 1
                continue
            n = min(len(ids) + 1, self.max_src_len)  # with <eos>, cut as seqkit's batcher cuts
            cap = max(1, math.floor(self.max_len_a * n + self.max_len_b))  # seqkit's max_lengths
            if prefix_ids is not None:
                cap = max(cap, len(prefix_ids[i]) + 1)
            groups.setdefault(cap, []).append(i)
        alpha = self.alpha if beam > 1 else 0.0  # greedy search ranks by log-probability in seqkit
        eos = self.pieces[EOS_ID]
        for cap, rows in sorted(groups.items()):
            sources = [[self.pieces[t] for t in src_ids[i][: self.max_src_len - 1]] + [eos] for i in rows]
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
                max_decoding_length=cap + 1, max_input_length=0, patience=self.patience, return_scores=True, return_end_token=True,
                max_batch_size=self.batch_tokens, batch_type="tokens")
            capped = []  # (row, hypothesis index, source pieces, the cap tokens)
            for i, source, result in zip(rows, sources, out):
                hyps = []
                for tokens, score in zip(result.hypotheses, result.scores):
                    if tokens and tokens[-1] == eos:
                        ids = [self.tokenizer.piece_to_id(p) for p in tokens[:-1]]
                        # CTranslate2 normalises by the length counting <eos>, as seqkit's d2l penalty
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
                    lp = self._penalty(len(tokens) + 1, alpha)
                    results[i][j][1:] = [log_prob / lp, log_prob]
        for i, hyps in enumerate(results):
            hyps = sorted((tuple(h) for h in hyps), key=lambda h: h[1], reverse=True)[:nbest]
            results[i] = hyps + [([], 0.0, 0.0)] * (nbest - len(hyps))
        return results

    def _penalty(self, length: int, alpha: float) -> float:
        """The length penalty CTranslate2 applies (``L ** alpha``), the one finished hypotheses got."""
        return float(length) ** alpha if alpha else 1.0

    def translate_scored(self, sentences: list[str], *, beam: int | None = None, nbest: int = 1,
                         attention: bool = False, prefix: str | list[str] | None = None,
                         token_scores: bool = False) -> list[list[Any]]:
        """For each sentence its ``nbest`` :class:`~seqkit.seq2seq.nmt.Translation` (best first)."""
        from seqkit.seq2seq.nmt import Translation, encode_prefix

        if attention:
            raise SeqkitError("the ct2 engine gives no attention/alignments", fix="use --engine seqkit")
        src_ids = self.encode(sentences)
        prefix_ids = encode_prefix(self.tokenizer, prefix, len(sentences))
        out = []
        for ids, hyps in zip(src_ids, self.search(src_ids, beam=beam, nbest=nbest, prefix_ids=prefix_ids)):
            src_pieces = [self.pieces[t] for t in ids]
            out.append([Translation(self.decode(tokens), score, log_prob, [self.pieces[t] for t in tokens],
                                    src_pieces, None, None,
                                    self.token_log_probs(ids, tokens) if token_scores and ids else None)
                        for tokens, score, log_prob in hyps])
        return out

    def token_log_probs(self, src_ids: list[int], tokens: list[int]) -> list[float]:
        """Each of ``tokens`` and then ``<eos>``'s log-probability after ``src_ids`` (CTranslate2's
        ``score_batch``, teacher-forced)."""
        src = [self.pieces[t] for t in src_ids[: self.max_src_len - 1]] + [self.pieces[EOS_ID]]
        result = self.translator.score_batch([src], [[self.pieces[t] for t in tokens]])[0]
        return list(result.log_probs)

    def translate_ids(self, src_ids: list[list[int]], *, beam: int | None = None, nbest: int = 1
                      ) -> list[list[list[int]]]:
        return [[[t for t in ids if t != UNK_ID] for ids, _, _ in hyps]
                for hyps in self.search(src_ids, beam=beam, nbest=nbest)]

