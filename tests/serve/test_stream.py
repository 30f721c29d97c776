"""``POST /translate/stream``: server-sent events, one per sentence as soon as it is decoded, then
``done``; the same admission as ``/translate``; failures after the start as ``error`` events; a client
that hangs up mid-stream has the rest of its work dropped (the real server, in a thread)."""

from __future__ import annotations

import json
import socket
import threading

import pytest
from fastapi.testclient import TestClient
from test_clients import wait_for  # tests/serve/test_clients.py: /health polled until it shows a state

from seqkit.serve import libretranslate as lt
from seqkit.serve.app import create_app
from seqkit.serve.engine import run_info
from seqkit.serve.limits import Limits

TEXT = ("The beautiful brother will work with their friend. He looked for a waitress.\n"
        "Was this aunt waiting for this writer?  You were quiet.\nThe cat does not fall with my painter in the evening.")
SENTENCES = lt.template(TEXT).sentences


def local(app):
    return TestClient(app, base_url="http://localhost")


def events(response) -> list[tuple[str, dict]]:
    """The ``(event, data)`` pairs of a ``text/event-stream`` body, in order."""
    out = []
    for block in response.text.split("\n\n"):
        if not block.strip():
            continue
        fields = dict(line.split(": ", 1) for line in block.split("\n"))
        out.append((fields["event"], json.loads(fields["data"])))
    return out


def assert_same(streamed: list, plain: list) -> None:
    """Each sentence's hypotheses equal: texts and pieces exactly, numbers up to the float noise of
    another batch composition (the stream's sentences are decoded in other batches than /translate's)."""
    assert len(streamed) == len(plain)
    for got, want in zip(streamed, plain):
        assert [{k: v for k, v in h.items() if k not in ("score", "log_prob", "attention")} for h in got] == \
            [{k: v for k, v in h.items() if k not in ("score", "log_prob", "attention")} for h in want]
        for a, b in zip(got, want):
            assert (a["score"], a["log_prob"]) == pytest.approx((b["score"], b["log_prob"]), abs=1e-4)
            if "attention" in b:
                assert a["attention"]["source"] == b["attention"]["source"]
                assert a["attention"]["target"] == b["attention"]["target"]
                for row_a, row_b in zip(a["attention"]["weights"], b["attention"]["weights"], strict=True):
                    assert row_a == pytest.approx(row_b, abs=2e-4)


class Stepped:
    """The real engine, a step at a time: each call waits for one :attr:`steps` release by the test;
    records what it was asked to decode."""

    def __init__(self, engine):
        self.engine, self.steps, self.calls = engine, threading.Semaphore(0), []

    def translate_scored(self, sentences, settings=None, attention=False):
        self.calls.append(list(sentences))
        assert self.steps.acquire(timeout=60)
        return self.engine.translate_scored(sentences, settings, attention=attention)


@pytest.fixture(scope="module")
def client(engine, tiny_run):
    with local(create_app(engine, info=run_info(tiny_run))) as c:
        yield c


def test_a_text_streams_one_event_per_sentence_in_order_then_done(client, engine):
    assert len(SENTENCES) == 5
    before = client.get("/health").json()
    r = client.post("/translate/stream", json={"text": TEXT, "beam": 2})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
    got = events(r)
    after = client.get("/health").json()
    # decoded in parts of 1, 2, 2 sentences (so the first came back after one sentence's decoding)
    assert (after["batches"] - before["batches"], after["largest_batch"]) == (3, max(2, before["largest_batch"]))
    assert after["requests"] - before["requests"] == 1
    assert [name for name, _ in got] == ["sentence"] * 5 + ["done"]
    assert [d["index"] for _, d in got[:5]] == [0, 1, 2, 3, 4] and {d["total"] for _, d in got[:5]} == {5}
    # each sentence's hypotheses are what /translate gives for the same sentences
    plain = client.post("/translate", json={"sentences": SENTENCES, "beam": 2}).json()["translations"]
    assert_same([d["hypotheses"] for _, d in got[:5]], plain)
    assert [d["text"] for _, d in got[:5]] == [hyps[0].text for hyps in engine.translate_scored(SENTENCES, beam=2)]
    # the text's own spaces and line breaks before each sentence, and the whole translation at the end
    assert [d["before"] for _, d in got[:5]] == ["", " ", "\n", "  ", "\n"]
    done = got[5][1]
    assert done == {"total": 5, "beam": 2, "nbest": 1,
                    "text": "".join(d["before"] + d["text"] for _, d in got[:5])}


def test_the_whole_text_equals_libretranslates_join(client):
    """Cut and joined as LibreTranslate's API cuts and joins a text (at the server's own beam)."""
    done = events(client.post("/translate/stream", json={"text": TEXT}))[-1][1]
    lt_text = client.post("/translate", json={"q": TEXT, "source": "en", "target": "fr"}).json()["translatedText"]
    assert done["text"] == lt_text


def test_sentences_with_attention_and_nbest(client):
    body = {"sentences": SENTENCES[:3], "beam": 3, "nbest": 2, "attention": True, "alignment": True}
    got = events(client.post("/translate/stream", json=body))
    plain = client.post("/translate", json=body).json()["translations"]
    assert [name for name, _ in got] == ["sentence"] * 3 + ["done"]
    assert_same([d["hypotheses"] for _, d in got[:3]], plain)
    assert all("before" not in d for _, d in got[:3]) and got[3][1] == {"total": 3, "beam": 3, "nbest": 2}
    assert got[0][1]["hypotheses"][0]["attention"]["source"][-1] == "</s>"


