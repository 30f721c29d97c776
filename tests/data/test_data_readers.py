"""Local files: plain text, .gz, parallel files, TSV columns, folders; the one-line errors."""

from __future__ import annotations

import gzip

import pytest

import seqkit as sk
from seqkit.cli import main
from seqkit.data import LMCorpus, ParallelCorpus, split_by_seed
from seqkit.errors import SeqkitError


def write(path, text, gz=False):
    data = text.encode("utf-8") if isinstance(text, str) else text
    path.write_bytes(gzip.compress(data, mtime=0) if gz else data)
    return path


def test_plain_and_gzip_text(tmp_path):
    plain = write(tmp_path / "a.txt", "one two\nthree\n")
    packed = write(tmp_path / "b.txt.gz", "one two\nthree\n", gz=True)
    for path in (plain, packed):
        corpus = sk.data.load(path)
        assert isinstance(corpus, LMCorpus)
        assert corpus.train == ["one two", "three"] and corpus.valid == [] and corpus.texts() == corpus.train


def test_seeded_holdout_is_deterministic_and_disjoint(tmp_path):
    path = write(tmp_path / "a.txt", "".join(f"line {i}\n" for i in range(100)))
    a = sk.data.load(path, valid_size=5, test_size=5, split_seed=3)
    b = sk.data.load(path, valid_size=5, test_size=5, split_seed=3)
    assert a.train == b.train and a.test == b.test and len(a.valid) == 5 and len(a.train) == 90
    assert not set(a.train) & set(a.test) and not set(a.valid) & set(a.test)
    train, valid, test = split_by_seed(10, 1, 1, seed=0)
    assert sorted(train + valid + test) == list(range(10))


def test_parallel_files_and_tsv_columns(tmp_path):
    en = write(tmp_path / "x.en", "Hello.\nThanks.\n")
    fr = write(tmp_path / "x.fr.gz", "Bonjour.\nMerci.\n", gz=True)
    corpus = sk.data.load((en, fr), src="en", tgt="fr")
    assert isinstance(corpus, ParallelCorpus)
    assert corpus.train.pairs() == [("Hello.", "Bonjour."), ("Thanks.", "Merci.")]
    assert corpus.train.texts() == ["Hello.", "Thanks.", "Bonjour.", "Merci."]
    tsv = write(tmp_path / "x.tsv", "Hi.\tSalut.\tCC-BY #1\n\nBye.\tAu revoir.\tCC-BY #2\n")
    corpus = sk.data.load(tsv)
    assert corpus.train.src == ["Hi.", "Bye."] and corpus.train.tgt == ["Salut.", "Au revoir."]
    flipped = sk.data.load(tsv, columns=(1, 0))
    assert flipped.train.src == ["Salut.", "Au revoir."]
    assert sk.data.load(tsv, columns=(2,)).train == ["CC-BY #1", "CC-BY #2"]


def test_folder_layouts(tmp_path):
    for split in ("train", "valid"):
        write(tmp_path / f"{split}.de", "a\nb\n")
        write(tmp_path / f"{split}.en", "A\nB\n")
    corpus = sk.data.load(tmp_path, src="de", tgt="en")
    assert len(corpus.train) == 2 and len(corpus.valid) == 2 and len(corpus.test) == 0
    lm = tmp_path / "lm"
    lm.mkdir()
    write(lm / "train.txt", "x y\n")
    write(lm / "test.txt.gz", "z\n", gz=True)
    corpus = sk.data.load(lm)
    assert corpus.train == ["x y"] and corpus.test == ["z"] and corpus.valid == []


def test_parallel_files_of_different_lengths_name_file_and_line(tmp_path):
    en = write(tmp_path / "x.en", "a\nb\nc\n")
    fr = write(tmp_path / "x.fr", "A\nB\n")
    with pytest.raises(SeqkitError) as err:
        sk.data.load((en, fr))
    text = str(err.value)
    assert text.startswith(f"{en}:3: parallel files differ in length: {fr} has 2 lines, {en} has 3")
    assert "fix:" in text and "\n" not in text


def test_empty_corpus_invalid_utf8_and_bad_tsv(tmp_path):
    empty = write(tmp_path / "empty.txt", "\n\n")
    with pytest.raises(SeqkitError, match=r"empty\.txt: empty corpus.*fix:"):
        sk.data.load(empty)
    bad = write(tmp_path / "bad.txt", b"fine\nbad \xff byte\n")
    with pytest.raises(SeqkitError) as err:
        sk.data.load(bad)
    assert str(err.value).startswith(f"{bad}:2: invalid UTF-8")
    tsv = write(tmp_path / "x.tsv", "a\tb\nonly-one-column\n")
    with pytest.raises(SeqkitError) as err:
        sk.data.load(tsv)
    assert str(err.value).startswith(f"{tsv}:2: line has 1 tab-separated column")
    with pytest.raises(SeqkitError, match="not a registered corpus name"):
        sk.data.load(tmp_path / "missing.txt")
    with pytest.raises(SeqkitError, match="empty corpus"):
        sk.data.load((write(tmp_path / "e.en", ""), write(tmp_path / "e.fr", "")))


def test_cli_reports_bad_input_in_one_line(tmp_path, capsys):
    assert main(["data", "get", "no-such-corpus"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and "no such corpus file" in err and "\n" not in err


# ---- the real corpora (skipped when ../shared/data is absent) -------------------------------------


def test_named_lm_corpora(shared_data, monkeypatch):
    monkeypatch.setenv("SEQKIT_DATA", str(shared_data))
    tm = sk.data.load("timemachine")
    assert len(tm.train) == 3221 and tm.train[0] == "The Time Machine, by H. G. Wells [1898]"
    ptb = sk.data.load("ptb")
    assert (len(ptb.train), len(ptb.valid), len(ptb.test)) == (42068, 3370, 3761)
    wiki = sk.data.load("wikitext-2")  # train.txt is stored gzipped locally: found as train.txt.gz
    assert (len(wiki.train), len(wiki.valid), len(wiki.test)) == (36718, 3760, 4358)


def test_named_parallel_corpora(shared_data, monkeypatch):
    monkeypatch.setenv("SEQKIT_DATA", str(shared_data))
    m30k = sk.data.load("multi30k", src="en", tgt="fr")
    assert (len(m30k.train), len(m30k.valid), len(m30k.test)) == (29000, 1014, 1000)
    assert m30k.train.src[0] == "Two young, White males are outside near many bushes."
    assert sk.data.load("multi30k").src_lang == "de"
    fra = sk.data.load("fra-eng")
    assert (len(fra.train), len(fra.valid), len(fra.test)) == (157130, 5000, 5000)
    assert fra.train.src[0] == "Go." and fra.train.tgt[0] == "Va !"
    assert fra.test.src == sk.data.load("fra-eng", split_seed=0).test.src
    assert fra.test.src != sk.data.load("fra-eng", split_seed=1).test.src
    cmn = sk.data.load("cmn-eng", src="zh", tgt="en")
    assert (len(cmn.train), len(cmn.valid), len(cmn.test)) == (24388, 1000, 1000)
    assert cmn.train.pairs()[0] == ("嗨。", "Hi.")
    with pytest.raises(SeqkitError, match="has no de->fr direction"):
        sk.data.load("fra-eng", src="de", tgt="fr")
