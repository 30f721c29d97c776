"""The IWSLT14 recipe end to end on a small stand-in in fairseq's layout (the training data is not on
these machines: the shared IWSLT14 test split is cut into train/valid/test here)."""

from __future__ import annotations

import json

from seqkit.cli import main
from seqkit.seq2seq.presets import build_model, count_parameters, model_config


def test_the_preset_is_fairseqs_transformer_iwslt_de_en_shape():
    cfg = model_config("transformer", "iwslt")
    assert (cfg["d_model"], cfg["d_ff"], cfg["n_heads"], cfg["n_enc_layers"], cfg["n_dec_layers"], cfg["dropout"]) \
        == (512, 1024, 4, 6, 6, 0.3)
    # one shared 10k embedding (5.12M) + 6 encoder layers of 2.10M + 6 decoder layers of 3.15M, norms and biases
    assert count_parameters(build_model(cfg, 10_000)) == 36_665_344


def test_a_folder_is_required(capsys):
    assert main(["recipe", "validate", "nmt_iwslt14"]) == 2
    assert "data.dir: the folder of the {train,valid,test}.{SRC,TGT} files must be given" in capsys.readouterr().err


def test_recipe_runs_on_a_folder_in_fairseqs_layout(shared_data, tmp_path):
    de = (shared_data / "iwslt14-de-en" / "test.de").read_text(encoding="utf-8").splitlines()
    en = (shared_data / "iwslt14-de-en" / "test.en").read_text(encoding="utf-8").splitlines()
    folder = tmp_path / "iwslt14.tokenized.de-en"
    folder.mkdir()
    for split, (a, b) in {"train": (0, 1200), "valid": (1200, 1230), "test": (1230, 1250)}.items():
        (folder / f"{split}.de").write_text("\n".join(de[a:b]) + "\n", encoding="utf-8")
        (folder / f"{split}.en").write_text("\n".join(en[a:b]) + "\n", encoding="utf-8")
    run = tmp_path / "run"
    assert main(["recipe", "run", "nmt_iwslt14", f"data.dir={folder}", f"run_dir={run}", "spm.vocab_size=800",
                 "model.n_enc_layers=1", "model.n_dec_layers=1", "train.max_steps=3", "train.max_tokens=1500",
                 "train.warmup=2", "train.valid_every=3", "train.valid_max_sents=10", "train.average_best=null",
                 "train.progress=false", "decode.beam=2", "decode.max_len_a=0", "decode.max_len_b=8",
                 "decode.heatmaps=0", "threads=2", "device=cpu"]) == 0
    info = json.loads((run / "model" / "model.json").read_text())
    assert (info["src"], info["tgt"]) == ("de", "en")
    assert info["model"]["d_model"] == 512 and info["model"]["n_heads"] == 4 and info["model"]["d_ff"] == 1024
    scores = json.loads((run / "scores.json").read_text())
    assert 0 <= scores["bleu"] <= 100 and "tok:13a" in scores["bleu_signature"]
    assert scores["bleu_tokenized_signature"].endswith("|pretok:given")  # the text's own tokens, counted as given
    assert len((run / "test.hyp").read_text(encoding="utf-8").splitlines()) == 20
    assert (run / "bleu_time.png").is_file() or (run / "train" / "bleu_time.png").is_file()
