"""jieba segmentation: modes, HMM switch, per-instance user dictionaries, cmn-eng sentences."""

from __future__ import annotations

import pytest

from seqkit.errors import SeqkitError
from seqkit.text import JiebaTokenizer

pytest.importorskip("jieba")


@pytest.fixture(scope="module")
def accurate():
    return JiebaTokenizer()


def test_modes_on_jieba_readme_sentence(accurate):
    # jieba's README: 我/ 来到/ 北京/ 清华大学 (accurate), search mode adds the inner words
    assert accurate.encode("我来到北京清华大学") == ["我", "来到", "北京", "清华大学"]
    assert JiebaTokenizer(mode="search").encode("我来到北京清华大学") == \
        ["我", "来到", "北京", "清华", "华大", "大学", "清华大学"]
    # README: HMM finds the new word 杭研
    assert accurate.encode("他来到了网易杭研大厦") == ["他", "来到", "了", "网易", "杭研", "大厦"]
    assert JiebaTokenizer(hmm=False).encode("他来到了网易杭研大厦") == ["他", "来到", "了", "网易", "杭", "研", "大厦"]


def test_user_dict_does_not_leak(tmp_path, accurate):
    (tmp_path / "user.txt").write_text("杭研大厦 10 nz\n\n", encoding="utf-8")
    custom = JiebaTokenizer(user_dict=tmp_path / "user.txt")
    assert custom.encode("他来到了网易杭研大厦") == ["他", "来到", "了", "网易", "杭研大厦"]
    assert JiebaTokenizer().encode("他来到了网易杭研大厦")[-2:] == ["杭研", "大厦"]  # a fresh instance
    (tmp_path / "bad.txt").write_text("好词 5\n坏词 many\n", encoding="utf-8")
    with pytest.raises(SeqkitError, match=r"bad.txt:2: frequency 'many'"):
        JiebaTokenizer(user_dict=tmp_path / "bad.txt")
    with pytest.raises(SeqkitError, match="unknown jieba mode"):
        JiebaTokenizer(mode="fast")


def test_decode_and_spaces(accurate):
    tokens = accurate.encode("Tom 喜欢 Python 3")
    assert " " not in tokens
    assert accurate.decode(tokens) == "Tom喜欢Python 3"
    assert accurate.decode(accurate.encode("我们明白。")) == "我们明白。"


def test_cmn_eng_sentences(shared_data, accurate):
    lines = (shared_data / "cmn-eng" / "cmn.txt").read_text(encoding="utf-8").splitlines()
    zh = [line.split("\t")[1] for line in lines]
    assert len(zh) == 26388
    assert accurate.encode(zh[1000]) == ["我们", "明白", "。"]          # We understand.
    assert accurate.encode(zh[100]) == ["多", "可爱", "啊", "！"]        # How cute!
    assert accurate.encode(zh[20000]) == ["這", "可能", "不是", "真的", "鑽石", "。"]  # ... genuine diamond.
    batch = accurate.encode_batch(zh[:2000])
    assert all("".join(toks) == "".join(s.split()) for toks, s in zip(batch, zh[:2000]))  # lossless
    assert sum(map(len, batch)) > 2 * len(batch)  # words, not whole lines
