"""The registry: local copies, offline errors, verified downloads (file:// URLs), safe extraction."""

from __future__ import annotations

import hashlib
import io
import tarfile
import zipfile

import pytest

import seqkit as sk
from seqkit.cli import main
from seqkit.data import registry
from seqkit.data.download import download, extract
from seqkit.data.registry import CorpusInfo, RemoteFile
from seqkit.errors import SeqkitError

TEXT = b"first line\nsecond line\n"
SHA = hashlib.sha256(TEXT).hexdigest()


def test_every_named_corpus_has_url_and_checksum():
    assert {"timemachine", "ptb", "wikitext-2", "fra-eng", "cmn-eng", "multi30k", "seqkit-en-fr"} <= set(
        sk.data.corpus_names())
    for info in sk.data.CORPORA.values():
        for remote in info.files.values():
            # text8-prefix was cut from a truncated zip: no public file holds it (url None, local copy only)
            assert remote.url is None and info.name == "text8-prefix" or info.bundled or \
                remote.url.startswith(("http://", "https://", "gensim:"))
            if info.kind != "vectors":
                assert len(remote.checksum) == 64


def test_vector_sets_share_the_registry():
    vectors = registry.names("vectors")
    assert {"glove.6B.50d", "glove.840B.300d", "wiki.en"} <= set(vectors)
    assert not set(vectors) & set(sk.data.corpus_names())
    glove = sk.data.corpus_info("glove.6B.50d").files["vectors"]
    assert glove.path == "vectors/glove.6B.50d.zip" and glove.checksum.startswith("sha1:") and not glove.extract
    with pytest.raises(SeqkitError, match="glove.6B.50d is a set of pretrained word vectors.*load_vectors"):
        sk.data.load("glove.6B.50d")


def test_offline_without_local_copy_says_which_file_to_put_where(monkeypatch, tmp_path):
    monkeypatch.setenv("SEQKIT_DATA", str(tmp_path / "corpora"))
    with pytest.raises(SeqkitError) as err:
        sk.data.load("ptb")
    text = str(err.value)
    assert "needs ptb/ptb.train.txt" in text
    assert f"put the file at {tmp_path / 'corpora' / 'ptb' / 'ptb.train.txt'}" in text
    assert "\n" not in text


def test_lee_corpus_ships_with_gensim(monkeypatch):
    monkeypatch.delenv("SEQKIT_DATA", raising=False)
    lee = sk.data.load("lee")  # offline, no SEQKIT_DATA: the file is inside the gensim package
    assert len(lee.train) == 300 and sum(len(line.split()) for line in lee.train) == 59890
    assert lee.train[0].startswith("Hundreds of people have been forced to vacate their homes")
    assert registry.status("lee") == "bundled"


def test_local_copy_in_seqkit_data_gz_or_not(monkeypatch, tmp_path):
    (tmp_path / "timemachine").mkdir()
    (tmp_path / "timemachine" / "timemachine.txt").write_bytes(TEXT)
    monkeypatch.setenv("SEQKIT_DATA", str(tmp_path))
    assert sk.data.load("timemachine").train == ["first line", "second line"]
    assert registry.status("timemachine") == "local"


@pytest.fixture
def fake_corpus(monkeypatch, tmp_path):
    """A registered corpus whose URL is a local file:// URL (no network), and online mode."""
    src = tmp_path / "upstream.txt"
    src.write_bytes(TEXT)
    info = CorpusInfo("fake", "lm", "test", "none", "none",
                      {"train": RemoteFile("fake/train.txt", src.as_uri(), SHA)})
    monkeypatch.setitem(registry.CORPORA, "fake", info)
    monkeypatch.delenv("SEQKIT_OFFLINE")
    monkeypatch.delenv("SEQKIT_DATA", raising=False)
    return src


def test_download_is_verified_and_cached(fake_corpus, tmp_path):
    corpus = sk.data.load("fake")
    assert corpus.train == ["first line", "second line"]
    cached = tmp_path / "cache" / "fake" / "train.txt"
    assert cached.read_bytes() == TEXT
    fake_corpus.unlink()  # served from the cache from now on
    assert sk.data.load("fake").train == ["first line", "second line"]
    assert registry.status("fake") == "cached"


