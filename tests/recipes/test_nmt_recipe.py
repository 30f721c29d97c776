"""The NMT recipe chain on a few hundred pairs, bad input in it, and ``seqkit translate``."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner
from gloo import run_ranks

from seqkit.errors import SeqkitError
from seqkit.recipes.config import load_recipe
from seqkit.recipes.pipeline import run_pipeline
from seqkit.text import SentencePieceTokenizer

REPO = Path(__file__).resolve().parents[2]
EN_FR = REPO / "data" / "en-fr"


def _write(path: Path, lines: list[str]) -> Path:
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def _local_data(tmp: Path, n_train: int = 300, extra_src: list[str] = (), extra_tgt: list[str] = ()):
    en = (EN_FR / "train.en").read_text(encoding="utf-8").splitlines()
    fr = (EN_FR / "train.fr").read_text(encoding="utf-8").splitlines()
    files = {}
    for split, (a, b) in {"train": (0, n_train), "valid": (n_train, n_train + 20),
                          "test": (n_train + 20, n_train + 30)}.items():
        src, tgt = en[a:b], fr[a:b]
        if split == "train":
            src, tgt = src + list(extra_src), tgt + list(extra_tgt)
        files[split] = [str(_write(tmp / f"{split}.en", src)), str(_write(tmp / f"{split}.fr", tgt))]
    return files


def _overrides(run_dir: Path, files: dict, **more) -> list[str]:
    o = {"run_dir": str(run_dir), "device": "cpu", "data.train": files["train"], "data.valid": files["valid"],
         "data.test": files["test"], "data.src": "en", "data.tgt": "fr", "spm.vocab_size": 300,
         "train.max_steps": 4, "train.max_time": None, "train.valid_every": 2, "train.ckpt_every_steps": 2,
         "train.max_tokens": 1500, "train.progress": False, "train.log_every": 1, "train.warmup": 2,
         "train.amp": "none", "decode.beam": 2, "data.max_len": 80}
    o.update(more)
    return [f"{k}={json.dumps(v) if not isinstance(v, str) else v}" for k, v in o.items()]


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("nmt")
    long_src = " ".join(["cat"] * 90)
    files = _local_data(tmp, extra_src=["", "The cat eats.", long_src], extra_tgt=["Le chat.", "", "Le chat."])
    _, cfg = load_recipe("nmt_transformer", _overrides(tmp / "run", files, **{"model.d_model": 32,
                                                                             "model.d_ff": 64,
                                                                             "model.n_enc_layers": 1,
                                                                             "model.n_dec_layers": 1}))
    run = run_pipeline(cfg, "nmt_transformer", echo=False)
    return run


def test_recipe_writes_every_artifact(tiny_run):
    d = tiny_run.dir
    for name in ("spm.model", "vocab.json", "model/model.json", "model/model.safetensors", "model/spm.model",
                 "test.hyp", "test.ref", "heatmaps/00000.png",
                 "scores.json", "train/metrics.jsonl", "train/curves.png", "train/checkpoints/last.json"):
        assert (d / name).is_file(), name
    scores = json.loads((d / "scores.json").read_text())
    assert scores["bleu_signature"].startswith("nrefs:1|case:mixed|eff:no|tok:13a|smooth:exp")
    assert len((d / "test.hyp").read_text(encoding="utf-8").splitlines()) == 10
    train = tiny_run.results["nmt.train"]
    assert train["steps"] == 4 and train["stopped"] == "max_steps"
    # 300 pairs + 3 bad ones: the two with an empty side and the over-long one are dropped and reported
    assert train["train_pairs"] == 300
    assert sum(train["dropped"].values()) == 3
    log = (d / "log.txt").read_text(encoding="utf-8")
    assert "kept 300 of 303 pairs" in log and "longer than 80 tokens" in log
    assert "[nmt.train] validation @ 2: loss" in log and "[nmt.train] validation @ 4: loss" in log
    valid = [json.loads(line) for line in (d / "train/metrics.jsonl").read_text().splitlines()
             if '"valid"' in line]
    assert [r["step"] for r in valid] == [2, 4] and all("bleu" in r for r in valid)
    # validation loss and perplexity beside BLEU: the teacher-forced cross entropy, ppl = exp(loss)
    assert all(r["ppl"] == pytest.approx(math.exp(r["loss"])) and r["loss"] > 0 for r in valid)


def test_mismatched_parallel_files_name_the_file(tmp_path):
    files = _local_data(tmp_path, extra_src=["one more source line"])
    _, cfg = load_recipe("nmt_transformer", _overrides(tmp_path / "run", files))
    with pytest.raises(SeqkitError) as err:
        run_pipeline(cfg, "nmt_transformer", echo=False)
    msg = str(err.value)
    assert msg.startswith(f"{tmp_path / 'train.en'} has 301 lines but {tmp_path / 'train.fr'} has 300; fix: ")
    assert "\n" not in msg


def test_translate_handles_empty_unknown_and_overlong_input(tiny_run):
    from seqkit.seq2seq.translator import Translator

    tr = Translator.from_run(tiny_run.dir, beam=2, max_src_len=8)
    src = ["The cat eats.", "", "☃☃ 🙂", " ".join(["cat"] * 50)]
    out = tr.translate(src)
    assert len(out) == 4 and out[1] == ""
    assert all(isinstance(o, str) and "⁇" not in o for o in out)  # <unk> is never printed
    assert tr.stats["empty_inputs"] == 1 and tr.stats["empty"] == sum(1 for o in out if not o.strip())
    assert tr.stats["truncated"] == 1 and tr.stats["unknown_tokens"] >= 1
    # one sentence as a string is one sentence, answered in its shape (seqkit.sentences)
    assert tr.translate("The cat eats.") == out[0]
    (best, *_), = [tr.translate_scored("The cat eats.")]
    assert best.text == out[0]
    nbest = tr.translate(["The cat eats.", ""], beam=2, nbest=2)
    assert len(nbest[0]) == 2 and nbest[1] == ["", ""]


def _runner() -> CliRunner:
    """A runner whose ``stdout`` is stdout alone: click 8.2 keeps stderr apart by default, click 8.1
    (pyproject's lower bound) only with ``mix_stderr=False``, an argument 8.2 no longer takes."""
    try:
        return CliRunner(mix_stderr=False)
    except TypeError:
        return CliRunner()


def test_translate_cli(tiny_run):
    from seqkit.cli.translate import translate

    res = _runner().invoke(translate, ["--run", str(tiny_run.dir), "--beam", "2"],
                             input="The cat eats.\n\nMy sister is happy.\n")
    assert res.exit_code == 0, res.output
    lines = res.stdout.splitlines()
    assert len(lines) == 3 and lines[1] == ""
    res = _runner().invoke(translate, ["--run", str(tiny_run.dir), "--beam", "2", "--nbest", "2"],
                             input="The cat eats.\n")
    assert [line.split(" ||| ")[0] for line in res.stdout.splitlines()] == ["0", "0"]
    res = CliRunner().invoke(translate, ["--run", str(tiny_run.dir), "--beam", "1", "--nbest", "2"], input="x\n")
    assert isinstance(res.exception, SeqkitError) and "--nbest: must be <= beam (1), got 2" in str(res.exception)


def test_translate_with_corrupt_weights_is_one_line(tiny_run, tmp_path):
    import shutil

    from seqkit.seq2seq.translator import Translator

    bad = tmp_path / "run"
    shutil.copytree(tiny_run.dir, bad, ignore=shutil.ignore_patterns("train", "data"))
    weights = bad / "model" / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
    with pytest.raises(SeqkitError) as err:
        Translator.from_run(bad)
    assert str(err.value).startswith(f"{weights}: corrupt or truncated weights file") and "\n" not in str(err.value)
    with pytest.raises(SeqkitError, match="model.json missing: not a translation run"):
        Translator.from_run(tmp_path)


def _decode_worker(rank: int, world: int, root: str) -> None:
    """One torchrun rank of the recipe; counts the sentences this rank's beam searches get."""

    from omegaconf import OmegaConf

    import seqkit.seq2seq.translator as nmt

    searched, beam_search = [], nmt.beam_search

    def counting_beam_search(model, src, *args, **kwargs):
        searched.append(int(src.shape[0]))
        return beam_search(model, src, *args, **kwargs)

    nmt.beam_search = counting_beam_search
    run = run_pipeline(OmegaConf.load(f"{root}/two.yaml"), "nmt_transformer", echo=False)
    seen = {"searched": searched, "stages": list(run.results)}
    Path(f"{root}/rank{rank}.json").write_text(json.dumps(seen))


def test_decode_on_two_ranks_writes_what_one_process_writes(tiny_run, tmp_path):
    """nmt.decode under torchrun: each rank beam-searches every second decoding batch, rank 0 writes
    test.hyp (the bytes one process writes) and the heatmaps, and nmt.evaluate runs on rank 0 after it."""
    import shutil

    from omegaconf import OmegaConf

    from seqkit.io import read_lines
    from seqkit.seq2seq.translator import Translator
    from seqkit.train import load_weights, save_weights

    # The trained run with its weights shaken, so that every test line gets a translation of its own
    # (4 updates teach a few repeated words): a line put in the wrong place cannot go unnoticed.
    base = tmp_path / "base"
    shutil.copytree(tiny_run.dir, base)
    shutil.rmtree(base / "heatmaps")
    for name in ("test.hyp", "test.ref", "scores.json"):  # what decode and evaluate must write again
        (base / name).unlink()
    g = torch.Generator().manual_seed(0)
    weights = load_weights(base / "model" / "model.safetensors")
    save_weights(base / "model" / "model.safetensors",
                 {k: v + 0.5 * torch.randn(v.shape, generator=g) for k, v in weights.items()})
    cfgs = {}
    for name in ("one", "two"):  # decoded again in small batches, so several per rank
        shutil.copytree(base, tmp_path / name)
        cfgs[name] = OmegaConf.create((tmp_path / name / "config.yaml").read_text())
        cfgs[name].run_dir, cfgs[name].decode.batch_tokens = str(tmp_path / name), 60
    run_pipeline(cfgs["one"], "nmt_transformer", echo=False)
    (tmp_path / "two.yaml").write_text(OmegaConf.to_yaml(cfgs["two"]))
    run_ranks(_decode_worker, tmp_path)

    one, two = tmp_path / "one", tmp_path / "two"
    assert len(set(read_lines(one / "test.hyp"))) == 10  # ten different translations
    assert (two / "test.hyp").read_bytes() == (one / "test.hyp").read_bytes()
    assert (two / "test.ref").read_bytes() == (one / "test.ref").read_bytes()
    assert json.loads((two / "scores.json").read_text()) == json.loads((one / "scores.json").read_text())
    assert sorted(p.name for p in (two / "heatmaps").iterdir()) == [f"{i:05d}.png" for i in range(5)]
    log = (two / "log.txt").read_text(encoding="utf-8")
    assert "[nmt.train] unchanged, skipped" in log and "sentences/s, 2 ranks)" in log
    assert "[nmt.evaluate] BLEU" in log
    ranks = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1)]
    assert ranks[0]["stages"][-2:] == ["nmt.decode", "nmt.evaluate"]
    assert ranks[1]["stages"][-1] == "nmt.decode"  # the last stage rank 1 joins in

    # rank r searched every second batch from its rank: of the test set, then of the heatmaps' lines
    translator = Translator.from_run(one, beam=2, batch_tokens=60)
    src = read_lines(one / "data" / "test.src")
    sizes = [len(b.indices) for b in translator.batches(translator.encode(src), translator.settings).epoch(0)]
    shown = [len(b.indices) for b in translator.batches(translator.encode(src[:5]), translator.settings).epoch(0)]
    assert len(sizes) >= 3 and sum(sizes) == len(src)
    for r in (0, 1):
        assert ranks[r]["searched"] == sizes[r::2] + shown[r::2]


