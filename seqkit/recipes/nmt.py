"""The NMT recipe stages: data -> joint sentencepiece -> vocab -> train -> decode -> evaluate.

Recipes ``nmt_transformer`` and ``nmt_rnn_attention`` list these stages; each reads the config
sections in its ``uses`` and passes data on through files in the run directory:

=================  ==================================================================================
``nmt.data``       loads the corpus (``data.name``: bundled ``seqkit-en-fr``, ``multi30k``, ``fra-eng``,
                   ``cmn-eng``, or local files ``data.train/valid/test: [SRC_FILE, TGT_FILE]``, each a
                   glob or list of shards), checks that source and target have the same number of lines,
                   writes ``data/{split}.{src,tgt}`` (not the training split of local files with
                   ``data.prepared``: the later stages stream those from where they are)
``nmt.spm``        trains the joint sentencepiece model on both sides (all, or a uniform sample of
                   ``spm.input_sentence_size`` sentences) -> ``spm.model``
``nmt.vocab``      the vocabulary of that model, ids identical -> ``vocab.json``
``nmt.prepare``    with ``data.prepared: true``, the training pairs tokenized once -> ``prepared/``;
                   ``data.prepared: FOLDER`` (what ``seqkit data prepare`` wrote) is used as it is, and
                   its ``spm.model`` is the run's (no tokenizer is trained)
``nmt.train``      :func:`~seqkit.seq2seq.training.train_nmt` (token-budget batches, label smoothing, Adam +
                   warmup/inverse-sqrt, validation BLEU, best-N checkpoints, early stopping, a time
                   budget) -> ``train/``, then the model folder ``model/`` (best weights,
                   ``model.json``, ``spm.model``), swapped in whole when training ends
``nmt.decode``     beam search over the test set -> ``test.hyp`` (detokenized, one line per source);
                   under ``torchrun`` the ranks share the search and rank 0 writes
``nmt.evaluate``   sacreBLEU BLEU and chrF with their signatures -> ``scores.json``
=================  ==================================================================================

Bad input is handled once, here: mismatched line counts are an error naming both files; training
pairs with an empty side or longer than ``data.max_len`` pieces are dropped and counted in the log;
empty test lines give empty translations; over-long test sources are cut (and counted).
"""

from __future__ import annotations

import dataclasses
import shutil
import time
from pathlib import Path
from typing import Any

import torch

from seqkit.errors import SeqkitError
from seqkit.io import (
    atomic_dir,
    copy_file_atomic,
    iter_lines,
    load_json,
    read_lines,
    save_json,
    write_text_atomic,
)
from seqkit.recipes.pipeline import Run, stage
from seqkit.seq2seq.decoding import DecodeSettings, checked, describe
from seqkit.seq2seq.model_folder import save_model_dir
from seqkit.seq2seq.presets import build_model, count_parameters, model_config, model_problems
from seqkit.seq2seq.training import NMTTrainConfig, score_translations, train_nmt
from seqkit.seq2seq.translator import Translator
from seqkit.settings import from_dict, problems
from seqkit.text.pretokenize import PRETOKENIZE

SPLITS = ("train", "valid", "test")


# -- data --------------------------------------------------------------------------------------------
def check_parallel(src: list[str], tgt: list[str], src_name: Any, tgt_name: Any) -> None:
    """Source and target must have one line each per sentence pair."""
    if len(src) != len(tgt):
        raise SeqkitError(f"source has {len(src)} lines but target {tgt_name} has {len(tgt)}",
                          path=src_name, fix="give parallel files with one sentence per line on both sides")
    if not src:
        raise SeqkitError("empty corpus: no sentence pairs", path=src_name, fix="give non-empty files")


def local_stream(data_cfg: Any, split: str) -> Any:
    """``data.{split}: [SOURCE, TARGET]`` as a :class:`~seqkit.data.stream.ParallelStream`; each side may
    be a file, a glob or a list of shards (read in order, each shard pair checked)."""
    from seqkit.data.stream import ParallelStream

    files = data_cfg[split]
    if len(files) != 2:
        raise SeqkitError(f"data.{split} must be [SOURCE_FILE, TARGET_FILE], got {list(files)}")
    src, tgt = (str(side) if isinstance(side, str) else [str(f) for f in side] for side in files)
    return ParallelStream.files(src, tgt, limit=data_cfg.get(f"max_{split}"))


