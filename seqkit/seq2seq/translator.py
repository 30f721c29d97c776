"""Translating raw sentences: :class:`Translator` (seqkit's own search) and what every engine shares.

:class:`TextSide` is the text half every engine shares (encode, decode, report);
:class:`Translator` adds seqkit's batched beam/greedy search and sampling over a model of the
:mod:`seqkit.seq2seq.interfaces` interface, loaded from a run with :meth:`Translator.from_run`. Its
settings are one :class:`~seqkit.seq2seq.decoding.DecodeSettings`; each call may change some of them.
"""

from __future__ import annotations

import dataclasses
import os
import sys
import threading
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from seqkit.errors import SeqkitError
from seqkit.sentences import one_or_many, refuse_string
from seqkit.seq2seq.decoding import DEFAULT, DecodeSettings, check_engine
from seqkit.seq2seq.search import Hypothesis, beam_search, greedy_search, sample
from seqkit.seq2seq.shortlist import Shortlist, run_vmap
from seqkit.seq2seq.shortlist_decoding import ShortlistModel
from seqkit.text.vocab import BOS_ID, EOS_ID, PAD_ID, UNK_ID
from seqkit.threads import computes
from seqkit.train.distributed import gather_shards, shard


@dataclass
class Translation:
    """One translation of a sentence: ``text`` (detokenized), ``score`` (the ranking score:
    ``log_prob / lp(length)`` in beam search), ``log_prob`` (summed over the pieces and ``<eos>``),
    ``pieces`` / ``src_pieces`` (what the model read and wrote) and ``alignment`` (``(source piece,
    target piece)`` pairs by argmax attention, when asked for)."""

    text: str
    score: float
    log_prob: float
    pieces: list[str]
    src_pieces: list[str]
    alignment: list[tuple[int, int]] | None = None
    attention: torch.Tensor | None = None  # (len(pieces) + 1, len(src_pieces) + 1): <eos> row and column
    token_log_probs: list[float] | None = None  # each piece's and then <eos>'s log-probability, on request

    def heatmap(self, path: str | os.PathLike) -> None:
        """Write this translation's attention as a PNG heatmap, labelled with readable pieces."""
        from seqkit.seq2seq.plot import plot_attention, readable

        if self.attention is None:
            raise SeqkitError("no attention kept for this translation", fix="translate with attention=True")
        plot_attention(self.attention, [*readable(self.src_pieces), "</s>"], readable(self.pieces), path,
                       title=self.text[:80])

    def pharaoh(self) -> str:
        """The alignment as ``0-0 1-2 ...`` (source-target, 0-based piece indices)."""
        return " ".join(f"{s}-{t}" for s, t in self.alignment or [])


def encode_prefix(tokenizer: Any, prefix: str | list[str] | None, n: int) -> list[list[int]] | None:
    """Target-prefix ids for ``n`` sentences: one text for all, or one per sentence (``None``: none)."""
    if prefix is None:
        return None
    texts = [prefix] * n if isinstance(prefix, str) else list(prefix)
    if len(texts) != n:
        raise SeqkitError(f"{len(texts)} prefixes for {n} sentences", fix="give one prefix, or one per sentence")
    return [list(ids) for ids in tokenizer.encode_ids_batch(texts)]


def alignment(attention: torch.Tensor, n_src: int, n_tgt: int) -> list[tuple[int, int]]:
    """``(source, target)`` piece pairs: each target piece aligned to the source piece it attends to
    most (the ``<eos>`` row and column left out; a row that attends most to ``<eos>`` aligns nowhere)."""
    if n_src == 0 or n_tgt == 0:
        return []
    best = attention[:n_tgt].float().argmax(dim=-1).tolist()
    return [(s, t) for t, s in enumerate(best) if s < n_src]


class _UnkPenalty(nn.Module):
    """A model whose ``<unk>`` log-probability is lowered by ``penalty`` at every decoding step."""

    def __init__(self, model: nn.Module, penalty: float) -> None:
        super().__init__()
        self.model, self.penalty, self.pad_id = model, penalty, getattr(model, "pad_id", PAD_ID)

    def encode(self, src: torch.Tensor, src_len: torch.Tensor) -> Any:
        return self.model.encode(src, src_len)

    def decode_step(self, prev_tokens: torch.Tensor, state: Any, need_attn: bool = False) -> Any:
        log_probs, state, attn = self.model.decode_step(prev_tokens, state, need_attn)
        log_probs = log_probs.clone()
        log_probs[:, UNK_ID] -= self.penalty
        return log_probs, state, attn


