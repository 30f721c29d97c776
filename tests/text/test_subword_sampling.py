"""Subword regularization (seqkit.text.sampling): BPE-dropout at rate 0 is sentencepiece's own BPE, the
unigram candidates carry sentencepiece's scores, draws follow P(seg)^alpha, and one seed gives one
segmentation in any process."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from seqkit.errors import SeqkitError
from seqkit.settings import SettingsError, from_dict
from seqkit.text import SentencePieceTokenizer
from seqkit.text.sampling import SubwordSampler, SubwordSampling

REPO = Path(__file__).resolve().parents[2]
EN_FR = REPO / "data" / "en-fr"


def _lines(n: int = 1500) -> list[str]:
    en = (EN_FR / "train.en").read_text(encoding="utf-8").splitlines()[:n]
    fr = (EN_FR / "train.fr").read_text(encoding="utf-8").splitlines()[:n]
    return en + fr


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    folder = tmp_path_factory.mktemp("spm")
    lines = _lines()
    out = {}
    for kind in ("unigram", "bpe"):
        tok = SentencePieceTokenizer.train(lines, vocab_size=400, model_type=kind)
        tok.save(folder / f"{kind}.model")
        out[kind] = tok
    return out, lines, folder


def _rows(tok, lines):
    return [np.asarray(r, dtype=np.int64) for r in tok.encode_ids_batch(lines)]


def test_bpe_dropout_at_rate_zero_is_sentencepieces_bpe(models):
    (toks, lines, _) = models
    tok = toks["bpe"]
    assert tok.model_type == "bpe" and toks["unigram"].model_type == "unigram"
    rows = _rows(tok, lines)
    sampler = SubwordSampler(tok, SubwordSampling(enabled=True, alpha=0.0), seed=1)
    out = sampler.sample_rows(rows, np.random.default_rng(0))
    assert all(np.array_equal(a, b) for a, b in zip(out, rows))
    # and every multi-character word went through the merges (none fell back to its stored ids)
    kept = [w for w, v in sampler._words.items() if v is None and not (len(w) == 1 and len(tok.id_to_piece(w[0])) == 1)]
    assert kept == []


def test_sampled_segmentations_spell_the_same_text_and_differ_by_seed(models):
    (toks, lines, _) = models
    for kind, alpha in (("unigram", 0.1), ("bpe", 0.1)):
        tok = toks[kind]
        rows = _rows(tok, lines[:400])
        sampler = SubwordSampler(tok, SubwordSampling(enabled=True, alpha=alpha), seed=1)
        a = sampler.sample_rows(rows, np.random.default_rng(5))
        b = sampler.sample_rows(rows, np.random.default_rng(5))
        c = sampler.sample_rows(rows, np.random.default_rng(6))
        assert all(np.array_equal(x, y) for x, y in zip(a, b))
        changed = sum(not np.array_equal(x, y) for x, y in zip(a, rows))
        differ = sum(not np.array_equal(x, y) for x, y in zip(a, c))
        assert changed > 200 and differ > 200, (kind, changed, differ)
        assert tok.decode_ids_batch([x.tolist() for x in a]) == tok.decode_ids_batch([x.tolist() for x in rows])
        assert sum(map(len, a)) > sum(map(len, rows))  # sampled segmentations are finer on average


def test_unigram_candidates_carry_sentencepieces_scores_and_draws_follow_them(models):
    (toks, _, _) = models
    tok = toks["unigram"]
    import sentencepiece as spm

    sp = spm.SentencePieceProcessor(model_proto=tok._proto)
    word = tuple(tok.encode_ids("tomorrow"))
    sampler = SubwordSampler(tok, SubwordSampling(enabled=True, alpha=0.5, nbest_size=8), seed=0)
    sampler._learn({word})
    cand = sampler._words[word]
    nbest = sp.nbest_encode_as_proto("tomorrow", nbest_size=8)
    assert [tuple(s) for s in cand.segs] == [tuple(p.id for p in n.pieces) for n in nbest.nbests]
    scores = np.array([n.score for n in nbest.nbests])  # sentencepiece's log P(seg)
    want = np.exp(0.5 * (scores - scores.max()))
    np.testing.assert_allclose(np.diff(np.r_[0.0, cand.cum]), want / want.sum(), rtol=1e-5)
    # 20,000 draws of the word: each candidate's share within 4 standard deviations of its probability
    rows = [np.asarray(word)] * 20_000
    drawn = sampler.sample_rows(rows, np.random.default_rng(3))
    p = want / want.sum()
    for seg, prob in zip(cand.segs, p):
        share = sum(np.array_equal(d, seg) for d in drawn) / len(drawn)
        assert abs(share - prob) <= 4 * np.sqrt(prob * (1 - prob) / len(drawn)) + 1e-9, (seg, share, prob)


_CHILD = """
import hashlib, sys
import numpy as np
from seqkit.text import SentencePieceTokenizer
from seqkit.text.sampling import SubwordSampler, SubwordSampling
tok = SentencePieceTokenizer.load(sys.argv[1])
lines = open(sys.argv[2], encoding="utf-8").read().splitlines()
rows = [np.asarray(r) for r in tok.encode_ids_batch(lines)]
sampler = SubwordSampler(tok, SubwordSampling(enabled=True, alpha=0.2), seed=int(sys.argv[3]))
src, tgt = sampler(2, 0, rows, rows[::-1])
print(hashlib.sha256(repr([r.tolist() for r in src + tgt]).encode()).hexdigest())
"""


def test_one_seed_gives_one_segmentation_in_any_process(models, tmp_path):
    """sentencepiece's own sampling differs between processes for one seed; this must not."""
    (_, lines, folder) = models
    text = tmp_path / "lines.txt"
    text.write_text("\n".join(lines[:300]) + "\n", encoding="utf-8")
    for kind in ("unigram", "bpe"):
        def child(seed: int, kind: str = kind) -> str:
            out = subprocess.run([sys.executable, "-c", _CHILD, str(folder / f"{kind}.model"), str(text), str(seed)],
                                 capture_output=True, text=True, cwd=REPO, check=True)
            return out.stdout.strip()

        first, again, other = child(7), child(7), child(8)
        assert first == again != other
        tok = SentencePieceTokenizer.load(folder / f"{kind}.model")
        rows = [np.asarray(r) for r in tok.encode_ids_batch(lines[:300])]
        src, tgt = SubwordSampler(tok, SubwordSampling(enabled=True, alpha=0.2), seed=7)(2, 0, rows, rows[::-1])
        assert hashlib.sha256(repr([r.tolist() for r in src + tgt]).encode()).hexdigest() == first