def hub_stream(data_cfg: Any, split: str) -> Any:
    """``data.name: hf:NAME`` read with ``datasets`` streaming (``data.config``, ``data.files``,
    ``data.src``/``data.tgt`` naming the languages), one split, up to ``data.max_{split}`` pairs."""
    from seqkit.data.stream import ParallelStream
    from seqkit.recipes.config import corpus_options

    options = corpus_options(data_cfg)
    src, tgt = options.pop("src", None), options.pop("tgt", None)
    return ParallelStream.hub(str(data_cfg.name)[3:], src=src, tgt=tgt, config=options.pop("config", None),
                              split=split, limit=data_cfg.get(f"max_{split}"), **options)


def _local_files(files: Any) -> list[str]:
    """The existing local files named in ``data.files`` (a path, a list, or ``{split: path(s)}``)."""
    if isinstance(files, str):
        return [files] if Path(files).expanduser().is_file() else []
    values = files.values() if hasattr(files, "values") else files or ()
    return [f for v in values for f in _local_files(v if isinstance(v, str) else list(v))]


def _local_split(data_cfg: Any, split: str) -> tuple[list[str], list[str]]:
    stream = local_stream(data_cfg, split)
    src, tgt = stream.lists()
    check_parallel(src, tgt, stream.name, stream.name)
    return src, tgt


def data_languages(data_cfg: Any) -> tuple[str | None, str | None]:
    """The data's ``(source, target)`` languages, as the data stage records them: ``data.src``/``data.tgt``
    when set; else a prepared folder's (its ``meta.json``), what local file names say (``a.de`` ->
    ``de``, :func:`seqkit.data.stream.file_languages`), or a named corpus's own direction. ``None``
    where nothing says (never a recipe default that belongs to another corpus)."""
    src, tgt = data_cfg.get("src"), data_cfg.get("tgt")
    prepared = data_cfg.get("prepared")
    found: tuple[str | None, str | None] = (None, None)
    if isinstance(prepared, str):
        from seqkit.data.prepared import PreparedCorpus

        meta = PreparedCorpus.open(Path(prepared).expanduser()).meta
        found = (meta.get("src_lang"), meta.get("tgt_lang"))
    elif any(data_cfg.get(s) for s in SPLITS):
        from seqkit.data.stream import file_languages

        split = next(s for s in SPLITS if data_cfg.get(s))
        files = data_cfg[split]
        if len(files) == 2:
            found = file_languages(*(str(side) if isinstance(side, str) else [str(f) for f in side]
                                     for side in files))
    elif not str(data_cfg.get("name") or "").startswith("hf:"):
        from seqkit.data.corpus import corpus_pair
        from seqkit.data.registry import CORPORA, canonical

        name = canonical(str(data_cfg.get("name")))
        if name in CORPORA and CORPORA[name].kind == "parallel":
            return corpus_pair(name, src, tgt)
    return src or found[0], tgt or found[1]


def load_parallel(data_cfg: Any, splits: tuple[str, ...] = SPLITS
                  ) -> tuple[dict[str, tuple[list[str], list[str]]], str | None, str | None]:
    """``({"train": (src_lines, tgt_lines), "valid": ..., "test": ...}, src_lang, tgt_lang)`` from
    the ``data:`` section, only ``splits`` of them (local files when any of ``data.train/valid/test``
    is set)."""
    if any(data_cfg.get(s) for s in SPLITS):
        wanted, splits = splits, {s: _local_split(data_cfg, s) for s in splits if data_cfg.get(s)}
        missing = [s for s in wanted if not data_cfg.get(s)]
        if missing:
            raise SeqkitError(f"local data needs train, valid and test files; missing: {', '.join(missing)}",
                              fix="set data.valid=[SRC,TGT] and data.test=[SRC,TGT]")
        return splits, *data_languages(data_cfg)
    import seqkit.data as skdata
    from seqkit.recipes.config import corpus_options

    kwargs = corpus_options(data_cfg)
    if not str(data_cfg.name).startswith("hf:"):  # e.g. a prepared folder's pair for its valid/test splits
        langs = dict(zip(("src", "tgt"), data_languages(data_cfg)))
        kwargs.update({k: v for k, v in langs.items() if v and k not in kwargs})
    corpus = skdata.load(data_cfg.name, **kwargs)
    out = {}
    for split in splits:
        part = getattr(corpus, split, None)
        if part is None:
            raise SeqkitError(f"corpus {data_cfg.name!r} has no {split} split",
                              fix="give local files with data.train/valid/test")
        src, tgt = list(part.src), list(part.tgt)
        check_parallel(src, tgt, f"{data_cfg.name}:{split}", f"{data_cfg.name}:{split}")
        out[split] = (src, tgt)
    src_lang = getattr(corpus, "src_lang", None) or data_cfg.get("src")
    return out, src_lang, getattr(corpus, "tgt_lang", None) or data_cfg.get("tgt")