QUANTIZE = ("int8",)


def quantize_model(model: nn.Module, kind: str, device: torch.device | str = "cpu") -> nn.Module:
    """A copy of ``model`` for int8 inference on the CPU (``--quantize int8``): every ``nn.Linear`` an
    :class:`~seqkit.seq2seq.int8.Int8Linear` (weights int8 per output row, activations quantized per
    call, or per row in seqkit's own kernel), the Transformer's output projection too (with tied embeddings: the embedding's rows), and its
    embedding lookup reads int8 rows (:class:`~seqkit.seq2seq.int8.Int8Embedding`; tied: the projection's
    own). CPU only -- torch has no int8 kernels of this kind on other devices.

    How it was chosen (torch 2.13, x86; **busy machine**: a shared 2-core AMD EPYC with AVX512-VNNI,
    load average 4, figures are this thread's CPU time, medians of 7 interleaved rounds -- relative
    costs only, to be measured again on a quiet machine). ``python benchmarks/int8.py --repeats 7
    --clock cpu`` printed, for the Multi30k base model's shape (d 256, 3+3 layers, 8,000 pieces, tied):

    ===========================  =======  ================  =======  =======  =======
    workload                     float32  quantize_dynamic  fbgemm   onednn   chosen
    ===========================  =======  ================  =======  =======  =======
    projection, 5 rows (us)      1,088    109               101      119      105
    projection, 40 rows (us)     3,391    668               639      589      623
    projection, 160 rows (us)    8,561    2,961             2,855    2,024    1,956
    projection, 750 rows (us)    33,482   14,078            14,261   9,482    9,391
    20 steps, 1 x beam 5 (ms)    122.2    56.1              48.0     62.9     50.4
    20 steps, 32 x beam 5 (ms)   683.2    353.0             339.6    346.6    352.0
    20 steps, 150 x beam 5 (ms)  2,548.7  1,380.9           1,433.8  1,258.2  1,256.0
    20 steps, 32 x beam 1 (ms)   247.4    112.2             111.0    136.5    110.5
    model tensors (MB)           29.9     16.3              10.3     10.3     12.3
    ===========================  =======  ================  =======  =======  =======

    ``quantize_dynamic`` is what this function did before (``torch.ao.quantization.quantize_dynamic``
    with per-channel weights: its Linear runs fbgemm with activations in 0..127); ``fbgemm`` /
    ``onednn`` are :class:`~seqkit.seq2seq.int8.Int8Linear` with one engine's kernel for every call
    (``torch.backends.quantized.engine`` at packing time; ``x86``, torch's default, timed as fbgemm),
    activations in 0..255. A kernel-only A/B (the same weights, 256 x 1,085 to 256 x 32,000, glibc
    keeping freed memory as the Translator has it) put the crossover at about 2^18 output numbers:
    below, fbgemm by 1.1-1.4x; above, oneDNN by 1.1-1.5x (without ``keep_freed_memory`` fbgemm's fresh
    buffers page-fault and oneDNN led by up to 3.7x). For the other layers (256 -> 256 / 512 / 768 /
    1,024 and 1,024 -> 256) fbgemm was as fast or faster up to 160 rows (oneDNN 1.2-2x slower at 5-32)
    and about even at 750 (0.9-1.1x), so they stay on fbgemm alone (one packed copy, not two). The
    whole steps move less than the projection alone: 1.0-1.1x ``quantize_dynamic``, the step noise on
    this machine is 5-10%.

    What was chosen, then: the ``chosen`` column -- fbgemm, plus oneDNN for the output projection's
    wide calls; activations in the full 0..255 range on CPUs with VNNI (largest log-probability change
    from float32 on the first step 0.080, against 0.137 for quantize_dynamic; per token on the tiny
    test run 0.008 against 0.015 on average), 0..127 and fbgemm alone without VNNI (where 0..255 could
    saturate);
    the embedding lookup from the projection's int8 rows (model tensors 12.3 MB, against 20.1 MB with
    the float32 table kept; its lookup time was lost in the steps' noise). Not taken: weight-only int8
    (``torch.ops.aten._weight_int8pack_mm``: 15-60x slower than float32 here), fp16 weights
    (``quantized::linear_dynamic_fp16``: 1-2x float32's speed, below int8's), and ``quantize_dynamic``
    with another ``qconfig_spec`` (the same modules and kernels, with reduce_range fixed on). For a vocabulary
    shortlist the candidates' int8 rows are gathered and packed again (3.4 ms a batch for 1,085 rows),
    not their float rows quantized anew (4.1 ms): cheaper, and each logit stays the full projection's.

    Since then, on CPUs with AVX512-VNNI: seqkit's own int8 kernel (:mod:`seqkit.seq2seq.linear_kernel`,
    activations quantized per row) runs every call at one torch thread and calls of up to 32 rows at two,
    and a pre-norm ReLU model's decoder stack runs each step in one C call
    (:mod:`seqkit.seq2seq.decoder_kernel`). ``python benchmarks/int8.py --run RUN --repeats 3`` (quiet
    machine): 20 steps at beam 5 of 1 sentence 11.3 ms against fbgemm's 34.9 (3.1x), of 32 sentences 175
    against 228 (1.30x), of 150 sentences 816 against 991 (1.21x); model tensors 19.6 MB (the kernel's
    packed copy beside torch's, which runs at more threads). The kernel's AVX2 build (exact int16 pair
    sums, so the same numbers and range; CPUs without AVX-512, as most laptops) gives the same speed-up of
    one-sentence decoding there: on a 2-core AMD EPYC (Zen 3), base model, beam 5, one sentence at a time,
    2.4x the target tokens/s of fbgemm's Python step (with the step's ends in C too; ``docs/benchmarks.md``).
    """
    import copy

    from seqkit.seq2seq.int8 import int8_layers

    if kind not in QUANTIZE:
        raise SeqkitError(f"unknown quantization {kind!r}", fix=f"use one of: {', '.join(QUANTIZE)}")
    if torch.device(device).type != "cpu":
        raise SeqkitError(f"--quantize {kind} runs on the CPU only", fix="drop --quantize or use --device cpu")
    return int8_layers(copy.deepcopy(model))