def test_resume_continues_a_stopped_run(tiny_run, tmp_path):
    """resume=true after a run stopped at 4 updates continues to 6 with the same data position."""
    import shutil

    run_dir = tmp_path / "run"
    shutil.copytree(tiny_run.dir, run_dir)
    cfg_yaml = (run_dir / "config.yaml").read_text()
    from omegaconf import OmegaConf

    cfg = OmegaConf.create(cfg_yaml)
    cfg.run_dir, cfg.resume, cfg.train.max_steps = str(run_dir), True, 6
    run = run_pipeline(cfg, "nmt_transformer", echo=False)
    assert run.results["nmt.train"]["steps"] == 6
    steps = [json.loads(line)["step"] for line in (run_dir / "train/metrics.jsonl").read_text().splitlines()
             if '"train"' in line]
    assert steps == [1, 2, 3, 4, 5, 6]
    torch.testing.assert_close(torch.tensor(1.0), torch.tensor(1.0))


def test_prepared_training_data_gives_the_same_model(tmp_path):
    """``data.prepared=true``: the training pairs are tokenized once into prepared/ and training reads
    its batches from there -- the same batches, so the same weights as the in-memory path."""
    from safetensors.torch import load_file

    files = _local_data(tmp_path)
    small = {"model.d_model": 32, "model.d_ff": 64, "model.n_enc_layers": 1, "model.n_dec_layers": 1}
    runs = {}
    for prepared in (False, True):
        _, cfg = load_recipe("nmt_transformer", _overrides(tmp_path / f"run{prepared}", files,
                                                           **{**small, "data.prepared": prepared}))
        runs[prepared] = run_pipeline(cfg, "nmt_transformer", echo=False)
    assert runs[True].results["nmt.prepare"]["pairs"] == 300 and (runs[True].dir / "prepared" / "meta.json").is_file()
    assert runs[False].results["nmt.prepare"] == {"prepared": False}
    a = load_file(runs[False].dir / "model" / "model.safetensors")
    b = load_file(runs[True].dir / "model" / "model.safetensors")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_sharded_training_files_are_streamed_into_the_prepared_corpus(tmp_path):
    """``data.prepared=true`` with shards: the training pairs are never copied or read whole -- the
    sentencepiece model trains on a uniform sample (``spm.input_sentence_size``) and ``prepared/`` is built
    straight from the shards; a re-run skips every stage until a shard changes."""
    from seqkit.data.prepared import PreparedCorpus

    files = _local_data(tmp_path)
    en, fr = (Path(f).read_text(encoding="utf-8").splitlines() for f in files["train"])
    for i, (a, b) in enumerate([(0, 120), (120, 300)]):
        _write(tmp_path / f"shard{i}.en", en[a:b])
        _write(tmp_path / f"shard{i}.fr", fr[a:b])
    small = {"model.d_model": 32, "model.d_ff": 64, "model.n_enc_layers": 1, "model.n_dec_layers": 1,
             "data.prepared": True, "spm.input_sentence_size": 400, "train.max_steps": 2}
    files["train"] = [str(tmp_path / "shard*.en"), str(tmp_path / "shard*.fr")]
    _, cfg = load_recipe("nmt_transformer", _overrides(tmp_path / "run", files, **small))
    run = run_pipeline(cfg, "nmt_transformer", echo=False)
    assert not (run.dir / "data" / "train.en").exists() and not (run.dir / "data" / "train.src").exists()
    assert run.results["nmt.data"]["train_shards"]["tgt"] == [str(tmp_path / "shard0.fr"), str(tmp_path / "shard1.fr")]
    corpus = PreparedCorpus.open(run.dir / "prepared")
    assert len(corpus) == 300 and run.results["nmt.prepare"]["pairs"] == 300
    tok = SentencePieceTokenizer.load(run.dir / "spm.model")
    assert corpus.pair(200) == (tok.encode_ids(en[200]), tok.encode_ids(fr[200]))
    again = run_pipeline(cfg, "nmt_transformer", echo=False)
    log = (again.dir / "log.txt").read_text(encoding="utf-8").split("unchanged, skipped")
    assert len(log) == 1 + 7  # all seven stages skipped
    os.utime(tmp_path / "shard1.fr", ns=(1, 1))  # touched, same bytes: still skipped
    run_pipeline(cfg, "nmt_transformer", echo=False)
    assert (again.dir / "log.txt").read_text(encoding="utf-8").count("unchanged, skipped") == 14
    _write(tmp_path / "shard1.fr", fr[120:299] + ["Une autre phrase."])
    third = run_pipeline(cfg, "nmt_transformer", echo=False)
    assert third.results["nmt.prepare"]["pairs"] == 300
    assert PreparedCorpus.open(run.dir / "prepared").pair(299)[1] == \
        SentencePieceTokenizer.load(run.dir / "spm.model").encode_ids("Une autre phrase.")