def pretokenize_sides(how: str, langs: dict[str, str | None], samples: dict[str, list[str]]) -> dict[str, str]:
    """``data.pretokenize`` per side: ``auto`` cuts a Chinese side (language code ``zh*``, or text that
    is mostly CJK) with jieba and leaves other sides alone; ``jieba``/``char`` cut the Chinese side(s)
    that way; ``none`` cuts nothing."""
    from seqkit.metrics.corpus import is_chinese

    chinese = [side for side in ("src", "tgt")
               if str(langs.get(side) or "").startswith("zh") or is_chinese(samples.get(side, [])[:500])]
    if how == "none" or not chinese:
        return {}
    return {side: "jieba" if how == "auto" else how for side in chinese}


# -- checking the config before anything runs ---------------------------------------------------------
def _data_problems(data: Any) -> list[str]:
    """What would stop the data stage, found before a run folder exists: local files that are not there,
    a language pair the corpus does not have, a pair that disagrees with the prepared folder's."""
    from seqkit.data.stream import expand_shards

    found = []
    for split in SPLITS:
        files = data.get(split)
        if not files:
            continue
        if isinstance(files, str) or len(files) != 2:
            found.append(f"data.{split}: must be [SOURCE_FILE, TARGET_FILE], got {files!r}")
            continue
        for side, spec in zip(("source", "target"), files):
            try:
                expand_shards(str(spec) if isinstance(spec, str) else [str(f) for f in spec])
            except SeqkitError as exc:
                found.append(f"data.{split} ({side}): {exc}")
    local = [s for s in SPLITS if data.get(s)]
    prepared_folder = isinstance(data.get("prepared"), str)
    needed = ("valid", "test") if prepared_folder else SPLITS
    if local and any(not data.get(s) for s in needed):
        names = ", ".join(needed[:-1]) + f" and {needed[-1]}"
        found.append(f"data.{', data.'.join(s for s in needed if not data.get(s))}: missing; local data needs "
                     f"{names} files ([SOURCE_FILE, TARGET_FILE] each)")
    if prepared_folder:
        try:
            from seqkit.data.prepared import PreparedCorpus

            meta = PreparedCorpus.open(Path(data["prepared"]).expanduser()).meta
        except SeqkitError:
            meta = {}  # reported by check()
        for key, side in (("src", "src_lang"), ("tgt", "tgt_lang")):
            if data.get(key) and meta.get(side) and data[key] != meta[side]:
                found.append(f"data.{key}: {data[key]}, but {data['prepared']} was prepared from "
                             f"{meta['src_lang']}->{meta['tgt_lang']} data")
    hub = str(data.get("name") or "").startswith("hf:")
    if not local and hub and not (data.get("src") and data.get("tgt")):
        found.append("data.src, data.tgt: an hf: corpus needs the two languages (its columns) named, "
                     "e.g. data.src=de data.tgt=en")
    elif not local and not hub:
        from seqkit.data.registry import CORPORA, canonical

        name = canonical(str(data.get("name")))
        if name in CORPORA and CORPORA[name].kind == "parallel":
            try:
                data_languages(data)
            except SeqkitError as exc:
                found.append(f"data.src, data.tgt: {exc}")
    return found


