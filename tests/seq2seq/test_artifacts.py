"""Artifacts and their contracts: one schema and one loader per artifact, checked on every load.

Every field of every artifact schema (``model.json``, a CTranslate2 export's ``seqkit.json``,
``scores.json``, ``best.json``, ``last.json``, ``rnn_lm.json``'s sizes, ``data.json``) is tried with a
wrong type, an out-of-range value and a huge one, through the commands that read it (``seqkit
translate``, ``seqkit export ct2``, ``seqkit average``, ``seqkit serve``'s loading, ``seqkit lm rnn
ppl``, resume): exit status 2, one line naming the file and the field. The huge ones, and sizes at
their bounds that the weights file does not hold, run in a subprocess whose peak RSS must stay under
1 GB (nothing is allocated before the checks). Then: a swapped tokenizer in an export, a mixed-
tokenizer ensemble and average, a stale export, damaged weights files and ``model.bin``, NaN weights,
and paths leading out of their folder are refused.

The runs are tiny and untrained (d_model 16, one layer each side, an 80-piece sentencepiece model):
loading is what is tested, not translation quality.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import torch
from limits import HANG_S

from seqkit.artifacts import Bool, Field, Int, ListOf, MapOf, Number, Obj, Scalar, Str, Tagged
from seqkit.cli import main
from seqkit.errors import SeqkitError
from seqkit.io import save_json, sha256_file
from seqkit.lm.rnn.model import _CONFIG_BOUNDS, DATA_JSON
from seqkit.seq2seq.export_folder import SEQKIT_JSON
from seqkit.seq2seq.model_folder import MODEL_JSON, save_model_dir
from seqkit.seq2seq.presets import build_model, model_config
from seqkit.seq2seq.training import SCORES_JSON
from seqkit.text import SentencePieceTokenizer
from seqkit.train.checkpoint import BEST_JSON, LAST_JSON, CheckpointManager, save_state, save_weights

EN_FR = Path(__file__).resolve().parents[2] / "data" / "en-fr"
CFG = model_config("transformer", "tiny", d_model=16, d_ff=32, n_heads=2, n_enc_layers=1, n_dec_layers=1, dropout=0.0)
SCORES = {"bleu": 1.5, "chrf": 12.25, "bleu_signature": "nrefs:1|case:mixed|eff:no|tok:13a|smooth:exp|version:2",
          "chrf_signature": "nrefs:1|case:mixed|eff:yes|nc:6|nw:0|space:no|version:2", "bleu_text": "BLEU = 1.50"}


def _lines(name: str, n: int) -> list[str]:
    return (EN_FR / name).read_text(encoding="utf-8").splitlines()[:n]


# -- the bad values of a field, from its schema ------------------------------------------------------
def bad_values(spec: Field) -> list[tuple[str, Any]]:
    """``(kind, value)``: a wrong type, a value out of range (or not among the choices), a huge one."""
    if isinstance(spec, Int):
        return [("type", "12"), ("range", spec.lo - 1), ("huge", max(10**12, spec.hi * 1024))]
    if isinstance(spec, Number):
        if spec.open_hi:
            out_of_range = spec.hi
        elif math.isfinite(spec.hi):
            out_of_range = spec.hi + 1
        else:
            out_of_range = math.nan
        return [("type", "0.5"), ("range", out_of_range), ("huge", math.inf if not math.isfinite(spec.hi) else 1e300)]
    if isinstance(spec, Bool):
        return [("type", "true"), ("range", 1), ("huge", [True] * 100_000)]
    if isinstance(spec, Scalar):
        return [("type", {"a": 1}), ("range", math.nan), ("huge", "x" * 200_000)]
    if isinstance(spec, Str):
        if spec.choices is not None:
            return [("type", 7), ("range", "nope"), ("huge", "x" * 200_000)]
        return [("type", 7), ("range", "not hex" if spec.pattern else "x" * (spec.max_len + 1)), ("huge", "x" * 200_000)]
    if isinstance(spec, MapOf):
        bad_key = "nope" if spec.key.choices else "x" * (spec.key.max_len + 1)
        return [("type", "x"), ("range", {bad_key: None}), ("huge", {f"k{i}": None for i in range(10_000)})]
    if isinstance(spec, Tagged):
        return [("type", []), ("range", {spec.tag: "lstm9000"}), ("huge", {spec.tag: "x" * 200_000})]
    if isinstance(spec, Obj):
        missing = {} if any(f.required for f in spec.fields.values()) else {"unknown_field": 1}
        return [("type", "x"), ("range", missing), ("huge", {f"k{i}": 0 for i in range(10_000)})]
    if isinstance(spec, ListOf):
        return [("type", "x"), ("range", [None]), ("huge", [0] * (spec.max_len + 1))]
    raise AssertionError(f"no bad values for {spec!r}")


VALID_MODEL = {"transformer": CFG, "rnn": model_config("rnn", "tiny", embed_dim=8, hidden_size=8)}


def cases(spec: Field, path: tuple = ()) -> list[tuple[tuple, str, Any, str | None]]:
    """``(path, kind, value, variant)`` for every field of ``spec`` (nested ones too); ``variant``:
    the architecture whose valid config the case starts from (a field of a tagged object)."""
    out = []
    if isinstance(spec, Tagged):
        for tag, variant in spec.variants.items():
            for key, sub in variant.fields.items():
                if key != spec.tag:
                    out += [(path + (key,), kind, value, tag) for kind, value in bad_values(sub)]
    elif isinstance(spec, Obj):
        for key, sub in spec.fields.items():
            out += cases(sub, path + (key,))
    elif isinstance(spec, ListOf):
        out += cases(spec.item, path + (0,))
    elif isinstance(spec, MapOf):
        out += cases(spec.value, path + (spec.key.choices[0] if spec.key.choices else "k",))
    if path:
        out += [(path, kind, value, None) for kind, value in bad_values(spec)]
    return out


def field_name(path: tuple) -> str:
    return "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path).lstrip(".")


def mutate(doc: Any, path: tuple, value: Any, variant: str | None) -> Any:
    """A copy of ``doc`` with ``value`` at ``path`` (inside a valid ``variant`` config, if given)."""
    doc = json.loads(json.dumps(doc))
    if variant is not None:
        parent = doc
        for p in path[:-2]:
            parent = parent[p]
        parent[path[-2]] = dict(VALID_MODEL[variant])
    target = doc
    for p in path[:-1]:
        if isinstance(target, list) and isinstance(p, int):
            target = target[p]
        else:
            target = target.setdefault(p, {})
    target[path[-1]] = value
    return doc


def ids(params: list) -> list[str]:
    return [f"{field_name(p) or 'root'}-{kind}" + (f"-{variant}" if variant else "") for p, kind, _, variant in params]


MODEL_CASES = cases(MODEL_JSON)
SEQKIT_JSON_CASES = cases(SEQKIT_JSON)
SCORES_CASES = cases(SCORES_JSON)
BEST_CASES = cases(BEST_JSON)
LAST_CASES = cases(LAST_JSON)
DATA_CASES = cases(DATA_JSON)
RNN_CONFIG_CASES = [((key,), kind, value, None) for key, hi in _CONFIG_BOUNDS.items()
                    for kind, value in bad_values(Int(lo=1, hi=hi))]


def test_every_schema_field_gets_three_bad_values():
    assert len(MODEL_CASES) >= 3 * (6 + 10 + 7)  # top level, transformer, rnn fields
    for table in (MODEL_CASES, SCORES_CASES, BEST_CASES, LAST_CASES, DATA_CASES, RNN_CONFIG_CASES):
        kinds = {}
        for path, kind, _, variant in table:
            kinds.setdefault((path, variant), set()).add(kind)
        assert all(k == {"type", "range", "huge"} for k in kinds.values())


# -- fixtures: two tiny runs with different tokenizers of one size --------------------------------------
@pytest.fixture(scope="module")
def tokenizers():
    a = SentencePieceTokenizer.train(_lines("train.en", 300) + _lines("train.fr", 300), vocab_size=80)
    b = SentencePieceTokenizer.train(_lines("train.fr", 600), vocab_size=80)
    assert len(a) == len(b) and a.pieces() != b.pieces()
    return a, b


def make_run(root: Path, tok: SentencePieceTokenizer, seed: int, *, export: bool = True, **info) -> Path:
    """RUN/spm.model, RUN/model/, RUN/scores.json, RUN/train/checkpoints/ (two best, a last pair and
    trained_with.json) and, with ``export``, RUN/ct2/."""
    root.mkdir(parents=True)
    tok.save(root / "spm.model")
    torch.manual_seed(seed)
    model = build_model(CFG, len(tok))
    (root / "model").mkdir()
    save_model_dir(root / "model", CFG, len(tok), root / "spm.model", model.state_dict(), src="en", tgt="fr", **info)
    save_json(root / "scores.json", SCORES)
    ckpt = root / "train" / "checkpoints"
    ckpt.mkdir(parents=True)
    best = []
    for step in (20, 10):
        state = {k: v + 0.01 * step for k, v in model.state_dict().items()}
        save_weights(ckpt / f"best-step-{step:08d}.safetensors", state)
        best.append({"step": step, "score": float(step), "file": f"best-step-{step:08d}.safetensors"})
    save_json(ckpt / "best.json", best)
    save_weights(ckpt / "step-00000020.safetensors", model.state_dict())
    save_state(ckpt / "step-00000020.state.pt", {"step": 20, "best": best})
    save_json(ckpt / "last.json", {"step": 20, "weights": "step-00000020.safetensors",
                                   "state": "step-00000020.state.pt"})
    save_json(ckpt / "trained_with.json", {"spm.model": sha256_file(root / "spm.model")})
    if export:
        from seqkit.seq2seq.export import export_ct2

        export_ct2(root)
    return root


@pytest.fixture(scope="module")
def runs(tmp_path_factory, tokenizers):
    """Run A (tokenizer a, exported), run B (tokenizer b, same sizes), run C (tokenizer a, jieba-cut source)."""
    pytest.importorskip("ctranslate2")
    root = tmp_path_factory.mktemp("artifacts")
    a = make_run(root / "a", tokenizers[0], 0)
    b = make_run(root / "b", tokenizers[1], 1, export=False)
    c = make_run(root / "c", tokenizers[0], 2, export=False, pretokenize={"src": "jieba"})
    return a, b, c


@pytest.fixture
def run(runs, tmp_path) -> Path:
    """A fresh copy of run A."""
    return Path(shutil.copytree(runs[0], tmp_path / "run", symlinks=True))


@pytest.fixture
def src(tmp_path) -> Path:
    path = tmp_path / "src.txt"
    path.write_text("the cat sat on the mat\nhello\n", encoding="utf-8")
    return path


@pytest.fixture
def no_server(monkeypatch):
    """``seqkit serve`` loads everything, then stops where it would start the server."""
    uvicorn = pytest.importorskip("uvicorn")

    def refuse(*args, **kwargs):
        raise AssertionError("the server would start: the bad artifact was accepted")

    monkeypatch.setattr(uvicorn, "run", refuse)


def refused(capsys, args: list, *named: str) -> str:
    """The command fails cleanly: status 2, one line, no traceback, each of ``named`` in it."""
    capsys.readouterr()
    status = main([str(a) for a in args])
    out, err = capsys.readouterr()
    assert status == 2, (args, out, err)
    assert err.startswith("error: ") and "Traceback" not in err, err
    assert len(err.strip().splitlines()) == 1, err
    for name in named:
        assert name in err, (name, err)
    return err


def write(path: Path, doc: Any) -> None:
    path.write_text(json.dumps(doc), encoding="utf-8")


# -- every field of every schema ----------------------------------------------------------------------------
@pytest.mark.parametrize("path, kind, value, variant", MODEL_CASES, ids=ids(MODEL_CASES))
def test_model_json_fields(capsys, run, src, tmp_path, no_server, path, kind, value, variant):
    file = run / "model" / "model.json"
    write(file, mutate(json.loads(file.read_text()), path, value, variant))
    name = field_name(path)
    refused(capsys, ["translate", "--run", run, "-i", src], "model.json", name)
    refused(capsys, ["export", "ct2", "--run", run, "-o", tmp_path / "export"], "model.json", name)
    refused(capsys, ["average", "--run", run, "-o", tmp_path / "avg.safetensors"], "model.json", name)
    refused(capsys, ["serve", "--run", run], "model.json", name)
    assert not (tmp_path / "export").exists() and not (tmp_path / "avg.safetensors").exists()


@pytest.mark.parametrize("path, kind, value, variant", SEQKIT_JSON_CASES, ids=ids(SEQKIT_JSON_CASES))
def test_export_seqkit_json_fields(capsys, run, src, no_server, path, kind, value, variant):
    file = run / "ct2" / "seqkit.json"
    write(file, mutate(json.loads(file.read_text()), path, value, variant))
    name = field_name(path)
    refused(capsys, ["translate", "--engine", "ct2", "--run", run / "ct2", "-i", src], "seqkit.json", name)
    refused(capsys, ["serve", "--engine", "ct2", "--run", run / "ct2"], "seqkit.json", name)


@pytest.mark.parametrize("path, kind, value, variant", SCORES_CASES, ids=ids(SCORES_CASES))
def test_scores_json_fields(capsys, run, no_server, path, kind, value, variant):
    write(run / "scores.json", mutate(SCORES, path, value, variant))
    refused(capsys, ["serve", "--run", run], "scores.json", field_name(path))


@pytest.mark.parametrize("path, kind, value, variant", BEST_CASES, ids=ids(BEST_CASES))
def test_best_json_fields(capsys, run, tmp_path, path, kind, value, variant):
    file = run / "train" / "checkpoints" / "best.json"
    write(file, mutate(json.loads(file.read_text()), path, value, variant))
    refused(capsys, ["average", "--run", run, "-o", tmp_path / "avg.safetensors"], "best.json", field_name(path))


@pytest.mark.parametrize("path, kind, value, variant", LAST_CASES, ids=ids(LAST_CASES))
def test_last_json_fields(run, path, kind, value, variant):
    folder = run / "train" / "checkpoints"
    write(folder / "last.json", mutate(json.loads((folder / "last.json").read_text()), path, value, variant))
    with pytest.raises(SeqkitError) as err:
        CheckpointManager(folder).load_last()  # what resume=true reads
    assert "last.json" in str(err.value) and field_name(path) in str(err.value) and "\n" not in str(err.value)


@pytest.mark.parametrize("content", ["[" * 100_000 + "]" * 100_000, "[]", '"a string"', " " * (2 << 20) + "{}",
                                     '{"vocab_size": ' + "9" * 5000 + "}", '{"vocab_size": NaN}', "{bad json"],
                         ids=["deep", "list-root", "string-root", "oversized", "5000-digits", "nan", "invalid"])
def test_model_json_as_a_whole(capsys, run, src, content):
    (run / "model" / "model.json").write_text(content, encoding="utf-8")
    refused(capsys, ["translate", "--run", run, "-i", src], "model.json")


@pytest.mark.parametrize("content", ["{}", "[" * 100_000 + "]" * 100_000, "x" * (2 << 20)],
                         ids=["object-root", "deep", "oversized"])
def test_best_json_as_a_whole(capsys, run, tmp_path, content):
    (run / "train" / "checkpoints" / "best.json").write_text(content, encoding="utf-8")
    refused(capsys, ["average", "--run", run, "-o", tmp_path / "avg.safetensors"], "best.json")


# -- lm_rnn's data.json and rnn_lm.json ------------------------------------------------------------------
@pytest.fixture(scope="module")
def rnn_run(tmp_path_factory):
    from seqkit.lm.rnn import RNNLM, save_rnn_lm
    from seqkit.text import Vocab

    run = tmp_path_factory.mktemp("rnn")
    vocab = Vocab(list("the cat sat"))
    save_rnn_lm(RNNLM(vocab_size=len(vocab), embed_dim=4, hidden_size=4, num_layers=1), run / "model")
    vocab.save(run / "model" / "vocab.json")
    save_json(run / "model" / "data.json", {"corpus": "x.txt", "level": "char", "eos_per_line": False,
                                            "tokenizer": {"name": "char", "options": {}}, "vocab_size": len(vocab),
                                            "train_tokens": 10, "valid_tokens": 2, "test_tokens": 2})
    (run / "text.txt").write_text("the cat sat\n", encoding="utf-8")
    return run


@pytest.mark.parametrize("path, kind, value, variant", DATA_CASES, ids=ids(DATA_CASES))
def test_lm_rnn_data_json_fields(capsys, rnn_run, tmp_path, path, kind, value, variant):
    run = Path(shutil.copytree(rnn_run, tmp_path / "run"))
    file = run / "model" / "data.json"
    write(file, mutate(json.loads(file.read_text()), path, value, variant))
    refused(capsys, ["lm", "rnn", "ppl", run, run / "text.txt"], "data.json", field_name(path))


@pytest.mark.parametrize("path, kind, value, variant", RNN_CONFIG_CASES, ids=ids(RNN_CONFIG_CASES))
def test_lm_rnn_config_sizes(capsys, rnn_run, tmp_path, path, kind, value, variant):
    run = Path(shutil.copytree(rnn_run, tmp_path / "run"))
    file = run / "model" / "rnn_lm.json"
    write(file, mutate(json.loads(file.read_text()), path, value, variant))
    refused(capsys, ["lm", "rnn", "ppl", run, run / "text.txt"], "rnn_lm.json", field_name(path))


def test_lm_rnn_tokenizer_model_must_be_inside(capsys, rnn_run, tmp_path):
    run = Path(shutil.copytree(rnn_run, tmp_path / "run"))
    file = run / "model" / "data.json"
    info = json.loads(file.read_text())
    for where in ("../../spm.model", "/etc/passwd"):
        info["tokenizer"] = {"name": "spm", "options": {"model": where}}
        write(file, info)
        refused(capsys, ["lm", "rnn", "ppl", run, run / "text.txt"], "data.json", "tokenizer.options.model")


# -- no allocation before the checks ------------------------------------------------------------------------
AT_BOUNDS = [  # each size within its bound, together far more than the tiny weights file holds
    {"model": {"arch": "transformer", "d_model": 8192, "n_heads": 8, "n_enc_layers": 64, "n_dec_layers": 64,
               "d_ff": 65536, "max_len": 4096}, "vocab_size": 1 << 20},
    {"model": {"arch": "rnn", "embed_dim": 8192, "hidden_size": 8192, "num_layers": 64, "cell": "lstm",
               "attention": "bahdanau", "bidirectional": True}, "vocab_size": 1 << 20},
    {"model": {**CFG, "d_model": 16 * 256, "n_heads": 2}},  # one size grown: 256 times the weights
]

PROBE = r"""
import json, resource, sys
from pathlib import Path
resource.setrlimit(resource.RLIMIT_AS, (6 << 30, 6 << 30))  # the code before the checks asked for terabytes
from seqkit.errors import SeqkitError
from seqkit.seq2seq.model_folder import open_model_folder, check_averaged
from seqkit.seq2seq.export_folder import open_export
from seqkit.seq2seq.engines import load_translator
from seqkit.lm.rnn.model import load_rnn_lm
jobs = json.loads(Path(sys.argv[1]).read_text())
accepted = []
for job in jobs:
    file = Path(job["file"])
    original = file.read_text()
    file.write_text(job["content"])
    loaders = {"model": [lambda: open_model_folder(job["run"]).build_model(),
                         lambda: check_averaged([Path(job["run"]) / "model" / "model.safetensors"], job["run"]),
                         lambda: load_translator(job["run"])],
               "export": [lambda: open_export(job["run"]), lambda: load_translator(job["run"], "ct2")],
               "rnn": [lambda: load_rnn_lm(job["run"])]}[job["kind"]]
    for load in loaders:
        try:
            load()
            accepted.append(job["name"])
        except SeqkitError:
            pass
    file.write_text(original)
