"""The HTTP API in-process (FastAPI's TestClient): every endpoint, every limit, against the engine itself."""

from __future__ import annotations

import dataclasses
import json
import threading
import time

import pytest
from fastapi.testclient import TestClient

from seqkit.errors import SeqkitError
from seqkit.seq2seq import Translator
from seqkit.seq2seq.engines import load_translator as load_engine
from seqkit.seq2seq.plot import readable
from seqkit.serve.app import create_app
from seqkit.serve.engine import run_info
from seqkit.serve.limits import Limits

SENTENCES = ["The cat eats.", "I am here.", "Where is the station?"]


@pytest.fixture(scope="module")
def client(engine, tiny_run):
    with local(create_app(engine, info=run_info(tiny_run))) as c:
        yield c


def local(app):
    """A TestClient that calls the app by one of its default allowed names (TestClient's own
    ``testserver`` is refused like any other unknown Host)."""
    return TestClient(app, base_url="http://localhost")


def test_translate_returns_what_the_engine_gives(client, engine):
    r = client.post("/translate", json={"sentences": SENTENCES, "beam": 3, "nbest": 2})
    assert r.status_code == 200
    body = r.json()
    assert (body["beam"], body["nbest"]) == (3, 2)
    expected = engine.translate_scored(SENTENCES, beam=3, nbest=2)
    assert len(body["translations"]) == 3 and all(t[0].text for t in expected)  # nothing trivially empty
    for got, want in zip(body["translations"], expected):
        assert [h["text"] for h in got] == [t.text for t in want]
        assert [h["pieces"] for h in got] == [t.pieces for t in want]
        assert [h["src_pieces"] for h in got] == [t.src_pieces for t in want]
        assert [h["score"] for h in got] == pytest.approx([t.score for t in want], abs=1e-4)
        assert [h["log_prob"] for h in got] == pytest.approx([t.log_prob for t in want], abs=1e-4)
        assert got[0]["score"] >= got[1]["score"]  # best first
        assert all("alignment" not in h and "attention" not in h for h in got)  # only when asked for


def test_alignment_and_attention_on_request(client, engine):
    r = client.post("/translate", json={"sentences": SENTENCES[:2], "beam": 2, "alignment": True, "attention": True})
    assert r.status_code == 200
    want = engine.translate_scored(SENTENCES[:2], beam=2, attention=True)
    for [hyp], [t] in zip(r.json()["translations"], want):
        assert hyp["alignment"] == t.pharaoh()
        att = hyp["attention"]
        # one row per output piece and </s>, one column per source piece and </s>
        assert len(att["weights"]) == len(t.pieces) + 1 == len(att["target"])
        assert all(len(row) == len(t.src_pieces) + 1 for row in att["weights"])
        assert att["source"][-1] == att["target"][-1] == "</s>"
        assert att["source"][:-1] == readable(t.src_pieces) and att["target"][:-1] == readable(t.pieces)
        for row, exact in zip(att["weights"], t.attention.tolist()):
            assert sum(row) == pytest.approx(1.0, abs=5e-3)  # softmax rows, rounded to 4 decimals
            assert row == pytest.approx(exact, abs=1e-4)


def test_health_counts_requests_and_sentences(engine):
    with local(create_app(engine)) as c:
        h = c.get("/health").json()
        assert {k: v for k, v in h.items() if k != "lanes"} == {
            "status": "ok", "queued": 0, "in_flight": 0, "requests": 0, "sentences": 0, "batches": 0,
            "largest_batch": 0, "errors": 0, "cancelled": 0}
        assert set(h["lanes"]) == {"small", "heavy"}
        for n in (1, 3, 2):
            assert c.post("/translate", json={"sentences": SENTENCES[:n], "beam": 1}).status_code == 200
        h = c.get("/health").json()
        # one client, one request at a time: every request is its own batch
        assert (h["requests"], h["sentences"], h["batches"], h["largest_batch"]) == (3, 6, 3, 3)