def check(cfg: Any) -> list[str]:
    """Every bad value of an NMT recipe's config, one line each."""
    found = []
    data = cfg.get("data") or {}
    if "dir" in data and not data.get("dir"):  # a recipe whose files are ${data.dir}/... (nmt_iwslt14)
        return ["data.dir: the folder of the {train,valid,test}.{SRC,TGT} files must be given "
                "(e.g. data.dir=iwslt14.tokenized.de-en/tmp)"]
    found += _data_problems(data)
    if not data.get("train"):
        from seqkit.data.registry import CORPORA, canonical, names

        info = CORPORA.get(canonical(str(data.get("name"))))
        if info is None and not str(data.get("name", "")).startswith("hf:"):
            found.append(f"data.name: unknown corpus {data.get('name')!r}; a translation recipe takes "
                         f"{', '.join(names('parallel'))}, hf:NAME, "
                         "or local files in data.train/valid/test")
        elif info is not None and info.kind != "parallel":
            found.append(f"data.name: {data.get('name')!r} is a {'vector set' if info.kind == 'vectors' else 'language-modelling corpus'}; a translation recipe "
                         f"needs a parallel one ({', '.join(names('parallel'))})")
    prepared = data.get("prepared")
    if isinstance(prepared, str):
        from seqkit.data.prepared import PreparedCorpus

        try:
            meta = PreparedCorpus.open(Path(prepared).expanduser()).meta
            if meta.get("pretokenize") is None or not (Path(prepared).expanduser() / "spm.model").is_file():
                found.append(f"data.prepared: {prepared} was written by an older seqkit (no spm.model); "
                             "prepare it again")
        except SeqkitError as exc:
            found.append(f"data.prepared: {exc}")
    elif prepared not in (None, True, False):
        found.append(f"data.prepared: true, false or the folder `seqkit data prepare` wrote, got {prepared!r}")
    if data.get("pretokenize", "auto") not in ("auto", *PRETOKENIZE):
        found.append(f"data.pretokenize: must be one of auto, {', '.join(PRETOKENIZE)}, got {data.get('pretokenize')!r}")
    spm = cfg.get("spm") or {}
    coverage = spm.get("character_coverage", "auto")
    if coverage != "auto" and not (isinstance(coverage, (int, float)) and 0.9 <= coverage <= 1.0):
        found.append(f"spm.character_coverage: must be auto or a number in [0.9, 1], got {coverage!r}")
    if spm.get("vocab_size") is not None and int(spm.get("vocab_size")) < 8:
        found.append(f"spm.vocab_size: must be >= 8, got {spm.get('vocab_size')}")
    if spm.get("model_type") not in ("unigram", "bpe", "char", "word"):
        found.append(f"spm.model_type: must be one of unigram, bpe, char, word, got {spm.get('model_type')!r}")
    found += _sampling_problems(spm, prepared)
    model = dict(cfg.get("model") or {})
    found += model_problems(model.pop("arch", None), model.pop("preset", None), model)
    found += problems(NMTTrainConfig, dict(cfg.get("train") or {}), "train")
    found += _decode_problems(cfg)
    return found


def sampling_settings(spm_section: Any) -> Any:
    """The recipe's ``spm.sampling`` (subword regularization) as :class:`~seqkit.text.sampling.SubwordSampling`."""
    from seqkit.text.sampling import SubwordSampling

    return from_dict(SubwordSampling, dict(spm_section.get("sampling") or {}), "spm.sampling")


def _sampling_problems(spm: Any, prepared: Any) -> list[str]:
    from seqkit.settings import SettingsError

    try:
        sampling = sampling_settings(spm)
    except SettingsError as exc:
        return exc.problems
    if isinstance(prepared, str):  # the folder's own model decides (checked when training starts)
        return []
    return sampling.problems_for(str(spm.get("model_type")))


#: The recipe's ``decode:`` section: the recipe surface of DecodeSettings, plus how many test sentences
#: get an attention heatmap.
HEATMAPS_DEFAULT = 5


def decode_settings(section: dict[str, Any] | None) -> tuple[DecodeSettings, int]:
    """``(DecodeSettings, heatmaps)`` of a recipe's ``decode:`` section (one line per bad value)."""
    section = dict(section or {})
    heatmaps = section.pop("heatmaps", HEATMAPS_DEFAULT)
    if isinstance(heatmaps, bool) or not isinstance(heatmaps, int) or not 0 <= heatmaps <= 10_000:
        from seqkit.settings import SettingsError

        raise SettingsError([f"decode.heatmaps: must be an integer in [0, 10000], got {heatmaps!r}"])
    return checked(section, "recipe"), heatmaps


def _decode_problems(cfg: Any) -> list[str]:
    from seqkit.settings import SettingsError

    try:
        decode_settings(cfg.get("decode"))
    except SettingsError as exc:
        return exc.problems
    return []


