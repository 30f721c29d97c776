"""Load test of ``seqkit serve``: N concurrent clients, a fixed number of requests, every answer checked.

    python benchmarks/serve_load.py --run runs/nmt_transformer                  # starts a server itself
    python benchmarks/serve_load.py --url http://127.0.0.1:8000 --clients 1,4,16 --requests 400

First each sentence of the pool (the first ``--pool`` lines of ``--input``) is translated alone, one
request at a time: that is the expected answer. Then, for each client count, the clients send
``--requests`` requests in all (each takes the next request number until none is left: a bounded
amount of work, not a wall-clock budget), each of ``--sentences`` sentences of the pool. Every
response must be 200 and give, for each sentence, the text it got alone -- so micro-batching may
neither change a translation nor hand it to the wrong client.

Printed per client count: latency p50/p95 (ms), throughput (requests/s and sentences/s) and how the
server batched them (``/health``: batches, mean sentences per batch); then the throughput ratio to
the first client count. Exit status 1 when any response was wrong. Times on a shared machine vary;
the ratios between client counts, measured side by side in one run, are the figures to quote.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]


class Server:
    """``python -m seqkit.cli serve --run RUN`` in a subprocess on a free localhost port (``url``)."""

    def __init__(self, run_dir: str | os.PathLike, *args: str, startup_s: float = 60.0) -> None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
        self.proc = subprocess.Popen([sys.executable, "-m", "seqkit.cli", "serve", "--run", str(run_dir),
                                      "--port", str(self.port), *args], cwd=REPO, env=env,
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        deadline = time.monotonic() + startup_s  # importing torch and loading the model
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"seqkit serve exited with {self.proc.returncode}: {self.proc.stdout.read()}")
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(self.url + "/health", timeout=1).status_code == 200:
                    return
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"seqkit serve did not answer /health within {startup_s:.0f} s")

    def stop(self, timeout: float = 30) -> tuple[int, str]:
        """SIGTERM (a graceful stop); returns (exit status, everything the server printed)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            out, _ = self.proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            out, _ = self.proc.communicate()
        return self.proc.returncode, out

    def __enter__(self) -> Server:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def expected_texts(url: str, pool: list[str], beam: int) -> dict[str, str]:
    """Each pool sentence translated alone, one request at a time (nothing to batch it with)."""
    out = {}
    with httpx.Client(timeout=120) as http:
        for sentence in pool:
            r = http.post(url + "/translate", json={"sentences": [sentence], "beam": beam})
            r.raise_for_status()
            out[sentence] = r.json()["translations"][0][0]["text"]
    return out


async def _load(url: str, clients: int, requests: int, per_request: int, beam: int, pool: list[str],
                expected: dict[str, str]) -> tuple[list[float], list[str], float]:
    latencies: list[float] = []
    failures: list[str] = []
    numbers = iter(range(requests))  # shared by the clients: each request is sent exactly once

    async def client(http: httpx.AsyncClient) -> None:
        for i in numbers:
            sentences = [pool[(i * per_request + j) % len(pool)] for j in range(per_request)]
            start = time.perf_counter()
            r = await http.post(url + "/translate", json={"sentences": sentences, "beam": beam})
            latencies.append(time.perf_counter() - start)
            if r.status_code != 200:
                failures.append(f"request {i}: HTTP {r.status_code}: {r.text[:200]}")
                continue
            got = [hyps[0]["text"] for hyps in r.json()["translations"]]
            want = [expected[s] for s in sentences]
            if got != want:
                failures.append(f"request {i}: got {got!r}, expected {want!r}")

    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(timeout=300, limits=limits) as http:
        start = time.perf_counter()
        await asyncio.gather(*(client(http) for _ in range(clients)))
        seconds = time.perf_counter() - start
    return latencies, failures, seconds


def run_load(url: str, clients: int, requests: int, *, per_request: int = 1, beam: int = 5,
             pool: list[str], expected: dict[str, str]) -> dict:
    """One load run; returns its figures (``failures`` lists every wrong response)."""
    before = httpx.get(url + "/health", timeout=30).json()
    latencies, failures, seconds = asyncio.run(_load(url, clients, requests, per_request, beam, pool, expected))
    after = httpx.get(url + "/health", timeout=30).json()
    batches = after["batches"] - before["batches"]
    sentences = after["sentences"] - before["sentences"]
    q = statistics.quantiles(latencies, n=100, method="inclusive") if len(latencies) > 1 else latencies * 99
    return {"clients": clients, "requests": len(latencies), "ok": len(latencies) - len(failures),
            "failures": failures, "p50_ms": 1000 * q[49], "p95_ms": 1000 * q[94], "seconds": seconds,
            "requests_per_s": len(latencies) / seconds, "sentences_per_s": sentences / seconds,
            "batches": batches, "mean_batch": sentences / max(batches, 1)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    where = ap.add_mutually_exclusive_group(required=True)
    where.add_argument("--url", help="a running seqkit serve")
    where.add_argument("--run", help="a run directory: start `seqkit serve --run RUN` on a free port")
    ap.add_argument("--clients", default="1,8", help="concurrent clients, comma-separated counts to compare")
    ap.add_argument("--requests", type=int, default=200, help="requests per client count, all clients together")
    ap.add_argument("--sentences", type=int, default=1, help="sentences per request")
    ap.add_argument("--beam", type=int, default=5)
    ap.add_argument("--input", default=str(REPO / "data" / "en-fr" / "test.en"), help="sentences, one per line")
    ap.add_argument("--pool", type=int, default=50, help="distinct sentences used (the first N lines)")
    ap.add_argument("--threads", type=int, default=None, help="the started server's --threads")
    args = ap.parse_args(argv)

    from seqkit.io import read_lines

    pool = [s for s in read_lines(args.input) if s.strip()][: args.pool]
    counts = [int(c) for c in args.clients.split(",")]
    with contextlib.ExitStack() as stack:
        url = args.url
        if url is None:
            extra = ["--threads", str(args.threads)] if args.threads else []
            url = stack.enter_context(Server(args.run, *extra)).url
        url = url.rstrip("/")
        expected = expected_texts(url, pool, args.beam)
        results = [run_load(url, c, args.requests, per_request=args.sentences, beam=args.beam, pool=pool,
                            expected=expected) for c in counts]
    print(f"seqkit serve load: {args.requests} requests of {args.sentences} sentence(s), beam {args.beam}, "
          f"{len(pool)} distinct sentences")
    print(f"{'clients':>7} {'ok':>9} {'p50 ms':>8} {'p95 ms':>8} {'req/s':>8} {'sent/s':>8} {'batches':>8} "
          f"{'mean batch':>10} {'vs first':>8}")
    for r in results:
        print(f"{r['clients']:>7} {r['ok']:>4}/{r['requests']:<4} {r['p50_ms']:>8.1f} {r['p95_ms']:>8.1f} "
              f"{r['requests_per_s']:>8.1f} {r['sentences_per_s']:>8.1f} {r['batches']:>8} {r['mean_batch']:>10.2f} "
              f"{r['requests_per_s'] / results[0]['requests_per_s']:>7.2f}x")
    failures = [f for r in results for f in r["failures"]]
    for line in failures[:10]:
        print("WRONG:", line)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