def test_info_names_the_model_and_its_test_score(client, tiny_run):
    info = client.get("/info").json()
    scores = json.loads((tiny_run / "scores.json").read_text())
    assert info["src"] == "en" and info["tgt"] == "fr"
    assert info["model"]["arch"] == "transformer" and info["model"]["d_model"] == 64
    assert info["engine"] == "Translator" and info["attention"] is True
    assert info["test"]["bleu"] == scores["bleu"] and info["test"]["chrf"] == scores["chrf"]
    assert info["test"]["bleu_signature"] == scores["bleu_signature"]
    assert info["test"]["bleu_signature"].startswith("nrefs:1|case:mixed|eff:no|tok:13a|smooth:exp|version:")
    assert info["test"]["current"] is True
    assert info["limits"] == dataclasses.asdict(Limits())
    assert info["limits"]["max_work"] == 200_000 and info["allowed_hosts"] == ["127.0.0.1", "::1", "localhost"]


def test_info_of_a_run_never_evaluated(tmp_path, tiny_run):
    import shutil

    shutil.copytree(tiny_run / "model", tmp_path / "model")
    info = run_info(tmp_path)
    assert info["test"] is None and info["src"] == "en"
    assert run_info(tmp_path / "model")["run"] == tmp_path.name  # the model folder itself works too


def test_page_is_served(client):
    r = client.get("/")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert 'id="source"' in r.text and 'fetch("/translate/stream"' in r.text
    assert client.get("/favicon.ico").status_code == 204


# -- limits ---------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def small(engine):
    limits = Limits(max_request_bytes=300, max_sentences=3, max_chars=20, max_beam=4, max_queue=8)
    with local(create_app(engine, limits=limits)) as c:
        yield c


@pytest.mark.parametrize("body, status, message", [
    ({"sentences": ["a", "b", "c", "d"]}, 413, "4 sentences in one request; the limit is 3"),
    ({"sentences": ["ok", "x" * 21]}, 422, "sentences.1 has 21 characters; the limit is 20"),
    ({"sentences": ["a"], "beam": 5}, 422, "beam 5 is over this server's limit of 4"),
    ({"sentences": ["a"], "beam": 2, "nbest": 3}, 422, "bad request: nbest: must be <= beam (2), got 3"),
    # the decode fields are checked by the settings object every surface uses
    ({"sentences": ["a"], "beam": True}, 422, "bad request: beam: must be an integer, got True"),
    ({"sentences": ["a"], "alpha": -1}, 422, "bad request: alpha: must be >= 0, got -1"),
    ({"sentences": ["a"], "length_penalty": "x"}, 422, "bad request: length_penalty: must be one of"),
    ({"sentences": ["a"], "max_src_len": 3}, 422, "bad request: max_src_len: "),
    # pydantic's own words after the field's name
    ({"sentences": []}, 422, "bad request: sentences: "),
    ({"sentence": ["a"]}, 422, "bad request: sentence: "),
    ({"sentences": "a"}, 422, "bad request: sentences: "),
    ({"sentences": [1]}, 422, "bad request: sentences.0: "),
    ({"sentences": ["a"], "beam": 0}, 422, "bad request: beam: "),
])
def test_limits_and_bad_requests_answer_with_one_line(small, body, status, message):
    r = small.post("/translate", json=body)
    assert r.status_code == status
    detail = r.json()["detail"]
    # one of the line's problems, wherever pydantic put it ({"sentence": ...} has two, in an order
    # that changed between pydantic 2.13 and 2.14)
    problem = message.removeprefix("bad request: ")
    assert any(head + problem in detail for head in ("bad request: ", "; ")) if problem != message \
        else message in detail, detail
    assert "\n" not in detail


