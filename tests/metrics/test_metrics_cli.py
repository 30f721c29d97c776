"""``seqkit bleu``: sacrebleu's own command line (its parser, its ``main``, its defaults) with seqkit's
additions -- a hint for Chinese references scored with 13a, the argument order cannot silently score
the wrong file, local copies of named test sets, one-line errors -- and the same output as the
``sacrebleu`` command for every flag."""

import io
import json
import os
import shutil
import subprocess
import sys

import pytest

from seqkit.cli import main

REFS = [["The dog bit the man.", "It was not unexpected.", "The man bit him first."],
        ["The dog had bit the man.", "No one was surprised.", "The man had bitten the dog."]]
SYS = ["The dog bit the man.", "It wasn't surprising.", "The man had just bitten him."]
OTHER = ["The dog bit a man.", "It was surprising.", "The man bit him."]


@pytest.fixture
def files(tmp_path):
    paths = {}
    for name, lines in (("hyp", SYS), ("ref1", REFS[0]), ("ref2", REFS[1]), ("other", OTHER)):
        paths[name] = tmp_path / name
        paths[name].write_text("\n".join(lines) + "\n", encoding="utf-8")
    return paths


def sacrebleu_command(args, stdin=None):
    exe = shutil.which("sacrebleu")
    cmd = [exe] if exe else [sys.executable, "-m", "sacrebleu"]
    res = subprocess.run([*cmd, *map(str, args)], input=stdin, capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    return res.stdout


def seqkit_bleu(capsys, args):
    capsys.readouterr()
    assert main(["bleu", *map(str, args)]) == 0
    return capsys.readouterr().out


def test_sacrebleu_readme_numbers(files, capsys):
    out = json.loads(seqkit_bleu(capsys, [files["ref1"], files["ref2"], "-i", files["hyp"]]))
    assert out["score"] == 48.5 and out["signature"].startswith("nrefs:2|case:mixed|eff:no|tok:13a|smooth:exp|")
    lines = seqkit_bleu(capsys, [files["ref1"], files["ref2"], "-i", files["hyp"], "-m", "bleu", "chrf",
                                 "-f", "text", "-w", "2"]).splitlines()
    assert lines[0].endswith(" = 48.53 82.4/50.0/45.5/37.5 (BP = 0.943 ratio = 0.944 hyp_len = 17 ref_len = 18)")
    assert lines[1].endswith(" = 59.73")


# Every flag the issue names, and the rest of sacrebleu's reporting and metric flags.
FLAGS = [[], ["-b"], ["-b", "-w", "3"], ["-f", "text"], ["-f", "text", "-sh"], ["-lc"], ["-tok", "char"],
         ["-tok", "intl", "-s", "floor", "-sv", "0.1"], ["-m", "chrf", "--chrf-word-order", "2"],
         ["-m", "ter", "--ter-case-sensitive", "--ter-no-punct"], ["-m", "bleu", "chrf", "ter", "-f", "text"],
         ["-sl", "-f", "text"], ["-sl", "-m", "chrf", "-b"], ["--confidence", "--confidence-n", "30", "-f", "text"],
         ["-nr", "1", "-f", "text", "--force"]]


@pytest.mark.parametrize("flags", FLAGS, ids=[" ".join(f) or "defaults" for f in FLAGS])
def test_same_output_as_the_sacrebleu_command(files, capsys, flags):
    args = [files["ref1"], files["ref2"], "-i", files["hyp"], *flags]
    assert seqkit_bleu(capsys, args) == sacrebleu_command(args)


@pytest.mark.parametrize("flags", [["--paired-bs", "-pbsn", "40"], ["--paired-ar", "-parn", "40", "-lc"], []],
                         ids=["paired-bs", "paired-ar lowercase", "several systems"])
def test_several_systems_and_paired_tests(files, capsys, flags):
    args = [files["ref1"], "-i", files["hyp"], files["other"], "-f", "text", "-nc", *flags]
    out = seqkit_bleu(capsys, args)
    assert out == sacrebleu_command(args)
    assert str(files["other"]) in out
    if "-lc" in flags:
        assert "case:lc" in out  # -lc is not dropped under a paired test


def test_hypotheses_on_stdin_with_tab_separated_systems(files, capsys, monkeypatch):
    text = "".join(f"{a}\t{b}\n" for a, b in zip(SYS, OTHER))
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(text.encode())))
    args = [files["ref1"], "-f", "text"]
    assert seqkit_bleu(capsys, args) == sacrebleu_command(args, stdin=text)


