"""Tokenized BLEU (the papers' convention), beside sacreBLEU's and labelled as such."""

from __future__ import annotations

import pytest
from sacrebleu.metrics import BLEU

from seqkit.metrics import bleu, tokenized_bleu
from seqkit.metrics.tokenized import moses_tokenize

pytest.importorskip("sacremoses")


def test_moses_tokens_are_what_is_counted():
    # Moses splits the clitic and the punctuation: "man 's" -- sacreBLEU's 13a keeps "man's" whole
    assert moses_tokenize(["The man's dog, isn't it?"], "en") == ["The man 's dog , isn 't it ?"]
    hyp, ref = ["the man's dog is big."], ["the man's cat is big."]
    # hand count on Moses tokens "the man 's dog|cat is big .": 1-4 grams matched 6/7, 4/6, 2/5, 0/4;
    # sacreBLEU's default "exp" smoothing makes the empty 4-gram precision 1 / (2 * 4)
    want = 100 * (6 / 7 * 4 / 6 * 2 / 5 * 1 / 8) ** 0.25
    assert tokenized_bleu(hyp, ref, "en").score == pytest.approx(want)
    assert bleu(hyp, ref).score != pytest.approx(want)  # 13a counts other tokens ("man's" whole)
    assert tokenized_bleu(hyp, hyp, "en").score == pytest.approx(100.0)


def test_equals_sacrebleu_without_tokenization_on_moses_tokens():
    hyps = ["Ein Mann, der \"hallo\" sagt.", "Zwei Kinder spielen im Park!", "Es ist 3,5-mal so groß."]
    refs = ["Ein Mann sagt \"hallo\".", "Zwei Kinder spielen im Garten!", "Es ist 3,5-mal größer."]
    want = BLEU(tokenize="none", force=True).corpus_score(moses_tokenize(hyps, "de"), [moses_tokenize(refs, "de")])
    got = tokenized_bleu(hyps, refs, "de")
    assert got.score == pytest.approx(want.score) and 0 < got.score < 100
    assert got.signature.endswith("|tok:none|smooth:exp|version:" + got.signature.split("version:")[1].split("|")[0]
                                  + "|pretok:moses-de")
    assert "case:mixed" in got.signature and got.text.startswith("tokenized BLEU = ")


def test_lowercased_and_one_segment():
    assert tokenized_bleu(["The Cat sat on the mat ."], ["the cat sat on the mat ."], "en").score < 100
    low = tokenized_bleu(["The Cat sat on the mat ."], ["the cat sat on the mat ."], "en", lowercase=True)
    assert low.score == pytest.approx(100.0) and "case:lc" in low.signature
    # a bare hypothesis string is one segment, as in seqkit.metrics.bleu
    assert tokenized_bleu("the man's dog.", "the man's dog.", "en").score == pytest.approx(100.0)


def test_translation_scores_carry_it_beside_sacrebleu_not_for_chinese():
    from seqkit.artifacts import problems
    from seqkit.seq2seq.training import SCORES_JSON, score_translations

    hyps, refs = ["le chat de l'homme dort."], ["Le chat de l'homme dort."]
    scores = score_translations(hyps, refs, "fr")
    assert scores["bleu_tokenized_lc"] == pytest.approx(100.0)
    assert 0 < scores["bleu_tokenized"] < 100.0
    assert scores["bleu_tokenized_signature"].endswith("pretok:moses-fr") and "tok:13a" in scores["bleu_signature"]
    assert problems(scores, SCORES_JSON) == []  # scores.json's schema knows the fields
    chinese = score_translations(["我 爱 你"], ["我爱你"], "zh")
    assert "bleu_tokenized" not in chinese and "tok:zh" in chinese["bleu_signature"]


def test_pretokenized_text_is_counted_as_given():
    # fairseq's IWSLT14 text is Moses-tokenized already ("@-@", "'s"): a second Moses pass would cut
    # them again ("@ - @", "' s"); multi-bleu.perl counts the tokens as they are
    hyp, ref = ["jaguar @-@ schamanen , it 's"], ["jaguar @-@ schamanen , it 's"]
    assert moses_tokenize(hyp, "en") == ["jaguar @ - @ schamanen , it ' s"]
    given = tokenized_bleu(["jaguar @-@ schamanen , it 's here"], ["jaguar @-@ schamanen , it is here"], "en",
                           pretokenized=True)
    want = BLEU(tokenize="none", force=True).corpus_score(["jaguar @-@ schamanen , it 's here"],
                                                          [["jaguar @-@ schamanen , it is here"]])
    assert given.score == pytest.approx(want.score) and given.signature.endswith("|pretok:given")
    assert tokenized_bleu(hyp, ref, "en", pretokenized=True).score == pytest.approx(100.0)