def test_body_size_limit_with_and_without_a_declared_length(small):
    big = json.dumps({"sentences": ["word " * 70]}).encode()
    r = small.post("/translate", content=big, headers={"content-type": "application/json"})
    assert r.status_code == 413 and f"request body of {len(big)} bytes is over the limit of 300" in r.json()["detail"]
    # streamed (chunked, no Content-Length): refused once more than the limit has arrived
    r = small.post("/translate", content=iter([big[:200], big[200:]]), headers={"content-type": "application/json"})
    assert r.status_code == 413 and "over the limit of 300 bytes" in r.json()["detail"]
    r = small.post("/translate", content=b"{not json", headers={"content-type": "application/json"})
    assert r.status_code == 422 and "Invalid JSON" in r.json()["detail"]
    assert small.get("/health").json()["status"] == "ok"  # and the server is still up


class _Gated:
    """The real engine behind a gate: decoding waits until the test opens it."""

    def __init__(self, engine):
        self.engine, self.gate = engine, threading.Event()

    def translate_scored(self, sentences, settings=None, attention=False):
        assert self.gate.wait(30)
        return self.engine.translate_scored(sentences, settings, attention=attention)


def _wait_for(client, **state):
    for _ in range(500):
        h = client.get("/health").json()
        if all(h[k] == v for k, v in state.items()):
            return h
        time.sleep(0.01)
    raise AssertionError(f"server never reached {state}: {h}")


def test_a_full_queue_answers_503_and_the_queued_requests_still_finish(engine):
    gated = _Gated(engine)
    with local(create_app(gated, limits=Limits(max_queue=3, max_wait_ms=0))) as c:
        results = {}

        def post(name, sentences):
            results[name] = c.post("/translate", json={"sentences": sentences, "beam": 2})

        first = threading.Thread(target=post, args=("first", SENTENCES[:1]))
        first.start()
        _wait_for(c, in_flight=1)  # decoding, held at the gate
        second = threading.Thread(target=post, args=("second", SENTENCES[:2]))
        second.start()
        _wait_for(c, queued=2)
        r = c.post("/translate", json={"sentences": SENTENCES[:2], "beam": 2})  # 2 + 2 > 3 waiting
        assert r.status_code == 503 and r.headers["retry-after"] == "1"
        assert r.json()["detail"] == "server busy: 2 sentences are already waiting (the queue holds 3); retry shortly"
        gated.gate.set()
        first.join(30)
        second.join(30)
        want = engine.translate_scored(SENTENCES[:2], beam=2)
        assert [h[0]["text"] for h in results["first"].json()["translations"]] == [want[0][0].text]
        assert [h[0]["text"] for h in results["second"].json()["translations"]] == [w[0].text for w in want]


def test_a_closing_server_answers_503(engine):
    with local(create_app(engine)) as c:
        for lane in c.app.state.lanes.values():
            lane.close()
        r = c.post("/translate", json={"sentences": ["a"]})
        assert r.status_code == 503 and r.json()["detail"] == "the server is shutting down; retry shortly"
        assert c.get("/health").json()["status"] == "closing"


def test_an_engine_failure_is_a_500_line_and_the_server_stays_up(engine):
    class Failing:
        def translate_scored(self, sentences, settings=None, attention=False):
            if "boom" in sentences:
                raise RuntimeError("out of memory")
            return engine.translate_scored(sentences, settings, attention=attention)

    with local(create_app(Failing())) as c:
        r = c.post("/translate", json={"sentences": ["boom"]})
        assert r.status_code == 500 and r.json()["detail"] == "translation failed: RuntimeError: out of memory"
        assert c.post("/translate", json={"sentences": ["The cat."]}).status_code == 200
        assert c.get("/health").json()["errors"] == 1


def test_an_engine_without_attention(engine):
    class NoAttention:  # as the CTranslate2 engine: refuses attention with a SeqkitError
        def translate_scored(self, sentences, settings=None, attention=False):
            if attention:
                raise SeqkitError("this engine gives no attention", fix="ask without it")
            return engine.translate_scored(sentences, settings)

    with local(create_app(NoAttention(), attention=False)) as c:
        assert c.get("/info").json()["attention"] is False
        r = c.post("/translate", json={"sentences": ["The cat."], "alignment": True})
        assert r.status_code == 422
        assert r.json()["detail"] == ("this server's engine (NoAttention) gives no attention or alignments; "
                                      "ask without them")
        assert c.post("/translate", json={"sentences": ["The cat."]}).status_code == 200
    with local(create_app(NoAttention())) as c:  # not told: the engine's own refusal is the 422
        r = c.post("/translate", json={"sentences": ["The cat."], "attention": True})
        assert r.status_code == 422 and r.json()["detail"] == "this engine gives no attention; fix: ask without it"


