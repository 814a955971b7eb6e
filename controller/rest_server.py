"""The HTTP server behind ``ryu.app.wsgi``: cheroot with a worker pool, a backlog and limits.

``start_server(app, host, port)`` binds ``host:port`` and serves the WSGI ``app`` in daemon
threads. ``RestLimits`` bounds what one client can hold: the listen backlog, the worker pool,
the time to send a request's headers and body (a watchdog closes a connection that takes
longer, so half-sent requests cannot hold workers), the header and body sizes (cheroot answers
413/431), and the connections open from one address (more get a 503 and are closed).

A websocket upgrade (``sdnlab.controller.websocket``) leaves HTTP on its connection: the WSGI
app answers 101 and calls ``take_over_connection(run)``; once the answer is sent, the worker
thread calls ``run(socket, buffered_bytes)`` and closes the connection when it returns. At most
``max_websockets`` sessions run at once (each holds a worker); closing the server drops them.

``kind="wsgiref"`` keeps the previous server (the standard library's one thread per
connection, backlog 5) selectable, so the REST load benchmark can measure before and after.
"""

from __future__ import annotations

import logging
import socket
import socketserver
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer

from cheroot import server as cheroot_server
from cheroot import wsgi as cheroot_wsgi
from cheroot.makefile import MakeFile

LOG = logging.getLogger("ryu.app.wsgi")

SERVER_KINDS = ("cheroot", "wsgiref")
UNLIMITED = 1_000_000


@dataclass(frozen=True)
class RestLimits:
    """What the REST server allows one client (see the module docstring)."""

    backlog: int = 128
    min_workers: int = 16
    max_workers: int = 128  # the pool grows by ``min_workers`` whenever fewer than 2 are idle
    read_deadline_s: float = 5.0  # request line + headers + body, from the first byte
    idle_timeout_s: int = 10  # a keep-alive connection with nothing to say is closed
    max_header_bytes: int = 16 * 1024
    max_body_bytes: int = 1024 * 1024
    max_connections_per_client: int = 96
    max_websockets: int = 32  # each open websocket session holds one worker thread


class RestServer(Protocol):
    """A running REST server."""

    @property
    def address(self) -> tuple[str, int]: ...

    def close(self) -> None: ...


class ClientGuard:
    """Counts connections per client address and closes requests that are sent too slowly."""

    def __init__(self, limits: RestLimits) -> None:
        self.limits = limits
        self._lock = threading.Lock()
        self._per_client: dict[str, int] = {}
        self._reading: dict[Any, float] = {}  # connection -> deadline for its request to arrive
        self._sessions: set[socket.socket] = set()  # sockets taken over by websocket sessions
        self._reserved_sessions = 0
        self.pool: Any = None  # cheroot's ThreadPool, grown by the watchdog when busy
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="wsgi-deadlines", daemon=True)
        self._thread.start()

    def admit(self, client: str) -> bool:
        """Count a new connection from ``client``; False if it already holds the maximum."""
        with self._lock:
            count = self._per_client.get(client, 0)
            if count >= self.limits.max_connections_per_client:
                return False
            self._per_client[client] = count + 1
            return True

    def release(self, client: str) -> None:
        """A connection counted by ``admit`` closed."""
        with self._lock:
            count = self._per_client.get(client, 0) - 1
            if count > 0:
                self._per_client[client] = count
            else:
                self._per_client.pop(client, None)

    def reading(self, conn: Any) -> None:
        """``conn`` started receiving a request: it must be complete within the read deadline."""
        with self._lock:
            self._reading[conn] = time.monotonic() + self.limits.read_deadline_s

    def done_reading(self, conn: Any) -> None:
        """``conn``'s request (headers and body) has arrived, or the connection is finished."""
        with self._lock:
            self._reading.pop(conn, None)

    def connections(self) -> int:
        """How many connections are open (all clients)."""
        with self._lock:
            return sum(self._per_client.values())

    def reserve_session(self) -> bool:
        """Reserve a websocket session slot; False if ``max_websockets`` are open already."""
        with self._lock:
            if self._reserved_sessions >= self.limits.max_websockets:
                return False
            self._reserved_sessions += 1
            return True

    def session_started(self, sock: socket.socket) -> None:
        with self._lock:
            self._sessions.add(sock)

    def session_ended(self, sock: socket.socket | None) -> None:
        """A reserved slot is free again (its session ended, or never started)."""
        with self._lock:
            self._reserved_sessions = max(0, self._reserved_sessions - 1)
            if sock is not None:
                self._sessions.discard(sock)

    def sessions(self) -> int:
        """How many websocket sessions are open or about to open."""
        with self._lock:
            return self._reserved_sessions

    def close(self) -> None:
        self._stop.set()
        with self._lock:
            sessions = list(self._sessions)
        for sock in sessions:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def _grow_pool(self) -> None:
        pool = self.pool
        if pool is None:
            return
        try:
            idle, size = pool.idle, len(pool._threads)  # cheroot grows its pool only when asked
        except (AttributeError, TypeError):
            return
        if idle < 2 and size < self.limits.max_workers:
            pool.grow(min(self.limits.min_workers, self.limits.max_workers - size))

    def _watch(self) -> None:
        while not self._stop.wait(0.1):
            self._grow_pool()
            now = time.monotonic()
            with self._lock:
                late = [conn for conn, deadline in self._reading.items() if deadline < now]
                for conn in late:
                    del self._reading[conn]
            for conn in late:
                LOG.info(
                    "REST: closing a connection whose request took over %.0f s to arrive",
                    self.limits.read_deadline_s,
                )
                try:
                    conn.socket.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass


_current = threading.local()  # the connection a worker thread is serving


