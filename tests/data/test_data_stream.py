"""Sharded and streamed parallel text: fixed order, per-shard checks, a reservoir sample, one vocabulary."""

from __future__ import annotations

import gzip
import json

import numpy as np
import pytest

from seqkit.data.prepared import PreparedCorpus, prepare_files, prepare_stream
from seqkit.data.stream import ParallelStream, expand_shards
from seqkit.errors import SeqkitError

WORDS = "the a cat dog sat on mat ran far away big small red green house tree".split()


def _lines(n: int, seed: int) -> list[str]:
    rng = np.random.default_rng(seed)
    return [" ".join(rng.choice(WORDS, size=int(rng.integers(1, 12)))) for _ in range(n)]


@pytest.fixture()
def shards(tmp_path):
    """Three shard pairs (the middle one gzipped) named so that sorting gives 00, 01, 02, and the
    whole corpus concatenated into one pair of files."""
    src, tgt = _lines(700, 1), [s.upper() for s in _lines(700, 2)]
    bounds = [(0, 250), (250, 251), (251, 700)]
    for i, (a, b) in enumerate(bounds):
        for side, lines in (("de", src), ("en", tgt)):
            text = "".join(x + "\n" for x in lines[a:b]).encode()
            if i == 1:
                (tmp_path / f"train.{i:02d}.{side}.gz").write_bytes(gzip.compress(text))
            else:
                (tmp_path / f"train.{i:02d}.{side}").write_bytes(text)
    (tmp_path / "all.de").write_text("".join(x + "\n" for x in src), encoding="utf-8")
    (tmp_path / "all.en").write_text("".join(x + "\n" for x in tgt), encoding="utf-8")
    return tmp_path, src, tgt


def test_globs_expand_in_name_order_and_lists_keep_theirs(shards):
    folder, _, _ = shards
    names = [p.name for p in expand_shards(str(folder / "train.*.de*"))]
    assert names == ["train.00.de", "train.01.de.gz", "train.02.de"]
    assert [p.name for p in expand_shards([folder / "train.02.de", folder / "train.00.de"])] == \
        ["train.02.de", "train.00.de"]
    with pytest.raises(SeqkitError, match="no file matches"):
        expand_shards(str(folder / "nothing.*"))
    with pytest.raises(SeqkitError, match="not found"):
        expand_shards(folder / "missing.de")


def test_shards_read_as_one_corpus_in_order_with_a_limit(shards):
    folder, src, tgt = shards
    stream = ParallelStream.files(str(folder / "train.*.de*"), str(folder / "train.*.en*"))
    assert list(stream) == list(zip(src, tgt))
    sizes = [len(s) for s, _ in stream.chunks(100)]
    assert sizes == [100, 100, 50, 1, 100, 100, 100, 100, 49]  # a chunk never spans two shards
    assert list(ParallelStream.files(str(folder / "train.*.de*"), str(folder / "train.*.en*"), limit=251)) == \
        list(zip(src[:251], tgt[:251]))
    assert len(stream.stamps()) == 6 and stream.stamps()[1].name == "train.00.en"


def test_a_short_shard_is_named_with_both_counts(shards):
    folder, _, _ = shards
    (folder / "train.02.en").write_text("ONE\n", encoding="utf-8")
    stream = ParallelStream.files(str(folder / "train.*.de*"), str(folder / "train.*.en*"))
    with pytest.raises(SeqkitError) as err:
        list(stream)
    assert "train.02.de has 449 lines but" in str(err.value) and "train.02.en has 1" in str(err.value)
    with pytest.raises(SeqkitError, match="3 source shard.s. but 2 target"):
        ParallelStream.files(str(folder / "train.*.de*"), [folder / "train.00.en", folder / "train.02.en"])


def test_reservoir_sample_is_uniform_deterministic_and_independent_of_sharding(shards):
    folder, src, tgt = shards
    sharded = ParallelStream.files(str(folder / "train.*.de*"), str(folder / "train.*.en*"))
    whole = ParallelStream.files(folder / "all.de", folder / "all.en")
    a = sharded.sample(50, seed=3)
    assert a == whole.sample(50, seed=3)  # the same pairs and seed: the same sample, however sharded
    assert a != whole.sample(50, seed=4)
    assert len(a[0]) == 50 and set(zip(*a)) <= set(zip(src, tgt))  # pairs stay pairs
    assert whole.sample(10_000) == (src, tgt)  # fewer pairs than asked: all of them, in order
    # uniform: over 2,000 seeds each of 20 pairs is kept 5/20 of the time (binomial sd ~19)
    small = ParallelStream.files(folder / "train.00.de", folder / "train.00.en", limit=20)
    counts = np.zeros(20)
    index = {s: i for i, s in enumerate(src[:20])}
    for seed in range(2000):
        for s in small.sample(5, seed=seed)[0]:
            counts[index[s]] += 1
    assert counts.sum() == 10_000 and counts.min() > 420 and counts.max() < 580


