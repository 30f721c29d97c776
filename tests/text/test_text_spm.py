"""The sentencepiece wrapper: training, ids aligned with Vocab, save/load, round trips, errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from seqkit.errors import SeqkitError
from seqkit.io import read_lines
from seqkit.text import SentencePieceTokenizer, Vocab, get_tokenizer

TOY = ["the cat sat on the mat", "the dog sat on the log", "a cat and a dog", "cats and dogs sat"] * 20


@pytest.fixture(scope="module")
def toy_spm():
    return SentencePieceTokenizer.train(TOY, vocab_size=40, model_type="bpe", user_defined_symbols=["<sep>"])


def test_special_ids_line_up_with_vocab(toy_spm):
    assert toy_spm.pieces()[:5] == ["<unk>", "<pad>", "<bos>", "<eos>", "<sep>"]
    assert (toy_spm.unk_id, toy_spm.pad_id, toy_spm.bos_id, toy_spm.eos_id) == (0, 1, 2, 3)
    vocab = Vocab.from_spm(toy_spm)
    assert len(vocab) == len(toy_spm) == 40 and vocab.specials == ["<sep>"]
    pieces = toy_spm.encode("the cat <sep> a dog")
    assert "<sep>" in pieces  # user symbols are never split
    assert vocab[pieces] == toy_spm.encode_ids("the cat <sep> a dog")
    ids = toy_spm.encode_ids("a cat", add_bos=True, add_eos=True)
    assert ids[0] == vocab.bos_id and ids[-1] == vocab.eos_id


def test_save_load_and_registry(toy_spm, tmp_path):
    path = toy_spm.save(tmp_path / "run" / "spm.model")
    again = get_tokenizer("spm", model=path)
    assert again.pieces() == toy_spm.pieces()
    assert again.encode_batch(TOY[:4]) == [toy_spm.encode(t) for t in TOY[:4]]
    assert again.decode_batch(again.encode_batch(TOY[:4])) == TOY[:4]
    assert again.decode_ids_batch(again.encode_ids_batch(TOY[:4])) == TOY[:4]
    SentencePieceTokenizer.train(TOY, tmp_path / "m", vocab_size=20)
    assert (tmp_path / "m.model").is_file()


def test_train_from_files_and_byte_fallback(tmp_path):
    (tmp_path / "a.txt").write_text("\n".join(TOY[:40]) + "\n")
    tok = SentencePieceTokenizer.train([tmp_path / "a.txt"], vocab_size=276, byte_fallback=True)
    same = SentencePieceTokenizer.train([str(tmp_path / "a.txt")], vocab_size=276, byte_fallback=True)
    assert same.pieces() == tok.pieces()  # a list of existing file names means files, not sentences
    assert tok.encode("猫")[-3:] == ["<0xE7>", "<0x8C>", "<0xAB>"]  # UTF-8 of 猫, not <unk>
    assert tok.decode(tok.encode("the 猫")) == "the 猫"


def test_errors(tmp_path):
    with pytest.raises(SeqkitError, match="empty corpus"):
        SentencePieceTokenizer.train(["", "  "], vocab_size=10)
    with pytest.raises(SeqkitError, match="Vocabulary size too high.*fix: change"):
        SentencePieceTokenizer.train(TOY, vocab_size=5000)
    (tmp_path / "bad.txt").write_bytes(b"fine\n\xff\xfe\n")
    with pytest.raises(SeqkitError, match=r"bad.txt:2: invalid UTF-8"):
        SentencePieceTokenizer.train(tmp_path / "bad.txt", vocab_size=10)
    with pytest.raises(SeqkitError, match="model not found"):
        SentencePieceTokenizer.load(tmp_path / "none.model")
    (tmp_path / "junk.model").write_bytes(b"not a model")
    with pytest.raises(SeqkitError, match="not a sentencepiece model"):
        SentencePieceTokenizer.load(tmp_path / "junk.model")
    with pytest.raises(SeqkitError, match="unknown model_type"):
        SentencePieceTokenizer.train(TOY, model_type="wordpiece")


def _round_trip(tok: SentencePieceTokenizer, lines: list[str]) -> None:
    decoded = tok.decode_batch(tok.encode_batch(lines))
    assert decoded == [tok.normalize(x) for x in lines]
    assert tok.decode_ids_batch(tok.encode_ids_batch(lines)) == decoded


def test_round_trips_1000_multi30k_lines(shared_data: Path, tmp_path):
    m30k = shared_data / "multi30k"
    train = read_lines(m30k / "train.en.gz")[:5000] + read_lines(m30k / "train.de.gz")[:5000]
    # a joint de+en BPE model, as the NMT recipe uses; saved into a "run directory"
    tok = SentencePieceTokenizer.train(train, tmp_path / "spm", vocab_size=2000, model_type="bpe",
                                       byte_fallback=True)  # ids stay lossless for unseen characters
    tok = SentencePieceTokenizer.load(tmp_path / "spm.model")
    for lang in ("en", "de"):
        test = read_lines(m30k / f"test_2016_flickr.{lang}.gz")
        assert len(test) == 1000
        _round_trip(tok, test)
    # the test set is clean text, so the round trip is exact, not just up to normalization
    assert tok.decode_batch(tok.encode_batch(test)) == test


@pytest.mark.slow
def test_unigram_on_all_multi30k_english(shared_data: Path):
    m30k = shared_data / "multi30k"
    tok = SentencePieceTokenizer.train(m30k / "train.en.gz", vocab_size=6000, model_type="unigram")
    assert len(tok) == 6000
    _round_trip(tok, read_lines(m30k / "test_2016_flickr.en.gz"))