def request_received() -> None:
    """Called by the WSGI app once it has read the whole body: stops the read deadline."""
    conn = getattr(_current, "conn", None)
    if conn is not None:
        conn.server.guard.done_reading(conn)


def take_over_connection(run: Callable[[socket.socket, bytes], None]) -> str | None:
    """Hand the current connection to ``run`` once this request's answer is sent (websockets).

    Returns why it cannot (the server is not cheroot, or ``max_websockets`` are open), or None.
    """
    conn = getattr(_current, "conn", None)
    if conn is None:
        return "websockets need the cheroot REST server (--wsapi-server cheroot)"
    guard = conn.server.guard
    if not guard.reserve_session():
        return f"too many websocket sessions open (at most {guard.limits.max_websockets})"
    conn.take_over = run
    return None


def _peer(sock: socket.socket) -> str:
    try:
        return str(sock.getpeername()[0])
    except (OSError, IndexError):
        return "?"


_BUSY_BODY = b'{"error": "too many connections from this address"}'
_BUSY = (
    b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nConnection: close\r\n"
    b"Content-Length: %d\r\n\r\n%s" % (len(_BUSY_BODY), _BUSY_BODY)
)


class _GuardedConnection(cheroot_server.HTTPConnection):
    """A cheroot connection counted per client, whose requests must arrive within the deadline."""

    def __init__(self, server, sock, makefile=MakeFile):
        super().__init__(server, sock, makefile)
        self.client = _peer(sock)
        self.admitted = server.guard.admit(self.client)
        self._released = False
        self.take_over: Callable[[socket.socket, bytes], None] | None = None
        if not self.admitted:
            LOG.warning("REST: refusing a connection from %s: too many open", self.client)
            try:
                sock.sendall(_BUSY)
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def communicate(self):
        if not self.admitted:
            return False
        guard = self.server.guard
        guard.reading(self)
        _current.conn = self
        try:
            keep_open = super().communicate()
        finally:
            _current.conn = None
            guard.done_reading(self)
        run, self.take_over = self.take_over, None
        if run is None:
            return keep_open
        if not keep_open:  # the 101 answer did not go out: no session
            guard.session_ended(None)
            return False
        self._run_session(run)
        return False

    def _run_session(self, run: Callable[[socket.socket, bytes], None]) -> None:
        """Run a websocket session on this connection's socket (bytes already buffered first)."""
        guard = self.server.guard
        leftover = self.rfile.read1(65536) if self.rfile.has_data() else b""
        guard.session_started(self.socket)
        try:
            run(self.socket, leftover)
        except Exception:  # a session's failure ends that session only
            LOG.exception("websocket session from %s failed", self.client)
        finally:
            guard.session_ended(self.socket)

    def close(self):
        if self.admitted and not self._released:
            self._released = True
            self.server.guard.release(self.client)
        super().close()


class _GuardedServer(cheroot_wsgi.Server):
    """cheroot's WSGI server with a ``ClientGuard`` and its log sent to ours."""

    ConnectionClass = _GuardedConnection
    guard: ClientGuard

    def error_log(self, msg: str = "", level: int = 20, traceback: bool = False) -> None:
        LOG.log(logging.DEBUG if level < logging.WARNING else level, "cheroot: %s", msg, exc_info=traceback)


class CherootRestServer:
    """cheroot serving a WSGI app with ``RestLimits``."""

    def __init__(self, app, host: str, port: int, limits: RestLimits) -> None:
        self.limits = limits
        server = _GuardedServer(
            (host, port),
            app,
            numthreads=limits.min_workers,
            max=limits.max_workers,
            request_queue_size=limits.backlog,
            timeout=limits.idle_timeout_s,
            accepted_queue_size=limits.max_workers * 4,
        )
        server.max_request_header_size = limits.max_header_bytes
        server.max_request_body_size = limits.max_body_bytes
        server.keep_alive_conn_limit = UNLIMITED  # idle keep-alive connections wait in the selector
        server.guard = ClientGuard(limits)
        server.prepare()  # binds: an OSError names the address in use
        server.guard.pool = server.requests
        self._server = server
        self._thread = threading.Thread(target=server.serve, name="wsgi", daemon=True)
        self._thread.start()

    @property
    def address(self) -> tuple[str, int]:
        host, port = self._server.bind_addr[:2]
        return str(host), int(port)

    def close(self) -> None:
        self._server.guard.close()
        self._server.stop()


class _QuietHandler(WSGIRequestHandler):
    """Request handler that logs at debug level instead of printing every request."""

    def log_message(self, format, *args):
        LOG.debug("%s %s", self.address_string(), format % args)


class _ThreadingWSGIServer(socketserver.ThreadingMixIn, WSGIServer):
    daemon_threads = True
    allow_reuse_address = True


class WsgirefRestServer:
    """The previous server: wsgiref, one thread per connection, backlog 5, no limits."""

    def __init__(self, app, host: str, port: int) -> None:
        self._server = _ThreadingWSGIServer((host, port), _QuietHandler)
        self._server.set_app(app)
        self._thread = threading.Thread(target=self._server.serve_forever, name="wsgi", daemon=True)
        self._thread.start()

    @property
    def address(self) -> tuple[str, int]:
        host, port = self._server.server_address[:2]
        return str(host), int(port)

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def start_server(
    app, host: str, port: int, kind: str = "cheroot", limits: RestLimits | None = None
) -> RestServer:
    """Serve ``app`` on ``host:port`` with the server ``kind`` (raises OSError if it cannot bind)."""
    if kind == "wsgiref":
        return WsgirefRestServer(app, host, port)
    if kind != "cheroot":
        raise ValueError(f"unknown REST server {kind!r} (expected one of {', '.join(SERVER_KINDS)})")
    return CherootRestServer(app, host, port, limits or RestLimits())
