"""Slow and idle clients against the real server (a subprocess on 127.0.0.1): half-sent request heads
are closed after the header timeout, sockets beyond the connection cap push out the oldest idle ones,
a body that never arrives gets a 408, and real requests are answered all the while.

Bounded: 60 sockets, a cap of 30, timeouts of 1-2 s; assertions are on outcomes (each socket is closed
by the server, each real request is answered), with generous waits, never on durations."""

from __future__ import annotations

import json
import socket
import time

import httpx
import pytest

HALF_OPEN = 60
CAP = 30


@pytest.fixture(scope="module")
def guarded(tiny_run, serve_load):
    srv = serve_load.Server(tiny_run, "--header-timeout", "2", "--body-timeout", "1", "--max-connections",
                            str(CAP), "--threads", "1")
    yield srv
    srv.stop()


def _connect(url: str) -> socket.socket:
    host, port = url.removeprefix("http://").split(":")
    return socket.create_connection((host, int(port)), timeout=30)


def _read_until_closed(sock: socket.socket, wait_s: float = 30.0) -> bytes:
    """Everything the server sends until it closes the connection (fails if it never does). A socket
    closed before the server read what it had sent ends with a reset instead of an end of file."""
    sock.settimeout(wait_s)
    data = b""
    try:
        while chunk := sock.recv(4096):
            data += chunk
    except ConnectionResetError:
        pass
    return data


def _translate(url: str) -> httpx.Response:
    return httpx.post(url + "/translate", json={"sentences": ["The cat eats."], "beam": 2}, timeout=60)


def test_half_open_sockets_are_closed_and_real_requests_still_answered(guarded):
    url = guarded.url
    before = httpx.get(url + "/health", timeout=30).json()["connections"]
    sockets = []
    try:
        for _ in range(HALF_OPEN):  # twice the cap: a request head that never ends
            s = _connect(url)
            s.sendall(b"POST /translate HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: appl")
            sockets.append(s)
        answers = [_translate(url) for _ in range(5)]  # while they hang on
        assert [r.status_code for r in answers] == [200] * 5
        assert len({r.json()["translations"][0][0]["text"] for r in answers}) == 1
        goodbyes = [_read_until_closed(s) for s in sockets]  # every one is closed by the server
    finally:
        for s in sockets:
            s.close()
    # those pushed out for room get nothing; those that outlived the header timeout get a 408 line
    timed_out = [g for g in goodbyes if g]
    assert timed_out, "no socket lived until the header timeout"
    for g in timed_out:
        head, _, body = g.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 408 ")
        assert json.loads(body) == {"detail": "request headers not received within 2 s"}
    after = httpx.get(url + "/health", timeout=30).json()["connections"]
    room, slow = (after[k] - before[k] for k in ("closed_for_room", "closed_slow_headers"))
    assert slow == len(timed_out) and room + slow >= HALF_OPEN
    assert room >= 1  # opened within the header timeout, twice the cap cannot all stay
    assert _translate(url).status_code == 200


def test_an_idle_socket_is_closed_without_a_word(guarded):
    s = _connect(guarded.url)
    try:
        assert _read_until_closed(s) == b""
    finally:
        s.close()


def test_a_body_that_never_arrives_gets_a_408(guarded):
    s = _connect(guarded.url)
    try:
        s.sendall(b"POST /translate HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                  b"Content-Length: 100\r\n\r\n{\"sentences\": ")
        head, _, body = _read_until_closed(s).partition(b"\r\n\r\n")
    finally:
        s.close()
    assert head.startswith(b"HTTP/1.1 408 ")
    assert json.loads(body) == {"detail": "request body not received within 1 s"}
    assert _translate(guarded.url).status_code == 200


def test_a_kept_alive_connection_still_serves_its_next_request(guarded):
    with httpx.Client(timeout=60) as http:  # one connection, three requests, with pauses under the timeouts
        for _ in range(3):
            assert http.post(guarded.url + "/translate", json={"sentences": ["Hello."], "beam": 2}).status_code == 200
            time.sleep(0.2)