def test_empty_sentences_translate_to_empty_text(client):
    r = client.post("/translate", json={"sentences": ["", "The cat."], "attention": True, "alignment": True})
    assert r.status_code == 200
    empty, cat = (hyps[0] for hyps in r.json()["translations"])
    # nothing was attended to: no alignment, no attention (null), rather than made-up empty ones
    assert (empty["text"], empty["pieces"], empty["alignment"], empty["attention"]) == ("", [], None, None)
    assert cat["text"] != "" and cat["attention"] is not None


def test_an_app_without_its_lifespan_says_so(engine):
    c = local(create_app(engine))  # not entered: the decoder never started
    r = c.post("/translate", json={"sentences": ["a"]})
    assert r.status_code == 503 and "not running" in r.json()["detail"]


# -- engines --------------------------------------------------------------------------------------------
def test_ct2_engine_missing_is_one_line(tiny_run, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "ctranslate2", None)  # as if not installed
    with pytest.raises(SeqkitError, match=r"CTranslate2 is not installed.*fix: pip install \"seqkit\[ct2\]\""):
        load_engine(tiny_run, "ct2")
    assert isinstance(load_engine(tiny_run, "seqkit"), Translator)
    with pytest.raises(SeqkitError, match="unknown engine 'onnx'"):
        load_engine(tiny_run, "onnx")


