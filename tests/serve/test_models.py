"""Several models in one server (``seqkit serve --run A --run B``): routed by language pair in both
dialects, listed by ``/languages`` and ``/info``, each with its own lanes, duplicates refused at start."""

from __future__ import annotations

import shutil
import threading
import time

import httpx
import pytest
from fastapi.testclient import TestClient

from seqkit.errors import SeqkitError
from seqkit.seq2seq.engines import load_translator
from seqkit.serve.app import create_app
from seqkit.serve.engine import run_info
from seqkit.serve.routing import Model

EN = ["The cat eats.", "Where is the station?"]
FR = ["Le chat mange.", "Où est la gare ?"]
PAIRS = "this server translates en to fr, fr to en"


def best(engine, sentences, **decode):
    return [hyps[0].text for hyps in engine.translate_scored(sentences, **decode)]


@pytest.fixture(scope="module")
def fr_en(tiny_run_fr_en):
    return load_translator(tiny_run_fr_en)


def two_models(en_fr_engine, fr_en_engine, tiny_run, tiny_run_fr_en) -> list[Model]:
    return [Model(en_fr_engine, run_info(tiny_run)), Model(fr_en_engine, run_info(tiny_run_fr_en))]


def local(app):
    return TestClient(app, base_url="http://localhost")


@pytest.fixture(scope="module")
def client(engine, fr_en, tiny_run, tiny_run_fr_en):
    with local(create_app(two_models(engine, fr_en, tiny_run, tiny_run_fr_en))) as c:
        yield c


def test_the_two_models_differ(engine, fr_en):
    """Else routing could not be seen in the answers."""
    assert best(engine, FR, beam=2) != best(fr_en, FR, beam=2)


def test_seqkits_api_routes_by_source_and_target(client, engine, fr_en):
    r = client.post("/translate", json={"sentences": EN, "beam": 2, "source": "en", "target": "fr"})
    assert r.status_code == 200
    assert [h[0]["text"] for h in r.json()["translations"]] == best(engine, EN, beam=2)
    for pair in ({"source": "fr", "target": "en"}, {"target": "en"}, {"source": "fr"}, {"source": "auto", "target": "en"}):
        r = client.post("/translate", json={"sentences": FR, "beam": 2, **pair})  # one field is enough to pick one
        assert r.status_code == 200, pair
        assert [h[0]["text"] for h in r.json()["translations"]] == best(fr_en, FR, beam=2), pair
    lanes = client.get("/health").json()["lanes"]
    assert set(lanes) == {"en-fr small", "en-fr heavy", "fr-en small", "fr-en heavy"}
    assert (lanes["en-fr small"]["requests"], lanes["fr-en small"]["requests"]) == (1, 4)


def test_libretranslates_api_routes_by_source_and_target(client, engine, fr_en):
    r = client.post("/translate", json={"q": FR[0], "source": "fr", "target": "en"})
    assert r.json() == {"translatedText": best(fr_en, FR[:1])[0]}
    r = client.post("/translate", data={"q": EN[0], "source": "auto", "target": "fr"})  # a form, source auto
    assert r.json() == {"translatedText": best(engine, EN[:1])[0],
                        "detectedLanguage": {"confidence": 100.0, "language": "en"}}
    r = client.post("/translate", json={"q": FR[0], "source": "auto", "target": "en"})
    assert r.json()["detectedLanguage"] == {"confidence": 100.0, "language": "fr"}


@pytest.mark.parametrize("body, says", [
    ({"source": "de", "target": "fr"}, f"de is not supported as a source language; {PAIRS} (see /languages)"),
    ({"source": "en", "target": "en"}, f"en is not supported as a target language from en; {PAIRS} (see /languages)"),
    ({"target": "de"}, f"de is not supported as a target language; {PAIRS} (see /languages)"),
    ({}, f"{PAIRS}: say which with source and target"),
])
def test_a_pair_not_served_is_each_dialects_4xx(client, body, says):
    r = client.post("/translate", json={"sentences": ["a"], **body})
    assert r.status_code == 422 and r.json() == {"detail": says}
    r = client.post("/translate/stream", json={"text": "a", **body})
    assert r.status_code == 422 and r.json() == {"detail": says}
    lt = {"q": "a", "source": body.get("source", "auto"), **({"target": body["target"]} if "target" in body else {})}
    if "target" in lt:  # LibreTranslate's API always names a target
        r = client.post("/translate", json=lt)
        assert r.status_code == 400 and r.json() == {"error": says}


