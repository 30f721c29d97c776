"""Prepared corpora: flat ids on disk, memory-mapped, equal to encoding in memory; re-use; bad input."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

from seqkit.data import ParallelBatches
from seqkit.data.prepared import PreparedCorpus, id_dtype, prepare, prepare_files
from seqkit.errors import SeqkitError
from seqkit.text import SentencePieceTokenizer

WORDS = "the a cat dog sat on mat ran far away big small red green house tree".split()


def _lines(n: int, seed: int) -> list[str]:
    rng = np.random.default_rng(seed)
    return [" ".join(rng.choice(WORDS, size=int(rng.integers(0, 12)))) for _ in range(n)]


@pytest.fixture(scope="module")
def tok(tmp_path_factory):
    folder = tmp_path_factory.mktemp("spm")
    return SentencePieceTokenizer.train(_lines(400, 0) + _lines(400, 1), folder / "m", vocab_size=40,
                                        model_type="bpe")


@pytest.fixture()
def files(tmp_path):
    src, tgt = tmp_path / "train.src", tmp_path / "train.tgt"
    src.write_text("\n".join(_lines(503, 2)) + "\n", encoding="utf-8")
    tgt.write_text("\n".join(_lines(503, 3)) + "\n", encoding="utf-8")
    return src, tgt


def test_id_dtype_is_the_smallest_that_holds_the_vocabulary():
    assert id_dtype(40) == np.uint16 and id_dtype(65536) == np.uint16
    assert id_dtype(65537) == np.uint32


@pytest.mark.parametrize("workers", [1, 3])
def test_prepared_ids_equal_in_memory_encoding(tok, files, tmp_path, workers):
    src, tgt = files
    corpus = prepare_files(src, tgt, tok, tmp_path / "prep", workers=workers, chunk_lines=50, progress=False)
    want_src = tok.encode_ids_batch(src.read_text(encoding="utf-8").splitlines())
    want_tgt = tok.encode_ids_batch(tgt.read_text(encoding="utf-8").splitlines())
    assert len(corpus) == 503
    assert corpus.src_ids.dtype == np.uint16 and isinstance(corpus.src_ids, np.memmap)
    assert [corpus.pair(i) for i in range(503)] == list(zip(want_src, want_tgt))
    assert corpus.src_lengths.tolist() == [len(x) for x in want_src]
    assert corpus.meta["src_tokens"] == sum(map(len, want_src))
    # the files are exactly the flat arrays: 2 bytes an id, 8 per offset
    assert (tmp_path / "prep" / "src.ids").stat().st_size == 2 * corpus.meta["src_tokens"]
    assert (tmp_path / "prep" / "tgt.offsets").stat().st_size == 8 * 504
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".prep")]  # no temp folder left


def test_output_does_not_depend_on_workers_or_chunks(tok, files, tmp_path):
    src, tgt = files
    a = prepare_files(src, tgt, tok, tmp_path / "a", workers=1, chunk_lines=1000, progress=False)
    b = prepare_files(src, tgt, tok, tmp_path / "b", workers=2, chunk_lines=7, progress=False)
    for name in ("src.ids", "src.offsets", "tgt.ids", "tgt.offsets"):
        assert (a.path / name).read_bytes() == (b.path / name).read_bytes()


def test_reuse_when_inputs_and_tokenizer_are_unchanged(tok, files, tmp_path):
    src, tgt = files
    out = tmp_path / "prep"
    prepare_files(src, tgt, tok, out, progress=False)
    ids_mtime = (out / "src.ids").stat().st_mtime_ns
    prepare_files(src, tgt, tok, out, progress=False)
    assert (out / "src.ids").stat().st_mtime_ns == ids_mtime  # re-used, not rewritten
    os.utime(src, ns=(1, 1))  # touched, same bytes: the hash says unchanged
    prepare_files(src, tgt, tok, out, progress=False)
    assert (out / "src.ids").stat().st_mtime_ns == ids_mtime
    src.write_text("big red house\n" * 503, encoding="utf-8")  # changed content: rebuilt
    corpus = prepare_files(src, tgt, tok, out, progress=False)
    assert corpus.pair(0)[0] == tok.encode_ids("big red house")
    assert json.loads((out / "meta.json").read_text())["inputs"][0]["size"] == src.stat().st_size


def test_unequal_line_counts_name_both_files(tok, tmp_path):
    src, tgt = tmp_path / "a.src", tmp_path / "a.tgt"
    src.write_text("a\nb\nc\n", encoding="utf-8")
    tgt.write_text("a\nb\nc\nd\n", encoding="utf-8")
    with pytest.raises(SeqkitError, match=r"a.src has 3 lines but .*a.tgt has 4"):
        prepare_files(src, tgt, tok, tmp_path / "out", chunk_lines=2, progress=False)
    assert not (tmp_path / "out").exists()


def test_open_rejects_damaged_folders(tok, files, tmp_path):
    src, tgt = files
    corpus = prepare_files(src, tgt, tok, tmp_path / "prep", progress=False)
    with open(corpus.path / "tgt.ids", "ab") as fh:
        fh.write(b"\0\0")
    with pytest.raises(SeqkitError, match="tgt.ids has .* bytes"):
        PreparedCorpus.open(tmp_path / "prep")
    with pytest.raises(SeqkitError, match="not a prepared corpus"):
        PreparedCorpus.open(tmp_path)


def test_batches_from_the_memory_map_equal_in_memory_batches(tok, files, tmp_path):
    src, tgt = files
    corpus = prepare_files(src, tgt, tok, tmp_path / "prep", progress=False)
    src_ids = tok.encode_ids_batch(src.read_text(encoding="utf-8").splitlines())
    tgt_ids = tok.encode_ids_batch(tgt.read_text(encoding="utf-8").splitlines())
    opts = dict(max_tokens=200, seed=5, max_len=10, max_ratio=3.0)
    ref = ParallelBatches(src_ids, tgt_ids, **opts)
    mm = ParallelBatches.from_prepared(corpus, **opts)
    assert mm.report() == ref.report()
    for epoch in (0, 1):
        got, want = list(mm.epoch(epoch)), list(ref.epoch(epoch))
        assert len(got) == len(want)
        for a, b in zip(got, want):
            for field in ("src", "src_len", "tgt_in", "tgt_out", "tgt_len", "indices"):
                assert getattr(a, field).dtype == getattr(b, field).dtype
                assert getattr(a, field).equal(getattr(b, field))


def test_prepare_needs_a_sentencepiece_tokenizer(tmp_path):
    with pytest.raises(SeqkitError, match="sentencepiece"):
        prepare(["a"], ["b"], object(), tmp_path / "x")


def test_cli_prepares_reuses_and_fails_cleanly(tok, files, tmp_path, capsys):
    from seqkit.cli import main

    src, tgt = files
    out = tmp_path / "prep"
    args = ["data", "prepare", "--src", str(src), "--tgt", str(tgt), "--spm", tok.path, "-o", str(out),
            "--workers", "2", "--chunk-lines", "100"]
    assert main(args) == 0
    assert "503 pairs" in capsys.readouterr().out
    corpus = PreparedCorpus.open(out)
    assert corpus.pair(7) == (tok.encode_ids(src.read_text().splitlines()[7]),
                              tok.encode_ids(tgt.read_text().splitlines()[7]))
    mtime = (out / "tgt.ids").stat().st_mtime_ns
    assert main(args) == 0 and (out / "tgt.ids").stat().st_mtime_ns == mtime
    short = tmp_path / "short.tgt"
    short.write_text("a\n", encoding="utf-8")
    capsys.readouterr()
    assert main([*args[:5], str(short), *args[6:8], "-o", str(tmp_path / "bad")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "503 lines" in err and "short.tgt has 1" in err
    assert not (tmp_path / "bad").exists() and not list(tmp_path.glob(".bad*"))


def test_an_unrelated_folder_is_never_replaced(tok, files, tmp_path):
    src, tgt = files
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "notes.txt").write_text("keep me", encoding="utf-8")
    with pytest.raises(SeqkitError, match="not a prepared corpus.*; refusing"):
        prepare_files(src, tgt, tok, precious, progress=False)
    assert (precious / "notes.txt").read_text(encoding="utf-8") == "keep me"
    (tmp_path / "empty").mkdir()
    assert len(prepare_files(src, tgt, tok, tmp_path / "empty", progress=False)) == 503
