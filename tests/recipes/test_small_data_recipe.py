"""``nmt_small_data``: nmt_transformer with the settings Multi30k's validation set chose (docs/benchmarks.md,
"A recipe for small corpora"), and nothing else changed."""

from __future__ import annotations

from seqkit.recipes.config import load_recipe, to_container


def _flat(cfg: dict, prefix: str = "") -> dict:
    out = {}
    for key, value in cfg.items():
        if isinstance(value, dict):
            out.update(_flat(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def test_small_data_is_nmt_transformer_with_the_chosen_settings():
    small = _flat(to_container(load_recipe("nmt_small_data")[1]))
    base = _flat(to_container(load_recipe("nmt_transformer")[1]))
    assert small.keys() == base.keys()  # every key a user can set is nmt_transformer's
    changed = {k: (base[k], small[k]) for k in base if base[k] != small[k]}
    assert changed == {
        "description": (base["description"], small["description"]),
        "data.name": ("seqkit-en-fr", "multi30k"),
        "data.src": (None, "de"),
        "data.tgt": (None, "en"),
        "spm.vocab_size": (2000, 8000),
        "model.preset": ("tiny", "base"),
        "train.lr": (0.001, 0.002),
        "train.warmup": (200, 400),
        "train.max_time": (420.0, 3600.0),
    }


def test_its_keys_take_overrides_like_nmt_transformers():
    cfg = to_container(load_recipe("nmt_small_data", ["data.src=en", "data.tgt=de", "train.lr=0.001"])[1])
    assert (cfg["data"]["src"], cfg["data"]["tgt"], cfg["train"]["lr"], cfg["train"]["warmup"]) == ("en", "de", 0.001, 400)