def test_one_vocabulary_trained_on_a_sample_for_all_shards(shards, tmp_path):
    folder, src, tgt = shards
    spm = {"vocab_size": 60, "model_type": "bpe", "input_sentence_size": 400, "seed": 1}
    out = tmp_path / "prep"
    corpus = prepare_files(str(folder / "train.*.de*"), str(folder / "train.*.en*"), None, out, spm=spm,
                           progress=False, chunk_lines=64)
    tok = corpus.tokenizer()
    assert len(tok) == 60 and corpus.meta["spm_train"]["input_sentence_size"] == 400
    assert [corpus.pair(i) for i in (0, 250, 699)] == [(tok.encode_ids(src[i]), tok.encode_ids(tgt[i]))
                                                       for i in (0, 250, 699)]
    # the same corpus unsharded gives the same model and ids
    whole = prepare_files(folder / "all.de", folder / "all.en", None, tmp_path / "whole", spm=spm, progress=False)
    assert whole.spm_sha256 == corpus.spm_sha256
    assert (whole.path / "src.ids").read_bytes() == (out / "src.ids").read_bytes()
    # unchanged shards and options: re-used; other spm options: rebuilt
    mtime = (out / "src.ids").stat().st_mtime_ns
    prepare_files(str(folder / "train.*.de*"), str(folder / "train.*.en*"), None, out, spm=spm, progress=False)
    assert (out / "src.ids").stat().st_mtime_ns == mtime
    again = prepare_files(str(folder / "train.*.de*"), str(folder / "train.*.en*"), None, out,
                          spm={**spm, "vocab_size": 70}, progress=False)
    assert len(again.tokenizer()) == 70
    with pytest.raises(SeqkitError, match="unknown sentencepiece option"):
        prepare_files(folder / "all.de", folder / "all.en", None, tmp_path / "x", spm={"vocab": 9})


def test_a_streamed_datasets_corpus_prepares_like_files(shards, tmp_path):
    pytest.importorskip("datasets")
    folder, src, tgt = shards
    jsonl = tmp_path / "corpus.jsonl"
    jsonl.write_text("".join(json.dumps({"translation": {"de": s, "en": t}}) + "\n" for s, t in zip(src, tgt)),
                     encoding="utf-8")
    stream = ParallelStream.hub(str(jsonl), src="de", tgt="en", limit=300)
    assert list(stream) == list(zip(src[:300], tgt[:300]))
    assert stream.stamps() is None
    files = prepare_files(folder / "all.de", folder / "all.en", None, tmp_path / "a", limit=300,
                          spm={"vocab_size": 50, "input_sentence_size": 0}, progress=False)
    streamed = prepare_stream(stream, files.tokenizer(), tmp_path / "b", progress=False)
    assert (streamed.path / "tgt.ids").read_bytes() == (files.path / "tgt.ids").read_bytes()
    assert streamed.meta["source"] == f"hf:{jsonl}"
    with pytest.raises(SeqkitError, match="translates .'de', 'en'., not de->fr"):
        list(ParallelStream.hub(str(jsonl), src="de", tgt="fr"))


def test_cli_prepares_shards_with_its_own_model(shards, tmp_path, capsys):
    from seqkit.cli import main

    folder, src, _ = shards
    out = tmp_path / "prep"
    args = ["data", "prepare", "--src", str(folder / "train.*.de*"), "--tgt", str(folder / "train.*.en*"),
            "--vocab-size", "60", "--input-sentence-size", "300", "-o", str(out), "--workers", "2"]
    assert main(args) == 0
    assert "700 pairs" in capsys.readouterr().out
    corpus = PreparedCorpus.open(out)
    assert corpus.pair(3)[0] == corpus.tokenizer().encode_ids(src[3])
    assert main([*args, "--spm", str(out / "spm.model")]) == 2
    assert "--vocab-size trains a model, but --spm gives one" in capsys.readouterr().err
    assert main(["data", "prepare", "--hub", "x", "-o", str(tmp_path / "y")]) == 2
    assert "--hub needs the language pair" in capsys.readouterr().err
    assert main([*args[:6], "--pretokenize", "src", "-o", str(tmp_path / "z")]) == 2
    assert "give SIDE=HOW once per side" in capsys.readouterr().err
    assert main([*args[:6], "--pretokenize", "src=words", "-o", str(tmp_path / "z")]) == 2
    assert "unknown pretokenize 'words'" in capsys.readouterr().err
    zh = tmp_path / "zh.txt"
    zh.write_text("".join(f"我爱{x}\n" for x in src[:250]), encoding="utf-8")
    assert main(["data", "prepare", "--src", str(zh), "--tgt", str(folder / "train.00.en"), "--pretokenize",
                 "src=char", "--vocab-size", "70", "-o", str(tmp_path / "zh")]) == 0
    zh_corpus = PreparedCorpus.open(tmp_path / "zh")
    assert zh_corpus.meta["pretokenize"] == {"src": "char"}
    assert zh_corpus.pair(0)[0] == zh_corpus.tokenizer().encode_ids("我 爱 " + src[0])


def test_hub_splits_map_to_seqkit_names(tmp_path):
    pytest.importorskip("datasets")
    files = {}
    for split, n in (("train", 4), ("validation", 2)):
        files[split] = str(tmp_path / f"{split}.jsonl")
        (tmp_path / f"{split}.jsonl").write_text(
            "".join(json.dumps({"de": f"{split} {i}", "en": f"E {i}"}) + "\n" for i in range(n)), encoding="utf-8")
    valid = ParallelStream.hub("json", src="de", tgt="en", split="valid", data_files=files)
    assert valid.lists() == (["validation 0", "validation 1"], ["E 0", "E 1"])
    with pytest.raises(SeqkitError, match="has no test split .it has train, validation."):
        ParallelStream.hub("json", src="de", tgt="en", split="test", data_files=files).lists()