@stage("nmt.data", uses=("data",), check=check)
def data_stage(run: Run) -> dict:
    """Load the parallel corpus, check it, and write data/{train,valid,test}.{src,tgt}.

    With ``data.prepared`` and local training files (or shards), or an ``hf:`` corpus, the training
    pairs are not read here: the later stages stream them from where they are (``train_shards`` or
    ``train_hub`` in the result)."""
    cfg = run.cfg.data
    hub = str(cfg.get("name") or "").startswith("hf:") and not any(cfg.get(split) for split in SPLITS)
    folder = cfg.get("prepared") if isinstance(cfg.get("prepared"), str) else None
    streamed = bool(cfg.get("prepared") and (cfg.get("train") or hub)) and not folder
    # the local files read become part of this stage's fingerprint: edit one, and it runs again
    for split in (("valid", "test") if folder else SPLITS):
        for path in local_stream(cfg, split).stamps() if cfg.get(split) else ():
            run.input(path)
    if hub:
        from seqkit.recipes.config import corpus_options

        for path in _local_files(corpus_options(cfg).get("data_files")):
            run.input(Path(path).expanduser())
    counts, files, result = {}, [], {}
    if not (folder or streamed):
        splits, src_lang, tgt_lang = load_parallel(cfg)
    elif hub:  # valid and test read whole; the training split stays with datasets, read when used
        splits = {split: hub_stream(cfg, split).lists() for split in ("valid", "test")}
        src_lang, tgt_lang = cfg.get("src"), cfg.get("tgt")
    else:
        splits, _, _ = load_parallel(cfg, ("valid", "test"))
        src_lang, tgt_lang = data_languages(cfg)  # a prepared folder's pair, not its valid files' names
    if folder:  # training pairs, tokenizer and pretokenize all come from the prepared folder
        from seqkit.data.prepared import PreparedCorpus

        corpus = PreparedCorpus.open(run.input(Path(folder).expanduser().resolve() / "meta.json").parent)
        result.update(train_prepared=str(corpus.path), train_pairs=len(corpus))
        counts["train"] = f"{len(corpus):,} prepared in {corpus.path}"
    elif streamed and hub:
        stream = hub_stream(cfg, "train")
        result["train_hub"] = True
        counts["train"] = "streamed with datasets"
    elif streamed:
        stream = local_stream(cfg, "train")
        result["train_shards"] = {side: [str(pair[i].resolve()) for pair in stream.shards]
                                  for i, side in enumerate(("src", "tgt"))}
        counts["train"] = f"{len(stream.shards)} shard(s), streamed"
    train_sample = next(stream.chunks(500), ([], [])) if streamed else splits.get("train", ([], []))
    for split, (src, tgt) in splits.items():
        if cfg.get(f"max_{split}"):
            src, tgt = src[: cfg[f"max_{split}"]], tgt[: cfg[f"max_{split}"]]
        for side, lines in (("src", src), ("tgt", tgt)):
            write_text_atomic(run.path(f"data/{split}.{side}"), "".join(line + "\n" for line in lines))
            files.append(f"data/{split}.{side}")
        counts[split] = len(src)
    name = "local files" if any(cfg.get(split) for split in SPLITS) else cfg.name
    run.log(f"{name} {src_lang or '?'}->{tgt_lang or '?'}: "
            + ", ".join(f"{k} {v:,}" if isinstance(v, int) else f"{k} {v}" for k, v in counts.items())
            + " pairs")
    pretokenize = pretokenize_sides(cfg.get("pretokenize", "auto"), {"src": src_lang, "tgt": tgt_lang},
                                    dict(zip(("src", "tgt"), train_sample)))
    if folder:  # the folder was cut one way: that is how the model's input must be cut
        pretokenize = dict(corpus.meta["pretokenize"])
        if cfg.get("pretokenize", "auto") not in ("auto", *(set(pretokenize.values()) or {"none"})):
            raise SeqkitError(f"data.pretokenize={cfg.pretokenize}, but {corpus.path} was prepared with "
                              f"pretokenize={pretokenize or 'none'}", fix="set data.pretokenize=auto")
    if pretokenize:
        run.log("pretokenize: " + ", ".join(f"{side} ({langs}) with {how}" for side, how in pretokenize.items()
                                            for langs in [src_lang if side == "src" else tgt_lang]))
    return {"pairs": counts, "files": files, "src": src_lang, "tgt": tgt_lang, "pretokenize": pretokenize,
            **result}


def train_stream(run: Run) -> Any:
    """The training pairs as a :class:`~seqkit.data.stream.ParallelStream`: the hub corpus or the local
    shards the data stage left in place, else ``data/train.{src,tgt}``."""
    from seqkit.data.stream import ParallelStream

    if run.results["nmt.data"].get("train_hub"):
        return hub_stream(run.cfg.data, "train")
    shards = run.results["nmt.data"].get("train_shards")
    if shards:
        return ParallelStream.files(shards["src"], shards["tgt"], limit=run.cfg.data.get("max_train"))
    return ParallelStream.files(run.path("data/train.src"), run.path("data/train.tgt"))


