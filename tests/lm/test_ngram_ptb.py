"""Penn Treebank: modified Kneser-Ney equals KenLM's lmplz (slow; reads ../shared/data/ptb)."""

import pytest

from seqkit.io import read_lines
from seqkit.lm.ngram import NGramLM

# KenLM lmplz -o N + query on PTB with <unk> renamed UNKW (KenLM refuses <unk> in its input);
# query prints 148.2814995, 141.1862071 for orders 3 and 5.
KENLM = {3: 148.28, 4: 142.72, 5: 141.19}


@pytest.mark.slow
@pytest.mark.parametrize("order", [3, 4, 5])
def test_ptb_mkn_perplexity_equals_kenlm(shared_data, order):
    rename = lambda lines: [line.replace("<unk>", "UNKW") for line in lines]  # noqa: E731
    train = rename(read_lines(shared_data / "ptb" / "ptb.train.txt"))
    test = rename(read_lines(shared_data / "ptb" / "ptb.test.txt"))
    lm = NGramLM.train(train, order=order, smoothing="mkn")
    scores = lm.score_corpus(test)
    assert scores.n_tokens == 82430 and scores.n_oov == 0
    assert scores.perplexity() == pytest.approx(KENLM[order], abs=0.006)  # KenLM prints 2 decimals here
    if order == 3:
        # lmplz's printed discounts: 1 D1=0.25656 D2=0.82888 D3+=1.26492 ; 3 D1=0.84696 D2=1.22512 D3+=1.38578
        assert lm.info["discounts"][0] == pytest.approx([0.25656, 0.82888, 1.26492], abs=1e-5)
        assert lm.info["discounts"][2] == pytest.approx([0.84696, 1.22512, 1.38578], abs=1e-5)


@pytest.mark.slow
def test_ptb_unk_is_an_ordinary_word(shared_data):
    train = read_lines(shared_data / "ptb" / "ptb.train.txt")
    lm = NGramLM.train(train, order=3)
    # <unk> (45k tokens, id 0) is counted like any word: a high unigram probability, many bigrams
    assert lm.logp[0][lm.vocab["<unk>"]] == pytest.approx(-1.7510, abs=1e-3)  # UNKW in KenLM's ARPA
    assert (lm.keys[1] // len(lm.vocab) == lm.vocab["<unk>"]).sum() > 5000
    assert lm.next_log10(["the"])[lm.vocab["<unk>"]] > -1.5
    ppl = lm.perplexity(read_lines(shared_data / "ptb" / "ptb.test.txt"))
    assert ppl == pytest.approx(148.3, abs=0.5)
