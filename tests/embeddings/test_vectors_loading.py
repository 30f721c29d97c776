"""Loading pretrained vectors: real-file quirks, formats, compression, cache, named sets through the
registry, errors, vocab alignment, d2l's queries."""

from __future__ import annotations

import gzip
import hashlib
import zipfile

import numpy as np
import pytest
import torch
from gensim.models import KeyedVectors as GensimKV
from gensim.test.utils import datapath

from seqkit.data import registry
from seqkit.data.registry import CorpusInfo, RemoteFile
from seqkit.embeddings import (
    align_to_vocab,
    analogy,
    knn,
    load_vectors,
    param_groups,
    pretrained_embedding,
    similar_tokens,
)
from seqkit.errors import SeqkitError


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("SEQKIT_CACHE", str(tmp_path / "cache"))


def write(path, lines: list[str]):
    path.write_bytes(("\n".join(lines) + "\n").encode("utf-8"))
    return path


def test_gensim_test_glove_loads_to_gensims_vectors():
    path = datapath("test_glove.txt")
    theirs = GensimKV.load_word2vec_format(path, no_header=True)
    ours = load_vectors(path)
    assert list(ours.index_to_key) == list(theirs.index_to_key)
    np.testing.assert_array_equal(np.asarray(ours.vectors), theirs.vectors)
    assert ours.load_report.format == "glove" and ours.load_report.loaded == 76


def test_quirks_of_real_files_are_handled_and_counted(tmp_path):
    path = write(tmp_path / "v.txt", [
        "the 0.1 0.2 0.3",
        "new\u00a0york 1 2 3",         # U+00A0 inside the token
        ". . . 4 5 6",                 # ASCII spaces inside the token (glove.840B has these)
        "café -1e-3 2.5E+1 3",          # non-ASCII, exponents
        "the 9 9 9",                   # duplicate: the first row wins
        "short 1 2",                   # wrong dimension
        "bad 1 x 3",                   # not a number
        "",                            # blank lines are ignored
        "long 0.5 2 3 4.5",            # one number too many (a token never ends in " 0.5")
        "crlf 7 8 9 \r",               # trailing space and CR
    ])
    kv = load_vectors(path)
    r = kv.load_report
    assert list(kv.index_to_key) == ["the", "new\u00a0york", ". . .", "café", "crlf"]
    np.testing.assert_array_equal(kv["the"], np.array([0.1, 0.2, 0.3], dtype=np.float32))
    np.testing.assert_array_equal(kv["café"], np.array([-1e-3, 25, 3], dtype=np.float32))
    np.testing.assert_array_equal(kv["crlf"], [7, 8, 9])
    assert (r.duplicates, r.wrong_dim, r.malformed) == (1, 2, 1)
    assert "1 duplicate tokens" in str(r) and "line 6" in r.examples[0]


def test_strict_mode_names_the_line(tmp_path):
    path = write(tmp_path / "v.txt", ["a 1 2", "b 3 4", "c 5"])
    with pytest.raises(SeqkitError, match=r"v\.txt:3: 1 fields after the token, expected 2"):
        load_vectors(path, strict=True)


def test_invalid_utf8_is_replaced_and_counted(tmp_path):
    path = tmp_path / "v.txt"
    path.write_bytes(b"ok 1 2\nbad\xff 3 4\n")
    kv = load_vectors(path)
    assert kv.load_report.encoding_errors == 1 and list(kv.index_to_key) == ["ok", "bad\ufffd"]
    with pytest.raises(SeqkitError, match="not valid UTF-8"):
        load_vectors(path, strict=True, cache=False)


def test_limit_gz_zip_and_word2vec_text_header(tmp_path):
    lines = [f"w{i} {i} {i + 0.5}" for i in range(10)]
    plain = write(tmp_path / "v.txt", lines)
    assert len(load_vectors(plain, limit=4)) == 4
    gz = tmp_path / "v.txt.gz"
    gz.write_bytes(gzip.compress(plain.read_bytes()))
    zp = tmp_path / "v.zip"
    with zipfile.ZipFile(zp, "w") as zf:
        zf.writestr("glove/vec.txt", plain.read_bytes())
    header = write(tmp_path / "h.vec", ["10 2", *lines])
    for path in (gz, zp, header):
        kv = load_vectors(path)
        assert len(kv) == 10 and kv["w7"].tolist() == [7.0, 7.5], path
    assert load_vectors(header).load_report.format == "word2vec-text"


def test_binary_with_a_truncated_file_is_one_clear_error(tmp_path):
    path = tmp_path / "v.bin"
    path.write_bytes(b"3 2\na " + np.array([1, 2], "<f4").tobytes() + b"\nb " + np.array([3, 4], "<f4").tobytes())
    with pytest.raises(SeqkitError, match="file ends after 2 of the 3 vectors"):
        load_vectors(path)