# -- sentencepiece and vocab --------------------------------------------------------------------------
@stage("nmt.spm", uses=("data", "spm"), ignores=("spm.sampling",))
def spm_stage(run: Run) -> dict:
    """Train the joint sentencepiece model on both training sides -> spm.model."""
    from seqkit.text import SentencePieceTokenizer

    cfg = run.cfg.spm
    folder = run.results["nmt.data"].get("train_prepared")
    if folder:  # the prepared corpus's ids are this model's
        copy_file_atomic(Path(folder) / "spm.model", run.path("spm.model"))
        tok = SentencePieceTokenizer.load(run.path("spm.model"))
        run.log(f"sentencepiece model of {folder}: {len(tok):,} pieces (spm.* settings not used)")
        return {"vocab_size": len(tok), "files": ["spm.model"]}
    from seqkit.data.joint_spm import train_joint_spm

    sample = int(cfg.get("input_sentence_size") or 0)
    if not sample and run.results["nmt.data"].get("train_shards"):
        run.log("spm.input_sentence_size is 0: sentencepiece reads every training sentence into memory "
                "(set e.g. spm.input_sentence_size=2000000 to train on a uniform sample)")
    started = time.perf_counter()
    trained = train_joint_spm(train_stream(run), vocab_size=int(cfg.vocab_size), model_type=cfg.model_type,
                              character_coverage=cfg.get("character_coverage", "auto"), input_sentence_size=sample,
                              seed=int(run.cfg.seed or 0), pretokenize=run.results["nmt.data"].get("pretokenize"))
    if trained.note:
        run.log(f"spm.{trained.note}")
    tok, coverage = trained.tokenizer, trained.character_coverage
    tok.save(run.path("spm.model"))
    run.log(f"sentencepiece {cfg.model_type} with {len(tok):,} pieces in {time.perf_counter() - started:.1f}s")
    return {"vocab_size": len(tok), "character_coverage": coverage, "files": ["spm.model"]}


@stage("nmt.vocab", uses=("data", "spm"), ignores=("spm.sampling",))
def vocab_stage(run: Run) -> dict:
    """The joint vocabulary of the sentencepiece model (same ids) -> vocab.json."""
    from seqkit.text import SentencePieceTokenizer, Vocab

    vocab = Vocab.from_spm(SentencePieceTokenizer.load(run.path("spm.model")))
    vocab.save(run.path("vocab.json"))
    return {"size": len(vocab), "files": ["vocab.json"]}


@stage("nmt.prepare", uses=("data", "spm"), ignores=("spm.sampling",))
def prepare_stage(run: Run) -> dict:
    """With ``data.prepared: true``: the training pairs tokenized once into ``prepared/`` (flat ids and
    offsets on disk, :mod:`seqkit.data.prepared`); training then reads batches from there instead of
    holding every sentence as Python objects. Off (the default): nothing to do."""
    if not run.cfg.data.get("prepared"):
        return {"prepared": False}
    folder = run.results["nmt.data"].get("train_prepared")
    if folder:
        return {"prepared": True, "path": folder, "pairs": run.results["nmt.data"]["train_pairs"]}
    from seqkit.data.prepared import prepare_stream
    from seqkit.text import SentencePieceTokenizer

    started = time.perf_counter()
    corpus = prepare_stream(train_stream(run), SentencePieceTokenizer.load(run.path("spm.model")),
                            run.path("prepared"), pretokenize=run.results["nmt.data"].get("pretokenize"),
                            workers=max(1, run.threads or 1))
    run.log(f"prepared {len(corpus):,} training pairs into prepared/ ({corpus.disk_bytes() / 1e6:.1f} MB) "
            f"in {time.perf_counter() - started:.1f}s")
    return {"prepared": True, "path": str(corpus.path), "pairs": len(corpus), "files": ["prepared/meta.json"]}


# -- training -----------------------------------------------------------------------------------------
def _model_info(run: Run) -> dict:
    data = run.results["nmt.data"]
    return {"pretokenize": data.get("pretokenize") or {}, "src": data.get("src"), "tgt": data.get("tgt")}


