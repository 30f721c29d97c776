"""Every script in ``benchmarks/`` runs end to end at its smoke size, so a library change that breaks a
benchmark fails here rather than months later on a quiet machine.

Each script runs in a subprocess as a user runs it (``python benchmarks/NAME.py --smoke``, from an empty
folder that must stay empty). The tests assert no timing: only that the script ends with
status 0, prints the header (command, versions, machine) and its table with the expected rows and
columns, and that the figures are sane (positive finite rates, BLEU in [0, 100], accuracies in
[0, 1]). Peers that are missing must be reported as ``skipped: X not installed``: one test hides the
optional peers (kenlm, NLTK, CTranslate2, gensim) from the scripts and checks exactly that.
``benchmarks/serve_load.py`` is exercised by ``tests/serve/test_server.py``.
"""

from __future__ import annotations

import math
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
BENCH = REPO / "benchmarks"

# a sitecustomize that makes the named modules unimportable, as if not installed (children inherit it)
HIDE = """
import sys
HIDDEN = set({names!r})

class _Hide:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in HIDDEN:
            raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
        return None

sys.meta_path.insert(0, _Hide())
"""


def run(script: str, *args: str, tmp_path: Path, data: Path | None = None, hide: tuple[str, ...] = ()) -> str:
    """stdout of ``python benchmarks/SCRIPT ARGS`` (run from ``tmp_path``); fails with its output unless
    it ends with status 0 and starts with the header."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}  # the usual SEQKIT_CACHE: kernels compile once
    if data is not None:
        env["SEQKIT_DATA"] = str(data)
    if hide:
        shim = tmp_path / "hide"
        shim.mkdir(exist_ok=True)
        (shim / "sitecustomize.py").write_text(HIDE.format(names=sorted(hide)), encoding="utf-8")
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(shim), env.get("PYTHONPATH", "")) if p)
    proc = subprocess.run([sys.executable, str(BENCH / script), *args], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == 0, f"{script} failed:\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}"
    lines = proc.stdout.splitlines()
    assert lines[0].startswith("command: python") and f"benchmarks/{script}" in lines[0], lines[:3]
    assert re.match(r"versions: python [\d.]+, torch \S+, seqkit \S+", lines[1]), lines[1]
    assert re.match(r"machine: .*\d+ CPUs \(\d+ usable\).*load average [\d.]+ [\d.]+ [\d.]+ at start", lines[2]), lines[2]
    return proc.stdout


def tables(out: str) -> list[tuple[list[str], list[list[str]]]]:
    """The Markdown tables printed: (column names, rows of cells)."""
    found, block = [], []
    for line in [*out.splitlines(), ""]:
        if line.startswith("|") and line.endswith("|"):
            block.append([c.strip() for c in line[1:-1].split("|")])
        elif block:
            assert len(block) >= 2 and set("".join(block[1])) <= set("-: "), block
            assert all(len(row) == len(block[0]) for row in block), block
            found.append((block[0], block[2:]))
            block = []
    return found


def the_table(out: str, first_column: str) -> tuple[list[str], list[list[str]]]:
    """The one table whose first column is named ``first_column``."""
    matches = [t for t in tables(out) if t[0][0] == first_column]
    assert len(matches) == 1, f"expected one table starting with {first_column!r} in:\n{out}"
    return matches[0]


def number(cell: str) -> float:
    """A printed figure as a float (thousands separators, ``x``, ``%`` and units dropped); must be finite."""
    match = re.match(r"^[+-]?[\d,]*\.?\d+(e[+-]?\d+)?", cell.replace("`", "").strip())
    assert match, f"not a number: {cell!r}"
    value = float(match.group(0).replace(",", ""))
    assert math.isfinite(value), cell
    return value


def positive(cell: str) -> float:
    value = number(cell)
    assert value > 0, cell
    return value


def column(table: tuple[list[str], list[list[str]]], name: str) -> list[str]:
    columns, rows = table
    return [row[columns.index(name)] for row in rows]


# ------------------------------------------------------------------------------------------ the scripts

def check_vectors(out: str, hidden: bool = False) -> None:
    t = the_table(out, "loader")
    assert t[0] == ["loader", "median s", "x gensim", "peak MB above baseline", "x matrix"]
    loaders = column(t, "loader")
    assert loaders == (["seqkit", "seqkit-cached"] if hidden else ["gensim", "seqkit", "seqkit-cached"])
    for row in t[1]:
        positive(row[1]), number(row[3]), number(row[4])
    if hidden:
        assert "skipped: gensim not installed" in out
    else:
        assert [positive(x) for x in column(t, "x gensim")][0] == 1.0
        assert re.search(r"rows: gensim (\d+), seqkit \1; same vectors on probed keys .*: True", out), out


def check_gensim_kv(out: str) -> None:
    t = the_table(out, "method")
    assert len(t[1]) == 15 and column(t, "equal") == ["yes"] * 15
    assert "all equal: True" in out


def check_bleu_cli(out: str) -> None:
    t = the_table(out, "test set")
    assert column(t, "test set") == ["de-en", "de-en", "en-zh", "en-zh"]
    for cell in column(t, "sacrebleu") + column(t, "seqkit bleu"):
        assert 0 <= number(cell) <= 100
    assert column(t, "same output") == ["yes"] * 4


def check_tokenizers(out: str) -> None:
    t = the_table(out, "task")
    assert column(t, "task") == ["spm encode_batch (pieces)", "spm encode_ids_batch", "spm decode_ids_batch",
                                 "spm decode_batch (pieces)", "spm encode, line by line", "jieba accurate",
                                 "jieba search", "jieba accurate, no HMM"]
    for row in t[1]:
        positive(row[1]), positive(row[2]), positive(row[3])


def check_vision(out: str) -> None:
    t = the_table(out, "model")
    assert [r[:2] for r in t[1]] == [["lenet", "seqkit"], ["lenet", "torch"], ["lenet", "seqkit / torch"]]
    for row in t[1][:2]:
        assert 0 <= number(row[2]) <= 1
        positive(row[4])
    positive(t[1][2][4])


def check_word2vec(out: str) -> None:
    t = the_table(out, "")
    assert column(t, "") == ["gensim", "seqkit", "seqkit / gensim"]
    for row in t[1][:2]:
        positive(row[1])
        assert 0 <= number(row[3]) <= 100 and -1 <= number(row[4]) <= 1
    positive(t[1][2][1])


def check_ngram(out: str, hidden: bool = False) -> None:
    t = the_table(out, "order")
    assert column(t, "order") == ["3"]
    (row,) = t[1]
    ppl = number(row[1])
    assert ppl > 1
    positive(row[5]), positive(row[6])
    if hidden:
        assert "skipped: kenlm not installed" in out and "skipped: nltk not installed" in out
        assert row[3] == row[7] == "-"
    else:
        # the kenlm module is optional (CI installs it best effort; .ci/oldest's environment has none)
        if "skipped: kenlm not installed" in out:
            assert row[3] == row[7] == "-"
        else:
            assert number(row[3]) == pytest.approx(ppl, rel=1e-5)  # kenlm reads seqkit's ARPA to the same model
            positive(row[7])
        assert "NLTK KneserNeyInterpolated order 3" in out
    if "skipped: KenLM lmplz not installed" in out:
        assert row[2] == row[4] == row[8] == "-"
    else:
        assert number(row[2]) == pytest.approx(ppl, rel=2e-3)
        positive(row[8])  # the train command against lmplz
    if "skipped: kenlm not installed" in out:
        assert row[9] == row[10] == "-"
    else:
        positive(row[9]), positive(row[10])  # first load, one-thread scoring against kenlm
    assert "the command as typed, start-up included" in out
    startup = the_table(out, "command (100 lines)")
    assert [r[0] for r in startup[1]][2:] == ["seqkit lm ngram train", "seqkit lm ngram ppl", "seqkit bleu",
                                              "seqkit tokenize", "seqkit vocab build"]
    for r in startup[1]:
        positive(r[1])


def check_rnn_lm(out: str, speed: bool = False) -> None:
    if speed:
        sides = the_table(out, "side")
        assert column(sides, "side") == ["plain", "plain+alloc", "seqkit"]
        for row in sides[1]:
            positive(row[1]), positive(row[2])
    else:
        assert all(columns[0] != "side" for columns, _ in tables(out))
    runs = the_table(out, "run")
    assert column(runs, "run") == ["plain", "seqkit", "random"]
    for row in runs[1]:
        assert number(row[3]) > 1 and number(row[4]) > 1
        positive(row[5])


def check_nmt(out: str) -> None:
    assert "skipped: JoeyNMT not installed" in out
    t = the_table(out, "figure")
    figures = {row[0]: row for row in t[1]}
    assert list(figures) == ["training target tokens/s (wall)", "training target tokens per CPU-second",
                             "updates in 120 s budget", "beam-5 sentences/s (wall, 8 sents)",
                             "beam-5 sentences per CPU-second", "test BLEU after 120 s (JoeyNMT: after 60 min)"]
    positive(figures["training target tokens/s (wall)"][1])
    assert number(figures["updates in 120 s budget"][1]) == 3
    positive(figures["beam-5 sentences/s (wall, 8 sents)"][1])
    assert 0 <= number(figures["test BLEU after 120 s (JoeyNMT: after 60 min)"][1]) <= 100
    assert "signature: nrefs:1|case:mixed" in out


def check_decode(out: str, hidden: bool = False) -> None:
    t = the_table(out, "engine")
    engines = ["seqkit float32", "seqkit fp32 unpacked", "seqkit int8", "seqkit int8 p1"] + (
        [] if hidden else ["ct2 float32", "ct2 int8", "ct2 int8 p1"])
    # the same, with a vocabulary shortlist (the unpacked row is only there to show what packing gains)
    engines += [f"{e} +vmap" for e in engines if not e.endswith(("p1", "unpacked"))]
    assert [(r[0], r[1], r[3]) for r in t[1]] == [(e, b, c) for b in ("1", "2") for c in ("all", "4") for e in engines]
    for row in t[1]:
        positive(row[4]), positive(row[5])
        assert 0 <= number(row[6]) <= 100
        assert row[7] == "-" if hidden else positive(row[7])
        assert row[8] == "-" if hidden or row[0].endswith("+vmap") else positive(row[8])
    if hidden:
        assert "skipped: ctranslate2 not installed" in out
    else:  # the same weights in both engines: float32 greedy search gives the same outputs
        assert "beam 1: float32 outputs equal in 12 of 12 sentences" in out


def check_threads(out: str) -> None:
    t = the_table(out, "load")
    assert t[0] == ["load", "workload", "default (threads)", "1 thread", "default / best"]
    assert column(t, "workload") == ["translate (sent/s)", "nmt-train (tok/s)", "w2v-train (words/s)",
                                     "ngram-ppl (tok/s)"]
    for row in t[1]:
        positive(row[2]), positive(row[3]), positive(row[4])
    readme = the_table(out, "busy processes")
    assert readme[0] == ["busy processes", "README example (tok/s)", "seqkit recipe run (tok/s)", "example / command"]
    positive(readme[1][0][1]), positive(readme[1][0][2]), positive(readme[1][0][3])


def check_scale(out: str, multi30k: bool = False) -> None:
    t = the_table(out, "pairs")
    assert [(r[0], r[2]) for r in t[1]] == [("3,000", "1000")]
    for row in t[1]:
        positive(row[4]), positive(row[9]), positive(row[13])
        assert number(row[12]) >= 0
    if not multi30k:
        assert "Multi30k" not in out
        return
    m30k = the_table(out, "Multi30k training")
    assert column(m30k, "Multi30k training") == ["in-memory lists", "prepared"]
    positive(m30k[1][0][1]), positive(m30k[1][1][1]), positive(m30k[1][1][2])


def check_int8(out: str) -> None:
    t = the_table(out, "workload")
    ways = ["float32", "quantize_dynamic", "fbgemm", "onednn", "dual, every layer", "chosen", "chosen, float embed"]
    assert t[0] == ["workload", *ways]
    assert column(t, "workload") == [
        *(f"decode_step x3, batch {b} beam {k} (ms)" for b, k in ((1, 5), (32, 5), (150, 5), (32, 1))),
        *(f"output projection, {n} rows (us)" for n in (5, 40, 160, 750)),
        "model tensors (MB)", "largest log-prob change from float32, first step"]
    for row in t[1][:4] + t[1][8:9]:
        for cell in row[1:]:
            positive(cell)
    for row in t[1][4:8]:
        assert row[-1] == "-" and all(number(c) > 0 for c in row[1:-1])
    diffs = [number(c) for c in t[1][9][1:]]
    assert diffs[0] == 0 and all(0 < d < 1 for d in diffs[1:])  # int8 moves the log-probabilities, a little
    shortlist = the_table(out, "shortlist projection per batch")
    assert column(shortlist, "shortlist projection per batch") == ["gathered int8 rows", "float rows quantized"]


#: script -> (needs the real corpora, check of its output)
SMOKE = {
    "vectors.py": (False, check_vectors),
    "gensim_kv.py": (False, check_gensim_kv),
    "bleu_cli.py": (True, check_bleu_cli),
    "tokenizers.py": (True, check_tokenizers),
    "vision.py": (False, check_vision),
    "word2vec.py": (False, check_word2vec),
    "ngram.py": (True, check_ngram),
    "rnn_lm.py": (True, check_rnn_lm),
    "nmt.py": (True, check_nmt),
    "decode.py": (False, check_decode),
    "int8.py": (False, check_int8),
    "threads.py": (False, check_threads),
    "scale.py": (True, check_scale),
}
# gensim_kv is small by default, the others take --smoke; the parts that start several more processes
# (rnn_lm's throughput rounds, scale's Multi30k comparison) are the slow tests below
ARGS = {"gensim_kv.py": [], "scale.py": ["--smoke", "--skip-multi30k"], "rnn_lm.py": ["--smoke", "--speed-rounds", "0"]}


def test_every_benchmark_has_a_smoke_test():
    scripts = {p.name for p in BENCH.glob("*.py") if not p.name.startswith("_")}
    assert scripts == set(SMOKE) | {"serve_load.py"}
    assert "serve_load.main(" in (REPO / "tests/serve/test_server.py").read_text(encoding="utf-8")


@pytest.mark.parametrize("script", list(SMOKE))
def test_benchmark_runs_at_smoke_size(script, tmp_path, request):
    needs_data, check = SMOKE[script]
    if script == "vision.py":
        pytest.importorskip("sklearn", reason="the digits come with scikit-learn")
    data = request.getfixturevalue("shared_data") if needs_data else None
    check(run(script, *ARGS.get(script, ["--smoke"]), tmp_path=tmp_path, data=data))
    leftovers = list(tmp_path.iterdir())
    assert leftovers == [], f"{script} left files in its working folder: {leftovers}"


@pytest.mark.slow
def test_rnn_lm_throughput_rounds_in_their_own_processes(tmp_path, shared_data):
    # three more processes, each importing torch and loading PTB (~8-15 s on a busy 2-core machine)
    check_rnn_lm(run("rnn_lm.py", "--smoke", tmp_path=tmp_path, data=shared_data), speed=True)


@pytest.mark.slow
def test_scale_compares_in_memory_and_prepared_multi30k(tmp_path, shared_data):
    # two more training processes (~5 s each on a busy 2-core machine)
    check_scale(run("scale.py", "--smoke", tmp_path=tmp_path, data=shared_data), multi30k=True)


@pytest.mark.parametrize("script, hidden", [("ngram.py", ("kenlm", "nltk")), ("decode.py", ("ctranslate2",)),
                                            ("vectors.py", ("gensim",))])
def test_missing_peers_are_skipped_not_fatal(script, hidden, tmp_path, request):
    data = request.getfixturevalue("shared_data") if SMOKE[script][0] else None
    SMOKE[script][1](run(script, "--smoke", tmp_path=tmp_path, data=data, hide=hidden), hidden=True)