def test_bad_files_give_one_clear_line(tmp_path):
    with pytest.raises(SeqkitError, match="vector file not found"):
        load_vectors(tmp_path / "missing.txt")
    nothing = write(tmp_path / "words.txt", ["just words here", "and more words"])
    with pytest.raises(SeqkitError, match="no vectors could be read") as err:
        load_vectors(nothing)
    assert "\n" not in str(err.value)


def test_cache_is_reused_and_memory_mapped(tmp_path):
    path = write(tmp_path / "v.txt", [f"w{i} {i} 1" for i in range(100)])
    first = load_vectors(path)
    second = load_vectors(path)
    assert not first.load_report.from_cache and second.load_report.from_cache
    assert isinstance(second.vectors, np.memmap)
    np.testing.assert_array_equal(np.asarray(second.vectors), np.asarray(first.vectors))
    assert second["w42"].tolist() == [42.0, 1.0] and second.index_to_key[99] == "w99"
    write(path, [f"w{i} {i} 2" for i in range(100)])  # a changed file is parsed again
    assert load_vectors(path)["w1"].tolist() == [1.0, 2.0]


def test_named_set_offline_is_one_clear_error(monkeypatch):
    monkeypatch.setenv("SEQKIT_OFFLINE", "1")
    monkeypatch.delenv("SEQKIT_DATA", raising=False)
    with pytest.raises(SeqkitError, match="glove.6B.50d is not available offline.*fix: download http"):
        load_vectors("glove.6B.50d")
    assert {"glove.6B.50d", "glove.6B.100d", "glove.6B.200d", "glove.6B.300d", "glove.42B.300d",
            "glove.840B.300d", "wiki.en"} <= set(registry.names("vectors"))


def test_named_set_is_fetched_verified_and_read_from_its_zip(monkeypatch, tmp_path):
    archive = tmp_path / "upstream" / "tiny.zip"
    archive.parent.mkdir()
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("tiny/vec.txt", "a 1 2\nb 3 4\n")
        zf.writestr("tiny/other.txt", "not vectors\n")
    sha1 = hashlib.sha1(archive.read_bytes()).hexdigest()
    remote = RemoteFile("vectors/tiny.zip", archive.as_uri(), f"sha1:{sha1}", member="vec.txt", extract=False)
    monkeypatch.setitem(registry.CORPORA, "tiny", CorpusInfo("tiny", "vectors", "t", "n", "n", {"vectors": remote}))
    monkeypatch.delenv("SEQKIT_OFFLINE", raising=False)
    monkeypatch.delenv("SEQKIT_DATA", raising=False)
    kv = load_vectors("tiny")
    assert list(kv.index_to_key) == ["a", "b"] and kv["b"].tolist() == [3.0, 4.0]
    assert (tmp_path / "cache" / "vectors" / "tiny.zip").read_bytes() == archive.read_bytes()  # kept whole
    assert registry.status("tiny") == "cached"
    bad = RemoteFile("vectors/bad.zip", archive.as_uri(), "sha1:" + "0" * 40, member="vec.txt", extract=False)
    monkeypatch.setitem(registry.CORPORA, "bad", CorpusInfo("bad", "vectors", "t", "n", "n", {"vectors": bad}))
    with pytest.raises(SeqkitError, match="checksum mismatch .* expected sha1"):
        load_vectors("bad")
    assert not (tmp_path / "cache" / "vectors" / "bad.zip").exists()


def test_align_to_vocab_embedding_and_param_groups(tmp_path):
    from seqkit.text import Vocab

    kv = load_vectors(write(tmp_path / "v.txt", ["the 1 0", "cat 0 1", "dog 1 1"]))
    vocab = Vocab(["The", "cat", "cat", "mouse"])
    matrix, coverage = align_to_vocab(kv, vocab)
    assert (coverage.exact, coverage.lowercase) == (1, 1) and "mouse" in coverage.missing
    assert matrix[vocab["The"]].tolist() == [1, 0] and matrix[vocab["mouse"]].tolist() == [0, 0]
    emb, _ = pretrained_embedding(kv, vocab, freeze=True)
    assert not emb.weight.requires_grad and emb.weight.shape == (len(vocab), 2)
    emb, _ = pretrained_embedding(kv, vocab, freeze=False)
    model = torch.nn.Sequential(emb, torch.nn.Linear(2, 3))
    groups = param_groups(model, emb, lr=0.1, embedding_lr=0.001)
    opt = torch.optim.SGD(groups)
    assert [g["lr"] for g in opt.param_groups] == [0.1, 0.001] and groups[1]["params"][0] is emb.weight