def test_chinese_references_are_scored_as_the_sacrebleu_command_scores_them(tmp_path, capsys):
    ref, hyp = tmp_path / "ref.zh", tmp_path / "hyp.zh"
    ref.write_text("我们今天去北京。\n他喜欢读书和写字。\n", encoding="utf-8")
    hyp.write_text("我们明天去北京。\n他喜欢读书。\n", encoding="utf-8")
    capsys.readouterr()
    assert main(["bleu", str(ref), "-i", str(hyp)]) == 0
    out, err = capsys.readouterr()
    assert out == sacrebleu_command([ref, "-i", hyp])  # sacreBLEU's default: 13a
    assert "tok:13a" in json.loads(out)["signature"]
    assert err.count("\n") == 1 and "--tokenize zh" in err  # and a one-line hint how to get zh
    # zh exactly when sacreBLEU picks it: asked for, or a Chinese target language
    for flags in (["-tok", "zh"], ["-l", "en-zh"]):
        out = seqkit_bleu(capsys, [ref, "-i", hyp, *flags])
        assert out == sacrebleu_command([ref, "-i", hyp, *flags]) and "tok:zh" in json.loads(out)["signature"]
    assert main(["bleu", str(ref), "-i", str(hyp), "-q"]) == 0
    assert capsys.readouterr().err == ""  # -q: no hint either


def test_paired_json_table_with_chrf_is_written(files, capsys):
    # sacreBLEU's JSON writer of the multi-system table meets numpy float32 from chrF's bootstrap
    args = [files["ref1"], "-i", files["hyp"], files["other"], "--paired-bs", "-m", "bleu", "chrf",
            "--chrf-word-order", "2", "-pbsn", "40"]
    table = json.loads(seqkit_bleu(capsys, args))
    assert [row["system"] for row in table] == [f"Baseline: {files['hyp']}", str(files["other"])]
    assert all(isinstance(row["chrF2++"]["mean"], float) for row in table)
    assert json.loads(seqkit_bleu(capsys, [*args, "-f", "json"])) == table


