"""``seqkit bleu``: output format, stdin, sacrebleu-style ``-m a b c``, errors, and equality with the
sacrebleu command line on WMT21 (slow)."""

import io
import json
import re
import shutil
import subprocess
import sys

import pytest

from seqkit.cli import main

REFS = [["The dog bit the man.", "It was not unexpected.", "The man bit him first."],
        ["The dog had bit the man.", "No one was surprised.", "The man had bitten the dog."]]
SYS = ["The dog bit the man.", "It wasn't surprising.", "The man had just bitten him."]


@pytest.fixture
def files(tmp_path):
    paths = {}
    for name, lines in (("hyp", SYS), ("ref1", REFS[0]), ("ref2", REFS[1])):
        paths[name] = tmp_path / name
        paths[name].write_text("\n".join(lines) + "\n", encoding="utf-8")
    return paths


def test_bleu_two_references_prints_score_and_signature(files, capsys):
    assert main(["bleu", str(files["hyp"]), str(files["ref1"]), str(files["ref2"])]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "BLEU = 48.53 82.4/50.0/45.5/37.5 (BP = 0.943 ratio = 0.944 hyp_len = 17 ref_len = 18)"
    assert re.fullmatch(r"signature: nrefs:2\|case:mixed\|eff:no\|tok:13a\|smooth:exp\|version:.+", out[1])


def test_stdin_and_several_metrics_after_one_flag(files, capsys, monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.StringIO("\n".join(SYS) + "\n"))
    assert main(["bleu", "-", str(files["ref1"]), str(files["ref2"]), "-m", "bleu", "chrf", "ter"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("BLEU = 48.53") and out[2] == "chrF2 = 59.73" and out[4].startswith("TER = ")


def test_paired_bootstrap_option(files, tmp_path, capsys):
    other = tmp_path / "other"
    other.write_text("The cat.\nNothing.\nHe ran.\n", encoding="utf-8")
    assert main(["bleu", str(other), str(files["ref1"]), str(files["ref2"]), "--paired-bs",
                 str(files["hyp"]), "--n-bootstrap", "100"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("BLEU: baseline 48.53") and "bs:100|seed:12345" in out


def test_mismatched_lines_is_one_clear_error(files, tmp_path, capsys):
    short = tmp_path / "short"
    short.write_text("one line\n", encoding="utf-8")
    assert main(["bleu", str(files["hyp"]), str(short)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "short: 1 reference lines but 3 hypothesis lines" in err and "fix:" in err


def test_unknown_tokenizer_and_empty_files_are_clear_errors(files, tmp_path, capsys):
    assert main(["bleu", str(files["hyp"]), str(files["ref1"]), "--tokenize", "foo"]) == 2
    assert "unknown BLEU tokenizer 'foo'; fix: use one of none, zh, 13a" in capsys.readouterr().err
    empty = tmp_path / "empty"
    empty.write_text("", encoding="utf-8")
    assert main(["bleu", str(empty), str(empty)]) == 2
    assert "no hypotheses to score" in capsys.readouterr().err


def _perturb(lines, chinese=False):
    """A deterministic 'system output': drop every 5th word (or character) and swap neighbours."""
    out = []
    for i, line in enumerate(lines):
        units = list(line) if chinese else line.split()
        units = [u for j, u in enumerate(units) if (j + i) % 5 != 4]
        if len(units) > 3 and i % 3 == 0:
            units[1], units[2] = units[2], units[1]
        out.append(("" if chinese else " ").join(units))
    return out


@pytest.mark.slow
@pytest.mark.parametrize("pair,ref,tok", [("de-en", "en", None), ("en-de", "de", None),
                                          ("zh-en", "en", None), ("en-zh", "zh", "zh")])
def test_equals_sacrebleu_command_line_on_wmt21(shared_data, tmp_path, capsys, pair, ref, tok):
    ref_path = shared_data / "wmt21-news" / f"newstest2021.{pair}.ref.A.{ref}"
    lines = ref_path.read_text(encoding="utf-8").splitlines()
    hyp = tmp_path / "hyp"
    hyp.write_text("\n".join(_perturb(lines, chinese=ref == "zh")) + "\n", encoding="utf-8")
    sacre = shutil.which("sacrebleu")
    cmd = [sacre] if sacre else [sys.executable, "-m", "sacrebleu"]
    tok_args = ["--tokenize", tok] if tok else []
    res = subprocess.run([*cmd, str(ref_path), "-i", str(hyp), "-m", "bleu", "chrf", "ter", "-b", "-w", "4",
                          *tok_args], capture_output=True, text=True, check=True)
    expected = [float(x) for x in json.loads(res.stdout)]
    assert main(["bleu", str(hyp), str(ref_path), "-m", "bleu", "chrf", "ter", *tok_args]) == 0
    out = capsys.readouterr().out.splitlines()
    got = [float(re.match(r"\S+ = ([\d.]+)", line).group(1)) for line in out[0::2]]
    assert got == pytest.approx(expected, abs=0.01)
    if ref == "zh":
        assert "tok:zh" in out[1]
        # without --tokenize, Chinese references pick zh on their own
        assert main(["bleu", str(hyp), str(ref_path)]) == 0
        assert float(capsys.readouterr().out.split()[2]) == pytest.approx(expected[0], abs=0.01)
