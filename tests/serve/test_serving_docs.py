"""``docs/reference/serving.md`` says what the server does: its limits table is the code's, and its
nginx example works in front of a real ``seqkit serve``, streams included (skipped, saying why, without
nginx)."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from seqkit.serve.limits import limits_table

PAGE = Path(__file__).resolve().parents[2] / "docs" / "reference" / "serving.md"


def test_the_limits_table_is_the_codes():
    text = PAGE.read_text(encoding="utf-8")
    found = re.search(r"<!-- limits-table:[^\n]*-->\n(.*?)<!-- end limits-table -->", text, re.S)
    assert found, "the limits table's markers are missing"
    assert found.group(1) == limits_table(), "regenerate it: python -c 'from seqkit.serve.limits import " \
                                             "limits_table; print(limits_table())'"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_the_nginx_example_proxies_to_seqkit_serve(tiny_run, serve_load, tmp_path):
    nginx = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").is_file() else None)
    if nginx is None:
        pytest.skip("needs nginx: apt-get install nginx-light")
    example = re.search(r"```nginx\n(.*?)```", PAGE.read_text(encoding="utf-8"), re.S).group(1)
    port = _free_port()
    with serve_load.Server(tiny_run, "--allowed-hosts", "mt.example.org", "--threads", "1") as srv:
        site = example.replace("server 127.0.0.1:8000;", f"server 127.0.0.1:{srv.port};")
        site = site.replace("listen 80;", f"listen 127.0.0.1:{port};")
        assert site != example
        conf = tmp_path / "nginx.conf"
        conf.write_text("\n".join([
            "user root;" if os.geteuid() == 0 else "", "worker_processes 1;", "daemon off;",
            f"pid {tmp_path / 'nginx.pid'};", f"error_log {tmp_path / 'error.log'} warn;", "events {}",
            "http {", "access_log off;", f"client_body_temp_path {tmp_path / 'body'};",
            *(f"{kind}_temp_path {tmp_path / kind};" for kind in ("proxy", "fastcgi", "uwsgi", "scgi")),
            site, "}"]), encoding="utf-8")
        proc = subprocess.Popen([nginx, "-p", str(tmp_path), "-c", str(conf)], stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True)
        try:
            url = f"http://127.0.0.1:{port}"
            for _ in range(600):
                assert proc.poll() is None, proc.stdout.read()
                try:
                    httpx.get(url + "/health", headers={"host": "mt.example.org"}, timeout=1)
                    break
                except httpx.TransportError:
                    time.sleep(0.05)
            named = {"host": "mt.example.org"}
            r = httpx.post(url + "/translate", json={"sentences": ["The cat eats."], "beam": 2}, headers=named,
                           timeout=60)
            assert r.status_code == 200 and r.json()["translations"][0][0]["text"]
            direct = httpx.post(srv.url + "/translate", json={"sentences": ["The cat eats."], "beam": 2},
                                headers=named, timeout=60)
            assert r.json() == direct.json()
            # a stream passes through as events (X-Accel-Buffering: no turns nginx's buffering off for it)
            with httpx.stream("POST", url + "/translate/stream", json={"text": "The cat eats. I am here!", "beam": 2},
                              headers=named, timeout=60) as stream:
                assert stream.status_code == 200
                assert stream.headers["content-type"].startswith("text/event-stream")
                names = [line[7:] for line in stream.iter_lines() if line.startswith("event: ")]
            assert names == ["sentence", "sentence", "done"]
            # the name the client used reaches seqkit serve, which answers only to its own
            r = httpx.get(url + "/health", headers={"host": "evil.example"}, timeout=30)
            assert r.status_code == 400 and "Host 'evil.example' is not served here" in r.json()["detail"]
            r = httpx.post(url + "/translate", content="x" * 300_000, headers={**named, "content-type": "application/json"},
                           timeout=30)
            assert r.status_code == 413  # nginx's client_max_body_size
        finally:
            proc.terminate()
            proc.wait(30)