class TextSide:
    """What every translation engine does around its search, on text: ``encode`` sentences to source
    ids (counting ``<unk>`` pieces and over-long sources in ``stats``), ``decode`` output ids to text,
    ``translate`` (through the engine's ``translate_ids``) and ``report``. An engine sets
    ``tokenizer``, ``preprocess``, ``postprocess``, ``settings`` and ``stats``, and defines
    ``ENGINE`` (its name in :mod:`seqkit.seq2seq.decoding`'s surfaces)."""

    ENGINE = "seqkit"

    def _new_stats(self) -> dict[str, int]:
        """``sentences`` searched, ``empty`` translations (outputs with no text), of them
        ``empty_inputs`` (empty sources), ``truncated`` sources and ``unknown_tokens`` source pieces."""
        return {"sentences": 0, "empty": 0, "empty_inputs": 0, "truncated": 0, "unknown_tokens": 0}

    def count_sources(self, src_ids: list[list[int]]) -> None:
        """Count one search's sources in ``stats`` (every engine's ``search`` calls it)."""
        self.stats["sentences"] += len(src_ids)
        self.stats["empty_inputs"] += sum(1 for ids in src_ids if not ids)

    def count_outputs(self, best: list[str]) -> None:
        """Count the best translations that print as nothing (``translate`` and ``translate_scored``
        of every engine call it on the text they return: what a reader of the output file sees)."""
        self.stats["empty"] += sum(1 for text in best if not text.strip())

    def resolve(self, settings: DecodeSettings | None = None, **knobs: Any) -> DecodeSettings:
        """The settings of one call: ``settings`` (default: this engine's) with ``knobs`` changed
        (``beam=3`` ...; ``None`` values ignored), checked, and refused if this engine cannot do them."""
        out = settings or self.settings
        if any(v is not None for v in knobs.values()):
            out = out.replace(**knobs)
        check_engine(out, self.ENGINE)
        return out

    @property
    def max_src_len(self) -> int:
        return self.settings.max_src_len

    def encode(self, sentences: list[str]) -> list[list[int]]:
        """Source ids for each sentence (``<unk>`` pieces counted; ``<eos>`` is added when batching)."""
        refuse_string(sentences, "encode", "give [sentence], or call translate(sentence)")
        texts = [self.preprocess(s) if self.preprocess else s for s in sentences]
        ids = [list(seq) for seq in self.tokenizer.encode_ids_batch(texts)]
        self.stats["unknown_tokens"] += sum(seq.count(UNK_ID) for seq in ids)
        self.stats["truncated"] += sum(1 for seq in ids if len(seq) + 1 > self.max_src_len)
        return ids

    def decode(self, ids: list[int]) -> str:
        """Detokenized text of output ids (``<unk>`` marks are never printed)."""
        text = self.tokenizer.decode_ids([t for t in ids if t != UNK_ID])
        return self.postprocess(text) if self.postprocess else text

    def translate(self, sentences: list[str] | str, settings: DecodeSettings | None = None, **knobs: Any
                  ) -> list[list[str]] | list[str] | str:
        """Detokenized translations: a list of strings, or of ``nbest`` lists when ``nbest > 1``. One
        sentence given as a string gets its translation (or n-best list) back (:mod:`seqkit.sentences`)."""
        settings = self.resolve(settings, **knobs)
        sentences, one = one_or_many(sentences)
        outs = self.translate_ids(self.encode(sentences), settings)
        if settings.nbest == 1:
            texts = [self.decode(o[0]) for o in outs]
            self.count_outputs(texts)
        else:
            texts = [[self.decode(h) for h in o] for o in outs]
            self.count_outputs([t[0] for t in texts])
        return texts[0] if one else texts

    def translate_ids(self, src_ids: list[list[int]], settings: DecodeSettings | None = None, **knobs: Any
                      ) -> list[list[list[int]]]:
        """For each source id list, its ``nbest`` output id lists (best first); empty in -> empty out."""
        return [[[t for t in h.tokens if t != UNK_ID] for h in hs]  # never print <unk> marks
                for hs in self.search(src_ids, self.resolve(settings, **knobs))]

    def report(self, stream=None) -> None:
        """Print what was skipped or cut, if anything (one line, to ``stream`` or stderr)."""
        s = self.stats
        notes = []
        if s["empty_inputs"]:
            notes.append(f"{s['empty_inputs']} empty lines gave empty translations")
        if s["empty"] > s["empty_inputs"]:
            notes.append(f"{s['empty'] - s['empty_inputs']} non-empty lines were translated as empty")
        if s["truncated"]:
            notes.append(f"{s['truncated']} sources longer than {self.max_src_len} tokens were cut")
        if s["unknown_tokens"]:
            notes.append(f"{s['unknown_tokens']} source pieces were unknown to the model (<unk>)")
        if notes:
            print("note: " + "; ".join(notes), file=stream or sys.stderr)