def test_old_order_is_refused_with_the_right_command(files, capsys, monkeypatch):
    monkeypatch.setattr(sys.stdin, "isatty", lambda: True, raising=False)
    assert main(["bleu", str(files["hyp"]), str(files["ref1"])]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "sacrebleu's order is REF [REF ...] -i HYP" in err
    assert f"seqkit bleu {files['hyp']} -i {files['ref1']}" in err


def test_empty_stdin_explains_the_order(files, capsys, monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"")))
    assert main(["bleu", str(files["hyp"]), str(files["ref1"])]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: System and reference streams have different lengths")
    assert "read from stdin" in err and "REF [REF ...] -i HYP" in err


@pytest.mark.parametrize("args, message", [
    (["REF", "-i", "HYP", "--bogus"], "unrecognized arguments: --bogus"),
    (["REF", "-i", "HYP", "-tok", "foo"], "argument --tokenize/-tok: invalid choice: 'foo'"),
    (["REF", "-i", "missing.txt"], "missing.txt: no such file"),
    (["SHORT", "-i", "HYP"], "System and reference streams have different lengths"),
    (["REF", "-i", "HYP", "-sl", "-m", "bleu", "chrf"], "Only one metric can be used in sentence-level mode"),
    (["-i", "HYP"], "no reference files"),
])
def test_errors_are_one_line_and_status_2(files, tmp_path, capsys, args, message):
    short = tmp_path / "short"
    short.write_text("one line\n", encoding="utf-8")
    names = {"REF": files["ref1"], "HYP": files["hyp"], "SHORT": short}
    assert main(["bleu", *[str(names.get(a, a)) for a in args]]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and message in err, err


def test_offline_download_is_one_line(files, capsys, monkeypatch):
    import urllib.request

    def no_network(*a, **k):
        raise urllib.error.URLError("no network")

    monkeypatch.setattr(urllib.request, "urlopen", no_network)
    monkeypatch.setenv("SACREBLEU", str(files["hyp"].parent / "sacrebleu-home"))
    import sacrebleu.utils

    monkeypatch.setattr(sacrebleu.utils, "SACREBLEU_DIR", str(files["hyp"].parent / "sacrebleu-home"))
    assert main(["bleu", str(files["ref1"]), "-i", str(files["hyp"]), "-tok", "flores200", "-q"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "could not download" in err and "~/.sacrebleu" in err


def test_named_test_set_from_a_local_copy(shared_data, tmp_path, capsys, monkeypatch):
    import sacrebleu.dataset

    monkeypatch.setattr(sacrebleu.dataset.DATASETS["wmt21"], "_outdir", str(tmp_path / "nothing-cached"))
    monkeypatch.setenv("SEQKIT_DATA", str(shared_data))
    ref = shared_data / "wmt21-news" / "newstest2021.de-en.ref.A.en"
    src = shared_data / "wmt21-news" / "newstest2021.de-en.src.de"
    out = seqkit_bleu(capsys, ["-t", "wmt21", "-l", "de-en", "--echo", "src"]).splitlines()
    assert out == src.read_text(encoding="utf-8").splitlines()
    hyp = tmp_path / "hyp"
    hyp.write_text(src.read_text(encoding="utf-8"), encoding="utf-8")  # the source as a (bad) translation
    named = json.loads(seqkit_bleu(capsys, ["-t", "wmt21", "-l", "de-en", "-i", hyp]))
    by_file = json.loads(sacrebleu_command([ref, "-i", hyp, "-l", "de-en"]))
    assert named == by_file


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
@pytest.mark.parametrize("pair,ref", [("de-en", "en"), ("en-de", "de"), ("zh-en", "en"), ("en-zh", "zh")])
def test_equals_sacrebleu_command_line_on_wmt21(shared_data, tmp_path, capsys, pair, ref):
    ref_path = shared_data / "wmt21-news" / f"newstest2021.{pair}.ref.A.{ref}"
    lines = ref_path.read_text(encoding="utf-8").splitlines()
    hyp = tmp_path / "hyp"
    hyp.write_text("\n".join(_perturb(lines, chinese=ref == "zh")) + "\n", encoding="utf-8")
    args = [ref_path, "-i", hyp, "-m", "bleu", "chrf", "ter", "-w", "4", "-f", "text",
            *(["-tok", "zh"] if ref == "zh" else [])]
    assert seqkit_bleu(capsys, args) == sacrebleu_command(args)


#: sacreBLEU's own ``main`` with only its JSON writer given numpy scalars as Python numbers (the
#: ``sacrebleu`` command stops in ``json.dumps`` on chrF's float32 in the paired JSON table).
SACREBLEU_PLAIN_JSON = (
    "import json, sys\n_dumps = json.dumps\n"
    "json.dumps = lambda obj, **kw: _dumps(obj, default=lambda o: o.item(), **kw)\n"
    "from sacrebleu.sacrebleu import main\nsys.argv[0] = 'sacrebleu'\nsys.exit(main())\n")


@pytest.mark.parametrize("flags", [[], ["--paired-bs", "-m", "bleu", "chrf"],
                                   ["--paired-bs", "-m", "bleu", "chrf", "-f", "text"],
                                   ["--paired-bs", "-m", "bleu", "chrf", "--chrf-word-order", "2"]],
                         ids=["defaults", "paired-bs json", "paired-bs text", "paired-bs chrF++ json"])
@pytest.mark.parametrize("pair,ref", [("en-zh", "zh"), ("de-en", "en")])
def test_seqkit_bleu_command_equals_the_sacrebleu_command_on_wmt21(shared_data, tmp_path, pair, ref, flags):
    """Both as subprocesses, sacreBLEU's default bootstrap seed (SACREBLEU_SEED unset: 12345) in both."""
    ref_path = shared_data / "wmt21-news" / f"newstest2021.{pair}.ref.A.{ref}"
    lines = ref_path.read_text(encoding="utf-8").splitlines()
    once = _perturb(lines, chinese=ref == "zh")
    systems = [tmp_path / "sys1", tmp_path / "sys2"]  # a system, and a worse one (perturbed twice)
    for path, out in zip(systems, (once, _perturb(once, chinese=ref == "zh"))):
        path.write_text("\n".join(out) + "\n", encoding="utf-8")
    args = [str(ref_path), "-i", *map(str, systems if flags else systems[:1]), *flags]
    env = {k: v for k, v in os.environ.items() if k != "SACREBLEU_SEED"}
    theirs_cmd = [sys.executable, "-c", SACREBLEU_PLAIN_JSON] if "--paired-bs" in flags and "text" not in flags \
        else [shutil.which("sacrebleu") or sys.executable, *([] if shutil.which("sacrebleu") else ["-m", "sacrebleu"])]
    theirs = subprocess.run([*theirs_cmd, *args], capture_output=True, text=True, env=env)
    ours = subprocess.run([sys.executable, "-m", "seqkit", "bleu", *args], capture_output=True, text=True, env=env)
    assert theirs.returncode == 0 and ours.returncode == 0, theirs.stderr[-500:] + ours.stderr[-500:]
    assert ours.stdout == theirs.stdout and ours.stdout.strip()
    assert ("look Chinese" in ours.stderr) == (ref == "zh")  # the hint, on stderr only