def test_checksum_mismatch_leaves_nothing_behind(fake_corpus, tmp_path):
    fake_corpus.write_bytes(b"tampered\n")
    with pytest.raises(SeqkitError, match="checksum mismatch"):
        sk.data.load("fake")
    assert not (tmp_path / "cache" / "fake").exists() or not any((tmp_path / "cache" / "fake").iterdir())


def test_download_failure_is_one_clear_error(tmp_path):
    with pytest.raises(SeqkitError, match="download of file:.*failed"):
        download((tmp_path / "nope.txt").as_uri(), tmp_path / "out.txt", None)


def test_archive_member_is_extracted_and_verified(monkeypatch, tmp_path):
    archive = tmp_path / "pairs.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("pairs/all.txt", "Go.\tVa !\nHi.\tSalut !\n")
        zf.writestr("__MACOSX/junk", "x")
    member_sha = hashlib.sha256(b"Go.\tVa !\nHi.\tSalut !\n").hexdigest()
    info = CorpusInfo("fake-pairs", "lm", "t", "n", "n",
                      {"train": RemoteFile("fake-pairs/all.txt", archive.as_uri(), member_sha, member="pairs/all.txt")})
    monkeypatch.setitem(registry.CORPORA, "fake-pairs", info)
    monkeypatch.delenv("SEQKIT_OFFLINE")
    path = registry.fetch("fake-pairs", "train")
    assert path == tmp_path / "cache" / "fake-pairs" / "all.txt"
    assert sk.data.read_tsv(path, (1,)) == [["Va !", "Salut !"]]
    # an archive whose member does not match is refused and not kept
    bad = RemoteFile("fake-pairs/other.txt", archive.as_uri(), "0" * 64, member="pairs/all.txt")
    monkeypatch.setitem(registry.CORPORA, "fake-bad", CorpusInfo("fake-bad", "lm", "t", "n", "n", {"train": bad}))
    with pytest.raises(SeqkitError, match="checksum mismatch for pairs/all.txt"):
        registry.fetch("fake-bad", "train")
    assert not (tmp_path / "cache" / "archives" / "pairs.zip").exists()
    assert not (tmp_path / "cache" / "fake-pairs" / "other.txt").exists()


def _tar_with(tmp_path, member: tarfile.TarInfo, data: bytes = b"x") -> str:
    path = tmp_path / "evil.tar"
    with tarfile.open(path, "w") as tf:
        member.size = len(data) if member.isfile() else 0
        tf.addfile(member, io.BytesIO(data) if member.isfile() else None)
    return path


@pytest.mark.parametrize("name", ["../escape.txt", "/abs/escape.txt", "ok/../../escape.txt"])
def test_extraction_refuses_paths_that_escape(tmp_path, name):
    target = tmp_path / "target"
    with pytest.raises(SeqkitError, match="outside|absolute"):
        extract(_tar_with(tmp_path, tarfile.TarInfo(name)), target)
    zpath = tmp_path / "evil.zip"
    with zipfile.ZipFile(zpath, "w") as zf:
        zf.writestr(zipfile.ZipInfo(name), "x")
    with pytest.raises(SeqkitError, match="outside|absolute"):
        extract(zpath, target)
    assert not (tmp_path / "escape.txt").exists()


def test_extraction_refuses_links(tmp_path):
    link = tarfile.TarInfo("innocent")
    link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
    with pytest.raises(SeqkitError, match="is a link"):
        extract(_tar_with(tmp_path, link), tmp_path / "target")
    hard = tarfile.TarInfo("hard")
    hard.type, hard.linkname = tarfile.LNKTYPE, "../../outside"
    with pytest.raises(SeqkitError, match="is a link"):
        extract(_tar_with(tmp_path, hard), tmp_path / "target")


def test_safe_members_are_extracted(tmp_path):
    ok = tarfile.TarInfo("dir/file.txt")
    written = extract(_tar_with(tmp_path, ok, b"hello"), tmp_path / "target")
    assert [p.read_bytes() for p in written] == [b"hello"]


def test_cli_ls_and_get(capsys):
    assert main(["data", "ls"]) == 0
    out = capsys.readouterr().out
    for name in ("timemachine", "ptb", "wikitext-2", "fra-eng", "cmn-eng", "multi30k", "seqkit-en-fr", "hf:wmt14"):
        assert name in out
    assert any(line.split()[:2] == ["glove.6B.50d", "vectors"] for line in out.splitlines())
    assert main(["data", "get", "seqkit-en-fr"]) == 0
    assert "seqkit-en-fr en->fr: train 22000, valid 1000, test 1000 pairs" in capsys.readouterr().out


