"""Recipes: loading, overrides with types, and the one-line errors."""

from __future__ import annotations

import pytest

from seqkit.errors import SeqkitError
from seqkit.recipes.config import load_recipe, parse_override, resolve_recipe

RECIPE = """\
description: a test recipe
stages: [test.count]
seed: 3
data:
  name: seqkit-en-fr
  src: en
  max_len: 50
train:
  lr: 0.001
  epochs: 2
  layers: [2, 2]
  amp: null
  shuffle: true
"""


@pytest.fixture
def recipe(tmp_path):
    path = tmp_path / "demo.yaml"
    path.write_text(RECIPE)
    return str(path)


def test_overrides_nested_lists_and_types(recipe):
    name, cfg = load_recipe(recipe, ["train.lr=3e-4", "train.epochs=5", "train.layers=[3,4]",
                                     "train.amp=bf16", "train.shuffle=false", "data.max_len=7"])
    assert name == "demo"
    assert cfg.train.lr == pytest.approx(3e-4)
    assert cfg.train.epochs == 5 and list(cfg.train.layers) == [3, 4]
    assert cfg.train.amp == "bf16" and cfg.train.shuffle is False and cfg.data.max_len == 7
    assert cfg.seed == 3 and cfg.force is False and cfg.run_dir is None  # globals merged in


def test_int_widens_to_float_and_name_shorthand(recipe):
    _, cfg = load_recipe(recipe, ["train.lr=1", "data=multi30k"])
    assert isinstance(cfg.train.lr, float) and cfg.train.lr == 1.0
    assert cfg.data.name == "multi30k" and cfg.data.src == "en"


def test_unknown_key_lists_valid_keys(recipe):
    with pytest.raises(SeqkitError) as err:
        load_recipe(recipe, ["train.lrr=3"])
    text = str(err.value)
    assert "unknown key 'train.lrr'" in text and "did you mean 'train.lr'" in text
    assert "train.epochs" in text and "\n" not in text


def test_wrong_type_is_one_line(recipe):
    with pytest.raises(SeqkitError, match=r"'train.epochs' must be an integer, got 'many'"):
        load_recipe(recipe, ["train.epochs=many"])
    with pytest.raises(SeqkitError, match="must be true or false"):
        load_recipe(recipe, ["train.shuffle=3"])


def test_unknown_recipe_and_bad_override():
    with pytest.raises(SeqkitError, match="unknown recipe 'no_such_recipe'"):
        load_recipe("no_such_recipe")
    with pytest.raises(SeqkitError, match="not key=value"):
        parse_override("train.lr")


def test_invalid_yaml_names_file_and_line(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("stages: [a]\ndata: {name: [\n")
    with pytest.raises(SeqkitError) as err:
        load_recipe(str(bad))
    assert str(bad) in str(err.value) and "invalid YAML" in str(err.value)


def test_a_typo_in_a_recipe_file_names_file_line_and_the_key(tmp_path):
    from seqkit.settings import SettingsError

    text = resolve_recipe("nmt_transformer")[1].read_text(encoding="utf-8")
    text = text.replace("  lr: 0.001 ", "  lrr: 0.001 ").replace("\nmodel:", "\nmodell:")
    path = tmp_path / "mine.yaml"
    path.write_text(text, encoding="utf-8")
    lines = text.splitlines()
    with pytest.raises(SettingsError) as err:
        load_recipe(str(path))
    assert err.value.problems == [
        f"{path}:{lines.index('modell:') + 1}: unknown key 'modell'; did you mean 'model'?",
        f"{path}:{next(i for i, x in enumerate(lines, 1) if x.startswith('  lrr:'))}: unknown key 'train.lrr'; "
        "did you mean 'train.lr'?"]
    # keys inside a free-form value (data.files) are the user's own
    path.write_text(resolve_recipe("nmt_transformer")[1].read_text(encoding="utf-8").replace(
        "  files: null", "  files: {train: a.csv}"), encoding="utf-8")
    assert load_recipe(str(path))[1].data.files.train == "a.csv"
