"""What comes out of a trained translation model: scored n-best lists, alignments, files in and out.

The model is a tiny Transformer trained for 300 updates to copy strings of letters (8 s on one
thread): its n-best scores are checked against its own teacher-forced log-probabilities, and its
attention must align each copied piece with itself.
"""

from __future__ import annotations

import random

import pytest
import torch

from seqkit.cli import main
from seqkit.seq2seq.model_folder import save_model_dir
from seqkit.seq2seq.presets import build_model, model_config
from seqkit.seq2seq.training import NMTTrainConfig, train_nmt
from seqkit.seq2seq.translator import Translator
from seqkit.text import SentencePieceTokenizer
from seqkit.text.vocab import BOS_ID, EOS_ID

LETTERS = "abcdefghij"


def _strings(rng: random.Random, n: int, lo: int = 3, hi: int = 8) -> list[str]:
    return ["".join(rng.choice(LETTERS) for _ in range(rng.randint(lo, hi))) for _ in range(n)]


@pytest.fixture(scope="module")
def copier(tmp_path_factory):
    rng = random.Random(0)
    lines = _strings(rng, 3000)
    tok = SentencePieceTokenizer.train(lines, vocab_size=16, model_type="char")
    torch.manual_seed(0)
    cfg = model_config("transformer", "tiny", d_model=64, d_ff=128, n_heads=4, n_enc_layers=1, n_dec_layers=1,
                       dropout=0.0)
    model = build_model(cfg, len(tok))
    train_nmt(model, tok, lines, lines, cfg=NMTTrainConfig(lr=3e-3, warmup=50, max_tokens=2000, max_steps=300,
                                                            label_smoothing=0.0, progress=False))
    folder = tmp_path_factory.mktemp("copier") / "model"
    folder.mkdir()
    tok.save(folder.parent / "spm.model")
    save_model_dir(folder, cfg, len(tok), folder.parent / "spm.model", model.state_dict())
    return Translator(model.eval(), tok, beam=4), folder


def _teacher_forced_log_prob(translator: Translator, src: str, tokens: list[int]) -> float:
    src_ids = translator.tokenizer.encode_ids(src) + [EOS_ID]
    model = translator.model
    with torch.no_grad():
        logits = model(torch.tensor([src_ids]), torch.tensor([len(src_ids)]), torch.tensor([[BOS_ID, *tokens]]))
        log_probs = logits.float().log_softmax(-1)[0]
    return float(sum(log_probs[i, t] for i, t in enumerate([*tokens, EOS_ID])))


def test_nbest_scores_are_the_models_log_probabilities_best_first(copier):
    translator, _ = copier
    sentences = _strings(random.Random(1), 8)
    results = translator.translate_scored(sentences, beam=4, nbest=4)
    assert sum(hyps[0].text == sentence for sentence, hyps in zip(sentences, results)) >= 6  # it copies
    for sentence, hyps in zip(sentences, results):
        assert [h.score for h in hyps] == sorted((h.score for h in hyps), reverse=True)
        for h in hyps:
            ids = [translator.tokenizer.piece_to_id(p) for p in h.pieces]
            assert h.log_prob == pytest.approx(_teacher_forced_log_prob(translator, sentence, ids), abs=1e-4)
            n = len(ids) + 1  # the default length penalty L^alpha over the pieces and <eos>, alpha 1
            assert h.score == pytest.approx(h.log_prob / n, abs=1e-4)
    gnmt = translator.translate_scored(sentences[:2], beam=4, length_penalty="gnmt")
    for hyps in gnmt:
        n = len(hyps[0].pieces) + 1
        assert hyps[0].score == pytest.approx(hyps[0].log_prob / ((5 + n) / 6), abs=1e-4)


def test_alignments_of_a_copy_model_are_the_diagonal(copier):
    translator, _ = copier
    sentences = _strings(random.Random(2), 20, 5, 8)
    on_diagonal = total = 0
    for hyps in translator.translate_scored(sentences, beam=4, attention=True):
        best = hyps[0]
        # the copied letters (not the leading word marker '▁', which attends to the letter after it)
        pairs = [(s, t) for s, t in best.alignment if t > 0]
        on_diagonal += sum(s == t for s, t in pairs)
        total += len(best.pieces) - 1
    assert on_diagonal >= 0.9 * total  # 300 updates: nearly every copied piece attends to itself