def test_a_prepared_hub_corpus_is_streamed_and_gives_the_same_model(tmp_path):
    """``data=hf:json data.prepared=true``: the training split is read with ``datasets`` streaming
    straight into prepared/ (never into data/ or lists), and the model equals the in-memory run's."""
    pytest.importorskip("datasets")
    from safetensors.torch import load_file

    files = _local_data(tmp_path)
    data_files = {}
    for split, hub_split in (("train", "train"), ("valid", "validation"), ("test", "test")):
        en, fr = (Path(f).read_text(encoding="utf-8").splitlines() for f in files[split])
        path = tmp_path / f"{hub_split}.jsonl"
        path.write_text("".join(json.dumps({"translation": {"en": a, "fr": b}}) + "\n" for a, b in zip(en, fr)),
                        encoding="utf-8")
        data_files[hub_split] = str(path)
    small = {"model.d_model": 32, "model.d_ff": 64, "model.n_enc_layers": 1, "model.n_dec_layers": 1,
             "train.max_steps": 2}
    runs = {}
    for prepared in (False, True):
        o = _overrides(tmp_path / f"run{prepared}", files, **small, **{"data.prepared": prepared})
        o = [x for x in o if not x.startswith(("data.train=", "data.valid=", "data.test="))]
        o += ["data.name=hf:json", f"data.files={json.dumps(data_files)}"]
        _, cfg = load_recipe("nmt_transformer", o)
        runs[prepared] = run_pipeline(cfg, "nmt_transformer", echo=False)
    streamed = runs[True]
    assert streamed.results["nmt.data"]["train_hub"] is True
    assert not (streamed.dir / "data" / "train.src").exists() and (streamed.dir / "data" / "valid.src").is_file()
    assert streamed.results["nmt.prepare"]["pairs"] == 300
    a = load_file(runs[False].dir / "model" / "model.safetensors")
    b = load_file(streamed.dir / "model" / "model.safetensors")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    _, bad = load_recipe("nmt_transformer", ["data.name=hf:json", "data.prepared=true", "data.src=null",
                                             f"run_dir={tmp_path / 'bad'}"])
    with pytest.raises(SeqkitError, match="data.src, data.tgt: an hf: corpus needs the two languages"):
        run_pipeline(bad, "nmt_transformer", echo=False)