def test_d2l_knn_and_analogy_exclude_the_query_words(tmp_path):
    kv = load_vectors(write(tmp_path / "v.txt", [
        "man 1 0 0", "woman 1 1 0", "king 1 0 1", "queen 1 1 1", "apple 0 0 -1"]))
    idx, cos = knn(kv.vectors, kv["king"], 2)
    assert idx.tolist()[0] == kv.get_index("king") and cos[0] == pytest.approx(1.0, abs=1e-4)
    assert similar_tokens(kv, "king", 1)[0][0] != "king"
    assert analogy(kv, "man", "woman", "king") == "queen"
    # d2l's version (no exclusion) answers 'king' for man:man::king:? -- ours cannot
    assert analogy(kv, "man", "man", "king") != "king"


def test_duplicates_anywhere_keep_the_first_row(tmp_path):
    words = ["a", "b", "a", "a", "c", "b", "d", "c"]  # adjacent, repeated and trailing duplicates
    kv = load_vectors(write(tmp_path / "v.txt", [f"{w} {i} {i}" for i, w in enumerate(words)]))
    assert list(kv.index_to_key) == ["a", "b", "c", "d"] and kv.load_report.duplicates == 4
    assert [kv[w][0] for w in "abcd"] == [0, 1, 4, 6]
    assert [kv.index_to_key[i] for i in range(4)] == ["a", "b", "c", "d"]


def test_duplicates_across_parse_blocks_and_in_binary_files(tmp_path, monkeypatch):
    from seqkit.embeddings import formats

    monkeypatch.setattr(formats, "BLOCK_BYTES", 64)  # a few lines per block: repeats span blocks
    words = [f"w{i % 7}" if i % 3 else f"u{i}" for i in range(60)]
    rows = np.arange(120, dtype=np.float32).reshape(60, 2)
    first = {}
    for i, w in enumerate(words):
        first.setdefault(w, i)
    text = write(tmp_path / "v.txt", [f"{w} {a:g} {b:g}" for w, (a, b) in zip(words, rows)])
    binary = tmp_path / "v.bin"
    bad = rows.copy()
    bad[4] = np.inf  # a row of inf is dropped (and counted) before the repeats are looked for
    binary.write_bytes(b"60 2\n" + b"".join(w.encode() + b" " + r.astype("<f4").tobytes() + b"\n"
                                             for w, r in zip(words, bad)))
    for path, skipped in ((text, set()), (binary, {4})):
        kv = load_vectors(path, cache=False)
        keep = sorted(i for i, w in enumerate(words) if i not in skipped
                      and i == min(j for j, v in enumerate(words) if v == w and j not in skipped))
        assert list(kv.index_to_key) == [words[i] for i in keep], path
        np.testing.assert_array_equal(np.asarray(kv.vectors), rows[keep])
        assert kv.load_report.duplicates == 60 - len(skipped) - len(keep)


def test_equal_hashes_of_different_tokens_are_not_duplicates():
    from seqkit.embeddings.tokenlist import TokenCollector

    collector = TokenCollector(2)
    collector.add(["a", "b", "a"])
    collector.add(["c", "b", "d"])
    collector.hashes[:collector.n] = 7  # every token's hash collides: only the texts decide
    repeats = collector.repeats()
    assert repeats.tolist() == [2, 4]
    collector.drop(repeats)
    assert list(collector.finish()) == ["a", "b", "c", "d"]


CHILD_PEAK = r"""
import sys
from seqkit.embeddings.vectors import load_vectors

def status(field):
    with open("/proc/self/status") as fh:
        return next(int(line.split()[1]) for line in fh if line.startswith(field + ":"))

base = status("VmRSS")
kv = load_vectors(sys.argv[1], cache=False)
print(len(kv), (status("VmHWM") - base) * 1024)  # VmHWM: this process's own peak, not its parent's
"""


@pytest.mark.slow
def test_loading_costs_little_more_than_the_float32_matrix(tmp_path):
    import subprocess
    import sys

    rows, dim = 100_000, 100
    rng = np.random.default_rng(0)
    text = tmp_path / "v.txt"
    with open(text, "w", encoding="utf-8") as fh:
        for a in range(0, rows, 10_000):
            block = np.char.mod("%.5f", rng.normal(0, 0.4, (10_000, dim)))
            fh.write("".join(f"w{a + j}{'é' if j % 97 == 0 else ''} " + " ".join(r) + "\n" for j, r in enumerate(block)))
    binary = tmp_path / "v.bin"
    load_vectors(text, cache=False).save_word2vec_format(binary, binary=True)
    for path in (text, binary):
        out = subprocess.run([sys.executable, "-c", CHILD_PEAK, str(path)], capture_output=True, text=True, check=True)
        n, peak = map(int, out.stdout.split())
        assert n == rows and peak <= 1.2 * rows * dim * 4, (path.name, peak / (rows * dim * 4))
