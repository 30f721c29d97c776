"""Hugging Face `datasets` corpora through the same interface, on local fixtures (no network)."""

from __future__ import annotations

import json

import pytest

import seqkit as sk
from seqkit.data.hub import resolve_hub_id
from seqkit.errors import SeqkitError

datasets = pytest.importorskip("datasets")


@pytest.fixture
def translation_dir(tmp_path):
    def rows(n, tag):
        return {"translation": [{"de": f"Hallo {tag} {i}", "en": f"Hello {tag} {i}"} for i in range(n)]}

    dd = datasets.DatasetDict({"train": datasets.Dataset.from_dict(rows(5, "train")),
                               "validation": datasets.Dataset.from_dict(rows(2, "valid")),
                               "test": datasets.Dataset.from_dict(rows(3, "test"))})
    path = tmp_path / "wmt-mini"
    dd.save_to_disk(str(path))
    return path


def test_saved_translation_dataset(translation_dir):
    corpus = sk.data.load(f"hf:{translation_dir}", src="de", tgt="en")
    assert (len(corpus.train), len(corpus.valid), len(corpus.test)) == (5, 2, 3)
    assert corpus.train.pairs()[1] == ("Hallo train 1", "Hello train 1")
    assert corpus.valid.src == ["Hallo valid 0", "Hallo valid 1"]
    reverse = sk.data.load(f"hf:{translation_dir}", src="en", tgt="de")
    assert reverse.test.src[0] == "Hello test 0" and reverse.src_lang == "en"
    with pytest.raises(SeqkitError, match=r"translates \['de', 'en'\], not fr->en"):
        sk.data.load(f"hf:{translation_dir}", src="fr", tgt="en")


def test_json_lines_with_language_columns_and_text(tmp_path):
    path = tmp_path / "pairs.jsonl"
    path.write_text("".join(json.dumps({"fr": f"Bonjour {i}", "en": f"Hi {i}", "text": f"t{i}"}) + "\n"
                            for i in range(4)), encoding="utf-8")
    corpus = sk.data.load(f"hf:{path}", src="en", tgt="fr")
    assert corpus.train.pairs()[3] == ("Hi 3", "Bonjour 3") and len(corpus.valid) == 0
    lm = sk.data.load(f"hf:{path}")
    assert lm.train == ["t0", "t1", "t2", "t3"]


def test_registered_hub_names_build_configs():
    assert resolve_hub_id("wmt14", None, "de", "en") == ("wmt/wmt14", "de-en")
    assert resolve_hub_id("wmt14", None, "en", "fr") == ("wmt/wmt14", "fr-en")
    assert resolve_hub_id("iwslt2017", None, "de", "en") == ("IWSLT/iwslt2017", "iwslt2017-de-en")
    assert resolve_hub_id("opus_books", None, "fr", "en") == ("Helsinki-NLP/opus_books", "en-fr")
    assert resolve_hub_id("some/other", "cfg", "a", "b") == ("some/other", "cfg")


def test_unavailable_hub_corpus_is_one_error(monkeypatch):
    def offline(*args, **kwargs):
        raise ConnectionError("Couldn't reach 'seqkit-test/missing' on the Hub (LocalEntryNotFoundError)")

    monkeypatch.setattr(datasets, "load_dataset", offline)  # what `datasets` raises offline, without the wait
    with pytest.raises(SeqkitError) as err:
        sk.data.load("hf:seqkit-test/missing", src="de", tgt="en")
    assert str(err.value).startswith("hub corpus 'seqkit-test/missing' (config None) could not be loaded: Couldn't")
    assert "fix:" in str(err.value)


def test_held_out_sizes_are_honoured_or_refused_and_no_progress_bar_leaks(tmp_path, translation_dir, capfd,
                                                                         monkeypatch):
    monkeypatch.setenv("HF_DATASETS_CACHE", str(tmp_path / "hf-cache"))  # a fresh cache: the CSV is built now
    path = tmp_path / "tr.csv"
    path.write_text("de,en\n" + "".join(f"hallo {i},hello {i}\n" for i in range(1000)), encoding="utf-8")
    capfd.readouterr()
    corpus = sk.data.load(str(path), src="de", tgt="en", valid_size=100, test_size=100)
    assert (len(corpus.train), len(corpus.valid), len(corpus.test)) == (800, 100, 100)
    assert not set(corpus.train.src) & (set(corpus.valid.src) | set(corpus.test.src))
    again = sk.data.load(str(path), src="de", tgt="en", valid_size=100, test_size=100)
    assert again.test.src == corpus.test.src  # split_seed: the same split every time
    err = capfd.readouterr().err  # stderr is not a terminal here: datasets' bars stay off it
    assert "\r" not in err and "Generating" not in err, err
    for name, kwargs, says in ((str(path), {"valid_size": 600, "test_size": 400}, "cannot be held out"),
                               (f"hf:{translation_dir}", {"valid_size": 1}, "its own valid split"),
                               ("seqkit-en-fr", {"test_size": 10}, "comes with its own splits")):
        pair = {} if name == "seqkit-en-fr" else {"src": "de", "tgt": "en"}
        with pytest.raises(SeqkitError, match=says):
            sk.data.load(name, **pair, **kwargs)