def test_a_folder_from_seqkit_data_prepare_is_trained_on_as_it_is(tmp_path, capsys):
    """``data.prepared=FOLDER``: the corpus `seqkit data prepare` wrote (its ids and its spm.model) is
    trained on without a data, tokenizer or prepare step of the recipe's own -- the same model as
    ``data.prepared=true`` gives from the same files and tokenizer."""
    from safetensors.torch import load_file

    from seqkit.cli import main

    files = _local_data(tmp_path)
    small = {"model.d_model": 32, "model.d_ff": 64, "model.n_enc_layers": 1, "model.n_dec_layers": 1,
             "train.max_steps": 2, "data.prepared": True}
    _, cfg = load_recipe("nmt_transformer", _overrides(tmp_path / "own", files, **small))
    own = run_pipeline(cfg, "nmt_transformer", echo=False)
    folder = tmp_path / "prep"
    assert main(["data", "prepare", "--src", files["train"][0], "--tgt", files["train"][1], "--spm",
                 str(own.dir / "spm.model"), "-o", str(folder), "--workers", "1"]) == 0
    assert (folder / "spm.model").read_bytes() == (own.dir / "spm.model").read_bytes()
    o = [x for x in _overrides(tmp_path / "ext", files, **{**small, "data.prepared": str(folder)})
         if not x.startswith("data.train=")]
    _, cfg = load_recipe("nmt_transformer", o)
    ext = run_pipeline(cfg, "nmt_transformer", echo=False)
    assert ext.results["nmt.prepare"] == {"prepared": True, "path": str(folder), "pairs": 300}
    assert not (ext.dir / "prepared").exists() and not (ext.dir / "data" / "train.src").exists()
    assert (ext.dir / "data" / "valid.src").read_bytes() == Path(files["valid"][0]).read_bytes()
    assert "sentencepiece model of" in (ext.dir / "log.txt").read_text(encoding="utf-8")
    a = load_file(own.dir / "model" / "model.safetensors")
    b = load_file(ext.dir / "model" / "model.safetensors")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    # a folder that is not one is refused before anything runs
    _, bad = load_recipe("nmt_transformer", [f"data.prepared={tmp_path}", f"run_dir={tmp_path / 'bad'}"])
    with pytest.raises(SeqkitError, match="data.prepared: .*not a prepared corpus"):
        run_pipeline(bad, "nmt_transformer", echo=False)
    assert not (tmp_path / "bad").exists()


