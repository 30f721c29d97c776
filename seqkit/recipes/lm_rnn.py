"""The ``lm_rnn`` recipe's stages.

==================  ==============================================================================
``lm.rnn.data``     reads the corpus (``data.name``: a registered name or a path), tokenizes it at
                    char or word level, builds the vocabulary on train -> ``vocab.json``,
                    ``data.json`` (how to tokenize again), ``ids.safetensors`` (train/valid/test ids)
``lm.rnn.train``    trains :class:`~seqkit.lm.rnn.RNNLM` (``model`` section) with the shared trainer
                    (``train`` section) into ``train/`` (checkpoints, metrics, curves), then writes the
                    model folder ``model/`` (``rnn_lm.json``, ``rnn_lm.safetensors``, ``vocab.json``,
                    ``data.json``, swapped in whole) and ``scores.json``
                    (validation and test perplexity, tokens/s)
``lm.rnn.generate`` continues ``generate.prefix`` -> ``samples.txt`` and the log
==================  ==============================================================================
"""

from __future__ import annotations

import shutil
from dataclasses import asdict
from typing import Any

import torch

from seqkit.errors import SeqkitError
from seqkit.io import atomic_dir, copy_file_atomic, load_json, save_json, write_text_atomic
from seqkit.recipes.pipeline import Run, stage
from seqkit.settings import from_dict, problems

IDS_FILE, DATA_FILE, VOCAB_FILE = "ids.safetensors", "data.json", "vocab.json"


def tokenizer_spec(data_cfg: dict, corpus_name: str) -> dict[str, Any]:
    """``{"name": ..., "options": {...}}`` of the tokenizer for this corpus and level."""
    level = data_cfg.get("level") or "char"
    if level not in ("char", "word"):
        raise SeqkitError(f"unknown data.level '{level}'", fix="use data.level=char or data.level=word")
    name = data_cfg.get("tokenizer")
    if name is None:
        if corpus_name == "timemachine":
            return {"name": "timemachine", "options": {"level": level}}  # d2l's cleanup
        name = "char" if level == "char" else "whitespace"
    return {"name": name, "options": dict(data_cfg.get("tokenizer_options") or {})}


def build_tokenizer(spec: dict[str, Any]):
    from seqkit.text import get_tokenizer

    return get_tokenizer(spec["name"], **spec["options"])


def check(cfg: dict) -> list[str]:
    """Every bad value of an ``lm_rnn`` config, one line each."""
    from seqkit.lm.rnn import RNNLMConfig
    from seqkit.lm.rnn.train import RNNTrainConfig

    found = []
    data = cfg.get("data") or {}
    from seqkit.data.registry import CORPORA, canonical, names

    info = CORPORA.get(canonical(str(data.get("name"))))
    if info is not None and info.kind != "lm":
        found.append(f"data.name: {data.get('name')!r} is a {'vector set' if info.kind == 'vectors' else 'parallel corpus'}; a language model needs an LM "
                     f"corpus ({', '.join(names('lm'))}) or a text file")
    if data.get("level") not in ("char", "word"):
        found.append(f"data.level: must be one of char, word, got {data.get('level')!r}")
    if data.get("min_freq") is not None and int(data["min_freq"]) < 1:
        found.append(f"data.min_freq: must be >= 1, got {data['min_freq']}")
    train = {k: v for k, v in (cfg.get("train") or {}).items() if k != "progress"}
    for cls, section, values in ((RNNLMConfig, "model", {**(cfg.get("model") or {}), "vocab_size": 1}),
                                 (RNNTrainConfig, "train", train)):
        typed = problems(cls, values, section)
        found += typed
        if not typed:  # the class's own rules (choices, ranges, tie_embeddings sizes)
            try:
                from_dict(cls, values, section).validate()
            except SeqkitError as exc:
                found.append(f"{section}: {exc}")
    gen = cfg.get("generate") or {}
    if gen.get("temperature") is not None and float(gen["temperature"]) < 0:
        found.append(f"generate.temperature: must be >= 0, got {gen['temperature']}")
    if gen.get("num_tokens") is not None and int(gen["num_tokens"]) < 1:
        found.append(f"generate.num_tokens: must be >= 1, got {gen['num_tokens']}")
    return found