def test_bad_settings_are_one_line_each(models):
    (toks, _, _) = models
    with pytest.raises(SettingsError) as err:
        from_dict(SubwordSampling, {"enabled": True, "alpha": 1.5}, "spm.sampling")
    assert err.value.problems == ["spm.sampling.alpha: must be <= 1, got 1.5"]
    with pytest.raises(SettingsError) as err:
        from_dict(SubwordSampling, {"enabled": True, "nbest_size": 1}, "spm.sampling")
    assert err.value.problems == ["spm.sampling.nbest_size: must be -1 (every segmentation of a word, up to 256) "
                                  "or in [2, 256], got 1"]
    with pytest.raises(SeqkitError, match=r"^spm.sampling.alpha: a bpe model's merge dropout rate must be < 1, got 1.0"):
        SubwordSampler(toks["bpe"], SubwordSampling(enabled=True, alpha=1.0))
    with pytest.raises(SeqkitError, match=r"^spm.sampling.alpha: a unigram model's exponent must be > 0, got 0.0"):
        SubwordSampler(toks["unigram"], SubwordSampling(enabled=True, alpha=0.0))
    char = SentencePieceTokenizer.train(_lines(200), vocab_size=60, model_type="char")
    with pytest.raises(SeqkitError, match="needs a unigram or bpe sentencepiece model, not char"):
        SubwordSampler(char, SubwordSampling(enabled=True))