@stage("nmt.train", uses=("data", "spm", "model", "train"), distributed=True, check=check)
def train_stage(run: Run) -> dict:
    """Train the model; keep the best weights by validation BLEU in the model folder ``model/``: written
    at the first validation and after every better one, so a running or killed run decodes
    (``seqkit translate --run RUN``, or ``--checkpoint last`` for its newest step checkpoint); at the
    end, the best weights, or the mean of the best N (``train.average_best``) or newest N
    (``train.average_last``) checkpoints when that mean scores at least as well as the best checkpoint on
    the whole validation set, both decoded as the test set is (:func:`~seqkit.seq2seq.training.choose_average`;
    the stage's record says what was averaged, both scores and which was kept)."""
    from seqkit.text import SentencePieceTokenizer
    from seqkit.train import check_trained_with, fit_summary

    cfg = run.cfg
    tcfg = from_dict(NMTTrainConfig, run.section("train"), "train")
    info = _model_info(run)
    tok = SentencePieceTokenizer.load(run.path("spm.model"))
    torch.manual_seed(int(cfg.seed or 0))
    mcfg = model_config(cfg.model.arch, cfg.model.preset,
                        **{k: v for k, v in cfg.model.items() if k not in ("arch", "preset")})
    model = build_model(mcfg, len(tok))
    n_params = count_parameters(model)
    run.log(f"{mcfg['arch']} model, {n_params:,} parameters")
    train_dir = run.path("train")
    if not cfg.get("resume") and train_dir.exists() and run.is_main:
        shutil.rmtree(train_dir)  # a fresh run: no stale checkpoints or metrics
    # the tokenizer the checkpoints belong to: recorded, or on resume checked (by every rank)
    check_trained_with(train_dir / "checkpoints", {"spm.model": run.path("spm.model")},
                       resume=bool(cfg.get("resume")), write=run.is_main)

    def log_valid(record: dict) -> None:  # validation lines land in log.txt (the bar prints them)
        if record.get("split") == "valid":
            run.log(f"validation @ {record['step']}: loss {record['loss']:.4f}, ppl {record['ppl']:.2f}, "
                    f"bleu {record['bleu']:.2f}, chrf {record['chrf']:.2f}", echo=False)
            _keep_model_current(run, train_dir / "checkpoints", record["step"], mcfg, len(tok), info)

    if cfg.data.get("prepared"):
        from seqkit.data.prepared import PreparedCorpus

        train_src, train_tgt = PreparedCorpus.open(run.results["nmt.prepare"]["path"]), None
    else:
        train_src, train_tgt = read_lines(run.path("data/train.src")), read_lines(run.path("data/train.tgt"))
    out = train_nmt(model, tok, train_src, train_tgt, read_lines(run.path("data/valid.src")), read_lines(run.path("data/valid.tgt")),
                    cfg=tcfg, device=run.device, run_dir=train_dir, seed=int(cfg.seed or 0),
                    resume=bool(cfg.get("resume")), max_len=cfg.data.max_len, pretokenize=info["pretokenize"],
                    tgt_lang=info["tgt"], decode=decode_settings(run.section("decode"))[0],
                    log_fn=log_valid, sampling=sampling_settings(run.section("spm")))
    run.log(fit_summary(out.result, "target tokens"))
    if run.is_main:
        weights = out.weights if out.weights is not None else out.model.state_dict()  # no validation: last
        if out.average:
            a = out.average
            if a["valid_bleu_average"] is None:
                run.log(f"model = the best checkpoint (one {a['kind']} checkpoint, nothing to average)")
            else:
                scores = (f"on {a['judged_on']}: the mean of the {a['kind']} {len(a['checkpoints'])} BLEU "
                          f"{a['valid_bleu_average']}, the best checkpoint {a['valid_bleu_best']}")
                run.log(f"model = the mean of {', '.join(a['checkpoints'])} ({scores})" if a["chosen"] == "average"
                        else f"model = the best checkpoint ({scores})")
        with atomic_dir(run.path("model"), "model") as folder:
            save_model_dir(folder, mcfg, len(tok), run.path("spm.model"), weights, **info)
    summary = {k: v for k, v in out.result.to_dict().items() if k != "last_valid"}
    summary.update(parameters=n_params, dropped=out.batches.dropped, train_pairs=out.batches.n_kept)
    if out.average:  # which checkpoints were averaged, their validation BLEU beside the best's, the choice
        summary["average"] = out.average
    run.log_metrics({"train_tokens_per_s": round(out.result.items_per_s, 1),
                     "best_valid_bleu": out.result.best_score, "steps": out.result.steps})
    return {**summary, "files": ["model/model.safetensors", "model/model.json", "model/spm.model"]}


def _keep_model_current(run: Run, checkpoints: Path, step: int, mcfg: dict, vocab_size: int, info: dict) -> None:
    """After a validation that found a new best: the model folder holds those weights now, so a running
    or killed run can be decoded (`seqkit translate --run RUN`) before training ends. Rank 0 only (the
    trainer's record hook runs there); written whole, as at the end."""
    from seqkit.train import best_checkpoints

    best = best_checkpoints(checkpoints, 1) if (checkpoints / "best.json").is_file() else []
    if best and best[0].name == f"best-step-{step:08d}.safetensors":
        with atomic_dir(run.path("model"), "model") as folder:
            save_model_dir(folder, mcfg, vocab_size, run.path("spm.model"), best[0], **info)


