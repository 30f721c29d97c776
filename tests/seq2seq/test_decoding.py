"""One decode-settings object, every surface built from it: the same defaults, the same refusals."""

from __future__ import annotations

import dataclasses
import inspect
import math
import re
from pathlib import Path

import pytest
import yaml

from seqkit.cli import main
from seqkit.seq2seq import search
from seqkit.seq2seq.decoding import (
    DEFAULT,
    REQUEST_FIELDS,
    DecodeSettings,
    check_engine,
    checked,
    fields,
    settings_table,
)
from seqkit.settings import SettingsError

ROOT = Path(__file__).resolve().parents[2]


def test_the_docs_table_is_generated_from_the_settings_object():
    page = (ROOT / "docs" / "reference" / "decode-settings.md").read_text(encoding="utf-8")
    found = re.search(r"<!-- generated: settings_table\(\) -->\n(.*?)<!-- end generated -->", page, re.S)
    assert found, "docs/reference/decode-settings.md lost its generated table"
    assert found.group(1) == settings_table(), "regenerate the table: seqkit.seq2seq.decoding.settings_table()"
    assert settings_table().count("\n") == len(fields()) + 2  # a row per setting


@pytest.mark.parametrize("recipe", ["nmt_transformer", "nmt_rnn_attention", "nmt_iwslt14"])
def test_recipe_decode_sections_list_every_recipe_setting_with_its_default(recipe):
    section = yaml.safe_load((ROOT / "recipes" / f"{recipe}.yaml").read_text(encoding="utf-8"))["decode"]
    heatmaps = section.pop("heatmaps")
    assert isinstance(heatmaps, int)
    assert section == {f.name: f.default for f in fields("recipe")}


def test_defaults_agree_on_every_surface():
    from seqkit.cli.serve import serve
    from seqkit.cli.translate import translate

    for command, surface in ((translate, "translate"), (serve, "serve")):
        options = {p.name: p.default for p in command.params}
        for f in fields(surface):
            assert options[f.name] == f.default, (surface, f.name)
        assert checked({}, surface) == DEFAULT
    signature = inspect.signature(search.beam_search).parameters
    assert signature["beam_size"].default == DEFAULT.beam and signature["alpha"].default == DEFAULT.alpha
    assert signature["length_penalty"].default == DEFAULT.length_penalty
    assert signature["max_len_a"].default == DEFAULT.max_len_a and signature["max_len_b"].default == DEFAULT.max_len_b
    for fn in (search.greedy_search, search.sample):
        assert inspect.signature(fn).parameters["max_len_a"].default == DEFAULT.max_len_a
    assert set(REQUEST_FIELDS) == {"beam", "nbest", "alpha", "length_penalty"}


# one bad value per setting: (a wrong type, a value out of range)
BAD = {"beam": ("5", 0), "nbest": (1.5, 0), "alpha": ("x", -1.0), "length_penalty": (3, "nope"),
       "patience": ("slow", 0.0), "max_len_a": ([1], -0.5), "max_len_b": (2.5, -1), "max_src_len": ("big", 1),
       "unk_penalty": (True, -1.0),
       "sample": ("yes", None), "temperature": ("hot", -1.0), "top_k": (2.5, 0), "top_p": ("all", 0.0),
       "seed": (1.5, -1), "batch_tokens": ("many", 0), "shortlist": ("yes", None)}
HUGE = {"beam": 10**9, "nbest": 10**9, "alpha": 1e300, "patience": 1e300, "max_len_a": 1e300, "max_len_b": 10**12,
        "max_src_len": 10**12, "unk_penalty": 1e300, "temperature": 1e300, "top_k": 10**12, "seed": 2**80,
        "batch_tokens": 10**15}


def test_every_setting_has_a_bad_value_here():
    assert set(BAD) == {f.name for f in fields()}


@pytest.mark.parametrize("surface", ["recipe", "translate", "serve", "request"])
def test_a_value_refused_in_one_surface_is_refused_in_all(surface):
    prefix = {"recipe": "decode.", "translate": "--", "serve": "--", "request": ""}[surface]
    for f in fields(surface):
        values = [v for v in (*BAD[f.name], HUGE.get(f.name), math.nan if f.type in ("float", "float | None") else None)
                  if v is not None]
        for value in values:
            with pytest.raises(SettingsError) as exc:
                checked({f.name: value}, surface)
            name = f.name.replace("_", "-") if prefix == "--" else f.name
            assert str(exc.value).startswith(f"{prefix}{name}: "), str(exc.value)
    with pytest.raises(SettingsError, match="not a setting of"):
        checked({"beamsize": 3}, surface)


def test_rules_between_fields():
    with pytest.raises(SettingsError, match=r"nbest: must be <= beam \(2\), got 3"):
        checked({"beam": 2, "nbest": 3}, "translate")
    with pytest.raises(SettingsError, match="sampling gives one translation"):
        checked({"sample": True, "nbest": 2, "beam": 2}, "translate")
    assert DEFAULT.replace(beam=2, nbest=None).beam == 2  # None: unchanged
    assert DecodeSettings(alpha=0.0).penalty is None and DecodeSettings(length_penalty="d2l").penalty == "length"


def test_the_ct2_engine_refuses_what_it_cannot_do_in_one_line_each():
    check_engine(DEFAULT, "ct2")  # the defaults run on both engines
    check_engine(DecodeSettings(length_penalty="none"), "ct2")
    for change, says in (({"length_penalty": "gnmt"}, "length_penalty=gnmt"),
                         ({"unk_penalty": 1.0}, "does not support unk_penalty"),
                         ({"sample": True}, "does not support sampling")):
        with pytest.raises(SettingsError, match=says):
            check_engine(dataclasses.replace(DEFAULT, **change), "ct2")
    check_engine(DecodeSettings(length_penalty="gnmt", sample=True, unk_penalty=2.0), "seqkit")


@pytest.mark.parametrize("args", [["--alpha", "-1"], ["--beam", "0"], ["--beam-size", "300"],
                                  ["--length-penalty", "gnmt", "--lenpen", "nan"], ["--max-src-len", "1"]])
def test_translate_and_serve_refuse_the_same_flags_before_loading(args, tmp_path, capsys):
    missing = tmp_path / "no-run"  # the settings are checked before the run is opened
    missing.mkdir()
    for command in (["translate", "--run", str(missing)], ["serve", "--run", str(missing)]):
        assert main([*command, *args]) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and re.search(r"--[a-z-]+: must be", err), err


def test_a_recipe_refuses_the_same_values(capsys):
    assert main(["recipe", "validate", "nmt_transformer", "decode.alpha=-1", "decode.beam=0"]) == 2
    err = capsys.readouterr().err
    assert "decode.alpha: must be >= 0, got -1" in err and "decode.beam: must be >= 1, got 0" in err
    assert main(["recipe", "validate", "nmt_transformer", "decode.length_penalty=gnmt", "decode.unk_penalty=0.5"]) == 0
