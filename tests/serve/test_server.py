"""The real server over localhost: a small load test (every answer checked), a graceful SIGTERM, the
watchdog's exit status, options checked at start and a port in use."""

from __future__ import annotations

import signal
import threading
import time
from pathlib import Path

import httpx
import pytest

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
    top = out.index("seqkit serve load: 6 requests of 1 sentence(s), beam 2, 4 distinct sentences")
    assert out[top + 2].split()[:2] == ["1", "6/6"] and out[top + 3].split()[:2] == ["3", "6/6"]


def test_load_beside_heavy_requests_and_half_open_sockets(tiny_run, serve_load, capsys):
    """The script's other runs, small: heavy requests at a small budget beside the small ones, then
    small requests while 20 half-open sockets are held; every answer checked (exit status 0)."""
    with serve_load.Server(tiny_run, "--max-work", "3000", "--heavy-work", "500", "--threads", "1") as srv:
        assert serve_load.main(["--url", srv.url, "--clients", "2", "--requests", "6", "--pool", "4",
                                "--beam", "2", "--heavy-clients", "1", "--half-open", "20"]) == 0
        lanes = httpx.get(srv.url + "/health", timeout=30).json()["lanes"]
    out = capsys.readouterr().out
    assert "beside 1 client(s) of heavy requests (" in out and "within the budget of 3,000 units" in out
    assert "20 half-open sockets held; 6/6 small requests answered one by one" in out
    assert lanes["heavy"]["requests"] >= 2 and lanes["heavy"]["errors"] == 0  # the probe's and the run's


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


# -- the watchdog, options at start, the port -------------------------------------------------------------
KILLER = """
import sys

import seqkit.seq2seq.engines as engines

real = engines.load_translator


class Killed(BaseException):  # not an Exception: nothing in the worker catches it as an engine failure
    pass


class Killer:
    def __init__(self, engine):
        self.engine, self.settings, self.tokenizer = engine, engine.settings, engine.tokenizer
        self.preprocess = engine.preprocess

    def translate_scored(self, sentences, settings=None, attention=False):
        if "die" in sentences:
            raise Killed("simulated")
        return self.engine.translate_scored(sentences, settings, attention=attention)


engines.load_translator = lambda *args, **kwargs: Killer(real(*args, **kwargs))
from seqkit.cli import main

sys.exit(main(sys.argv[1:]))
"""


def test_a_dead_decoder_stops_the_server_with_a_non_zero_exit(tiny_run):
    import socket
    import subprocess
    import sys

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    proc = subprocess.Popen([sys.executable, "-c", KILLER, "serve", "--run", str(tiny_run), "--port", str(port),
                             "--threads", "1"], cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        for _ in range(1200):
            assert proc.poll() is None, proc.stdout.read()
            try:
                if httpx.get(url + "/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.05)
        assert httpx.post(url + "/translate", json={"sentences": ["The cat."]}, timeout=60).status_code == 200
        r = httpx.post(url + "/translate", json={"sentences": ["die"]}, timeout=60)
        assert r.status_code == 503 and r.json()["detail"].startswith("the decoder thread died (Killed: simulated)")
        status = proc.wait(60)
    finally:
        if proc.poll() is None:
            proc.kill()
    log = proc.stdout.read()
    assert status == 1, log
    assert "seqkit serve: the decoder thread died (Killed: simulated); stopping (exit status 1)" in log
    assert "Traceback" not in log


@pytest.mark.parametrize("flag, value, says", [
    ("--max-wait-ms", "1e308", "--max-wait-ms: must be <= 10000, got 1e+308"),
    ("--grace", "nan", "--grace: must be a finite number, got nan"),
    ("--deadline", "0", "--deadline: must be > 0, got 0.0"),
    ("--header-timeout", "inf", "--header-timeout: must be a finite number, got inf"),
    ("--max-connections", "0", "--max-connections: must be >= 1, got 0"),
    ("--backlog", "70000", "--backlog: must be <= 65535, got 70000"),
    ("--max-work", "-5", "--max-work: must be >= 1, got -5"),
])
def test_every_option_is_range_checked_before_anything_loads(tmp_path, capsys, flag, value, says):
    from seqkit.cli import main

    assert main(["serve", "--run", str(tmp_path / "no-run"), flag, value]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"error: {says}"]


def test_a_port_in_use_is_one_line_before_the_banner(tiny_run, capsys):
    import socket

    from seqkit.cli import main

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        assert main(["serve", "--run", str(tiny_run), "--port", str(port), "--threads", "1"]) == 2
    out, err = capsys.readouterr()
    assert err.strip().splitlines() == [f"error: port {port} on 127.0.0.1 is in use by another program; "
                                        "fix: choose another --port, or stop the program listening there"]
    assert "seqkit serve:" not in out + err


def test_the_connection_guard_fits_this_uvicorn_and_steps_aside_for_another(monkeypatch):
    """The guard subclasses uvicorn's h11 protocol (internals): with this uvicorn it is used; were a
    release to drop the hooks, the server still serves, with plain h11 and a warning."""
    from seqkit.serve import server
    from seqkit.serve.app import create_app

    class Engine:
        settings = None

        def translate_scored(self, sentences, settings=None, attention=False):
            return [[] for _ in sentences]

    assert server.guard_fits()
    assert issubclass(server.make_server(create_app(Engine())).config.http, server.GuardedH11Protocol)
    monkeypatch.setattr(server, "guard_fits", lambda: False)
    assert server.make_server(create_app(Engine())).config.http == "h11"
    off = server._Guard.off()
    assert off.max_connections > 10**9 and off.idle == {}
