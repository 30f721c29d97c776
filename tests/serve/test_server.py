"""The real server over localhost: a small load test (every answer checked) and a graceful SIGTERM."""

from __future__ import annotations

import signal
import threading
import time
from pathlib import Path

import httpx

from seqkit.io import read_lines

REPO = Path(__file__).resolve().parents[2]
POOL = read_lines(REPO / "data" / "en-fr" / "test.en")[:8]


def test_load_with_concurrent_clients_checks_every_answer(server, serve_load, capsys):
    expected = serve_load.expected_texts(server.url, POOL, beam=2)
    alone = serve_load.run_load(server.url, 1, 12, beam=2, pool=POOL, expected=expected)
    crowd = serve_load.run_load(server.url, 4, 24, per_request=2, beam=2, pool=POOL, expected=expected)
    assert alone["failures"] == [] and crowd["failures"] == []
    assert (alone["requests"], alone["ok"], alone["batches"]) == (12, 12, 12)  # one client: no company
    assert (crowd["requests"], crowd["ok"]) == (24, 24)
    # four clients keep requests waiting while one decodes: batches hold more than one request
    assert crowd["batches"] < 24 and crowd["mean_batch"] > 2
    assert 0 < crowd["p50_ms"] <= crowd["p95_ms"]
    # the script itself: its table, and exit status 0 when every answer was right
    assert serve_load.main(["--url", server.url, "--clients", "1,3", "--requests", "6", "--pool", "4",
                            "--beam", "2"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "seqkit serve load: 6 requests of 1 sentence(s), beam 2, 4 distinct sentences"
    assert out[2].split()[:2] == ["1", "6/6"] and out[3].split()[:2] == ["3", "6/6"]


def test_sigterm_finishes_the_requests_in_flight(tiny_run, serve_load, engine):
    sentences = read_lines(REPO / "data" / "en-fr" / "test.en")[:64]
    server = serve_load.Server(tiny_run)
    answer = {}

    def post():
        answer["r"] = httpx.post(server.url + "/translate", json={"sentences": sentences, "beam": 4}, timeout=120)

    try:
        client = threading.Thread(target=post)
        client.start()
        for _ in range(2000):
            if httpx.get(server.url + "/health", timeout=5).json()["in_flight"] == 64 or not client.is_alive():
                break
            time.sleep(0.005)
        assert client.is_alive(), "the request finished before SIGTERM could be sent: make it larger"
        status, log = server.stop()
        client.join(60)
    finally:
        server.stop()
    # uvicorn re-raises the signal once it has shut down cleanly: the exit is SIGTERM's own
    assert status in (0, -signal.SIGTERM), log
    r = answer["r"]
    assert r.status_code == 200
    want = engine.translate_scored(sentences, beam=4)
    assert [h[0]["text"] for h in r.json()["translations"]] == [w[0].text for w in want]
    assert "Shutting down" in log and "Finished server process" in log