def test_an_empty_text_is_done_at_once(client):
    assert events(client.post("/translate/stream", json={"text": " \n "})) == [
        ("done", {"total": 0, "beam": 5, "nbest": 1, "text": " \n "})]  # the server's beam


@pytest.mark.parametrize("body, status, says", [
    ({"text": "a", "sentences": ["a"]}, 422, "bad request: give text (one text, cut into sentences) or sentences"),
    ({"beam": 2}, 422, "bad request: give text"),
    ({"text": 5}, 422, "bad request: text: "),
    ({"text": "a", "beam": True}, 422, "bad request: beam: must be an integer, got True"),
    ({"text": "a", "stream": True}, 422, "bad request: stream: "),
    ({"text": "x" * 1001}, 422, "sentences.0 has 1,001 characters; the limit is 1,000"),
    ({"text": "a", "beam": 17}, 422, "beam 17 is over this server's limit of 16"),
    ({"text": "a", "target": "de"}, 422, "de is not supported as a target language; this server translates en to fr"),
])
def test_refusals_before_the_stream_are_statuses_as_for_translate(client, body, status, says):
    r = client.post("/translate/stream", json=body)
    assert r.status_code == status and r.headers["content-type"] == "application/json"
    assert says in r.json()["detail"] and "\n" not in r.json()["detail"]


def test_the_same_admission_as_translate(engine):
    with local(create_app(engine, limits=Limits(max_work=50, max_sentences=4))) as c:
        r = c.post("/translate/stream", json={"text": TEXT})
        assert r.status_code == 413 and r.json()["detail"] == "5 sentences in one request; the limit is 4: split the request"
        r = c.post("/translate/stream", json={"sentences": SENTENCES[:2], "beam": 2})
        assert r.status_code == 413 and "this server's budget is 50 per request" in r.json()["detail"]
        r = c.post("/translate/stream", content=json.dumps({"text": "a"}), headers={"content-type": "text/plain"})
        assert r.status_code == 415
        r = c.post("/translate/stream", json={"text": "a"}, headers={"host": "evil.example"})
        assert r.status_code == 400
        assert c.get("/health").json()["requests"] == 0


def test_failures_after_the_start_are_error_events(engine):
    class FailsLater:
        def translate_scored(self, sentences, settings=None, attention=False):
            if SENTENCES[1] in sentences:
                raise RuntimeError("out of memory")
            return engine.translate_scored(sentences, settings, attention=attention)

    with local(create_app(FailsLater())) as c:
        got = events(c.post("/translate/stream", json={"text": TEXT, "beam": 2}))
        assert [name for name, _ in got] == ["sentence", "error"]
        assert got[1][1] == {"status": 500, "detail": "translation failed: RuntimeError: out of memory"}
        h = c.get("/health").json()
        assert (h["errors"], h["queued"], h["status"]) == (1, 0, "ok")  # the rest was not decoded
    with local(create_app(engine, limits=Limits(max_response_bytes=2048))) as c:
        got = events(c.post("/translate/stream", json={"text": TEXT, "attention": True, "beam": 2}))
        assert [name for name, _ in got][-1] == "error" and all(name == "sentence" for name, _ in got[:-1])
        assert got[-1][1]["status"] == 413
        assert got[-1][1]["detail"].startswith("the answer is over this server's limit of 2,048 bytes (at sentence ")


def test_a_stream_past_its_deadline_ends_with_an_error_event_and_its_work_is_dropped(engine):
    stepped = Stepped(engine)
    stepped.steps.release()  # the first part (one sentence) is decoded; the second is held
    with local(create_app(stepped, limits=Limits(deadline=2, max_wait_ms=0))) as c:
        got = events(c.post("/translate/stream", json={"text": TEXT, "beam": 2}))
        assert [name for name, _ in got] == ["sentence", "error"]
        assert got[1][1]["status"] == 503
        assert got[1][1]["detail"].startswith("not translated within this server's deadline of 2 s")
        h = c.get("/health").json()
        assert (h["cancelled"], h["queued"]) == (1, 0)
        stepped.steps.release(5)
        _settle(c)
        assert stepped.calls == [SENTENCES[:1], SENTENCES[1:3]]  # never the last two


def _settle(c):
    import time

    for _ in range(500):
        if c.get("/health").json()["in_flight"] == 0:
            return
        time.sleep(0.01)
    raise AssertionError("the decoder never went idle")


# -- a client that hangs up mid-stream (the real server) --------------------------------------------------
def test_a_client_that_disconnects_mid_stream_has_the_rest_dropped(engine, live_server):
    stepped = Stepped(engine)
    stepped.steps.release()  # its first part is decoded, its second held while the client hangs up
    with live_server(create_app(stepped, limits=Limits(max_wait_ms=0))) as (url, _):
        host, port = url.removeprefix("http://").split(":")
        body = json.dumps({"text": TEXT, "beam": 2}).encode()
        sock = socket.create_connection((host, int(port)), timeout=30)
        sock.sendall(b"POST /translate/stream HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                     b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
        seen = b""
        while b"event: sentence" not in seen:
            seen += sock.recv(65536)
        assert b'"index":0,"total":5' in seen
        wait_for(url, in_flight=2, queued=2)  # sentences 2-3 decoding (held), 4-5 waiting
        sock.close()
        h = wait_for(url, cancelled=1, queued=0)  # the waiting ones dropped at once, while 2-3 are still held
        assert h["in_flight"] == 2
        stepped.steps.release(5)
        h = wait_for(url, in_flight=0)
        assert stepped.calls == [SENTENCES[:1], SENTENCES[1:3]]  # never continued after the part held
        assert (h["requests"], h["sentences"], h["cancelled"]) == (0, 3, 1)
