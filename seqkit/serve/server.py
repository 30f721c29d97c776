"""Running the app: the listening socket, uvicorn, and what protects the server from slow clients.

``seqkit serve`` binds its socket first (:func:`listen`: a port in use is one line, before anything is
printed), then runs uvicorn on it (:func:`make_server`, :func:`run`). uvicorn bounds the backlog and
the keep-alive time, and h11 the size of a request's headers (16 KiB); it has no limit on how long a
client may take to send them, and a cap on connections (``limit_concurrency``) that half-open sockets
fill up as well as real clients do. So the HTTP protocol here is uvicorn's h11 protocol with two
guards (:class:`GuardedH11Protocol`):

* **header timeout**: a connection that has not sent a complete request head within
  ``Limits.header_timeout`` seconds of connecting (or of starting its next request) is closed, with a
  408 when it had sent part of one;
* **connection cap**: beyond ``Limits.max_connections`` open connections, the one that has waited
  longest without a request in progress (a half-open socket, an idle keep-alive) is closed to make
  room; when every connection has a request in progress, the newcomer gets a 503.

So idle or half-sent sockets cost a file descriptor each for a bounded time and never keep a real
request out. The body's read timeout is the app's (:func:`seqkit.serve.requests.read_body`: 408).

The decoder's watchdog (:mod:`seqkit.serve.app`) stops the server when a decoder thread dies;
:func:`run` then returns 1, so ``seqkit serve`` exits non-zero and a supervisor restarts it.
"""

from __future__ import annotations

import asyncio
import errno
import json
import socket
import sys
from typing import Any

from seqkit.errors import SeqkitError
from seqkit.serve.limits import Limits

try:  # the serve extra; seqkit.cli.serve says how to install it when it is missing
    import uvicorn
    from uvicorn.protocols.http.h11_impl import H11Protocol
except ImportError:  # pragma: no cover
    uvicorn = None
    H11Protocol = object

#: File descriptors the process keeps for itself beyond its connections (model files, logs, pipes).
SPARE_FDS = 64


def listen(host: str, port: int) -> socket.socket:
    """A socket bound to ``host:port`` (not yet listening; uvicorn starts that with the backlog). A
    port in use or an address this machine does not have is a :class:`SeqkitError` of one line."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise SeqkitError(f"cannot listen on {host}:{port}: unknown host ({exc.strerror})",
                          fix="give --host an address of this machine, such as 127.0.0.1") from None
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise SeqkitError(f"port {port} on {host} is in use by another program",
                              fix="choose another --port, or stop the program listening there") from None
        raise SeqkitError(f"cannot listen on {host}:{port} ({exc.strerror})",
                          fix="give --host an address of this machine and a --port you may use") from None
    sock.set_inheritable(True)
    return sock


def ensure_fds(max_connections: int) -> None:
    """Raise the open-files limit (``ulimit -n``) so ``max_connections`` sockets fit, or refuse in one
    line when the hard limit is too low."""
    try:
        import resource
    except ImportError:  # pragma: no cover -- not POSIX
        return
    need = max_connections + SPARE_FDS
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < need:
        if hard != resource.RLIM_INFINITY and hard < need:
            raise SeqkitError(f"--max-connections {max_connections:,} needs about {need:,} open files; this "
                              f"process may open at most {hard:,} (ulimit -Hn)",
                              fix=f"lower --max-connections to {max(1, hard - SPARE_FDS):,} or raise the limit")
        resource.setrlimit(resource.RLIMIT_NOFILE, (need, hard))


class _Guard:
    """The connections of one server that have no request in progress, oldest first."""

    def __init__(self, limits: Limits) -> None:
        self.max_connections = limits.max_connections
        self.header_timeout = limits.header_timeout
        self.idle: dict[GuardedH11Protocol, None] = {}  # insertion-ordered: the oldest first
        self.stats = {"closed_slow_headers": 0, "closed_for_room": 0, "refused_full": 0}

    @classmethod
    def off(cls) -> _Guard:
        """No cap and a header timeout too long to matter (a uvicorn without the hooks used here)."""
        guard = cls.__new__(cls)
        guard.max_connections, guard.header_timeout = sys.maxsize, 1e9
        guard.idle, guard.stats = {}, {"closed_slow_headers": 0, "closed_for_room": 0, "refused_full": 0}
        return guard


#: What the guard uses of uvicorn's h11 protocol: its methods, and attributes of a connection (uvicorn's
#: internals, stable for years; a release without them is served by plain h11, with a warning).
_CLASS_HOOKS = ("connection_made", "data_received", "on_response_complete", "connection_lost")
_INSTANCE_HOOKS = ("connections", "cycle", "loop", "transport")


def guard_fits() -> bool:
    """Whether this uvicorn's h11 protocol has the hooks :class:`GuardedH11Protocol` needs."""
    return all(callable(getattr(H11Protocol, name, None)) for name in _CLASS_HOOKS)