def test_languages_and_info_list_both_models_without_paths(client, tiny_run, tiny_run_fr_en):
    assert client.get("/languages").json() == [{"code": "en", "name": "English", "targets": ["fr"]},
                                               {"code": "fr", "name": "French", "targets": ["en"]}]
    info = client.get("/info").json()
    assert [(m["run"], m["src"], m["tgt"], m["engine"]) for m in info["models"]] == [
        ("run", "en", "fr", "Translator"), ("run-fr-en", "fr", "en", "Translator")]
    assert all(m["test"]["bleu_signature"].startswith("nrefs:1|") and m["decode"]["beam"] == 5 for m in info["models"])
    assert "src" not in info and "limits" in info  # no one model's fields at the top
    text = client.get("/info").text + client.get("/health").text + client.get("/openapi.json").text
    for folder in (tiny_run, tiny_run_fr_en):
        assert str(folder.parent) not in text


def test_one_model_keeps_its_fields_at_the_top_of_info(engine, tiny_run):
    with local(create_app(engine, info=run_info(tiny_run))) as c:
        info = c.get("/info").json()
        assert info["src"] == "en" and [m["run"] for m in info["models"]] == ["run"]
        assert {k: v for k, v in info["models"][0].items()} == {k: info[k] for k in info["models"][0]}
        # with one model, source and target may be left out, or given
        for pair in ({}, {"source": "en", "target": "fr"}):
            assert c.post("/translate", json={"sentences": ["a"], "beam": 1, **pair}).status_code == 200


def test_a_second_model_answers_while_the_first_is_busy(engine, fr_en, tiny_run, tiny_run_fr_en):
    class Held:
        def __init__(self):
            self.gate = threading.Event()

        def translate_scored(self, sentences, settings=None, attention=False):
            assert self.gate.wait(60)
            return engine.translate_scored(sentences, settings, attention=attention)

    held = Held()
    models = [Model(held, run_info(tiny_run)), Model(fr_en, run_info(tiny_run_fr_en))]
    with local(create_app(models)) as c:
        answer = {}
        busy = threading.Thread(target=lambda: answer.setdefault("r", c.post(
            "/translate", json={"sentences": EN, "beam": 2, "target": "fr"})))
        busy.start()
        for _ in range(500):
            if c.get("/health").json()["lanes"]["en-fr small"]["in_flight"] == 2:
                break
            time.sleep(0.01)
        r = c.post("/translate", json={"sentences": FR, "beam": 2, "target": "en"})
        assert r.status_code == 200 and [h[0]["text"] for h in r.json()["translations"]] == best(fr_en, FR, beam=2)
        lanes = c.get("/health").json()["lanes"]
        assert (lanes["en-fr small"]["in_flight"], lanes["en-fr small"]["requests"]) == (2, 0)  # still held
        assert lanes["fr-en small"]["requests"] == 1
        held.gate.set()
        busy.join(60)
        assert [h[0]["text"] for h in answer["r"].json()["translations"]] == best(engine, EN, beam=2)