# -- decoding and evaluation ---------------------------------------------------------------------------
@stage("nmt.decode", uses=("data", "spm", "model", "train", "decode"), distributed=True, check=check)
def decode_stage(run: Run) -> dict:
    """Beam-search the test set with the model folder's weights -> test.hyp (and test.ref).

    Under ``torchrun`` every rank runs it: each searches its share of the decoding batches
    (``Translator(split_ranks=True)``), every rank gets the translations back in order, and rank 0
    writes them -- the lines one process would write. The counts (empty outputs and empty sources, cut,
    unknown pieces) are of the whole test set on every rank, as each rank reads all of it to make the
    same batches.
    """
    from seqkit.train.distributed import current

    decode, n_heatmaps = decode_settings(run.section("decode"))
    translator = Translator.from_run(run.dir, decode, device=run.device, split_ranks=True)
    src = read_lines(run.path("data/test.src"))
    started = time.perf_counter()
    hyps = translator.translate(src)
    seconds = time.perf_counter() - started
    if run.is_main:
        write_text_atomic(run.path("test.hyp"), "".join(h + "\n" for h in hyps))
    s = dict(translator.stats)  # of the test set (the heatmaps below translate a few lines again)
    heatmaps = []
    if n_heatmaps:  # every rank takes part in the search (a split translator's calls are collective)
        shown = translator.translate_scored(src[:n_heatmaps], attention=True)
        drawn = [(f"heatmaps/{i:05d}.png", h[0]) for i, h in enumerate(shown) if h[0].attention is not None]
        heatmaps = [name for name, _ in drawn]
        if run.is_main:  # rank 0 alone draws them
            for name, translation in drawn:
                translation.heatmap(run.path(name))
    if run.is_main:
        copy_file_atomic(run.path("data/test.tgt"), run.path("test.ref"))
    ranks = current().world_size
    run.log(f"{describe(decode)}: {len(src):,} test sentences in {seconds:.1f}s "
            f"({len(src) / seconds:.1f} sentences/s{f', {ranks} ranks' if ranks > 1 else ''}); "
            f"empty outputs {s['empty']} ({s['empty_inputs']} of them from empty sources), cut {s['truncated']}, "
            f"unknown pieces {s['unknown_tokens']}")
    return {"sentences": len(src), "seconds": round(seconds, 2), "sentences_per_s": round(len(src) / seconds, 2),
            "decode": dataclasses.asdict(decode), "files": ["test.hyp", "test.ref", *heatmaps], **s}


@stage("nmt.evaluate", uses=("data", "decode"))
def evaluate_stage(run: Run) -> dict:
    """sacreBLEU BLEU and chrF of test.hyp against test.ref (and the papers' tokenized BLEU beside
    them) -> scores.json."""
    hyps = list(iter_lines(run.path("test.hyp")))
    refs = list(iter_lines(run.path("test.ref")))
    if len(hyps) != len(refs):
        raise SeqkitError(f"{len(hyps)} hypotheses for {len(refs)} references", path=run.path("test.hyp"),
                          fix="re-run the decode stage (force=true)")
    scores = score_translations(hyps, refs, run.results["nmt.data"].get("tgt"),
                                pretokenized=bool(run.cfg.data.get("tokenized", False)))
    save_json(run.path("scores.json"), scores)
    run.log(f"{scores['bleu_text']} ({scores['bleu_signature']})")
    run.log(f"chrF2 = {scores['chrf']} ({scores['chrf_signature']})")
    if "bleu_tokenized" in scores:  # beside sacreBLEU's, never instead: another scale (see the signature)
        run.log(f"tokenized BLEU, the papers' convention (Moses tokens; not comparable with sacreBLEU's): "
                f"{scores['bleu_tokenized']} cased, {scores['bleu_tokenized_lc']} lowercased "
                f"({scores['bleu_tokenized_signature']})")
    run.log_metrics({"test_bleu": scores["bleu"], "test_chrf": scores["chrf"]})
    info = load_json(run.path("model/model.json")) if run.path("model/model.json").is_file() else {}
    return {"bleu": scores["bleu"], "chrf": scores["chrf"], "signature": scores["bleu_signature"],
            "model": info.get("model", {}).get("arch"), "files": ["scores.json"]}