def _raw_response(status: int, reason: str, detail: str) -> bytes:
    body = json.dumps({"detail": detail}).encode()
    return (f"HTTP/1.1 {status} {reason}\r\ncontent-type: application/json\r\ncontent-length: {len(body)}\r\n"
            "connection: close\r\n\r\n").encode() + body


class GuardedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with a header timeout and a connection cap that closes idle sockets
    first (see the module docstring). ``guard`` is set per server by :func:`make_server`."""

    guard: _Guard

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        if not all(hasattr(self, name) for name in _INSTANCE_HOOKS):  # another uvicorn: serve unguarded
            self.guard = _Guard.off()
        self._timer: asyncio.TimerHandle | None = None
        self._partial = False  # bytes of a request head have arrived
        self._seen = None      # the request cycle last seen
        self._idle(start_timer=True)
        guard = self.guard
        if len(self.connections) > guard.max_connections:
            oldest = next(iter(guard.idle))
            if oldest is self:  # every other connection has a request in progress
                guard.stats["refused_full"] += 1
                self._close(_raw_response(503, "Service Unavailable",
                                          f"too many connections (this server keeps at most {guard.max_connections:,}); "
                                          "retry shortly"))
            else:
                guard.stats["closed_for_room"] += 1
                oldest._close()

    def data_received(self, data: bytes) -> None:
        if self in self.guard.idle:
            self._partial = True
            if self._timer is None:  # the next request on a kept-alive connection has begun
                self._timer = self.loop.call_later(self.guard.header_timeout, self._too_slow)
        super().data_received(data)
        self._update()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._update()

    def connection_lost(self, exc: Exception | None) -> None:
        self._busy()
        super().connection_lost(exc)

    # -- the guard's bookkeeping ------------------------------------------------------------------
    def _update(self) -> None:
        cycle = self.cycle
        if cycle is not None and cycle is not self._seen and not cycle.response_complete:
            self._seen = cycle
            self._busy()  # a request head arrived: the app has it now
        elif (cycle is None or cycle.response_complete) and self not in self.guard.idle \
                and not self.transport.is_closing():
            self._partial = False
            self._idle(start_timer=False)  # kept alive: uvicorn's keep-alive timer closes it when idle

    def _idle(self, *, start_timer: bool) -> None:
        self.guard.idle[self] = None
        if start_timer:
            self._timer = self.loop.call_later(self.guard.header_timeout, self._too_slow)

    def _busy(self) -> None:
        self.guard.idle.pop(self, None)
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _too_slow(self) -> None:
        self._timer = None
        if self not in self.guard.idle:
            return
        self.guard.stats["closed_slow_headers"] += 1
        self._close(_raw_response(408, "Request Timeout",
                                  f"request headers not received within {self.guard.header_timeout:g} s")
                    if self._partial else b"")

    def _close(self, goodbye: bytes = b"") -> None:
        self._busy()
        if not self.transport.is_closing():
            if goodbye:
                self.transport.write(goodbye)
            self.transport.close()


def make_server(app: Any, limits: Limits | None = None, *, log_level: str = "info") -> Any:
    """A ``uvicorn.Server`` for ``app`` with the timeouts and caps of ``limits`` (default: the app's
    own, :func:`seqkit.serve.app.create_app`'s), its HTTP protocol guarded (:class:`GuardedH11Protocol`),
    and the app's watchdog wired to stop it."""
    limits = limits or getattr(app.state, "limits", None) or Limits()
    guard = _Guard(limits)
    protocol: Any = type("GuardedH11Protocol", (GuardedH11Protocol,), {"guard": guard})
    if not guard_fits():  # uvicorn's internals moved: serve, without the header timeout and the cap
        import logging

        logging.getLogger("seqkit.serve").warning(
            "this uvicorn's h11 protocol lacks the hooks seqkit's connection guard uses: serving without the "
            "header timeout and the connection cap (install the uvicorn version seqkit was tested with)")
        protocol = "h11"
    config = uvicorn.Config(app, http=protocol, log_level=log_level, backlog=limits.backlog,
                            timeout_keep_alive=limits.keep_alive, timeout_graceful_shutdown=limits.grace,
                            h11_max_incomplete_event_size=16 * 1024, lifespan="on", server_header=False)
    server = uvicorn.Server(config)
    app.state.guard = guard
    app.state.stop_server = lambda: setattr(server, "should_exit", True)
    return server


def run(server: Any, sock: socket.socket) -> int:
    """Serve on ``sock`` until SIGTERM/Ctrl-C (or the watchdog) stops it; the exit status: 0, or 1
    when a decoder thread died."""
    server.run(sockets=[sock])
    return 1 if getattr(server.config.app.state, "failure", None) else 0