# VmHWM: this process image's peak RSS. (getrusage's ru_maxrss would also carry the peak of the pytest
# process that forked it: Linux folds the pre-exec image's high-water mark into it.)
hwm = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM:"))
print(json.dumps({"maxrss_mb": hwm / 1024, "accepted": accepted}))
"""


def test_huge_sizes_allocate_nothing(run, rnn_run, tmp_path):
    """Every "huge" case of model.json, seqkit.json and rnn_lm.json, and sizes at their bounds that the
    weights do not hold, through the loaders, in one process: all refused, peak RSS under 1 GB."""
    rnn_run = Path(shutil.copytree(rnn_run, tmp_path / "rnn"))
    model_json = json.loads((run / "model" / "model.json").read_text())
    export_json = json.loads((run / "ct2" / "seqkit.json").read_text())
    rnn_json = json.loads((rnn_run / "model" / "rnn_lm.json").read_text())
    jobs = []
    for path, kind, value, variant in MODEL_CASES:
        if kind == "huge":
            jobs.append({"kind": "model", "run": str(run), "file": str(run / "model" / "model.json"),
                         "name": field_name(path), "content": json.dumps(mutate(model_json, path, value, variant))})
    for path, kind, value, variant in SEQKIT_JSON_CASES:
        if kind == "huge":
            jobs.append({"kind": "export", "run": str(run / "ct2"), "file": str(run / "ct2" / "seqkit.json"),
                         "name": field_name(path), "content": json.dumps(mutate(export_json, path, value, variant))})
    for path, kind, value, variant in RNN_CONFIG_CASES:
        if kind == "huge":
            jobs.append({"kind": "rnn", "run": str(rnn_run / "model"), "file": str(rnn_run / "model" / "rnn_lm.json"),
                         "name": field_name(path), "content": json.dumps(mutate(rnn_json, path, value, variant))})
    for i, change in enumerate(AT_BOUNDS):
        jobs.append({"kind": "model", "run": str(run), "file": str(run / "model" / "model.json"),
                     "name": f"at-bounds-{i}", "content": json.dumps({**model_json, **change})})
    jobs.append({"kind": "rnn", "run": str(rnn_run / "model"), "file": str(rnn_run / "model" / "rnn_lm.json"),
                 "name": "rnn-at-bounds", "content": json.dumps({**rnn_json, "vocab_size": 1 << 22, "embed_dim": 8192,
                                                                 "hidden_size": 8192, "num_layers": 64})})
    (tmp_path / "jobs.json").write_text(json.dumps(jobs))
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    out = subprocess.run([sys.executable, "-c", PROBE, str(tmp_path / "jobs.json")], capture_output=True, text=True,
                         env=env, timeout=HANG_S)
    assert out.returncode == 0, out.stderr[-2000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["accepted"] == []
    assert result["maxrss_mb"] < 1024, result


# -- where the weights came from ---------------------------------------------------------------------------
def test_the_intact_run_loads_everywhere(capsys, run, src, tmp_path, no_server):
    assert main(["translate", "--run", str(run), "-i", str(src), "--beam", "1"]) == 0
    assert main(["translate", "--engine", "ct2", "--run", str(run), "-i", str(src), "--beam", "1"]) == 0
    assert main(["average", "--run", str(run), "-o", str(tmp_path / "avg.safetensors")]) == 0
    assert main(["translate", "--run", str(run), "--weights", str(tmp_path / "avg.safetensors"), "-i", str(src)]) == 0
    from seqkit.serve.engine import run_info

    assert run_info(run)["test"]["bleu"] == SCORES["bleu"]
    assert run_info(run / "ct2")["vocab_size"] == 80  # a bare export: its seqkit.json
    CheckpointManager(run / "train" / "checkpoints").load_last()


def test_export_records_where_it_came_from(runs):
    a = runs[0]
    info = json.loads((a / "ct2" / "seqkit.json").read_text())
    assert info["source"]["model_folder"] == os.path.abspath(a / "model")
    assert info["source"]["weights_sha256"] == sha256_file(a / "model" / "model.safetensors")
    assert info["tokenizer_sha256"] == sha256_file(a / "ct2" / "spm.model") == sha256_file(a / "spm.model")
    assert info["vocab_size"] == 80 and info["ct2_quantization"] == "float32"
    assert info["files"]["model.bin"]["sha256"] == sha256_file(a / "ct2" / "model.bin")


def test_swapped_tokenizer_in_an_export_is_refused(capsys, run, runs, src):
    other = runs[1] / "spm.model"
    shutil.copy(other, run / "ct2" / "spm.model")
    refused(capsys, ["translate", "--engine", "ct2", "--run", run, "-i", src], "spm.model")
    # even with seqkit.json edited to the swapped file's hash, the pieces are not the vocabulary
    info = json.loads((run / "ct2" / "seqkit.json").read_text())
    write(run / "ct2" / "seqkit.json", {**info, "tokenizer_sha256": sha256_file(other)})
    refused(capsys, ["translate", "--engine", "ct2", "--run", run, "-i", src], "pieces", "vocabulary")


def test_mixed_tokenizer_ensemble_is_refused(capsys, runs, src):
    a, b, c = runs
    refused(capsys, ["translate", "--run", a, "--run", b, "-i", src], "tokenizer", str(b / "model"))
    refused(capsys, ["translate", "--run", a, "--run", c, "-i", src], "pretokenize", str(c / "model"))
    assert main(["translate", "--run", str(a), "--run", str(a), "-i", str(src), "--beam", "1"]) == 0


def test_mixed_tokenizer_average_is_refused(capsys, runs, run, tmp_path, src):
    a, b, _ = runs
    out = tmp_path / "avg.safetensors"
    refused(capsys, ["average", a / "model" / "model.safetensors", b / "model" / "model.safetensors", "-o", out],
            "tokenizer", str(b / "model" / "model.safetensors"))
    ckpt_b = b / "train" / "checkpoints" / "best-step-00000010.safetensors"
    refused(capsys, ["average", a / "model" / "model.safetensors", ckpt_b, "-o", out], "tokenizer", "best-step-00000010")
    # a run's checkpoints made with another tokenizer than its model folder's
    ckpt = run / "train" / "checkpoints"
    write(ckpt / "trained_with.json", {"spm.model": sha256_file(b / "spm.model")})
    refused(capsys, ["average", "--run", run, "-o", out], "tokenizer", "best-step")
    assert not out.exists()
    # an average records its tokenizer, and a run with another one refuses it as --weights
    assert main(["average", str(b / "model" / "model.safetensors"), str(ckpt_b), "-o", str(out)]) == 0
    refused(capsys, ["translate", "--run", a, "--weights", out, "-i", src], "another tokenizer", str(out))


def test_average_of_other_shapes_is_refused(capsys, run, tmp_path):
    weights = {k: v for k, v in build_model({**CFG, "d_ff": 48}, 80).state_dict().items()}
    save_weights(tmp_path / "other.safetensors", weights)
    refused(capsys, ["average", run / "model" / "model.safetensors", tmp_path / "other.safetensors",
                     "-o", tmp_path / "avg.safetensors"], "other.safetensors", "ff.w")


def test_stale_export_is_refused_with_the_command_that_rebuilds_it(capsys, run, src, tmp_path):
    from seqkit.seq2seq.export import export_ct2

    elsewhere = export_ct2(run, tmp_path / "exported")
    weights = {k: v * 1.01 for k, v in build_model(CFG, 80).state_dict().items()}
    save_weights(run / "model" / "model.safetensors", weights)  # retrained: the exports are stale
    err = refused(capsys, ["translate", "--engine", "ct2", "--run", run, "-i", src], "stale")
    assert f"seqkit export ct2 --run {run}" in err
    err = refused(capsys, ["translate", "--engine", "ct2", "--run", elsewhere, "-i", src], "stale")
    assert f"-o {elsewhere} --force" in err
    export_ct2(run)  # rebuilt: fine again
    assert main(["translate", "--engine", "ct2", "--run", str(run), "-i", str(src), "--beam", "1"]) == 0
    # an export shipped without its run is used as it is
    shipped = Path(shutil.copytree(run / "ct2", tmp_path / "shipped"))
    shutil.rmtree(run)
    assert main(["translate", "--engine", "ct2", "--run", str(shipped), "-i", str(src), "--beam", "1"]) == 0


# -- damaged files ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("damage", ["truncate", "garbage", "empty", "header-claims-more"])
def test_damaged_safetensors_is_one_line(capsys, run, src, tmp_path, damage):
    for file in (run / "model" / "model.safetensors", run / "train" / "checkpoints" / "best-step-00000010.safetensors"):
        data = file.read_bytes()
        if damage == "truncate":
            data = data[: len(data) // 2]
        elif damage == "garbage":
            data = os.urandom(len(data))
        elif damage == "empty":
            data = b""
        else:  # a valid-looking header whose first tensor is far bigger than the file
            size = int.from_bytes(data[:8], "little")
            header = json.loads(data[8:8 + size])
            name = next(k for k in header if k != "__metadata__")
            header[name]["shape"] = [1 << 20, 1 << 20]
            raw = json.dumps(header).encode()
            data = len(raw).to_bytes(8, "little") + raw + data[8 + size:]
        file.write_bytes(data)
    named = run / "model" / "model.safetensors"
    refused(capsys, ["translate", "--run", run, "-i", src], str(named))
    refused(capsys, ["export", "ct2", "--run", run, "-o", tmp_path / "e"], str(named))
    refused(capsys, ["average", "--run", run, "-o", tmp_path / "avg.safetensors"], "best-step-00000010")


@pytest.mark.parametrize("damage", ["truncate", "garbage", "empty", "flipped-byte"])
def test_damaged_model_bin_is_one_line(capsys, run, src, damage):
    file = run / "ct2" / "model.bin"
    data = bytearray(file.read_bytes())
    if damage == "truncate":
        data = data[: len(data) // 2]
    elif damage == "garbage":
        data = bytearray(os.urandom(len(data)))
    elif damage == "empty":
        data = bytearray()
    else:
        data[len(data) // 2] ^= 0xFF
    file.write_bytes(bytes(data))
    refused(capsys, ["translate", "--engine", "ct2", "--run", run, "-i", src], "model.bin", "damaged")


@pytest.mark.parametrize("missing", ["model.bin", "config.json", "shared_vocabulary.json", "spm.model", "seqkit.json"])
def test_incomplete_export_is_one_line(capsys, run, src, no_server, missing):
    (run / "ct2" / missing).unlink()
    err = refused(capsys, ["translate", "--engine", "ct2", "--run", run / "ct2", "-i", src], "ct2")
    assert missing in err or "no CTranslate2 export" in err
    refused(capsys, ["serve", "--engine", "ct2", "--run", run / "ct2"])


def test_export_vocabulary_of_another_size_is_refused(capsys, run, src):
    vocab = run / "ct2" / "shared_vocabulary.json"
    write(vocab, json.loads(vocab.read_text())[:-1])
    refused(capsys, ["translate", "--engine", "ct2", "--run", run, "-i", src], "shared_vocabulary.json", "79 pieces")


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_non_finite_weights_are_refused_naming_the_tensor(capsys, run, src, tmp_path, value):
    from seqkit.train import load_weights

    state = load_weights(run / "model" / "model.safetensors")
    state["decoder.0.ff.w2.bias"][3] = value
    save_weights(run / "model" / "model.safetensors", state)
    save_weights(run / "train" / "checkpoints" / "best-step-00000020.safetensors", state)
    refused(capsys, ["translate", "--run", run, "-i", src], "decoder.0.ff.w2.bias", "model.safetensors")
    refused(capsys, ["export", "ct2", "--run", run, "-o", tmp_path / "e"], "decoder.0.ff.w2.bias")
    refused(capsys, ["average", "--run", run, "-o", tmp_path / "avg.safetensors"], "decoder.0.ff.w2.bias",
            "best-step-00000020")


def test_weights_of_other_shapes_than_model_json_are_refused_before_building(capsys, run, src):
    file = run / "model" / "model.json"
    info = json.loads(file.read_text())
    write(file, {**info, "model": {**info["model"], "d_model": 32}})
    refused(capsys, ["translate", "--run", run, "-i", src], "model.safetensors", "model.json implies")


# -- paths inside the folder -------------------------------------------------------------------------------------
@pytest.mark.parametrize("where", ["../../model/model.safetensors", "/etc/hostname", "sub/../../x.safetensors",
                                   "link.safetensors"])
def test_best_json_entries_stay_inside(capsys, run, tmp_path, where):
    ckpt = run / "train" / "checkpoints"
    outside = tmp_path / "outside.safetensors"
    shutil.copy(run / "model" / "model.safetensors", outside)
    (ckpt / "link.safetensors").symlink_to(outside)
    best = json.loads((ckpt / "best.json").read_text())
    best[1]["file"] = where
    write(ckpt / "best.json", best)
    refused(capsys, ["average", "--run", run, "-o", tmp_path / "avg.safetensors"], "best.json", "[1].file")


def test_best_json_entry_of_a_missing_file_is_refused(capsys, run, tmp_path):
    (run / "train" / "checkpoints" / "best-step-00000010.safetensors").unlink()
    refused(capsys, ["average", "--run", run, "-o", tmp_path / "avg.safetensors"], "best.json", "missing")


@pytest.mark.parametrize("key", ["weights", "state"])
def test_last_json_and_the_state_stay_inside(run, tmp_path, key):
    folder = run / "train" / "checkpoints"
    pointer = json.loads((folder / "last.json").read_text())
    write(folder / "last.json", {**pointer, key: "../../model/model.safetensors"})
    with pytest.raises(SeqkitError, match=f"{key}: .* points outside"):
        CheckpointManager(folder).load_last()
    write(folder / "last.json", pointer)
    best = [{"step": 1, "score": 1.0, "file": "../../model/model.safetensors"}]
    save_state(folder / "step-00000020.state.pt", {"step": 20, "best": best})
    with pytest.raises(SeqkitError, match=r"best\[0\]\.file"):
        CheckpointManager(folder).load_last()


# -- the writers refuse what the loaders would --------------------------------------------------------------------
def test_save_model_dir_refuses_what_the_loader_would(tmp_path, tokenizers):
    tok = tokenizers[0]
    tok.save(tmp_path / "spm.model")
    state = build_model(CFG, len(tok)).state_dict()
    with pytest.raises(SeqkitError, match="notes: unknown field"):
        save_model_dir(tmp_path / "m", CFG, len(tok), tmp_path / "spm.model", state, notes="hello")
    with pytest.raises(SeqkitError, match="model.d_model: must be an integer"):
        save_model_dir(tmp_path / "m", {**CFG, "d_model": 10**9}, len(tok), tmp_path / "spm.model", state)
    with pytest.raises(SeqkitError, match="implies"):
        save_model_dir(tmp_path / "m", {**CFG, "d_ff": 64}, len(tok), tmp_path / "spm.model", state)
    assert not (tmp_path / "m").exists()


def test_recipe_validation_bounds_model_sizes(capsys):
    refused(capsys, ["recipe", "validate", "nmt_transformer", "model.d_model=1000000000"], "model.d_model")
    refused(capsys, ["recipe", "validate", "nmt_transformer", "model.n_enc_layers=100000"], "model.n_enc_layers")


def test_the_docs_show_the_schemas_the_code_checks():
    from seqkit.artifacts import markdown_table

    page = (Path(__file__).resolve().parents[2] / "docs" / "reference" / "artifacts.md").read_text(encoding="utf-8")
    export_only = Obj(fields={k: v for k, v in SEQKIT_JSON.fields.items() if k not in MODEL_JSON.fields})
    for schema in (MODEL_JSON, export_only, BEST_JSON, LAST_JSON, SCORES_JSON, DATA_JSON):
        assert markdown_table(schema) in page