@stage("lm.rnn.data", uses=("data",), check=check)
def data_stage(run: Run) -> dict:
    """Tokenize the corpus, build the vocabulary, write the id streams."""
    from safetensors.torch import save as st_save

    import seqkit.data as skdata
    from seqkit.io import write_bytes_atomic
    from seqkit.lm.rnn.train import encode_stream
    from seqkit.text import Vocab

    cfg = run.cfg.data
    name = str(cfg.name)
    from seqkit.recipes.config import corpus_options

    corpus = skdata.load(name, **corpus_options(cfg, ("config",)))
    if not isinstance(corpus, skdata.LMCorpus):
        raise SeqkitError(f"'{name}' is a parallel corpus, not a language-modelling one", path=name,
                          fix="use an LM corpus (timemachine, ptb, wikitext-2) or a plain text file")
    spec = tokenizer_spec(dict(cfg), name)
    tokenizer = build_tokenizer(spec)
    level = cfg.level or "char"
    eos_per_line = cfg.eos_per_line if cfg.eos_per_line is not None else level == "word"
    train_lines = list(corpus.train)
    if not any(line.strip() for line in train_lines):
        raise SeqkitError("the training text is empty", path=name, fix="give a corpus with text in it")
    if eos_per_line:
        vocab = Vocab([tokenizer.encode(line) for line in train_lines], min_freq=int(cfg.min_freq),
                      max_size=cfg.max_vocab)
    else:
        vocab = Vocab(tokenizer.encode("\n".join(train_lines)), min_freq=int(cfg.min_freq), max_size=cfg.max_vocab)
    ids = {split: encode_stream(lines, tokenizer.encode, vocab, eos_per_line)
           for split, lines in (("train", train_lines), ("valid", list(corpus.valid)), ("test", list(corpus.test)))}
    held_out = ""
    if len(ids["valid"]) < 2 and cfg.valid_fraction:
        # No validation split (the time machine is one book): hold out the end of train.
        cut = int(len(ids["train"]) * (1 - float(cfg.valid_fraction)))
        ids["valid"], ids["train"] = ids["train"][cut:].clone(), ids["train"][:cut].clone()
        held_out = f" (valid = the last {100 * float(cfg.valid_fraction):.0f}% of train)"
    vocab.save(run.path(VOCAB_FILE))
    write_bytes_atomic(run.path(IDS_FILE), st_save({k: v.contiguous() for k, v in ids.items() if len(v)}))
    info = {"corpus": name, "level": level, "eos_per_line": bool(eos_per_line), "tokenizer": spec,
            "vocab_size": len(vocab), **{f"{k}_tokens": len(v) for k, v in ids.items()}}
    save_json(run.path(DATA_FILE), info)
    run.log(f"{name}: {info['train_tokens']:,} / {info['valid_tokens']:,} / {info['test_tokens']:,} "
            f"{level} tokens{held_out}, vocabulary {len(vocab):,}")
    return {**info, "files": [VOCAB_FILE, IDS_FILE, DATA_FILE]}


