"""A tiny translation run for tests: sentencepiece and a Transformer trained for a few seconds on the
bundled seqkit-en-fr pairs (shared by the export and the shortlist tests)."""

from __future__ import annotations

from pathlib import Path

import torch

EN_FR = Path(__file__).resolve().parents[1] / "data" / "en-fr"


def en_fr_lines(name: str, n: int) -> list[str]:
    """The first ``n`` lines of ``data/en-fr/NAME`` (``train.en``, ``test.fr`` ...)."""
    return (EN_FR / name).read_text(encoding="utf-8").splitlines()[:n]


def en_fr_tokenizer():
    """A joint sentencepiece model of 200 pieces over 600 training pairs."""
    from seqkit.text import SentencePieceTokenizer

    return SentencePieceTokenizer.train(en_fr_lines("train.en", 600) + en_fr_lines("train.fr", 600), vocab_size=200)


def save_run(root: Path, cfg: dict, tokenizer, model: torch.nn.Module) -> Path:
    """``root`` made a run directory holding ``model/`` (the model folder of ``model``)."""
    from seqkit.seq2seq.model_folder import save_model_dir

    (root / "model").mkdir(parents=True)
    tokenizer.save(root / "spm.model")
    save_model_dir(root / "model", cfg, len(tokenizer), root / "spm.model", model.state_dict(), src="en", tgt="fr")
    return root


def trained_run(root: Path, tokenizer) -> Path:
    """Pre-norm, tied embeddings, 2+2 layers of 32, 80 updates on 600 pairs (seed 0, one thread)."""
    from seqkit.seq2seq.presets import build_model, model_config
    from seqkit.seq2seq.training import NMTTrainConfig, train_nmt

    torch.set_num_threads(1)  # module fixtures run before conftest's per-test thread setting
    torch.manual_seed(0)
    cfg = model_config("transformer", "tiny", d_model=32, d_ff=64, n_heads=4, n_enc_layers=2, n_dec_layers=2,
                       dropout=0.0)
    model = build_model(cfg, len(tokenizer))
    train_nmt(model, tokenizer, en_fr_lines("train.en", 600), en_fr_lines("train.fr", 600),
              cfg=NMTTrainConfig(lr=5e-3, warmup=10, max_tokens=800, max_steps=80, valid_every=None,
                                 label_smoothing=0.0, progress=False))
    return save_run(root, cfg, tokenizer, model)