def test_the_watchdog_covers_every_models_decoder(engine, fr_en, tiny_run, tiny_run_fr_en):
    class Killed(BaseException):
        pass

    class Killer:
        def translate_scored(self, sentences, settings=None, attention=False):
            raise Killed("simulated")

    models = [Model(engine, run_info(tiny_run)), Model(Killer(), run_info(tiny_run_fr_en))]
    with local(create_app(models)) as c:
        r = c.post("/translate", json={"sentences": ["a"], "target": "en"})
        assert r.status_code == 503 and r.json()["detail"].startswith("the decoder thread died (Killed: simulated)")
        h = c.get("/health")
        assert h.status_code == 503 and h.json()["status"] == "dead"
        assert h.json()["lanes"]["fr-en small"]["status"] == "dead" and h.json()["lanes"]["en-fr small"]["status"] == "ok"
        for _ in range(100):
            if c.app.state.failure:
                break
            time.sleep(0.05)
        assert c.app.state.failure == "the decoder thread died (Killed: simulated)"  # the server stops, exit 1


# -- refused at start -------------------------------------------------------------------------------------
def test_two_runs_of_one_pair_are_refused_at_start_in_one_line(tiny_run, tmp_path, capsys):
    from seqkit.cli import main

    other = tmp_path / "again"
    shutil.copytree(tiny_run / "model", other / "model")
    assert main(["serve", "--run", str(tiny_run), "--run", str(other), "--port", "8123"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"error: {other} translates en to fr, as {tiny_run} does: one model per language pair; "
                   "fix: serve one of them, and the other on another --port"]


def test_create_app_refuses_a_duplicate_pair_and_a_model_without_languages(engine, tiny_run):
    info = run_info(tiny_run)
    with pytest.raises(SeqkitError, match="^run translates en to fr, as run does: one model per language pair"):
        create_app([Model(engine, info), Model(engine, info)])
    with pytest.raises(SeqkitError, match="^model 2: its model does not say which languages it translates"):
        create_app([Model(engine, info), Model(engine, {})])


# -- the command and LibreTranslate's client against a real server of two models -----------------------------
def test_seqkit_serve_with_two_runs_and_the_libretranslatepy_client(tiny_run, tiny_run_fr_en, serve_load, engine, fr_en,
                                                                    capsys):
    """The command with two runs; LibreTranslate's client; and the load script's two-model run, small:
    small requests to one model beside heavy ones (at a small budget) to the other, every answer checked."""
    with serve_load.Server(tiny_run, "--run", str(tiny_run_fr_en), "--threads", "1", "--max-work", "3000",
                           "--heavy-work", "500") as srv:
        r = httpx.post(srv.url + "/translate", json={"sentences": FR, "beam": 2, "source": "fr", "target": "en"},
                       timeout=60)
        assert [h[0]["text"] for h in r.json()["translations"]] == best(fr_en, FR, beam=2)
        health = httpx.get(srv.url + "/health", timeout=30).json()
        assert set(health["lanes"]) == {"en-fr small", "en-fr heavy", "fr-en small", "fr-en heavy"}
        api = pytest.importorskip("libretranslatepy", reason="pip install libretranslatepy").LibreTranslateAPI
        client = api(srv.url)
        assert client.translate(FR[0], "fr", "en") == best(fr_en, FR[:1])[0]
        assert client.translate(EN[0], "en", "fr") == best(engine, EN[:1])[0]
        assert [lang["code"] for lang in client.languages()] == ["en", "fr"]
        capsys.readouterr()
        assert serve_load.main(["--url", srv.url, "--clients", "2", "--requests", "6", "--pool", "4", "--beam", "2",
                                "--pair", "en-fr", "--heavy-clients", "1", "--heavy-pair", "fr-en"]) == 0
        lanes = httpx.get(srv.url + "/health", timeout=30).json()["lanes"]
        status, log = srv.stop()
    out = capsys.readouterr().out
    assert "6 requests of 1 sentence(s), beam 2, 4 distinct sentences, to the en-fr model" in out
    assert "beside 1 client(s) of heavy requests to the fr-en model (" in out
    assert lanes["fr-en heavy"]["requests"] >= 2 and lanes["en-fr heavy"]["requests"] == 0  # the probe's and the run's
    assert lanes["en-fr small"]["requests"] >= 2 * 6 + 4  # alone, beside the heavy ones, and the expected texts
    assert f"seqkit serve: {tiny_run} (en-fr), {tiny_run_fr_en} (fr-en) (seqkit, 1 thread(s))" in log