@stage("lm.rnn.train", uses=("model", "train"), distributed=True, check=check)
def train_stage(run: Run) -> dict:
    """Train the RNN LM; validation perplexity each epoch, test perplexity at the end."""
    from seqkit.lm.rnn import RNNLM, RNNLMConfig, save_rnn_lm
    from seqkit.lm.rnn.train import RNNTrainConfig, train_rnn_lm
    from seqkit.train import check_trained_with, load_weights

    tcfg = dict(run.cfg.train)
    progress = bool(tcfg.pop("progress", True))
    ids = load_weights(run.path(IDS_FILE))
    info = load_json(run.path(DATA_FILE))
    mcfg = RNNLMConfig.from_dict({**dict(run.cfg.model), "vocab_size": info["vocab_size"]})
    cfg = RNNTrainConfig.from_dict(tcfg)
    seed = int(run.cfg.get("seed") or 0)
    torch.manual_seed(seed)
    model = RNNLM(mcfg)
    run.log(f"{mcfg.num_layers}x{mcfg.hidden_size} {mcfg.cell.upper()} ({mcfg.backend}), "
            f"{model.num_parameters():,} parameters; {cfg.sampling} sampling, batch {cfg.batch_size} x "
            f"{cfg.num_steps} steps, {cfg.optimizer} lr {cfg.lr}, {cfg.schedule} schedule")
    train_dir = run.path("train")
    resume = bool(run.cfg.get("resume"))
    if not resume and train_dir.exists() and run.is_main:
        shutil.rmtree(train_dir)  # a fresh run: no stale checkpoints or metrics
    # the vocabulary the ids and the weights belong to: recorded, or on resume checked (by every rank)
    check_trained_with(train_dir / "checkpoints", {VOCAB_FILE: run.path(VOCAB_FILE)}, resume=resume,
                       write=run.is_main)

    validations = [0]

    def log(record: dict) -> None:  # into log.txt; the console has the trainer's own line (once)
        if record.get("split") == "valid":
            validations[0] += 1
            run.log(f"validation {validations[0]} (update {record['step']}): ppl {record['ppl']:.2f}",
                    echo=not progress)

    result = train_rnn_lm(model, ids["train"], ids.get("valid"), ids.get("test"), cfg, device=run.device,
                          run_dir=train_dir, seed=seed, resume=resume, progress=progress, log_fn=log)
    result["parameters"] = model.num_parameters()
    if run.is_main:
        with atomic_dir(run.path("model"), "model") as folder:  # the model, its vocabulary and tokenizer, whole
            save_rnn_lm(model, folder)
            for name in (VOCAB_FILE, DATA_FILE):
                copy_file_atomic(run.path(name), folder / name)
        save_json(run.path("scores.json"), result)
    valid = f"valid ppl {result['valid_ppl']:.2f}" if result["valid_ppl"] is not None else "no valid split"
    test = f", test ppl {result['test_ppl']:.2f}" if result["test_ppl"] is not None else ""
    run.log(f"perplexity: {valid}{test}; {result['train_tokens_per_s']:,.0f} tokens/s, "
            f"{result['epochs']} epochs, {result['steps']} updates ({result['stopped']})")
    run.log_metrics({k: result[k] for k in ("valid_ppl", "test_ppl", "train_tokens_per_s")})
    return {**result, "model": asdict(mcfg),
            "files": ["model/rnn_lm.json", "model/rnn_lm.safetensors", "scores.json"]}


@stage("lm.rnn.generate", uses=("generate",), check=check)
def generate_stage(run: Run) -> dict:
    """Continue generate.prefix with the trained model -> samples.txt."""
    from seqkit.lm.rnn import load_model_dir
    from seqkit.lm.rnn.generate import continue_text

    model, vocab, tokenizer, _ = load_model_dir(run.dir, device=run.device)
    cfg = run.cfg.generate
    prefixes = [cfg.prefix] if isinstance(cfg.prefix, str) else list(cfg.prefix)
    samples = []
    for prefix in prefixes:
        text = continue_text(model, prefix, int(cfg.num_tokens), encode=lambda s: vocab[tokenizer.encode(s)],
                             decode=lambda ids: tokenizer.decode(vocab.to_tokens(ids)),
                             temperature=float(cfg.temperature), top_k=cfg.top_k, seed=int(run.cfg.get("seed") or 0))
        samples.append(text)
        run.log(f"{prefix!r} -> {text!r}")
    write_text_atomic(run.path("samples.txt"), "".join(s + "\n" for s in samples))
    return {"samples": samples, "files": ["samples.txt"]}