def test_translate_cli_files_nbest_scores_alignment_and_max_len(copier, tmp_path, capsys):
    translator, folder = copier
    src = tmp_path / "src.txt"
    sentences = ["abcde", "", "jihgf"]
    src.write_text("".join(s + "\n" for s in sentences))
    out = tmp_path / "hyp.txt"
    assert main(["translate", "--run", str(folder), "-i", str(src), "-o", str(out), "--threads", "1"]) == 0
    assert out.read_text().splitlines() == sentences
    assert main(["translate", "--run", str(folder), "-i", str(src), "--nbest", "3", "--beam", "4"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split(" ||| ")[0] for line in lines] == ["0"] * 3 + ["1"] * 3 + ["2"] * 3
    # the same batch as the command's: float32 sums differ in their last bits between batch shapes
    expected = translator.translate_scored(sentences, beam=4, nbest=3)[0]
    for line, hyp in zip(lines[:3], expected):
        _, text, score, log_prob = line.split(" ||| ")
        assert text == hyp.text and float(score) == pytest.approx(hyp.score, abs=1e-6)
        assert float(log_prob) == pytest.approx(hyp.log_prob, abs=1e-6)
    assert main(["translate", "--run", str(folder), "-i", str(src), "--scores", "--print-alignment"]) == 0
    first = capsys.readouterr().out.splitlines()[0].split(" ||| ")
    assert first[0] == "abcde" and float(first[2]) < 0 and first[3].split()[-1] == "5-5"
    assert main(["translate", "--run", str(folder), "-i", str(src), "--max-len", "2"]) == 0
    capped = capsys.readouterr().out.splitlines()
    assert len(translator.tokenizer.encode(capped[0])) <= 2 and capped[1] == ""


def test_an_ensemble_of_a_model_with_itself_is_the_model(copier, tmp_path, capsys):
    import shutil

    translator, folder = copier
    twin = tmp_path / "twin"
    shutil.copytree(folder, twin)
    ensemble = Translator.from_runs([folder, twin], beam=4)
    sentences = _strings(random.Random(3), 6)
    alone = translator.translate_scored(sentences, beam=4, nbest=3)
    together = ensemble.translate_scored(sentences, beam=4, nbest=3)
    for a, b in zip(alone, together):
        assert [h.text for h in a] == [h.text for h in b]
        assert [h.log_prob for h in b] == pytest.approx([h.log_prob for h in a], abs=1e-4)
    # the CLI: two --run give the same output as one
    src = tmp_path / "src.txt"
    src.write_text("\n".join(sentences) + "\n")
    assert main(["translate", "--run", str(folder), "-i", str(src)]) == 0
    one = capsys.readouterr().out
    assert main(["translate", "--run", str(folder), "--run", str(twin), "-i", str(src)]) == 0
    assert capsys.readouterr().out == one


def test_an_ensemble_refuses_runs_with_another_vocabulary(copier, tmp_path, capsys):
    import shutil

    _, folder = copier
    other = tmp_path / "other"
    shutil.copytree(folder, other)
    lines = [line + "klm" for line in _strings(random.Random(4), 500)]  # three more letters: another vocabulary
    tok = SentencePieceTokenizer.train(lines, vocab_size=19, model_type="char")
    tok.save(other / "spm.model")
    info = (other / "model.json").read_text()
    import json

    from seqkit.io import sha256_file

    meta = json.loads(info)
    meta["tokenizer_sha256"] = sha256_file(other / "spm.model")
    (other / "model.json").write_text(json.dumps(meta))
    assert main(["translate", "--run", str(folder), "--run", str(other), "-i", str(tmp_path / "none.txt")]) == 2
    assert "tokenizer differs from" in capsys.readouterr().err


def test_a_forced_prefix_appears_verbatim_and_is_scored(copier, tmp_path, capsys):
    translator, folder = copier
    sentences = ["abcde", "hgf"]
    for beam in (1, 4):
        for hyps, sentence in zip(translator.translate_scored(sentences, beam=beam, prefix="jj"), sentences):
            best = hyps[0]
            assert best.text.startswith("jj")
            ids = [translator.tokenizer.piece_to_id(p) for p in best.pieces]
            assert best.log_prob == pytest.approx(_teacher_forced_log_prob(translator, sentence, ids), abs=1e-4)
    free = translator.translate_scored(sentences, beam=4)
    assert [h[0].text for h in free] == sentences  # without a prefix the model copies
    src = tmp_path / "src.txt"
    src.write_text("abcde\n")
    assert main(["translate", "--run", str(folder), "-i", str(src), "--prefix", "ii"]) == 0
    assert capsys.readouterr().out.startswith("ii")


def test_sampling_is_seeded_and_its_extremes_are_greedy(copier, tmp_path, capsys):
    translator, folder = copier
    sentences = _strings(random.Random(5), 6)
    greedy = [h[0].text for h in translator.translate_scored(sentences, beam=1)]

    def sampled(**opts):
        sampler = Translator(translator.model, translator.tokenizer, sample=True, **opts)
        return [h[0].text for h in sampler.translate_scored(sentences)]

    assert sampled(temperature=0.0) == greedy and sampled(temperature=1.0, top_k=1) == greedy
    hot = dict(temperature=5.0, seed=7)
    assert sampled(**hot) == sampled(**hot)  # the same seed, the same samples
    assert sampled(**hot) != greedy  # a hot sampler wanders off the copy
    src = tmp_path / "src.txt"
    src.write_text("\n".join(sentences) + "\n")
    assert main(["translate", "--run", str(folder), "-i", str(src), "--sample", "--temperature", "0"]) == 0
    assert capsys.readouterr().out.splitlines() == greedy


def test_the_unknown_piece_penalty_lowers_unk_only(copier):
    from seqkit.seq2seq.translator import _UnkPenalty
    from seqkit.text.vocab import UNK_ID

    translator, _ = copier
    src_ids = translator.tokenizer.encode_ids("abc") + [EOS_ID]
    src, src_len = torch.tensor([src_ids]), torch.tensor([len(src_ids)])
    prev = torch.tensor([BOS_ID])
    with torch.no_grad():
        plain, _, _ = translator.model.decode_step(prev, translator.model.encode(src, src_len))
        wrapped = _UnkPenalty(translator.model, 2.5)
        penalised, _, _ = wrapped.decode_step(prev, wrapped.encode(src, src_len))
    expected = plain.clone()
    expected[:, UNK_ID] -= 2.5
    assert torch.allclose(penalised, expected)


def test_heatmaps_are_written_with_readable_labels(copier, tmp_path, capsys):
    from seqkit.seq2seq.plot import readable

    _, folder = copier
    assert readable(["▁the", "▁ca", "t", "s", "▁"]) == ["the", "ca", "-t", "-s", "␣"]
    src = tmp_path / "src.txt"
    src.write_text("abcde\nhgf\n")
    out = tmp_path / "maps"
    assert main(["translate", "--run", str(folder), "-i", str(src), "--heatmaps", str(out)]) == 0
    pngs = sorted(p.name for p in out.iterdir() if p.name != ".seqkit-output.json")  # the folder's marker
    assert pngs == ["00000.png", "00001.png"]
    assert (out / "00000.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert main(["translate", "--run", str(folder), "-i", str(src), "--heatmaps", str(tmp_path / "no" / "maps")]) == 2


def test_cjk_labels_use_an_installed_cjk_font(tmp_path):
    from seqkit.seq2seq.plot import cjk_font, plot_attention

    font = cjk_font()
    if font is None:
        pytest.skip("no CJK font installed (apt-get install fonts-droid-fallback); labels would show boxes")
    from matplotlib import font_manager

    assert font_manager.findfont(font, fallback_to_default=False)
    plot_attention(torch.rand(3, 3), ["我", "爱", "</s>"], ["I", "love"], tmp_path / "zh.png", title="我爱")
    assert (tmp_path / "zh.png").stat().st_size > 1000


def test_token_scores_sum_to_the_sentence_score(copier, tmp_path, capsys):
    translator, folder = copier
    for hyps in translator.translate_scored(_strings(random.Random(6), 4), beam=4, nbest=2, token_scores=True):
        for h in hyps:
            assert len(h.token_log_probs) == len(h.pieces) + 1
            assert sum(h.token_log_probs) == pytest.approx(h.log_prob, abs=1e-4)
    src = tmp_path / "src.txt"
    src.write_text("abc\n")
    assert main(["translate", "--run", str(folder), "-i", str(src), "--scores", "--token-scores"]) == 0
    text, score, log_prob, per_token = capsys.readouterr().out.strip().split(" ||| ")
    assert sum(float(x) for x in per_token.split()) == pytest.approx(float(log_prob), abs=1e-3)