def _de_en_files(tmp: Path) -> dict:
    """The bundled pairs under de/en file names (a de->en corpus as far as the names say)."""
    files = _local_data(tmp)
    out = {}
    for split, (src, tgt) in files.items():
        out[split] = [str(Path(src).rename(tmp / f"{split}.de")), str(Path(tgt).rename(tmp / f"{split}.en"))]
    return out


def test_the_recorded_language_pair_is_the_datas(tmp_path, capsys):
    """Local de/en files, and a folder `seqkit data prepare` made of them, are logged and recorded as
    de->en -- not as the recipe's bundled corpus's en->fr."""
    from seqkit.cli import main

    files = _de_en_files(tmp_path)
    pair = [o for o in _overrides(tmp_path / "local", files) if not o.startswith(("data.src=", "data.tgt="))]
    _, cfg = load_recipe("nmt_transformer", pair)
    run = run_pipeline(cfg, "nmt_transformer", stages=["nmt.data"], echo=False)
    assert (run.results["nmt.data"]["src"], run.results["nmt.data"]["tgt"]) == ("de", "en")
    assert "local files de->en:" in (run.dir / "log.txt").read_text(encoding="utf-8")
    spm = SentencePieceTokenizer.train([*Path(files["train"][0]).read_text().splitlines(),
                                        *Path(files["train"][1]).read_text().splitlines()], vocab_size=300)
    spm.save(tmp_path / "spm.model")
    assert main(["data", "prepare", "--src", files["train"][0], "--tgt", files["train"][1], "--spm",
                 str(tmp_path / "spm.model"), "-o", str(tmp_path / "prep"), "--workers", "1"]) == 0
    prepared = [o for o in pair if not o.startswith(("data.train=", "run_dir="))]
    _, cfg = load_recipe("nmt_transformer", [*prepared, f"data.prepared={tmp_path / 'prep'}",
                                             f"run_dir={tmp_path / 'prep-run'}"])
    run = run_pipeline(cfg, "nmt_transformer", stages=["nmt.data"], echo=False)
    assert (run.results["nmt.data"]["src"], run.results["nmt.data"]["tgt"]) == ("de", "en")
    # a pair that contradicts the prepared folder's is refused before anything is made
    _, bad = load_recipe("nmt_transformer", [*prepared, f"data.prepared={tmp_path / 'prep'}", "data.src=en",
                                             f"run_dir={tmp_path / 'bad'}"])
    with pytest.raises(SeqkitError, match=r"data.src: en, but .* was prepared from de->en data"):
        run_pipeline(bad, "nmt_transformer", echo=False)
    assert not (tmp_path / "bad").exists()