def test_cli_refuses_a_missing_run_with_one_line(tmp_path, capsys):
    from seqkit.cli import main

    assert main(["serve", "--run", str(tmp_path / "nope"), "--port", "8123"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "run directory not found" in err[0]


# -- admission by cost ----------------------------------------------------------------------------------
def _work_of(engine, sentences, attention=False, **decode):
    from seqkit.serve.engine import source_lengths
    from seqkit.serve.limits import sentence_work

    settings = engine.settings.replace(**decode)
    return sum(sentence_work(n, settings, attention=attention) for n in source_lengths(engine, sentences))


def test_a_request_over_the_work_budget_is_refused_before_decoding(engine):
    sentences = SENTENCES * 4
    cheap, dear = _work_of(engine, sentences, beam=2), _work_of(engine, sentences, beam=8, nbest=8)
    budget = cheap  # exactly enough for the cheap request
    with local(create_app(engine, limits=Limits(max_work=budget))) as c:
        assert c.post("/translate", json={"sentences": sentences, "beam": 2}).status_code == 200
        r = c.post("/translate", json={"sentences": sentences, "beam": 8, "nbest": 8})
        assert r.status_code == 413
        detail = r.json()["detail"]
        assert detail.startswith(f"this request needs {dear:,} units of decoding work (source pieces x beam x nbest)")
        assert f"this server's budget is {budget:,} per request" in detail and "\n" not in detail
        # attention is priced by its size: the same cheap request with attention is over the budget
        with_attention = _work_of(engine, sentences, attention=True, beam=2)
        assert with_attention > budget and dear > budget
        r = c.post("/translate", json={"sentences": sentences, "beam": 2, "attention": True})
        assert r.status_code == 413 and f"needs {with_attention:,} units" in r.json()["detail"]
        assert "plus attention weights" in r.json()["detail"]
        h = c.get("/health").json()
        assert (h["requests"], h["sentences"]) == (1, len(sentences))  # nothing refused was decoded


def test_an_answer_over_the_response_cap_is_413(engine):
    with local(create_app(engine, limits=Limits(max_response_bytes=1024))) as c:
        assert c.post("/translate", json={"sentences": SENTENCES[:1]}).status_code == 200
        r = c.post("/translate", json={"sentences": SENTENCES, "attention": True})
        assert r.status_code == 413
        assert r.json()["detail"].startswith("the answer is over this server's limit of 1,024 bytes")
        assert c.get("/health").json()["status"] == "ok"


def test_heavy_requests_go_to_their_own_lane(engine):
    with local(create_app(engine, limits=Limits(heavy_work=_work_of(engine, SENTENCES[:1])))) as c:
        assert c.post("/translate", json={"sentences": SENTENCES[:1]}).status_code == 200
        r = c.post("/translate", json={"sentences": SENTENCES, "beam": 3})
        assert r.status_code == 200
        want = engine.translate_scored(SENTENCES, beam=3)
        assert [h[0]["text"] for h in r.json()["translations"]] == [w[0].text for w in want]
        lanes = c.get("/health").json()["lanes"]
        assert (lanes["small"]["requests"], lanes["heavy"]["requests"]) == (1, 1)
        assert lanes["heavy"]["batches"] == 3  # in parts of at most heavy_work units: one sentence each


def test_a_request_past_its_deadline_is_503_and_its_work_is_dropped(engine):
    gated = _Gated(engine)
    with local(create_app(gated, limits=Limits(deadline=0.3, max_wait_ms=0))) as c:
        held = threading.Thread(target=c.post, args=("/translate",), kwargs={"json": {"sentences": ["a"]}})
        held.start()
        _wait_for(c, in_flight=1)
        r = c.post("/translate", json={"sentences": SENTENCES[:2]})  # queued behind the held one
        assert r.status_code == 503 and r.headers["retry-after"] == "1"
        assert r.json()["detail"].startswith("not translated within this server's deadline of 0.3 s")
        assert c.get("/health").json()["queued"] == 0  # dropped from the queue
        held.join(30)  # its deadline passed too, while it was being decoded
        gated.gate.set()
        h = _wait_for(c, in_flight=0)
        assert (h["cancelled"], h["sentences"], h["requests"]) == (2, 1, 0)  # only "a" was decoded


# -- no silent truncation -----------------------------------------------------------------------------
def test_a_sentence_longer_than_the_model_reads_is_refused_and_labels_match_weights(tiny_run):
    short = load_engine(tiny_run, settings=load_engine(tiny_run).settings.replace(max_src_len=12))
    lengths = {s: len(ids) for s, ids in zip(SENTENCES, short.tokenizer.encode_ids_batch(SENTENCES))}
    fits = next(s for s, n in lengths.items() if n <= 11)
    words = "The cat eats the fish in the garden of the house."
    too_long = words[: next(i for i in range(len(words)) if len(short.tokenizer.encode_ids(words[:i])) == 12)]
    with local(create_app(short)) as c:
        r = c.post("/translate", json={"sentences": [fits, too_long], "attention": True})
        assert r.status_code == 422
        assert r.json()["detail"] == ("sentences.1 is 12 pieces long; this model reads at most 11 (the server's "
                                      "--max-src-len counts </s>): split it into shorter sentences")
        # up to the limit, every piece is read: the labels are the weights' columns
        longest = too_long[:-1] if len(short.tokenizer.encode_ids(too_long[:-1])) == 11 else fits
        r = c.post("/translate", json={"sentences": [fits, longest], "attention": True})
        assert r.status_code == 200
        for [hyp] in r.json()["translations"]:
            att = hyp["attention"]
            assert att["source"][:-1] == readable(hyp["src_pieces"])
            assert all(len(row) == len(att["source"]) for row in att["weights"])
            assert len(att["weights"]) == len(att["target"]) == len(hyp["pieces"]) + 1


# -- strict requests --------------------------------------------------------------------------------------
@pytest.mark.parametrize("field, value", [("beam", True), ("beam", "5"), ("beam", 5.5), ("nbest", False),
                                          ("alpha", "1"), ("length_penalty", 1), ("alignment", "yes"),
                                          ("attention", 1), ("sentences", ["a", None]), ("sentences", "a")])
def test_request_fields_are_strictly_typed(small, field, value):
    r = small.post("/translate", json={"sentences": ["a"], field: value})
    assert r.status_code == 422
    detail = r.json()["detail"]
    assert detail.startswith("bad request: ") and field in detail and "\n" not in detail


@pytest.mark.parametrize("content_type", [None, "text/plain", "application/x-www-form-urlencoded",
                                          "multipart/form-data; boundary=x", "application/jsonx"])
def test_only_json_bodies_are_read(small, content_type):
    headers = {"content-type": content_type} if content_type else {}
    r = small.post("/translate", content=json.dumps({"sentences": ["a"]}), headers=headers)
    assert r.status_code == 415
    assert r.json()["detail"].startswith("the body must be JSON, sent with Content-Type: application/json")
    ok = small.post("/translate", content=json.dumps({"sentences": ["a"], "beam": 1}),
                    headers={"content-type": "Application/JSON; charset=utf-8"})
    assert ok.status_code == 200


def test_the_host_header_must_name_this_server(engine):
    with TestClient(create_app(engine), base_url="http://localhost") as c:
        for host in ("localhost", "localhost:8000", "127.0.0.1:8000", "[::1]:8000", "LOCALHOST."):
            assert c.get("/health", headers={"host": host}).status_code == 200, host
        for host in ("evil.example", "evil.example:8000", "localhost.evil.example", "127.0.0.2"):
            r = c.get("/health", headers={"host": host})
            assert r.status_code == 400, host
            assert r.json()["detail"].startswith(f"Host {host.split(':')[0]!r} is not served here")
        r = c.post("/translate", json={"sentences": ["a"]}, headers={"host": "evil.example"})
        assert r.status_code == 400 and c.get("/health").json()["requests"] == 0
        # a page of another site (a cross-site fetch or form) is refused; this server's own page is not
        r = c.post("/translate", json={"sentences": ["a"]}, headers={"origin": "http://evil.example"})
        assert r.status_code == 403 and "other sites (http://evil.example)" in r.json()["detail"]
        assert c.post("/translate", json={"sentences": ["a"]},
                      headers={"origin": "http://localhost:8000"}).status_code == 200
    with TestClient(create_app(engine, allowed_hosts=["mt.example.org"]), base_url="http://mt.example.org") as c:
        assert c.get("/health").status_code == 200
        assert c.get("/health", headers={"host": "localhost"}).status_code == 400
    with TestClient(create_app(engine, allowed_hosts=["*"])) as c:  # any name, as behind a proxy that checks
        assert c.get("/health").status_code == 200


def test_no_file_system_path_in_any_answer(client, tiny_run):
    for path in ("/info", "/health", "/openapi.json"):
        text = client.get(path).text
        assert str(tiny_run.parent) not in text and str(tiny_run.parent).replace("/", "\\/") not in text, path
    assert client.get("/info").json()["run"] == tiny_run.name


# -- the watchdog (in-process: /health; the exit status is tests/serve/test_server.py's) -----------------
class Killed(BaseException):
    """Not an Exception: what no worker catches as an engine failure (as a thread killed would)."""


def test_a_dead_decoder_makes_health_503_and_refuses_work(engine):
    class Killer:
        def translate_scored(self, sentences, settings=None, attention=False):
            if "die" in sentences:
                raise Killed("simulated")
            return engine.translate_scored(sentences, settings, attention=attention)

    with local(create_app(Killer())) as c:
        assert c.post("/translate", json={"sentences": ["The cat."]}).status_code == 200
        r = c.post("/translate", json={"sentences": ["die"]})
        assert r.status_code == 503 and r.json()["detail"].startswith("the decoder thread died (Killed: simulated)")
        h = c.get("/health")
        assert h.status_code == 503 and h.json()["status"] == "dead"
        assert h.json()["failure"] == "the decoder thread died (Killed: simulated)"
        assert c.post("/translate", json={"sentences": ["The cat."]}).status_code == 503
        for _ in range(100):  # the watchdog records it for the server's exit status
            if c.app.state.failure:
                break
            time.sleep(0.05)
        assert c.app.state.failure == "the decoder thread died (Killed: simulated)"
