"""d2l's n-gram statistics of The Time Machine, and Zipf's law."""

import numpy as np
import pytest

from seqkit.io import read_lines
from seqkit.lm.ngram.stats import frequencies, top_ngrams, zipf_exponent, zipf_plot


def test_top_ngrams_small():
    assert top_ngrams(["a b a b c"], orders=(1, 2), top=2) == {
        1: [(("a",), 2), (("b",), 2)], 2: [(("a", "b"), 2), (("b", "a"), 1)]}
    # per line, n-grams never cross a line end
    assert top_ngrams(["a b", "a b"], orders=(2,), across_lines=False)[2] == [(("a", "b"), 2)]


def test_zipf_exponent_of_an_exact_power_law():
    freqs = 1e6 * np.arange(1, 1001, dtype=float) ** -1.3
    assert zipf_exponent(freqs) == pytest.approx(1.3)


def test_d2l_time_machine_tables(shared_data, tmp_path):
    lines = read_lines(shared_data / "timemachine" / "timemachine.txt")
    tables = top_ngrams(lines, tokenizer="timemachine", top=10)
    # d2l (chapter "Language Models"): vocab.token_freqs[:10] and the bigram/trigram tables
    assert tables[1][:5] == [(("the",), 2261), (("i",), 1267), (("and",), 1245), (("of",), 1155), (("a",), 816)]
    assert tables[2][:3] == [(("of", "the"), 309), (("in", "the"), 169), (("i", "had"), 130)]
    assert tables[3][:3] == [(("the", "time", "traveller"), 59), (("the", "time", "machine"), 30),
                             (("the", "medical", "man"), 24)]
    assert len(frequencies(lines, 1, tokenizer="timemachine")) == 4579  # d2l: len(vocab) 4580 with <unk>
    exponents = zipf_plot(lines, tmp_path / "zipf.png", tokenizer="timemachine")
    assert (tmp_path / "zipf.png").stat().st_size > 1000
    assert 0.9 < exponents[1] < 1.2  # unigrams follow Zipf's law with alpha near 1