@pytest.mark.parametrize("overrides,says", [
    (["data=multi30k", "data.src=de", "data.tgt=zh"], "corpus 'multi30k' has no de->zh direction"),
    (["data=wmt21-news", "data.src=de", "data.tgt=zh"], "choose one of de-en, en-de, en-zh, zh-en"),
    (["data.train=[nowhere.de,nowhere.en]", "data.valid=[nowhere.de,nowhere.en]",
      "data.test=[nowhere.de,nowhere.en]"], "data.train (source): nowhere.de: input file not found"),
    (["data.train=[a.de,a.en]"], "data.valid, data.test: missing; local data needs train, valid and test files"),
])
def test_validate_and_run_check_corpus_pair_and_files_before_creating_anything(tmp_path, monkeypatch, capsys,
                                                                              overrides, says):
    from seqkit.cli import main

    monkeypatch.chdir(tmp_path)
    (tmp_path / "a.de").write_text("x\n")
    (tmp_path / "a.en").write_text("y\n")
    assert main(["recipe", "validate", "nmt_transformer", *overrides]) == 2
    assert says in capsys.readouterr().err
    assert main(["recipe", "run", "nmt_transformer", *overrides, "run_dir=run"]) == 2
    assert says in capsys.readouterr().err
    assert not (tmp_path / "run").exists() and not (tmp_path / "runs").exists()


def test_a_failed_start_leaves_no_run_folder(tmp_path):
    files = _local_data(tmp_path, extra_src=["one more source line"])  # found only when the files are read
    _, cfg = load_recipe("nmt_transformer", _overrides(tmp_path / "run", files))
    with pytest.raises(SeqkitError, match="has 301 lines"):
        run_pipeline(cfg, "nmt_transformer", echo=False)
    assert not (tmp_path / "run").exists()