def test_cli_get_offline_missing_corpus_exits_2(capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("SEQKIT_DATA", str(tmp_path))
    assert main(["data", "get", "multi30k"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "multi30k/train.de.gz" in err and "SEQKIT_OFFLINE" in err


def test_aliases_and_near_misses():
    from seqkit.data.registry import canonical, corpus_info, suggest

    assert canonical("wikitext2") == "wikitext-2" and corpus_info("wikitext2").name == "wikitext-2"
    assert suggest("wikitxt-2") == "did you mean 'wikitext-2'? "
    with pytest.raises(SeqkitError, match="did you mean 'multi30k'"):
        corpus_info("multi30")


def test_every_shared_data_folder_is_a_registered_name(shared_data, monkeypatch):
    """Each folder of the shared data is a name (its own), and loads with the counts its SOURCES.md gives."""
    monkeypatch.setenv("SEQKIT_DATA", str(shared_data))
    folders = {p.name for p in shared_data.iterdir() if p.is_dir()}
    assert folders <= set(sk.data.CORPORA), folders - set(sk.data.CORPORA)
    text8 = sk.data.load("text8")  # the alias, for the partial copy the folder holds
    assert text8.name == "text8-prefix" and len(text8.train[0].split()) == 2_139_748
    iwslt = sk.data.load("iwslt14-de-en")
    assert len(iwslt.test.src) == len(iwslt.test.tgt) == 6750 and len(iwslt.train.src) == 0
    assert iwslt.test.tgt[0].startswith("you know , one of the intense pleasures of travel")
    for pair, n in (("de-en", 1000), ("en-de", 1002), ("zh-en", 1948), ("en-zh", 1002)):
        s, t = pair.split("-")
        wmt = sk.data.load("wmt21-news", src=s, tgt=t)
        assert len(wmt.test.src) == len(wmt.test.tgt) == n
    with pytest.raises(SeqkitError, match="no de->zh direction.*de-en, en-de, en-zh, zh-en"):
        sk.data.load("wmt21", src="de", tgt="zh")


def test_a_file_without_a_public_download_says_where_to_put_it(tmp_path, monkeypatch):
    monkeypatch.setenv("SEQKIT_DATA", str(tmp_path))
    monkeypatch.setenv("SEQKIT_CACHE", str(tmp_path / "cache"))
    with pytest.raises(SeqkitError, match="has no public download.*text8-prefix/text8.prefix.txt.gz"):
        sk.data.load("text8-prefix")


def test_datasets_objects_and_table_files(tmp_path):
    import datasets

    rows = {"de": ["ein Hund", "eine Katze", "ein Haus"], "en": ["a dog", "a cat", "a house"]}
    dd = datasets.DatasetDict({"train": datasets.Dataset.from_dict(rows),
                               "validation": datasets.Dataset.from_dict({k: v[:1] for k, v in rows.items()})})
    corpus = sk.data.load(dd, src="de", tgt="en")
    assert corpus.train.src == rows["de"] and corpus.valid.tgt == ["a dog"] and len(corpus.test.src) == 0
    lm = sk.data.load(datasets.Dataset.from_dict({"text": ["one line", "two lines"]}))
    assert list(lm.train) == ["one line", "two lines"]
    csv = tmp_path / "pairs.csv"
    csv.write_text("de,en\n" + "".join(f'"{d}","{e}"\n' for d, e in zip(rows["de"], rows["en"])), encoding="utf-8")
    from_csv = sk.data.load(csv, src="de", tgt="en")
    assert from_csv.train.src == rows["de"] and from_csv.train.tgt == rows["en"] and from_csv.name == str(csv)
    jsonl = tmp_path / "pairs.jsonl"
    jsonl.write_text("".join(f'{{"translation": {{"de": "{d}", "en": "{e}"}}}}\n'
                             for d, e in zip(rows["de"], rows["en"])), encoding="utf-8")
    assert sk.data.load(jsonl, src="de", tgt="en").train.tgt == rows["en"]
    with pytest.raises(SeqkitError, match="translates \\['de', 'en'\\], not fr->en"):
        sk.data.load(jsonl, src="fr", tgt="en")
