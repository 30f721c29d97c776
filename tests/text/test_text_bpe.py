"""The from-scratch BPE learner and segmenter against d2l's subword chapter."""

from __future__ import annotations

import pytest

from seqkit.errors import SeqkitError
from seqkit.text import BPE, learn_bpe

D2L_CORPUS = {"fast_": 4, "faster_": 3, "tall_": 5, "taller_": 4}
# d2l prints these 10 merges. By hand: ('t','a'), ('a','l'), ('l','l') each occur 5+4=9 times; ties go
# to the first pair seen, ('t','a'). After 'tall' (9), ('f','a'), ('a','s'), ('s','t'), ('e','r'),
# ('r','_') all have 7; 'f a' is seen first, then 'fa s', 'fas t'; then 'e r' (7) and 'er _' (7);
# 'tall _' (5) beats 'fast _' (4).
D2L_MERGES = [("t", "a"), ("ta", "l"), ("tal", "l"), ("f", "a"), ("fa", "s"), ("fas", "t"),
              ("e", "r"), ("er", "_"), ("tall", "_"), ("fast", "_")]


def test_learner_reproduces_d2l_merges():
    assert learn_bpe(D2L_CORPUS, 10) == D2L_MERGES
    # the same with the end-of-word marker added by the learner instead of written in the words
    assert learn_bpe({w[:-1]: c for w, c in D2L_CORPUS.items()}, 10, end_of_word="_") == D2L_MERGES


def test_segmenter_matches_d2l_output():
    bpe = BPE(D2L_MERGES, end_of_word=None)
    # d2l prints ['tall e s t _', 'fa t t er_']
    assert bpe.segment("tallest_") == ["tall", "e", "s", "t", "_"]
    assert bpe.segment("fatter_") == ["fa", "t", "t", "er_"]
    # training words come out as d2l's final token_freqs keys: 'fast_', 'fast er_', 'tall_', 'tall er_'
    assert [" ".join(bpe.segment(w)) for w in D2L_CORPUS] == ["fast_", "fast er_", "tall_", "tall er_"]


def test_no_merge_across_symbol_boundaries():
    # d2l's str.replace('b c', 'bc') would turn 'ab c' into 'abc'; true BPE only merges whole symbols.
    merges = learn_bpe({"ab": 10, "bc": 3, "abc": 1}, 2)
    assert merges == [("a", "b"), ("b", "c")]
    assert BPE(merges, None).segment("abc") == ["ab", "c"]


def test_merges_replayed_in_learned_order():
    # greedy longest match over the symbol set would give 'ab'+'c'... here 'bc' was learned first.
    bpe = BPE([("b", "c"), ("a", "b")], end_of_word=None)
    assert bpe.segment("abc") == ["a", "bc"]


def test_text_encode_decode_and_save(tmp_path):
    bpe = BPE.train(["low lower lowest", "newer newest low"], num_merges=5)
    # by hand: 'l o' and 'lo w' occur 4 times; then all remaining pairs tie at 2 and the first seen
    # wins: 'low </w>' (in "low"), 'low e' (in "lower"), 'r </w>' (in "lower")
    assert bpe.merges == [("l", "o"), ("lo", "w"), ("low", "</w>"), ("low", "e"), ("r", "</w>")]
    tokens = bpe.encode("lowest newer slow")
    assert tokens == ["lowe", "s", "t", "</w>", "n", "e", "w", "e", "r</w>", "s", "low</w>"]
    assert bpe.decode(tokens) == "lowest newer slow"
    bpe.save(tmp_path / "bpe.json")
    again = BPE.load(tmp_path / "bpe.json")
    assert again.merges == bpe.merges and again.encode("lowest newer slow") == tokens
    with pytest.raises(SeqkitError, match="empty corpus"):
        BPE.train(["", " "], 5)
    (tmp_path / "bad.json").write_text('{"format": "seqkit.bpe", "merges": [["a"]]}')
    with pytest.raises(SeqkitError, match="pairs"):
        BPE.load(tmp_path / "bad.json")
