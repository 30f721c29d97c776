"""Corpus BLEU/chrF/TER: sacrebleu's README examples, its tokenizer choice, one segment as a string, paired bootstrap."""

import warnings

import pytest
import sacrebleu

from seqkit.errors import SeqkitError
from seqkit.metrics import bleu, chrf, is_chinese, paired_bootstrap, ter

# sacrebleu's README (Python API section)
REFS = [["The dog bit the man.", "It was not unexpected.", "The man bit him first."],
        ["The dog had bit the man.", "No one was surprised.", "The man had bitten the dog."]]
SYS = ["The dog bit the man.", "It wasn't surprising.", "The man had just bitten him."]
VERSION = sacrebleu.__version__


def test_readme_bleu_48_53_and_signature():
    score = bleu(SYS, REFS)
    assert round(score.score, 2) == 48.53
    assert score.text == "BLEU = 48.53 82.4/50.0/45.5/37.5 (BP = 0.943 ratio = 0.944 hyp_len = 17 ref_len = 18)"
    assert score.signature == f"nrefs:2|case:mixed|eff:no|tok:13a|smooth:exp|version:{VERSION}"
    assert str(score).splitlines()[1] == "signature: " + score.signature


@pytest.mark.parametrize("missing", ["", None])
def test_readme_variable_number_of_references_29_44(missing):
    refs = [[missing, *REFS[0][1:]], REFS[1]]
    score = bleu(SYS, refs)
    assert score.text == "BLEU = 29.44 82.4/42.9/27.3/12.5 (BP = 0.889 ratio = 0.895 hyp_len = 17 ref_len = 19)"
    if missing is None:
        assert score.signature.startswith("nrefs:var|")


def test_readme_chrf2_59_73_and_ter():
    score = chrf(SYS, REFS)
    assert score.name == "chrF2" and round(score.score, 2) == 59.73
    assert "nc:6|nw:0" in score.signature
    t = ter(SYS, REFS)
    assert t.name == "TER" and t.score == pytest.approx(
        sacrebleu.metrics.TER().corpus_score(SYS, REFS).score)


def test_single_reference_list_and_perfect_match():
    assert bleu(SYS, SYS).score == pytest.approx(100.0)
    assert bleu(SYS, REFS[0]).signature.startswith("nrefs:1|")


def test_tokenizer_is_sacrebleus_choice_with_a_warning_for_chinese_under_13a():
    hyps = ["我喜欢猫。", "今天天气很好。"]
    refs = ["我很喜欢猫。", "今天天气非常好。"]
    assert is_chinese(refs) and not is_chinese(["Dominic Raab: 14 Tage"])
    with pytest.warns(UserWarning, match="look Chinese"):
        default = bleu(hyps, refs)
    assert "tok:13a" in default.signature  # as sacrebleu.metrics.BLEU() and the sacrebleu command
    assert default.score == pytest.approx(sacrebleu.metrics.BLEU().corpus_score(hyps, [refs]).score)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # an explicit choice is not warned about
        assert "tok:13a" in bleu(hyps, refs, tokenize="13a").signature
    for score in (bleu(hyps, refs, trg_lang="zh"), bleu(hyps, refs, tokenize="zh")):
        assert "tok:zh" in score.signature
        assert score.score == pytest.approx(sacrebleu.metrics.BLEU(tokenize="zh").corpus_score(hyps, [refs]).score)


def test_a_bare_string_is_one_segment():
    hyp, ref = "The dog bit the man.", "The dog bit a man."
    assert bleu(hyp, ref).score == pytest.approx(bleu([hyp], [ref]).score)
    assert bleu(hyp, ref).score == pytest.approx(sacrebleu.sentence_bleu(hyp, [ref]).score)
    # one hypothesis string: a list of references are that segment's references (sacreBLEU's sentence_score)
    two = bleu(hyp, [ref, "The dog bit the man."])
    assert two.score == pytest.approx(100.0) and two.signature.startswith("nrefs:2|")
    assert chrf(hyp, ref).score == pytest.approx(sacrebleu.sentence_chrf(hyp, [ref]).score)
    assert ter(hyp, ref).score == pytest.approx(ter([hyp], [ref]).score)
    (same,) = paired_bootstrap(hyp, hyp, ref, n_samples=10)
    assert same.baseline == same.system


def test_length_mismatch_is_a_clear_error():
    with pytest.raises(SeqkitError, match="reference set 2 has 2 lines but there are 3 hypotheses"):
        bleu(SYS, [REFS[0], REFS[1][:2]])


def test_paired_bootstrap_identical_and_different_systems():
    same = paired_bootstrap(SYS, SYS, REFS, metrics=("bleu", "chrf"), n_samples=200)
    assert [r.metric for r in same] == ["BLEU", "chrF2"]
    assert same[0].baseline == same[0].system == pytest.approx(48.53, abs=0.005)
    assert "bs:200|seed:12345" in same[0].signature
    worse = ["The cat.", "Nothing.", "He ran."]
    diff = paired_bootstrap(SYS, worse, REFS, n_samples=200)[0]
    assert diff.system < diff.baseline and diff.p_value < 0.05
