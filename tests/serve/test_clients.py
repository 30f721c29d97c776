"""Clients that go away, and a server that stops before they are served: the real server (uvicorn with
seqkit's guards) in a thread of the test process, its engine held at a gate by the test."""

from __future__ import annotations

import json
import socket
import threading
import time

import httpx

from seqkit.serve.app import create_app
from seqkit.serve.limits import Limits


class Gated:
    """The real engine behind a gate, recording what it was asked to decode."""

    def __init__(self, engine):
        self.engine, self.gate, self.calls = engine, threading.Event(), []

    def translate_scored(self, sentences, settings=None, attention=False):
        self.calls.append(list(sentences))
        assert self.gate.wait(60)
        return self.engine.translate_scored(sentences, settings, attention=attention)


def wait_for(url, **state):
    for _ in range(1000):
        h = httpx.get(url + "/health", timeout=30).json()
        if all(h[k] == v for k, v in state.items()):
            return h
        time.sleep(0.02)
    raise AssertionError(f"server never reached {state}: {h}")


def raw_post(url: str, body: dict) -> socket.socket:
    """A POST /translate sent whole on a socket that the test then closes without reading."""
    host, port = url.removeprefix("http://").split(":")
    data = json.dumps(body).encode()
    sock = socket.create_connection((host, int(port)), timeout=30)
    sock.sendall(b"POST /translate HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                 b"Content-Length: %d\r\n\r\n%s" % (len(data), data))
    return sock


def test_a_disconnected_clients_queued_work_is_dropped(engine, live_server):
    gated = Gated(engine)
    with live_server(create_app(gated, limits=Limits(max_wait_ms=0))) as (url, _):
        answer = {}
        held = threading.Thread(target=lambda: answer.setdefault(
            "r", httpx.post(url + "/translate", json={"sentences": ["The cat."], "beam": 2}, timeout=60)))
        held.start()
        wait_for(url, in_flight=1)
        gone = raw_post(url, {"sentences": ["I am here.", "Where is the station?"], "beam": 2})
        wait_for(url, queued=2)
        gone.close()  # the client hangs up while its request waits
        h = wait_for(url, queued=0, cancelled=1)  # dropped at once, not when the decoder gets to it
        gated.gate.set()
        held.join(60)
        assert answer["r"].status_code == 200
        assert [h[0]["text"] for h in answer["r"].json()["translations"]] == \
            [engine.translate_scored(["The cat."], beam=2)[0][0].text]
        h = wait_for(url, in_flight=0)
        assert gated.calls == [["The cat."]] and (h["requests"], h["sentences"]) == (1, 1)


def test_a_client_that_hangs_up_during_decoding_gets_no_more_parts_decoded(engine, live_server):
    gated = Gated(engine)
    with live_server(create_app(gated, limits=Limits(max_wait_ms=0, max_batch=1))) as (url, _):
        gone = raw_post(url, {"sentences": ["The cat.", "I am here.", "Where is the station?"], "beam": 2})
        wait_for(url, in_flight=1)  # its first part (one sentence) is being decoded
        gone.close()
        wait_for(url, cancelled=1, queued=0)
        gated.gate.set()
        h = wait_for(url, in_flight=0)
        assert gated.calls == [["The cat."]] and h["requests"] == 0


def test_past_the_grace_a_request_in_flight_gets_a_json_503(engine, live_server):
    gated = Gated(engine)
    with live_server(create_app(gated, limits=Limits(max_wait_ms=0, grace=0.2))) as (url, server):
        answer = {}
        client = threading.Thread(target=lambda: answer.setdefault(
            "r", httpx.post(url + "/translate", json={"sentences": ["The cat."]}, timeout=60)))
        client.start()
        wait_for(url, in_flight=1)
        server.should_exit = True  # what SIGTERM does; the decoder is held past the grace
        client.join(60)
        gated.gate.set()
    r = answer["r"]
    assert r.status_code == 503 and r.headers["content-type"] == "application/json"
    assert r.json() == {"detail": "the server stopped before this request was done; retry shortly"}
