"""Chinese in the NMT recipes: ``data.pretokenize`` (a key, not a hidden rule), sentencepiece coverage
and vocabulary size that work with the defaults, and corpora from ``datasets`` files via ``data.files``."""

from __future__ import annotations

import json

import torch

from seqkit.data.joint_spm import required_characters
from seqkit.recipes.config import load_recipe
from seqkit.recipes.nmt import check, pretokenize_sides
from seqkit.recipes.pipeline import run_pipeline
from seqkit.seq2seq.translator import Translator
from seqkit.text.pretokenize import char_segment, join_cjk


def test_pretokenize_sides_is_a_key_with_auto_detection():
    zh = ["我们今天去北京。", "他喜欢读书。"]
    en = ["We go to Beijing today.", "He likes reading."]
    assert pretokenize_sides("auto", {"src": "zh", "tgt": "en"}, {"src": zh, "tgt": en}) == {"src": "jieba"}
    # no language codes (local files): the text tells
    assert pretokenize_sides("auto", {}, {"src": en, "tgt": zh}) == {"tgt": "jieba"}
    assert pretokenize_sides("char", {"src": "zh-cn"}, {"src": zh, "tgt": en}) == {"src": "char"}
    assert pretokenize_sides("none", {"src": "zh"}, {"src": zh, "tgt": en}) == {}
    assert pretokenize_sides("auto", {"src": "en", "tgt": "fr"}, {"src": en, "tgt": en}) == {}


def test_char_pretokenization_and_join():
    assert char_segment("我爱Python和NLP!") == "我 爱 Python 和 NLP!"
    assert join_cjk(char_segment("我爱Python和NLP!")) == "我爱Python和NLP!"


def test_required_characters_counts_what_coverage_keeps():
    texts = ["aaaa bbb", "cc d"]  # a 4, b 3, c 2, d 1 of 10
    assert required_characters(texts, 1.0) == 4
    assert required_characters(texts, 0.9) == 3  # a+b+c = 9 of 10
    assert required_characters(texts, 0.5) == 2


def test_bad_pretokenize_and_coverage_are_refused_before_running():
    _, cfg = load_recipe("nmt_transformer", ["data.pretokenize=words", "spm.character_coverage=2"])
    found = check(cfg)
    assert any(line.startswith("data.pretokenize: must be one of auto, jieba, char, none") for line in found)
    assert any(line.startswith("spm.character_coverage: must be auto or a number") for line in found)


TINY = {"device": "cpu", "spm.vocab_size": 300, "train.max_steps": 3, "train.max_time": None,
        "train.valid_every": 3, "train.max_tokens": 1500, "train.progress": False, "train.warmup": 2,
        "train.amp": "none", "decode.beam": 2, "model.d_model": 32, "model.d_ff": 64,
        "model.n_enc_layers": 1, "model.n_dec_layers": 1}


def _args(**more):
    return [f"{k}={json.dumps(v) if not isinstance(v, str) else v}" for k, v in {**TINY, **more}.items()]


def test_cmn_eng_zh_to_en_runs_with_the_defaults(shared_data, tmp_path, monkeypatch):
    """The issue's failing command (vocabulary 2,000 too small for the characters) now runs: a small
    vocabulary is raised to what coverage needs, with one log line saying so and how to choose."""
    monkeypatch.setenv("SEQKIT_DATA", str(shared_data))
    _, cfg = load_recipe("nmt_transformer", _args(**{"run_dir": str(tmp_path / "run"), "data.name": "cmn-eng",
                                                     "data.src": "zh", "data.tgt": "en", "data.max_train": 3000,
                                                     "data.max_valid": 30, "data.max_test": 20}))
    run = run_pipeline(cfg, "nmt_transformer", echo=False)
    log = (run.dir / "log.txt").read_text(encoding="utf-8")
    assert "pretokenize: src (zh) with jieba" in log
    assert "spm.vocab_size 300 is too small for the" in log and "at coverage 0.9995" in log
    assert run.results["nmt.spm"]["character_coverage"] == 0.9995
    model = json.loads((run.dir / "model" / "model.json").read_text())
    assert model["pretokenize"] == {"src": "jieba"}
    translator = Translator.from_run(run.dir)
    assert translator.preprocess is not None and translator.postprocess is None
    assert len((run.dir / "test.hyp").read_text(encoding="utf-8").splitlines()) == 20


def test_datasets_files_through_data_files(tmp_path):
    """``data.name=hf:csv`` with ``data.files`` per split: a corpus from CSV files, no code."""
    rows = [("ein Hund läuft", "a dog runs"), ("eine Katze schläft", "a cat sleeps"), ("ein Haus", "a house")]
    for split, n in (("train", 60), ("validation", 5), ("test", 4)):
        lines = ["de,en"] + [f"{rows[i % 3][0]},{rows[i % 3][1]}" for i in range(n)]
        (tmp_path / f"{split}.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    files = {split: str(tmp_path / f"{split}.csv") for split in ("train", "validation", "test")}
    _, cfg = load_recipe("nmt_transformer", _args(**{"run_dir": str(tmp_path / "run"), "data.name": "hf:csv",
                                                     "data.files": files, "data.src": "de", "data.tgt": "en",
                                                     "spm.vocab_size": 30}))
    run = run_pipeline(cfg, "nmt_transformer", echo=False)
    assert run.results["nmt.data"]["pairs"] == {"train": 60, "valid": 5, "test": 4}
    assert (run.dir / "data" / "test.tgt").read_text(encoding="utf-8").splitlines()[0] == "a dog runs"


def test_a_prepared_chinese_corpus_is_cut_like_the_in_memory_one(shared_data, tmp_path, monkeypatch):
    """``data.prepared=true`` with a Chinese side: prepared/ is cut with the same pretokenizer (recorded
    in its meta.json) and training from it gives the in-memory run's weights."""
    from safetensors.torch import load_file

    monkeypatch.setenv("SEQKIT_DATA", str(shared_data))
    runs = {}
    for prepared in (False, True):
        _, cfg = load_recipe("nmt_transformer", _args(**{
            "run_dir": str(tmp_path / f"run{prepared}"), "data.name": "cmn-eng", "data.src": "zh",
            "data.tgt": "en", "data.max_train": 1500, "data.max_valid": 20, "data.max_test": 10,
            "data.pretokenize": "char", "data.prepared": prepared, "train.max_steps": 2}))
        runs[prepared] = run_pipeline(cfg, "nmt_transformer", echo=False)
    meta = json.loads((runs[True].dir / "prepared" / "meta.json").read_text(encoding="utf-8"))
    assert meta["pretokenize"] == {"src": "char"} and meta["pairs"] == 1500
    a = load_file(runs[False].dir / "model" / "model.safetensors")
    b = load_file(runs[True].dir / "model" / "model.safetensors")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
