"""Vocabulary shortlists: learning by co-occurrence (hand-computed), the vmap file and its loader,
``seqkit shortlist build``, and decoding with a shortlist in both engines."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from tiny_nmt import en_fr_lines, en_fr_tokenizer, save_run, trained_run

from seqkit.cli import main
from seqkit.errors import SeqkitError
from seqkit.seq2seq.presets import build_model, model_config
from seqkit.seq2seq.shortlist import Shortlist, coverage, learn_shortlist

PIECES = ["<unk>", "<pad>", "<bos>", "<eos>", "▁a", "▁b", "▁x", "▁y", "▁z"]
A, B, X, Y, Z = 4, 5, 6, 7, 8
SPECIALS = [0, 1, 2, 3]


_lines = en_fr_lines


def _entries(sl: Shortlist) -> dict[tuple[int, ...], list[int]]:
    return {k: v.tolist() for k, v in sl.entries.items()}


# -- learning: a case counted by hand ----------------------------------------------------------------
# sentence pairs: c(a) = 3, c(b) = 2; c(x) = c(y) = c(z) = 2
# c(a,x) = 2, c(a,y) = 1, c(a,z) = 1; c(b,x) = 1, c(b,y) = 2, c(b,z) = 1
PAIRS = [([A], [X]), ([A, B], [X, Y]), ([B], [Y, Z]), ([A, A], [Z, 3])]


def test_learn_ranks_by_conditional_probability():
    sl = learn_shortlist(PAIRS, PIECES, top_k=1, frequent=0)
    # p(x|a) = 2/3 beats p(y|a) = p(z|a) = 1/3; p(y|b) = 2/2
    assert _entries(sl) == {(A,): [X], (B,): [Y]}
    assert sl.always.tolist() == SPECIALS
    sl = learn_shortlist(PAIRS, PIECES, top_k=2, frequent=0)
    # ties (same score, same count) go to the lower id: y before z for a, x before z for b
    assert _entries(sl) == {(A,): [X, Y], (B,): [X, Y]}


def test_learn_dice_min_count_and_always_included():
    # dice(a,x) = 2*2/(3+2) = 0.8 > dice(a,y) = dice(a,z) = 2/5; dice(b,y) = 4/4 > 2/4
    assert _entries(learn_shortlist(PAIRS, PIECES, top_k=1, frequent=0, score="dice")) == {(A,): [X], (B,): [Y]}
    assert _entries(learn_shortlist(PAIRS, PIECES, top_k=5, frequent=0, min_count=2)) == {(A,): [X], (B,): [Y]}
    # the most frequent target piece (a tie of 2 sentences each: the lowest id, x) is always included
    # and not spent on an entry: a's best other piece is y (1/3, tied with z), b's is y
    sl = learn_shortlist(PAIRS, PIECES, top_k=1, frequent=1)
    assert sl.always.tolist() == [*SPECIALS, X]
    assert _entries(sl) == {(A,): [Y], (B,): [Y]}


def test_learn_bigrams_keep_what_their_pieces_do_not_give():
    pairs = [([A, B], [Z]), ([A], [X]), ([A], [X]), ([B], [Y]), ([B], [Y])]
    sl = learn_shortlist(pairs, PIECES, top_k=1, frequent=0, order=2)
    assert _entries(sl) == {(A,): [X], (B,): [Y], (A, B): [Z]}
    assert sl.candidates([[A]]).tolist() == [*SPECIALS, X]
    assert sl.candidates([[A, B]]).tolist() == [*SPECIALS, X, Y, Z]
    assert sl.candidates([[B, A]], extra=[Z]).tolist() == [*SPECIALS, X, Y, Z]  # a prefix's pieces join
    assert sl.candidates([[B, A, 1, 1]]).tolist() == [*SPECIALS, X, Y]  # padding looks nothing up
    assert coverage(sl, [([A], [X, Y])]) == (0.5, 5.0, 1)


# -- the vmap file -------------------------------------------------------------------------------------
def test_vmap_lines_and_round_trip(tmp_path):
    sl = learn_shortlist([([A, B], [Z]), ([A], [X]), ([A], [X]), ([B], [Y]), ([B], [Y])], PIECES, top_k=1,
                         frequent=0, order=2)
    path = sl.save(tmp_path / "vmap.txt")
    # CTranslate2's format: source (n-gram pieces joined by spaces), a tab, target pieces; empty source:
    # always included
    assert path.read_text(encoding="utf-8") == ("\t<unk> <pad> <bos> <eos>\n"
                                                 "▁a\t▁x\n"
                                                 "▁b\t▁y\n"
                                                 "▁a ▁b\t▁z\n")
    back = Shortlist.load(path, PIECES)
    assert back.always.tolist() == sl.always.tolist() and _entries(back) == _entries(sl)


@pytest.mark.parametrize("text, line, message", [
    ("\t▁x\n▁a ▁x\n", 2, "found 0 tabs"),
    ("▁a\t▁x\t▁y\n", 1, "found 2 tabs"),
    ("▁a\t▁x\n▁b\t▁q\n", 2, "piece '▁q' is not in the model's vocabulary"),
    ("▁a\t▁x  ▁y\n", 1, "an empty piece"),
    ("▁a\t▁x\n\t▁y\n▁a\t▁z\n", 3, "source '▁a' listed again (first at line 1)"),
    ("\t▁x\n\t▁y\n", 2, "a second line of always-included pieces"),
    ("▁a\t▁x\n\n", 2, "found 0 tabs"),
])
def test_vmap_loader_names_file_and_line(tmp_path, text, line, message):
    path = tmp_path / "bad.vmap"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(SeqkitError) as err:
        Shortlist.load(path, PIECES)
    assert str(err.value).startswith(f"{path}:{line}: ") and message in str(err.value)


@pytest.mark.parametrize("text", ["", "\t\n"])
def test_a_vmap_without_target_pieces_is_refused(tmp_path, text):
    """It would decode every sentence to nothing (only the special tokens are candidates)."""
    path = tmp_path / "empty.vmap"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(SeqkitError, match="no target pieces at all: an empty shortlist"):
        Shortlist.load(path, PIECES)


# -- seqkit shortlist build --------------------------------------------------------------------------
@pytest.fixture(scope="module")
def tokenizer():
    return en_fr_tokenizer()


@pytest.fixture(scope="module")
def run(tmp_path_factory, tokenizer):
    """A run directory with an (untrained) tiny model and 600 training pairs in data/."""
    torch.manual_seed(0)
    cfg = model_config("transformer", "tiny", d_model=32, d_ff=64, n_heads=4, n_enc_layers=1, n_dec_layers=1,
                       dropout=0.0)
    root = save_run(tmp_path_factory.mktemp("run"), cfg, tokenizer, build_model(cfg, len(tokenizer)))
    (root / "data").mkdir()
    for split, n in (("train", 600), ("valid", 50)):
        (root / "data" / f"{split}.src").write_text("\n".join(_lines(f"{split}.en", n)) + "\n", encoding="utf-8")
        (root / "data" / f"{split}.tgt").write_text("\n".join(_lines(f"{split}.fr", n)) + "\n", encoding="utf-8")
    return root


def test_build_command_learns_from_the_runs_training_data(run, tokenizer, capsys):
    assert main(["shortlist", "build", "--run", str(run), "--top-k", "5", "--frequent", "20"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"{run / 'vmap.txt'}: shortlist of ") and "50 validation pairs" in out
    built = Shortlist.load(run / "vmap.txt", tokenizer.pieces())
    pairs = list(zip(tokenizer.encode_ids_batch(_lines("train.en", 600)),
                     tokenizer.encode_ids_batch(_lines("train.fr", 600))))
    expected = learn_shortlist(pairs, tokenizer.pieces(), top_k=5, frequent=20)
    assert _entries(built) == _entries(expected) and built.always.tolist() == expected.always.tolist()
    assert built.always.size == 24 and max(len(v) for v in built.entries.values()) == 5
    # again: its own earlier file is replaced
    assert main(["shortlist", "build", "--run", str(run), "--top-k", "3", "--frequent", "20"]) == 0
    assert max(len(v) for v in Shortlist.load(run / "vmap.txt", tokenizer.pieces()).entries.values()) == 3


def test_build_command_refuses_bad_input(run, tmp_path, capsys):
    mine = tmp_path / "notes.txt"
    mine.write_text("my notes\nline two\n", encoding="utf-8")
    cases = [
        (["--run", str(tmp_path / "missing")], "run directory not found"),
        (["--run", str(run), "-o", str(mine)], "is not a vocabulary map"),
        (["--run", str(run), "--src", str(tmp_path / "none.en"), "--tgt", str(mine), "-o", str(tmp_path / "v")],
         "none.en"),
        (["--run", str(run), "--src", str(mine)], "--src and --tgt go together"),
    ]
    for args, message in cases:
        assert main(["shortlist", "build", *args]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and message in err, err
    assert mine.read_text(encoding="utf-8") == "my notes\nline two\n"  # not replaced


def test_build_from_given_files(run, tmp_path, tokenizer):
    src, tgt = tmp_path / "a.en", tmp_path / "a.fr"
    src.write_text("the cat\nthe dog\n", encoding="utf-8")
    tgt.write_text("le chat\nle chien\n", encoding="utf-8")
    out = tmp_path / "small.vmap"
    assert main(["shortlist", "build", "--run", str(run), "--src", str(src), "--tgt", str(tgt), "-o", str(out),
                 "--frequent", "0"]) == 0
    built = Shortlist.load(out, tokenizer.pieces())
    pairs = list(zip(tokenizer.encode_ids_batch(["the cat", "the dog"]),
                     tokenizer.encode_ids_batch(["le chat", "le chien"])))
    assert _entries(built) == _entries(learn_shortlist(pairs, tokenizer.pieces(), frequent=0))
    assert np.array_equal(built.always, SPECIALS)


# -- decoding with a shortlist -----------------------------------------------------------------------
SOURCES = _lines("test.en", 30) + [""]


@pytest.fixture(scope="module")
def trained(tmp_path_factory, tokenizer):
    """Pre-norm, tied embeddings, 80 updates on 600 pairs of seqkit-en-fr."""
    return trained_run(tmp_path_factory.mktemp("trained"), tokenizer)


def _everything(tokenizer) -> Shortlist:
    pieces = tokenizer.pieces()
    return Shortlist(pieces, np.arange(len(pieces)), {})


@pytest.mark.parametrize("beam, quantize", [(1, None), (5, None), (5, "int8")])
def test_seqkit_shortlist_of_every_piece_decodes_as_the_full_vocabulary(trained, tokenizer, beam, quantize):
    from seqkit.seq2seq.shortlist_decoding import ShortlistModel
    from seqkit.seq2seq.translator import Translator

    full = Translator.from_run(trained, beam=beam, quantize=quantize)
    short = Translator.from_run(trained, beam=beam, quantize=quantize, shortlist=_everything(tokenizer))
    # the Transformer projects onto the candidates' rows only (float32 and int8 alike)
    assert ShortlistModel(short.model, torch.arange(len(tokenizer))).project is not None
    a_all = full.translate_scored(SOURCES, nbest=min(beam, 2))
    b_all = short.translate_scored(SOURCES, nbest=min(beam, 2), shortlist=True)
    for a, b in zip(a_all, b_all):
        assert [h.pieces for h in a] == [h.pieces for h in b]
        assert [h.score for h in a] == [h.score for h in b]
        assert [h.log_prob for h in a] == [h.log_prob for h in b]


def test_other_models_renormalise_the_candidates_of_the_full_vocabulary(trained, tokenizer):
    from seqkit.seq2seq.ensemble import Ensemble
    from seqkit.seq2seq.model_folder import open_model_folder
    from seqkit.seq2seq.shortlist_decoding import ShortlistModel

    model = Ensemble([open_model_folder(trained).build_model()]).eval()
    ids = torch.tensor([0, 1, 2, 3, 10, 20, 30])
    wrapped = ShortlistModel(model, ids)
    assert wrapped.project is None
    src = torch.tensor([tokenizer.encode_ids("the cat") + [3]])
    with torch.inference_mode():
        full, _, _ = model.decode_step(torch.tensor([2]), model.encode(src, torch.tensor([src.shape[1]])))
        short, _, _ = wrapped.decode_step(torch.tensor([2]), model.encode(src, torch.tensor([src.shape[1]])))
    assert torch.allclose(short, torch.log_softmax(full[:, ids], -1), atol=1e-6)
    assert torch.allclose(short.exp().sum(), torch.tensor(1.0))


def test_seqkit_shortlist_limits_the_output_to_the_candidates(trained, tokenizer):
    from seqkit.seq2seq.translator import Translator

    pairs = list(zip(tokenizer.encode_ids_batch(_lines("train.en", 600)),
                     tokenizer.encode_ids_batch(_lines("train.fr", 600))))
    small = learn_shortlist(pairs, tokenizer.pieces(), top_k=3, frequent=10)
    translator = Translator.from_run(trained, beam=3, shortlist=small)
    restricted = 0
    for src in SOURCES:  # one sentence a batch: its own candidates
        best = translator.translate_scored([src], shortlist=True)[0][0]
        allowed = set(small.candidates([tokenizer.encode_ids(src)]).tolist())
        assert set(tokenizer.piece_to_id(p) for p in best.pieces) <= allowed
        restricted += len(allowed) < len(tokenizer)
    assert restricted == len(SOURCES)
    # a prefix's pieces join the candidates, and are forced
    out = translator.translate_scored(SOURCES[:3], shortlist=True, prefix="Le chat")
    assert all(hyps[0].text.startswith("Le chat") for hyps in out)


def _small(tokenizer) -> Shortlist:
    pairs = list(zip(tokenizer.encode_ids_batch(_lines("train.en", 600)),
                     tokenizer.encode_ids_batch(_lines("train.fr", 600))))
    return learn_shortlist(pairs, tokenizer.pieces(), top_k=3, frequent=10)


def test_ctranslate2_reads_the_vmap_as_seqkit_does(trained, tokenizer, tmp_path):
    pytest.importorskip("ctranslate2")
    from seqkit.seq2seq.engines import CT2Translator
    from seqkit.seq2seq.export import export_ct2
    from seqkit.seq2seq.translator import Translator

    small = _small(tokenizer)
    vmap = small.save(tmp_path / "small.vmap")
    out = export_ct2(trained, tmp_path / "export", vmap=vmap)
    assert (out / "vmap.txt").read_bytes() == vmap.read_bytes()
    theirs = CT2Translator(out, beam=1, threads=1)
    ours = Translator.from_run(trained, beam=1, shortlist=vmap)
    changed = 0
    for src in SOURCES:  # one sentence a batch: the same candidates in both engines
        ids = tokenizer.encode_ids(src)
        a = theirs.translate_scored([src], shortlist=True)[0][0]
        b = ours.translate_scored([src], shortlist=True)[0][0]
        assert {tokenizer.piece_to_id(p) for p in a.pieces} <= set(small.candidates([ids]).tolist())
        assert a.pieces == b.pieces  # greedy: the same argmax over the same candidates
        if len(a.pieces) < int(1.5 * (len(ids) + 1) + 10):  # (at the cap CTranslate2 rescores in full)
            assert a.log_prob == pytest.approx(b.log_prob, rel=2e-4, abs=2e-3)  # normalised over candidates
        changed += a.pieces != theirs.translate_scored([src])[0][0].pieces
    assert changed >= 3  # the shortlist was used: some outputs differ from the full vocabulary's


def test_ctranslate2_with_every_piece_decodes_as_without(trained, tokenizer, tmp_path):
    pytest.importorskip("ctranslate2")
    from seqkit.seq2seq.engines import CT2Translator

    vmap = _everything(tokenizer).save(tmp_path / "all.vmap")
    assert main(["export", "ct2", "--run", str(trained), "-o", str(tmp_path / "export"), "--vmap", str(vmap)]) == 0
    translator = CT2Translator(tmp_path / "export", beam=4, threads=1)
    full, short = translator.translate_scored(SOURCES), translator.translate_scored(SOURCES, shortlist=True)
    assert [h[0].pieces for h in full] == [h[0].pieces for h in short]
    assert [h[0].score for h in full] == pytest.approx([h[0].score for h in short], rel=1e-5, abs=1e-5)


def test_export_and_engines_refuse_a_bad_or_missing_shortlist(trained, tokenizer, tmp_path, capsys):
    pytest.importorskip("ctranslate2")
    from seqkit.seq2seq.engines import CT2Translator

    bad = tmp_path / "bad.vmap"
    bad.write_text("\t<unk>\n▁le ▁chat\n", encoding="utf-8")
    capsys.readouterr()
    assert main(["export", "ct2", "--run", str(trained), "-o", str(tmp_path / "e1"), "--vmap", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"{bad}:2: expected a source, one tab" in err, err
    assert not (tmp_path / "e1").exists()
    # an export without a shortlist: --shortlist is refused in one line, and so is a vmap.txt put there
    assert main(["export", "ct2", "--run", str(trained), "-o", str(tmp_path / "e2")]) == 0
    with pytest.raises(SeqkitError, match="holds no vocabulary shortlist"):
        CT2Translator(tmp_path / "e2", threads=1).translate(["a cat"], shortlist=True)
    _small(tokenizer).save(tmp_path / "e2" / "vmap.txt")
    with pytest.raises(SeqkitError, match="vmap.txt was not exported with this model"):
        CT2Translator(tmp_path / "e2", threads=1)
    # an export with one: a changed vmap.txt is refused
    assert main(["export", "ct2", "--run", str(trained), "-o", str(tmp_path / "e3"), "--vmap",
                 str(tmp_path / "e2" / "vmap.txt")]) == 0
    with open(tmp_path / "e3" / "vmap.txt", "a", encoding="utf-8") as fh:
        fh.write("▁chat\t▁chat\n")
    with pytest.raises(SeqkitError, match="damaged: not the vmap.txt that was exported"):
        CT2Translator(tmp_path / "e3", threads=1)
    # the seqkit engine: a run without vmap.txt
    from seqkit.seq2seq.translator import Translator

    with pytest.raises(SeqkitError, match="no vocabulary shortlist"):
        Translator.from_run(trained).translate(["a cat"], shortlist=True)


def test_translate_command_with_the_runs_shortlist_in_both_engines(trained, tokenizer, tmp_path, capsys):
    import shutil

    from seqkit.seq2seq.engines import CT2Translator
    from seqkit.seq2seq.translator import Translator

    run = Path(shutil.copytree(trained, tmp_path / "run"))
    (run / "data").mkdir()
    (run / "data" / "train.src").write_text("\n".join(_lines("train.en", 600)) + "\n", encoding="utf-8")
    (run / "data" / "train.tgt").write_text("\n".join(_lines("train.fr", 600)) + "\n", encoding="utf-8")
    src = tmp_path / "src.en"
    src.write_text("\n".join(SOURCES[:8]) + "\n", encoding="utf-8")
    assert main(["shortlist", "build", "--run", str(run), "--top-k", "3", "--frequent", "10"]) == 0
    assert main(["translate", "--run", str(run), "--beam", "2", "--shortlist", "-i", str(src),
                 "-o", str(tmp_path / "seqkit.txt")]) == 0
    expected = Translator.from_run(run, beam=2).translate(SOURCES[:8], shortlist=True)
    assert (tmp_path / "seqkit.txt").read_text(encoding="utf-8").splitlines() == expected
    assert expected != Translator.from_run(run, beam=2).translate(SOURCES[:8])  # the shortlist was used
    pytest.importorskip("ctranslate2")
    assert main(["export", "ct2", "--run", str(run), "--vmap", str(run / "vmap.txt")]) == 0
    assert main(["translate", "--engine", "ct2", "--run", str(run), "--beam", "2", "--shortlist", "-i", str(src),
                 "-o", str(tmp_path / "ct2.txt")]) == 0
    expected = CT2Translator(run, beam=2).translate(SOURCES[:8], shortlist=True)
    assert (tmp_path / "ct2.txt").read_text(encoding="utf-8").splitlines() == expected


def test_a_runs_training_pairs_from_its_prepared_corpus_or_its_text(run, tokenizer, tmp_path):
    import json

    from seqkit.data.prepared import prepare
    from seqkit.seq2seq.shortlist import run_training_pairs

    text = [(list(s), list(t)) for s, t in run_training_pairs(run, tokenizer)]
    assert len(text) == 600 and text[0] == (tokenizer.encode_ids(_lines("train.en", 1)[0]),
                                            tokenizer.encode_ids(_lines("train.fr", 1)[0]))
    prepared = prepare(_lines("train.en", 600), _lines("train.fr", 600), tokenizer, tmp_path / "prepared")
    other = tmp_path / "other"
    (other / "stages").mkdir(parents=True)
    (other / "stages" / "nmt.data.json").write_text(json.dumps({"result": {"train_prepared": str(prepared.path)}}),
                                                   encoding="utf-8")
    ids = [(s.tolist(), t.tolist()) for s, t in run_training_pairs(other, tokenizer, max_pairs=100)]
    assert ids == text[:100]