class Translator(TextSide):
    """Translate raw sentences with a trained model: encode, batch by length, search, decode.

    Args:
        model: an encoder-decoder of the :mod:`seqkit.seq2seq.interfaces` interface.
        tokenizer: the joint :class:`~seqkit.text.SentencePieceTokenizer` (ids = model ids).
        settings: the :class:`~seqkit.seq2seq.decoding.DecodeSettings` (beam, length penalty, caps,
            sampling, batch size ...); ``knobs`` change some of them (``Translator(m, tok, beam=4)``).
            Every method takes ``settings`` and ``knobs`` again, for that call.
        quantize: ``"int8"`` runs the model with int8 weights (:func:`quantize_model`, CPU only:
            the Linear layers, the output projection and the embedding; weights quantized per row
            once, activations per call or per row); None keeps float32.
        preprocess / postprocess: applied to every source before encoding / every detokenized output
            (e.g. cutting and joining Chinese words).
        shortlist: a vocabulary shortlist (:class:`~seqkit.seq2seq.shortlist.Shortlist` or its vmap
            file) for the ``shortlist`` setting: each decoding batch scores only the candidates of its
            source pieces (:mod:`seqkit.seq2seq.shortlist`). :meth:`from_run` gives the run's
            ``vmap.txt`` (``seqkit shortlist build``).
        pack: float32 on a CPU: search with a copy of the model whose Linear layers and output
            projection hold their weights packed for oneDNN's kernels (:mod:`seqkit.seq2seq.packed`;
            1.2-4x faster matrix products at decoding shapes, the same numbers to float rounding).
            The copy is made again whenever the weights change (a training step, ``translator.model =
            other``), so it never lags the model. False: search with ``model`` itself.
        split_ranks: under ``torchrun``, the ranks search together: each searches every
            ``world_size``-th decoding batch and every rank gets all the results
            (:mod:`seqkit.train.distributed`), so every rank must make the same calls with the same
            sentences. Each sentence is searched in the batch, padded the same way, that one process
            would put it in, so the translations are those of one process, bit for bit. ``stats``
            count all the sentences on every rank. Sampling is not split (its draws come from one
            generator, batch after batch): every rank then samples everything. No effect in a single
            process.
    """

    def __init__(self, model: nn.Module, tokenizer: Any, settings: DecodeSettings | None = None, *,
                 device: str | torch.device = "cpu", quantize: str | None = None, preprocess: Any = None,
                 postprocess: Any = None, split_ranks: bool = False, shortlist: Any = None, pack: bool = True,
                 **knobs: Any) -> None:
        from seqkit.train.host_memory import keep_freed_memory

        self.settings = DEFAULT
        self.settings = self.resolve(settings, **knobs)
        self.device = torch.device(device)
        keep_freed_memory(self.device)  # on a CPU: beam search reuses its buffers without page faults
        self.model = model.to(self.device).eval()
        if quantize is not None:
            self.model = quantize_model(self.model, quantize, self.device)
        self.pack = pack and quantize is None and self.device.type == "cpu"
        self._packed: tuple[nn.Module, tuple, nn.Module] | None = None  # (of what, its weights' versions, copy)
        self._packing = threading.Lock()  # a server's threads translate at once: one of them packs
        self.tokenizer = tokenizer
        self.preprocess, self.postprocess = preprocess, postprocess
        self.stats = self._new_stats()
        self.split_ranks = split_ranks
        self.vmap = shortlist  # a Shortlist, or its vmap file (read when first used), or None

    @classmethod
    def from_runs(cls, run_dirs: list[str | os.PathLike], settings: DecodeSettings | None = None, *,
                  weights: str | os.PathLike | None = None, device: str | torch.device = "cpu",
                  quantize: str | None = None, **knobs: Any) -> Translator:
        """One run: :meth:`from_run` (``weights`` may replace its best weights). Several: their models
        as an :class:`~seqkit.seq2seq.ensemble.Ensemble` over the first run's tokenizer; runs whose
        tokenizers or vocabularies differ are refused (their ids would not mean the same pieces)."""
        from seqkit.seq2seq.ensemble import Ensemble
        from seqkit.seq2seq.model_folder import check_same_tokenizer, open_model_folder

        if len(run_dirs) == 1:
            return cls.from_run(run_dirs[0], settings, weights=weights, device=device, quantize=quantize, **knobs)
        if weights is not None:
            raise SeqkitError("--checkpoint applies to one run, not an ensemble", fix="drop --checkpoint or give one --run")
        folders = [open_model_folder(r) for r in run_dirs]
        check_same_tokenizer(folders, "an ensemble")
        models = [f.build_model() for f in folders]
        pre, post = folders[0].side_functions()
        knobs.setdefault("shortlist", run_vmap(run_dirs[0]))
        return cls(Ensemble(models), folders[0].tokenizer(), settings, device=device, quantize=quantize,
                   preprocess=pre, postprocess=post, **knobs)

    @classmethod
    def from_run(cls, run_dir: str | os.PathLike, settings: DecodeSettings | None = None, *,
                 weights: str | os.PathLike | None = None, device: str | torch.device = "cpu",
                 quantize: str | None = None, **knobs: Any) -> Translator:
        """Load the model folder of a run (``RUN_DIR/model/``, or a model folder itself) through its one
        loader (:func:`~seqkit.seq2seq.model_folder.open_model_folder`).

        The decode settings are ``settings`` and ``knobs``, never something a training run stored.
        ``weights``: ``"best"`` (default: the model folder's, the best so far while the run trains),
        ``"last"`` (the newest step checkpoint of a running or killed run) or a weights file.
        The vocabulary shortlist is the run's ``vmap.txt`` when there is one (read only when used).
        """
        from seqkit.seq2seq.model_folder import checkpoint_weights, open_model_folder

        folder = open_model_folder(run_dir)
        pre, post = folder.side_functions()
        weights = checkpoint_weights(run_dir, weights)
        knobs.setdefault("shortlist", run_vmap(run_dir))
        return cls(folder.build_model(weights), folder.tokenizer(), settings, device=device, quantize=quantize,
                   preprocess=pre, postprocess=post, **knobs)

    # -- translation ------------------------------------------------------------------------------
    def batches(self, src_ids: list[list[int]], settings: DecodeSettings) -> Any:
        """Length-bucketed decoding batches (``seqkit.data.ParallelBatches``, sources as dummy targets).

        The same padding and ``<eos>`` convention as training; empty sources are left out (their
        translation is empty) and sources over ``max_src_len`` tokens (``<eos>`` included) are cut.
        """
        from seqkit.data import ParallelBatches

        return ParallelBatches(src_ids, src_ids, max_tokens=settings.batch_tokens, bucket=True, shuffle=False,
                               max_src_len=settings.max_src_len, max_tgt_len=settings.max_src_len, count="tgt")

    @computes
    def search(self, src_ids: list[list[int]], settings: DecodeSettings | None = None, *, attention: bool = False,
               prefix_ids: list[list[int]] | None = None, **knobs: Any) -> list[list[Hypothesis]]:
        """For each source id list, its ``nbest`` :class:`~seqkit.seq2seq.search.Hypothesis` (best
        first, with ``score`` -- the ranking score, length-normalised in beam search -- ``log_prob``,
        the summed log-probability of the tokens and ``<eos>``, and with ``attention`` the (target
        steps, source pieces + ``<eos>``) weights). ``prefix_ids``: target pieces each output must
        start with (forced; scored by the model). An empty source gives empty hypotheses."""
        s = self.resolve(settings, **knobs)
        nbest = s.nbest
        empty = Hypothesis([], 0.0, 0.0, None)
        results: list[list[Hypothesis]] = [[empty] * nbest for _ in src_ids]
        self.count_sources(src_ids)
        if all(not ids for ids in src_ids):
            return results
        shortlist = self.shortlist() if s.shortlist else None
        sampling = s.sampling()
        generator = torch.Generator().manual_seed(s.seed) if sampling is not None else None
        split = self.split_ranks and sampling is None
        caps = {"max_len_a": s.max_len_a, "max_len_b": s.max_len_b, "bos_id": BOS_ID, "eos_id": EOS_ID,
                "return_attention": attention}
        batches = self.batches(src_ids, s).epoch(0)
        searched_model = self.inference_model()  # once per call: its weights cannot change between batches
        searched = []  # (sentence indices, their hypotheses) of each batch searched here
        for batch in shard(batches) if split else batches:
            src, src_len = batch.src.to(self.device), batch.src_len.to(self.device)
            prefix = None
            if prefix_ids is not None:
                rows = [prefix_ids[i] for i in batch.indices.tolist()]
                width = max((len(r) for r in rows), default=0)
                prefix = torch.tensor([r + [-1] * (width - len(r)) for r in rows], dtype=torch.long,
                                      device=self.device) if width else None
            model, ids = searched_model, None
            if shortlist is not None:  # the batch's candidates; the search runs over their indices
                extra = [] if prefix is None else prefix[prefix >= 0].tolist()
                ids = torch.from_numpy(shortlist.candidates(src.tolist(), extra)).to(self.device)
                model = ShortlistModel(model, ids)
                if prefix is not None:
                    prefix = torch.where(prefix >= 0, torch.searchsorted(ids, prefix.clamp(min=0)), prefix)
            if s.unk_penalty:
                model = _UnkPenalty(model, s.unk_penalty)
            if sampling is not None:
                hyps = [[h] for h in sample(model, src, src_len, temperature=s.temperature, top_k=s.top_k,
                                            top_p=s.top_p, generator=generator, prefix=prefix, **caps)]
            elif s.beam <= 1:
                hyps = [[h] for h in greedy_search(model, src, src_len, prefix=prefix, **caps)]
            else:
                hyps = beam_search(model, src, src_len, beam_size=s.beam, alpha=s.alpha, nbest=nbest,
                                   length_penalty=s.penalty, prefix=prefix, patience=s.patience, **caps)
            if ids is not None:  # candidate indices -> vocabulary ids
                table = ids.tolist()
                hyps = [[dataclasses.replace(h, tokens=[table[t] for t in h.tokens]) for h in hs] for hs in hyps]
            searched.append((batch.indices.tolist(), hyps))
        for indices, hyps in gather_shards(searched) if split else searched:
            for i, hs in zip(indices, hyps):
                results[i] = list(hs) + [empty] * (nbest - len(hs))
        return results

    def inference_model(self) -> nn.Module:
        """The module the searches run: :attr:`model`, or (``pack``) its packed float32 copy, made
        again when :attr:`model` is another module or any of its weights changed in place since the
        copy (a parameter's version counter counts in-place writes: optimizer steps, ``load_state_dict``)."""
        from seqkit.seq2seq.packed import float32_layers, packing_works

        if not (self.pack and packing_works()):
            return self.model
        with self._packing:
            model = self.model
            params = list(model.parameters())
            if any(p.dtype != torch.float32 for p in params):  # a bf16 / float64 model runs as it is
                return model
            versions = tuple((id(p), p._version) for p in params)
            if self._packed is None or self._packed[0] is not model or self._packed[1] != versions:
                import copy

                self._packed = None  # the old copy goes before the new one is made
                try:
                    packed = float32_layers(copy.deepcopy(model)).eval()
                except (TypeError, RuntimeError, AttributeError, NotImplementedError, copy.Error):
                    packed = model  # a model of the caller's own that cannot be copied runs as it is
                self._packed = (model, versions, packed)
            return self._packed[2]

    def shortlist(self) -> Shortlist:
        """The vocabulary shortlist (read and checked against the tokenizer's pieces on first use)."""
        from seqkit.seq2seq.shortlist import Shortlist

        if self.vmap is None:
            raise SeqkitError("--shortlist: this run has no vocabulary shortlist (vmap.txt)",
                              fix="build one first: seqkit shortlist build --run RUN_DIR")
        if not isinstance(self.vmap, Shortlist):
            self.vmap = Shortlist.load(self.vmap, self.tokenizer.pieces())
        return self.vmap

    def translate_scored(self, sentences: list[str] | str, settings: DecodeSettings | None = None, *,
                         attention: bool = False, prefix: str | list[str] | None = None,
                         token_scores: bool = False, **knobs: Any) -> list[list[Translation]] | list[Translation]:
        """For each sentence its ``nbest`` :class:`Translation` (text, pieces, scores, alignment).
        ``prefix``: the text every translation (or, a list: each sentence's) must begin with;
        ``token_scores``: each piece's log-probability too (the model's, teacher-forced on the output).
        One sentence given as a string gets its own n-best list back (:mod:`seqkit.sentences`)."""
        s = self.resolve(settings, **knobs)
        sentences, one = one_or_many(sentences)
        src_ids = self.encode(sentences)
        prefix_ids = encode_prefix(self.tokenizer, prefix, len(sentences))
        out = []
        for ids, hs in zip(src_ids, self.search(src_ids, s, attention=attention, prefix_ids=prefix_ids)):
            src_pieces = [self.tokenizer.id_to_piece(t) for t in ids]
            out.append([Translation(self.decode(h.tokens), h.score, h.log_prob,
                                    [self.tokenizer.id_to_piece(t) for t in h.tokens], src_pieces,
                                    alignment(h.attention, len(ids), len(h.tokens))
                                    if attention and h.attention is not None else None,
                                    h.attention if attention else None,
                                    self.token_log_probs(ids, h.tokens, s) if token_scores and ids else None)
                        for h in hs])
        self.count_outputs([hs[0].text for hs in out])
        return out[0] if one else out

    @torch.no_grad()
    def token_log_probs(self, src_ids: list[int], tokens: list[int], settings: DecodeSettings | None = None
                        ) -> list[float]:
        """The model's log-probability of each of ``tokens`` and then ``<eos>`` after ``src_ids``
        (teacher forcing; they sum to the search's ``log_prob`` of a finished hypothesis)."""
        max_src_len = (settings or self.settings).max_src_len
        src = torch.tensor([src_ids[: max_src_len - 1] + [EOS_ID]], device=self.device)
        tgt_in = torch.tensor([[BOS_ID, *tokens]], device=self.device)
        scores = self.inference_model()(src, torch.tensor([src.shape[1]], device=self.device), tgt_in)
        log_probs = scores.float().log_softmax(-1)[0]
        return [float(log_probs[i, t]) for i, t in enumerate([*tokens, EOS_ID])]
