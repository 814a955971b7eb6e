"""Websocket sessions on the REST server's connections (RFC 6455), for ``ryu.app.wsgi``.

The REST server (cheroot, WSGI) cannot speak websockets, so an upgrade goes in two steps on
the connection that asked: the WSGI app checks the handshake (``handshake_problem``) and
answers ``101 Switching Protocols`` (``accept_headers``); then the connection leaves HTTP and
the session runs on the same worker thread (``sdnlab.controller.rest_server`` hands it the
socket). Framing, masking, ping/pong and the closing handshake are the ``websockets``
library's sans-I/O ``Protocol``; this module does the socket I/O around it.

``WebSocket`` offers what Ryu apps call on the object their handler receives: ``wait()`` (the
next message, text or bytes, or None once closed), ``send(message)`` (from any thread) and
``close()``. An idle peer is pinged every ``PING_INTERVAL_S``; one that stays silent through a
whole interval after a ping is dropped, so dead clients do not hold workers.
"""

from __future__ import annotations

import logging
import socket
import threading
from typing import Any

from websockets.frames import Opcode
from websockets.protocol import OPEN, Protocol, Side
from websockets.utils import accept_key

LOG = logging.getLogger("ryu.app.wsgi")

PING_INTERVAL_S = 20.0
MAX_MESSAGE_BYTES = 1024 * 1024
SUPPORTED_VERSION = "13"


def is_upgrade(environ: dict[str, Any]) -> bool:
    """True if the request asks to switch to the websocket protocol."""
    return str(environ.get("HTTP_UPGRADE", "")).strip().lower() == "websocket"


def handshake_problem(environ: dict[str, Any]) -> str | None:
    """Why the request is not a valid websocket opening handshake (RFC 6455 4.2.1), or None."""
    if environ.get("REQUEST_METHOD") != "GET":
        return (
            f"websocket: the opening handshake must be a GET, not {str(environ.get('REQUEST_METHOD'))[:16]}"
        )
    if not is_upgrade(environ):
        return "websocket: this resource is a websocket (send Upgrade: websocket)"
    tokens = {t.strip().lower() for t in str(environ.get("HTTP_CONNECTION", "")).split(",")}
    if "upgrade" not in tokens:
        return "websocket: Connection: upgrade missing"
    version = str(environ.get("HTTP_SEC_WEBSOCKET_VERSION", "")).strip()
    if version != SUPPORTED_VERSION:
        return f"websocket: Sec-WebSocket-Version must be {SUPPORTED_VERSION}"
    key = str(environ.get("HTTP_SEC_WEBSOCKET_KEY", "")).strip()
    if len(key) != 24 or not key.endswith("=="):
        return "websocket: Sec-WebSocket-Key missing or not 16 base64-encoded bytes"
    return None


def accept_headers(environ: dict[str, Any]) -> list[tuple[str, str]]:
    """The headers of the ``101 Switching Protocols`` answer to a valid handshake."""
    key = str(environ["HTTP_SEC_WEBSOCKET_KEY"]).strip()
    return [
        ("Upgrade", "websocket"),
        ("Connection", "Upgrade"),
        ("Sec-WebSocket-Accept", accept_key(key)),
    ]


class WebSocket:
    """One server-side websocket session on a connected socket (see the module docstring)."""

    def __init__(
        self,
        sock: socket.socket,
        environ: dict[str, Any],
        leftover: bytes = b"",
        ping_interval_s: float = PING_INTERVAL_S,
    ) -> None:
        self.socket = sock
        self.environ = environ
        self._protocol = Protocol(Side.SERVER, state=OPEN, max_size=MAX_MESSAGE_BYTES)
        self._lock = threading.Lock()  # the protocol's state and the socket's sends
        self._pending: list[str | bytes] = []
        self._fragments: list[bytes] = []
        self._fragment_opcode: Opcode | None = None
        self._closed = False
        self._ping_interval_s = ping_interval_s
        self._ping_outstanding = False
        self._leftover = leftover

    @property
    def closed(self) -> bool:
        return self._closed

    def wait(self) -> str | bytes | None:
        """The next message (text as str, binary as bytes), or None once the session is closed."""
        while not self._pending:
            if self._closed:
                return None
            data = self._receive()
            with self._lock:
                if data is None:
                    self._protocol.receive_eof()
                else:
                    self._protocol.receive_data(data)
                events = self._protocol.events_received()
                try:
                    self._flush_locked()
                except ConnectionError:
                    data = None
            for frame in events:
                self._take(frame)
            if data is None or self._protocol.close_expected() or self._protocol.state.name == "CLOSED":
                self._mark_closed()
        return self._pending.pop(0)

    def send(self, message: str | bytes) -> None:
        """Send one message (str as text, bytes as binary); ``ConnectionError`` once closed."""
        payload = message.encode("utf-8") if isinstance(message, str) else bytes(message)
        with self._lock:
            if self._closed:
                raise ConnectionResetError("websocket closed")
            if isinstance(message, str):
                self._protocol.send_text(payload)
            else:
                self._protocol.send_binary(payload)
            self._flush_locked()

    def close(self, code: int = 1000, reason: str = "") -> None:
        """Start the closing handshake (the peer's answer ends ``wait``); idempotent."""
        with self._lock:
            if self._closed:
                return
            try:
                self._protocol.send_close(code, reason)
                self._flush_locked()
            except Exception:  # the protocol may already be closing: nothing more to say
                pass
        self._mark_closed()

    def abort(self) -> None:
        """Drop the connection without the closing handshake (server shutdown)."""
        self._mark_closed()
        try:
            self.socket.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    # -- internals ------------------------------------------------------------------------
    def _receive(self) -> bytes | None:
        """Bytes from the peer (None at end of stream); pings an idle peer, drops a dead one."""
        if self._leftover:
            data, self._leftover = self._leftover, b""
            return data
        self.socket.settimeout(self._ping_interval_s)
        while True:
            try:
                data = self.socket.recv(65536)
            except TimeoutError:
                if self._ping_outstanding:
                    LOG.info("websocket: dropping a peer that did not answer a ping")
                    return None
                self._ping_outstanding = True
                with self._lock:
                    if self._closed:
                        return None
                    self._protocol.send_ping(b"sdnlab")
                    try:
                        self._flush_locked()
                    except ConnectionError:
                        return None
                continue
            except OSError:
                return None
            self._ping_outstanding = False
            return data or None

    def _take(self, frame: Any) -> None:
        if frame.opcode in (Opcode.TEXT, Opcode.BINARY):
            self._fragment_opcode, self._fragments = frame.opcode, [bytes(frame.data)]
        elif frame.opcode == Opcode.CONT and self._fragment_opcode is not None:
            self._fragments.append(bytes(frame.data))
        else:
            return  # ping, pong and close are handled by the protocol
        if not frame.fin:
            return
        data = b"".join(self._fragments)
        is_text = self._fragment_opcode == Opcode.TEXT
        self._fragment_opcode, self._fragments = None, []
        self._pending.append(data.decode("utf-8", "replace") if is_text else data)

    def _flush_locked(self) -> None:
        for chunk in self._protocol.data_to_send():
            if not chunk:  # the protocol wants the TCP connection half-closed
                try:
                    self.socket.shutdown(socket.SHUT_WR)
                except OSError:
                    pass
                continue
            try:
                self.socket.sendall(chunk)
            except OSError as exc:
                self._closed = True
                raise ConnectionResetError(f"websocket: peer gone: {exc}") from None

    def _mark_closed(self) -> None:
        self._closed = True
