"""Export a trained Transformer to CTranslate2, and translate with the exported model.

:func:`export_ct2` fills CTranslate2's own model specification (``ctranslate2.specs.TransformerSpec``:
the encoder/decoder ``LayerSpec`` variables) from seqkit's weights, then ``validate()``,
``optimize(quantization)`` and ``save()`` -- CTranslate2 writes its binary format itself. The export
folder holds ``model.bin``, ``config.json``, ``shared_vocabulary.json`` (CTranslate2's files), and
``spm.model`` plus ``seqkit.json`` (the seqkit model.json, the quantization, and where the export
came from: the model folder, its weights' SHA-256, model.bin's SHA-256), and with ``--vmap`` a
vocabulary shortlist as ``vmap.txt`` (:mod:`seqkit.seq2seq.shortlist`), so the folder translates raw
text on its own, and its loader (:func:`seqkit.seq2seq.export_folder.open_export`) refuses a swapped
tokenizer, a damaged model.bin or a stale export.

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

Decoding with the export is :class:`seqkit.seq2seq.engines.CT2Translator`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from seqkit.errors import SeqkitError
from seqkit.io import atomic_dir, copy_file_atomic, save_json
from seqkit.outputs import check_replaceable
from seqkit.text.vocab import BOS_ID, EOS_ID, UNK_ID

#: CTranslate2 weight types ``seqkit export ct2 --quantization`` offers (CPU kernels exist for all).
QUANTIZATIONS = ("float32", "int8", "int16")
#: The file that marks an export folder (CTranslate2's weights).
CT2_WEIGHTS = "model.bin"
#: The kind of output an export folder is (:mod:`seqkit.outputs`: its marker, and what --force replaces).
OUTPUT_KIND = "ct2-export"
#: Where ``seqkit export ct2 --run R`` writes by default, and where ``--engine ct2`` looks in a run.
RUN_SUBDIR = "ct2"


def ctranslate2_module():
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
    ctranslate2_module()
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
               quantization: str = "float32", vmap: str | os.PathLike | None = None) -> Path:
    """Convert the Transformer of a run (``RUN/model/``) or model folder to a CTranslate2 folder.

    ``out_dir`` defaults to ``RUN/ct2``; it is written whole (atomically, marked as a ``ct2-export``)
    and must be missing, empty or an earlier export: any other folder is refused before the conversion
    (:func:`seqkit.outputs.check_replaceable`). ``quantization``: one of
    :data:`QUANTIZATIONS` (CTranslate2 quantizes the weights; int8 keeps a per-row float scale).
    ``vmap``: a vocabulary shortlist (``seqkit shortlist build``), checked against the model's
    vocabulary and shipped as ``vmap.txt`` (the name CTranslate2's ``use_vmap=True`` reads; its size
    and SHA-256 recorded in ``seqkit.json``). A model CTranslate2 cannot run (the RNN encoder-decoder,
    an unknown activation) raises a one-line :class:`SeqkitError`. Returns the export folder.
    """
    from seqkit.io import file_stamp
    from seqkit.seq2seq.export_folder import export_record
    from seqkit.seq2seq.model_folder import open_model_folder

    if quantization not in QUANTIZATIONS:
        raise SeqkitError(f"unknown quantization {quantization!r}", fix=f"use one of: {', '.join(QUANTIZATIONS)}")
    model_folder = open_model_folder(run_or_model_dir)
    folder = model_folder.path
    why = exportable(model_folder.config)
    if why:
        raise SeqkitError(why, path=folder, fix="export a model trained with the nmt_transformer recipe")
    if out_dir is None:
        out_dir = (Path(run_or_model_dir) if folder != Path(run_or_model_dir) else folder.parent) / RUN_SUBDIR
    out = Path(out_dir)
    check_replaceable(out, OUTPUT_KIND)  # before any work: never replace a folder that is not an export
    ctranslate2_module()
    weights = file_stamp(model_folder.weights)  # what the export is made from, before it is read
    pieces = model_folder.tokenizer().pieces()
    if vmap is not None:  # checked before the conversion: a bad line is named, nothing is written
        from seqkit.seq2seq.shortlist import Shortlist

        Shortlist.load(vmap, pieces)
    model = model_folder.build_model()
    spec = transformer_spec(model.eval(), pieces)
    spec.optimize(quantization=quantization)
    with atomic_dir(out, OUTPUT_KIND) as tmp:
        spec.save(os.fspath(tmp))
        copy_file_atomic(folder / "spm.model", tmp / "spm.model")
        if vmap is not None:
            from seqkit.seq2seq.shortlist import VMAP_FILE

            copy_file_atomic(vmap, tmp / VMAP_FILE)
        save_json(tmp / "seqkit.json", export_record(model_folder, tmp, quantization, weights))
    return out

