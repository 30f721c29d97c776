"""Vectorized n-gram counting against hand counts, KenLM's adjusted counts, the vocabulary."""

from collections import Counter

import numpy as np
import pytest

from seqkit.errors import SeqkitError
from seqkit.lm.ngram.counts import KeyIndex, count_ngrams, counts_of_counts
from seqkit.lm.ngram.vocab import build_vocab, pack

LINES = ["a b", "a b a"]


def _as_dict(vocab, counts, k, values):
    words = counts.gram_words(k, np.arange(len(counts.orders[k - 1])))
    return {tuple(vocab.tokens[w] for w in row): int(v) for row, v in zip(words, values) if v}


def test_packed_layout_and_vocab_order():
    vocab, packed = build_vocab(LINES)
    assert vocab.tokens == ["<unk>", "<s>", "</s>", "a", "b"]  # a (3) before b (2)
    assert packed.ids.tolist() == [1, 3, 4, 2, 1, 3, 4, 3, 2]
    assert packed.remaining.tolist() == [4, 3, 2, 1, 5, 4, 3, 2, 1]
    assert packed.pos_in_sentence.tolist() == [0, 1, 2, 3, 0, 1, 2, 3, 4]
    assert packed.n_sentences == 2


def test_raw_counts_match_a_hand_count():
    vocab, packed = build_vocab(LINES)
    counts = count_ngrams(packed, 3, len(vocab))
    assert counts.n_tokens == 7  # 5 words + 2 </s>
    assert _as_dict(vocab, counts, 1, counts.orders[0].counts) == {("a",): 3, ("b",): 2, ("</s>",): 2}
    assert _as_dict(vocab, counts, 2, counts.orders[1].counts) == {
        ("<s>", "a"): 2, ("a", "b"): 2, ("b", "</s>"): 1, ("b", "a"): 1, ("a", "</s>"): 1}
    assert _as_dict(vocab, counts, 3, counts.orders[2].counts) == {
        ("<s>", "a", "b"): 2, ("a", "b", "</s>"): 1, ("a", "b", "a"): 1, ("b", "a", "</s>"): 1}


def test_adjusted_counts_are_kenlm_continuation_counts():
    vocab, packed = build_vocab(LINES)
    counts = count_ngrams(packed, 3, len(vocab))
    adj = counts.adjusted()
    # unigrams: distinct left neighbours; a <- {<s>, b}, b <- {a}, </s> <- {b, a}; <s> gets 0
    assert _as_dict(vocab, counts, 1, adj[0]) == {("a",): 2, ("b",): 1, ("</s>",): 2}
    # bigrams starting with <s> keep their raw count; "a b" has one left extension (<s>)
    assert _as_dict(vocab, counts, 2, adj[1]) == {
        ("<s>", "a"): 2, ("a", "b"): 1, ("b", "</s>"): 1, ("b", "a"): 1, ("a", "</s>"): 1}
    assert np.array_equal(adj[2], counts.orders[2].counts)  # top order: raw


def test_counting_matches_python_reference_on_random_text():
    rng = np.random.default_rng(0)
    words = [f"w{i}" for i in range(30)]
    lines = [" ".join(rng.choice(words, size=rng.integers(0, 12))) for _ in range(200)]
    vocab, packed = build_vocab(lines)
    counts = count_ngrams(packed, 4, len(vocab))
    for k in range(1, 5):
        ref = Counter()
        for line in lines:
            toks = ["<s>", *line.split(), "</s>"]
            for i in range(len(toks) - k + 1):
                if k == 1 and toks[i] == "<s>":
                    continue
                ref[tuple(toks[i : i + k])] += 1
        assert _as_dict(vocab, counts, k, counts.orders[k - 1].counts) == dict(ref)


def test_min_count_and_vocab_file_close_the_vocabulary(tmp_path):
    vocab, packed = build_vocab(["a a b c"], min_freq=2)
    assert vocab.tokens == ["<unk>", "<s>", "</s>", "a"]
    assert packed.ids.tolist() == [1, 3, 3, 0, 0, 2]  # b, c -> <unk>, counted as a word
    vocab, _ = build_vocab(["a a b c"], vocab_words=["c", "zeta"])
    assert vocab.tokens == ["<unk>", "<s>", "</s>", "c", "zeta"]  # listed but unseen words stay
    test = pack(["c q"], vocab)
    assert test.ids.tolist() == [1, 3, 0, 2] and test.oov.tolist() == [False, False, True, False]


def test_reserved_tokens_in_training_text_are_an_error():
    with pytest.raises(SeqkitError, match="reserved token </s>"):
        build_vocab(["a </s> b"])


def test_counts_of_counts():
    assert counts_of_counts(np.array([0, 1, 1, 2, 3, 4, 4, 9])).tolist() == [1, 2, 1, 1, 2]


def test_key_index_finds_every_key_and_rejects_others():
    rng = np.random.default_rng(1)
    keys = np.unique(rng.integers(0, 10**12, size=5000))
    index = KeyIndex(keys)
    assert np.array_equal(index.find(keys), np.arange(len(keys)))
    others = np.setdiff1d(rng.integers(0, 10**12, size=2000), keys)
    assert (index.find(others) == -1).all()
