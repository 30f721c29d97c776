"""The bundled seqkit-en-fr corpus: sizes, checksums, disjoint splits, regeneration, French grammar."""

from __future__ import annotations

import hashlib
import importlib.util
import re
import sys

import pytest

import seqkit as sk
from seqkit.data.registry import bundled_dir


@pytest.fixture(scope="module")
def make_en_fr():
    spec = importlib.util.spec_from_file_location("make_en_fr", bundled_dir() / "make_en_fr.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["make_en_fr"] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def corpus():
    return sk.data.load("seqkit-en-fr")


def test_sizes_and_registered_checksums(corpus):
    assert (len(corpus.train), len(corpus.valid), len(corpus.test)) == (22000, 1000, 1000)
    assert (corpus.src_lang, corpus.tgt_lang) == ("en", "fr")
    for key, remote in sk.data.corpus_info("seqkit-en-fr").files.items():
        data = (bundled_dir() / remote.path).read_bytes()
        assert hashlib.sha256(data).hexdigest() == remote.checksum, key


def test_pairs_unique_and_splits_disjoint_on_both_sides(corpus):
    for side in ("src", "tgt"):
        train, valid, test = (set(getattr(s, side)) for s in (corpus.train, corpus.valid, corpus.test))
        assert len(train) == 22000 and len(valid) == 1000 and len(test) == 1000
        assert not train & test and not train & valid and not valid & test


def test_reverse_direction(corpus):
    rev = sk.data.load("seqkit-en-fr", src="fr", tgt="en")
    assert rev.train.src[:3] == corpus.train.tgt[:3]


def test_regeneration_is_byte_identical(make_en_fr, corpus):
    pairs = make_en_fr.generate(13, 24000)
    assert [p[0] for p in pairs[:1000]] == corpus.test.src
    assert [p[1] for p in pairs[2000:]] == corpus.train.tgt


def test_french_numbers(make_en_fr):
    fr = make_en_fr.fr_number
    assert [fr(n) for n in (1, 17, 21, 22, 60, 70, 71, 77, 80, 81, 90, 91, 99, 100)] == [
        "un", "dix-sept", "vingt et un", "vingt-deux", "soixante", "soixante-dix", "soixante et onze",
        "soixante-dix-sept", "quatre-vingts", "quatre-vingt-un", "quatre-vingt-dix", "quatre-vingt-onze",
        "quatre-vingt-dix-neuf", "cent"]
    assert fr(1, feminine=True) == "une" and fr(21, True) == "vingt et une" and fr(81, True) == "quatre-vingt-une"
    assert fr(71, True) == "soixante et onze"
    assert make_en_fr.en_number(42) == "forty-two"


def test_french_elision_and_contraction(make_en_fr):
    surface = make_en_fr.detokenize_fr
    assert surface(["je", "ne", "le", "aime", "pas"], ".") == "Je ne l'aime pas."
    assert surface(["il", "va", "à", "le", "marché"], ".") == "Il va au marché."
    assert surface(["elle", "vient", "de", "le", "hôtel"], ".") == "Elle vient de l'hôtel."
    assert surface(["il", "boit", "de", "la", "eau"], ".") == "Il boit de l'eau."
    assert surface(["près", "de", "les", "arbres"], ".") == "Près des arbres."
    assert surface(["est-ce", "que", "onze", "chats", "dorment"], "?") == "Est-ce que onze chats dorment ?"
    assert surface(["que", "est-ce", "que", "il", "mange"], "?") == "Qu'est-ce qu'il mange ?"


def test_corpus_level_french_rules(corpus):
    fr = corpus.train.tgt + corpus.valid.tgt + corpus.test.tgt
    en = corpus.train.src + corpus.valid.src + corpus.test.src
    text = "\n".join(fr)
    assert not re.search(r"\b(à le|à les|de le|de les|de des)\b", text)  # always contracted
    assert not re.search(r"(^|\s)(le|la|de|ne|je|me|que) (?!huit|onze)[aeiouéèêàh]", text, re.M)  # always elided
    for e, f in zip(en, fr):
        assert e.endswith("?") == f.endswith(" ?") and e.endswith("!") == f.endswith(" !")
        negative_en = bool(re.search(r"\b(not|never|no)\b|n't\b", e))
        assert negative_en == bool(re.search(r"\bne\b|\bn'", f, re.I)), (e, f)
    # the grammar's features all occur
    for pattern, at_least in [(r"\bpas de\b|\bpas d'", 300), (r"-t-(il|elle)", 300), (r"\bEst-ce que\b|\bEst-ce qu'", 1000),
                              (r"\bont été\b|\bsont (allé|parti|venu|arrivé|tombé|resté|rentré)es\b", 20),
                              (r"\b(mangerai|mangera|mangerons|mangerez|mangeront)\b", 50),
                              (r"ait\b|aient\b", 1000), (r"\bet une?\b", 20), (r"\bquatre-vingt", 50),
                              (r"\b[lm]'a (vue|vus|vues)\b|\bles a \w+s\b", 5), (r"\bne \w+ jamais\b", 100),
                              (r"\bCombien de\b", 200), (r"\bIl y a\b", 400), (r"\b(du|des|au|aux)\b", 1500)]:
        assert len(re.findall(pattern, text)) >= at_least, pattern
