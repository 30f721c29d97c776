"""Load test of ``seqkit serve``: N concurrent clients, a fixed number of requests, every answer checked.

    python benchmarks/serve_load.py --run runs/nmt_transformer                  # starts a server itself
    python benchmarks/serve_load.py --url http://127.0.0.1:8000 --clients 1,4,16 --requests 400
    python benchmarks/serve_load.py --run RUN --clients 1,8,32,64 --heavy-clients 2 --half-open 1000

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

``--heavy-clients K`` runs every client count again with K more clients beside the small ones, each
sending heavy requests back to back until the small ones are done: long sentences at the server's
largest beam, as many as its work budget admits (found from the server's own 413 answers, which
state what a request costs; the heavy request is within the budget, not over it). Every heavy answer
must be 200 and equal the first one. Printed: the small requests' p50/p95 beside the heavy ones and
the ratio of p95 with and without them (the goal: at most 2x).

On a server of several models (``seqkit serve --run A --run B``), ``--pair SRC-TGT`` sends the small
requests to that model and ``--heavy-pair SRC-TGT`` the heavy ones (default: the same model): with two
pairs, the p95 ratio is that of one model's small requests beside another model's heavy traffic, which
decoder threads of its own keep apart.

``--half-open N`` opens N sockets that send half a request head and then nothing, and while they
are open sends ``--requests`` small requests one after another: printed are their latencies (the
goal: each answered within 1 s) and how many of the N sockets the server closed (the connection cap
and the header timeout, ``/health``'s ``connections``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]


class Server:
    """``python -m seqkit.cli serve --run RUN`` in a subprocess on a free localhost port (``url``).
    What it prints is read all along by a thread (an unread pipe fills up after some 1,000 logged
    requests and then blocks the server's event loop) and handed back by :meth:`stop`."""

    def __init__(self, run_dir: str | os.PathLike, *args: str, startup_s: float = 60.0) -> None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
        self.proc = subprocess.Popen([sys.executable, "-m", "seqkit.cli", "serve", "--run", str(run_dir),
                                      "--port", str(self.port), *args], cwd=REPO, env=env,
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self._lines: list[str] = []
        self._reader = threading.Thread(target=lambda: self._lines.extend(self.proc.stdout), daemon=True)
        self._reader.start()
        deadline = time.monotonic() + startup_s  # importing torch and loading the model
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                self._reader.join(10)
                raise RuntimeError(f"seqkit serve exited with {self.proc.returncode}: {''.join(self._lines)}")
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
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self._reader.join(timeout)
        return self.proc.returncode, "".join(self._lines)

    def __enter__(self) -> Server:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def pair_fields(pair: str | None) -> dict[str, str]:
    """``"en-fr"`` -> the request fields that pick that model; None -> none (a server of one model)."""
    if pair is None:
        return {}
    source, _, target = pair.partition("-")
    return {"source": source, "target": target}


def expected_texts(url: str, pool: list[str], beam: int, pair: str | None = None) -> dict[str, str]:
    """Each pool sentence translated alone, one request at a time (nothing to batch it with)."""
    out = {}
    with httpx.Client(timeout=120) as http:
        for sentence in pool:
            r = http.post(url + "/translate", json={"sentences": [sentence], "beam": beam, **pair_fields(pair)})
            r.raise_for_status()
            out[sentence] = r.json()["translations"][0][0]["text"]
    return out


async def _load(url: str, clients: int, requests: int, per_request: int, beam: int, pool: list[str],
                expected: dict[str, str], heavy: dict | None = None, pair: str | None = None
                ) -> tuple[list[float], list[str], float, int]:
    latencies: list[float] = []
    failures: list[str] = []
    numbers = iter(range(requests))  # shared by the clients: each request is sent exactly once

    async def client(http: httpx.AsyncClient) -> None:
        for i in numbers:
            sentences = [pool[(i * per_request + j) % len(pool)] for j in range(per_request)]
            start = time.perf_counter()
            r = await http.post(url + "/translate", json={"sentences": sentences, "beam": beam, **pair_fields(pair)})
            latencies.append(time.perf_counter() - start)
            if r.status_code != 200:
                failures.append(f"request {i}: HTTP {r.status_code}: {r.text[:200]}")
                continue
            got = [hyps[0]["text"] for hyps in r.json()["translations"]]
            want = [expected[s] for s in sentences]
            if got != want:
                failures.append(f"request {i}: got {got!r}, expected {want!r}")

    n_heavy = heavy["clients"] if heavy else 0
    limits = httpx.Limits(max_connections=clients + n_heavy, max_keepalive_connections=clients + n_heavy)
    async with httpx.AsyncClient(timeout=600, limits=limits) as http:
        stop = asyncio.Event()
        beside = [asyncio.ensure_future(_heavy_client(http, url, heavy, stop, failures)) for _ in range(n_heavy)]
        if beside:
            await asyncio.sleep(0.5)  # the heavy requests are being decoded when the small ones start
        start = time.perf_counter()
        await asyncio.gather(*(client(http) for _ in range(clients)))
        seconds = time.perf_counter() - start
        stop.set()
        heavy_done = sum(await asyncio.gather(*beside))
    return latencies, failures, seconds, heavy_done


def run_load(url: str, clients: int, requests: int, *, per_request: int = 1, beam: int = 5,
             pool: list[str], expected: dict[str, str], heavy: dict | None = None, pair: str | None = None) -> dict:
    """One load run; returns its figures (``failures`` lists every wrong response). ``heavy``: a
    :func:`heavy_request` whose ``clients`` run beside the small ones until those are done; ``pair``:
    the small requests' model on a server of several (``"en-fr"``)."""
    before = httpx.get(url + "/health", timeout=30).json()
    latencies, failures, seconds, heavy_done = asyncio.run(
        _load(url, clients, requests, per_request, beam, pool, expected, heavy, pair))
    after = httpx.get(url + "/health", timeout=30).json()
    batches = after["batches"] - before["batches"]
    sentences = after["sentences"] - before["sentences"]
    q = statistics.quantiles(latencies, n=100, method="inclusive") if len(latencies) > 1 else latencies * 99
    return {"clients": clients, "requests": len(latencies), "ok": len(latencies) - len(failures),
            "failures": failures, "p50_ms": 1000 * q[49], "p95_ms": 1000 * q[94], "seconds": seconds,
            "requests_per_s": len(latencies) / seconds, "sentences_per_s": sentences / seconds,
            "batches": batches, "mean_batch": sentences / max(batches, 1), "heavy_done": heavy_done}


_NEEDS = re.compile(r"this request needs ([\d,]+) units")


def heavy_request(url: str, pool: list[str], clients: int, pair: str | None = None) -> dict:
    """The heaviest request the server admits, made of long sentences (pool lines joined up to a
    third of ``max_chars``) at its largest beam: as many sentences as its work budget takes, found
    from the 413 answers that state a request's cost. Translated once here: its answer is the one
    every later heavy answer must equal. ``pair``: its model on a server of several."""
    info = httpx.get(url + "/info", timeout=30).json()
    limits = info["limits"]
    longest = max(limits["max_chars"] // 3, 1)
    sentences, current = [], ""
    for line in pool * 4:
        if current and len(current) + 1 + len(line) > longest:
            sentences.append(current)
            current = ""
        current = f"{current} {line}".strip()[:longest]
    sentences = (sentences or [current])[: limits["max_sentences"]]
    body = {"sentences": sentences, "beam": limits["max_beam"], **pair_fields(pair)}
    with httpx.Client(timeout=600) as http:
        while True:
            r = http.post(url + "/translate", json=body)
            if r.status_code == 200:
                break
            found = _NEEDS.search(r.json().get("detail", "")) if r.status_code == 413 else None
            if found is None:
                raise RuntimeError(f"heavy request refused: HTTP {r.status_code}: {r.text[:300]}")
            needs = int(found.group(1).replace(",", ""))
            n = len(body["sentences"])
            fewer = min(n - 1, n * limits["max_work"] // needs)
            if fewer < 1:  # one long sentence is over the budget: shorter ones, then a smaller beam
                if len(body["sentences"][0]) > 20:
                    body["sentences"] = [body["sentences"][0][: len(body["sentences"][0]) // 2]]
                elif body["beam"] > 1:
                    body["beam"] //= 2
                else:
                    raise RuntimeError(f"no request fits the budget of {limits['max_work']:,} units")
                continue
            body["sentences"] = body["sentences"][:fewer]
    texts = [hyps[0]["text"] for hyps in r.json()["translations"]]
    return {"body": body, "expected": texts, "clients": clients, "budget": limits["max_work"], "pair": pair}


async def _heavy_client(http: httpx.AsyncClient, url: str, heavy: dict, stop: asyncio.Event,
                        failures: list[str]) -> int:
    done = 0
    while not stop.is_set():
        r = await http.post(url + "/translate", json=heavy["body"])
        if r.status_code != 200:
            failures.append(f"heavy request: HTTP {r.status_code}: {r.text[:200]}")
        elif [hyps[0]["text"] for hyps in r.json()["translations"]] != heavy["expected"]:
            failures.append("heavy request: translations differ from its first answer")
        done += 1
    return done


def half_open_run(url: str, sockets: int, requests: int, pool: list[str], beam: int,
                  expected: dict[str, str]) -> dict:
    """``sockets`` connections that send half a request head, then ``requests`` small requests one
    after another while they stay open: each one's latency, and what the server closed."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    need = sockets + 256
    if soft != resource.RLIM_INFINITY and soft < need:  # this process holds them all
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(need, hard) if hard != resource.RLIM_INFINITY else need, hard))
    host, port = url.removeprefix("http://").rsplit(":", 1)
    before = httpx.get(url + "/health", timeout=30).json().get("connections", {})
    held, latencies, failures = [], [], []
    try:
        for _ in range(sockets):
            s = socket.create_connection((host, int(port)), timeout=30)
            s.sendall(b"POST /translate HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: appl")
            held.append(s)
        for i in range(requests):
            sentence = pool[i % len(pool)]
            start = time.perf_counter()
            try:
                r = httpx.post(url + "/translate", json={"sentences": [sentence], "beam": beam}, timeout=60)
            except httpx.TransportError as exc:
                failures.append(f"request {i}: {type(exc).__name__}: {exc}")
                continue
            finally:
                latencies.append(time.perf_counter() - start)
            if r.status_code != 200:
                failures.append(f"request {i}: HTTP {r.status_code}: {r.text[:200]}")
            elif r.json()["translations"][0][0]["text"] != expected[sentence]:
                failures.append(f"request {i}: wrong translation")
    finally:
        for s in held:
            s.close()
    after = httpx.get(url + "/health", timeout=30).json().get("connections", {})
    closed = {k: after.get(k, 0) - before.get(k, 0) for k in after}
    q = statistics.quantiles(latencies, n=100, method="inclusive") if len(latencies) > 1 else latencies * 99
    return {"sockets": sockets, "requests": len(latencies), "ok": len(latencies) - len(failures),
            "failures": failures, "p50_ms": 1000 * q[49], "p95_ms": 1000 * q[94],
            "max_ms": 1000 * max(latencies), "closed": closed}


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
    ap.add_argument("--heavy-clients", type=int, default=0,
                    help="run each client count again beside this many clients of heavy requests (at the budget)")
    ap.add_argument("--pair", default=None,
                    help="SRC-TGT: the model of the small requests, on a server of several (seqkit serve --run A --run B)")
    ap.add_argument("--heavy-pair", default=None,
                    help="SRC-TGT: the model of the heavy requests (default: --pair's): another model's load beside them")
    ap.add_argument("--half-open", type=int, default=0,
                    help="then hold this many half-open sockets while --requests requests are sent one by one")
    args = ap.parse_args(argv)

    from seqkit.io import read_lines

    pool = [s for s in read_lines(args.input) if s.strip()][: args.pool]
    counts = [int(c) for c in args.clients.split(",")]
    besides, slow = [], None
    with contextlib.ExitStack() as stack:
        url = args.url
        if url is None:
            extra = ["--threads", str(args.threads)] if args.threads else []
            url = stack.enter_context(Server(args.run, *extra)).url
        url = url.rstrip("/")
        expected = expected_texts(url, pool, args.beam, args.pair)
        results = [run_load(url, c, args.requests, per_request=args.sentences, beam=args.beam, pool=pool,
                            expected=expected, pair=args.pair) for c in counts]
        if args.heavy_clients:
            heavy = heavy_request(url, pool, args.heavy_clients, args.heavy_pair or args.pair)
            besides = [run_load(url, c, args.requests, per_request=args.sentences, beam=args.beam, pool=pool,
                                expected=expected, heavy=heavy, pair=args.pair) for c in counts]
        if args.half_open:
            slow = half_open_run(url, args.half_open, args.requests, pool, args.beam, expected)
    print(f"seqkit serve load: {args.requests} requests of {args.sentences} sentence(s), beam {args.beam}, "
          f"{len(pool)} distinct sentences" + (f", to the {args.pair} model" if args.pair else ""))
    print(f"{'clients':>7} {'ok':>9} {'p50 ms':>8} {'p95 ms':>8} {'req/s':>8} {'sent/s':>8} {'batches':>8} "
          f"{'mean batch':>10} {'vs first':>8}")
    for r in results:
        print(f"{r['clients']:>7} {r['ok']:>4}/{r['requests']:<4} {r['p50_ms']:>8.1f} {r['p95_ms']:>8.1f} "
              f"{r['requests_per_s']:>8.1f} {r['sentences_per_s']:>8.1f} {r['batches']:>8} {r['mean_batch']:>10.2f} "
              f"{r['requests_per_s'] / results[0]['requests_per_s']:>7.2f}x")
    if besides:
        body = heavy["body"]
        to = f" to the {heavy['pair']} model" if heavy["pair"] else ""
        print(f"beside {args.heavy_clients} client(s) of heavy requests{to} ({len(body['sentences'])} sentences of "
              f"{max(len(x) for x in body['sentences'])} characters, beam {body['beam']}; within the budget of "
              f"{heavy['budget']:,} units), small requests:")
        print(f"{'clients':>7} {'ok':>9} {'p50 ms':>8} {'p95 ms':>8} {'heavy done':>10} {'p95 vs alone':>12}")
        for alone, r in zip(results, besides):
            print(f"{r['clients']:>7} {r['ok']:>4}/{r['requests']:<4} {r['p50_ms']:>8.1f} {r['p95_ms']:>8.1f} "
                  f"{r['heavy_done']:>10} {r['p95_ms'] / alone['p95_ms']:>11.2f}x")
    if slow is not None:
        closed = ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in slow["closed"].items())
        print(f"{slow['sockets']} half-open sockets held; {slow['ok']}/{slow['requests']} small requests answered "
              f"one by one: p50 {slow['p50_ms']:.1f} ms, p95 {slow['p95_ms']:.1f} ms, max {slow['max_ms']:.1f} ms "
              f"(goal: each within 1,000 ms); the server closed: {closed or 'nothing'}")
    failures = [f for r in [*results, *besides] for f in r["failures"]] + (slow["failures"] if slow else [])
    for line in failures[:10]:
        print("WRONG:", line)
    return 1 if failures else 0


if __name__ == "__main__":
    from _common import header

    header(["httpx"])  # here, not in main(): the serve tests call main() and read its table from the top
    sys.exit(main())
