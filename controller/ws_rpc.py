"""JSON-RPC 2.0 over a websocket session, in both directions, as Ryu apps use it.

* ``WebSocketRPCServer(ws, callback)``: the client calls the app. Methods of ``callback``
  marked ``@rpc_public`` answer requests; ``serve_forever()`` returns when the client leaves.
* ``WebSocketClient(ws)``: the app calls the client (``ws_topology`` pushes
  ``event_switch_enter`` this way). ``serve_forever()`` runs on the session's thread and feeds
  the client's replies to ``get_proxy().method(args)``, which waits at most
  ``REPLY_TIMEOUT_S`` for the answer. A gone or silent client raises ``OSError``
  (``ConnectionResetError`` or ``TimeoutError``): Ryu apps catch ``socket.error`` for exactly
  that and drop the client.

Protocol, dispatch and proxies are the ``tinyrpc`` library's (Ryu's own choice, so apps that
import ``tinyrpc.exc.InvalidReplyError`` keep working); the transports here carry its messages
over ``sdnlab.controller.websocket.WebSocket``.
"""

from __future__ import annotations

import contextlib
import queue
from typing import Any

from tinyrpc.client import RPCClient
from tinyrpc.dispatch import RPCDispatcher
from tinyrpc.dispatch import public as rpc_public
from tinyrpc.protocols.jsonrpc import JSONRPCProtocol
from tinyrpc.server import RPCServer
from tinyrpc.transports import ClientTransport, ServerTransport

from sdnlab.controller.green import APP_LOCK, lock_for

REPLY_TIMEOUT_S = 5.0

__all__ = [
    "WebSocketClient",
    "WebSocketDisconnectedError",
    "WebSocketRPCClient",
    "WebSocketRPCServer",
    "rpc_public",
]


class WebSocketDisconnectedError(ConnectionError):
    """The websocket session ended."""


def _text(message: bytes | str) -> str:
    return message.decode("utf-8") if isinstance(message, bytes) else message


class WebSocketServerTransport(ServerTransport):
    """Requests from the client, replies to it."""

    def __init__(self, ws: Any) -> None:
        self.ws = ws

    def receive_message(self) -> tuple[None, bytes]:
        message = self.ws.wait()
        if message is None:
            raise WebSocketDisconnectedError("websocket closed")
        return None, message.encode("utf-8") if isinstance(message, str) else message

    def send_reply(self, context: Any, reply: bytes) -> None:
        self.ws.send(_text(reply))


class _TakingTurnsDispatcher(RPCDispatcher):
    """Calls the app's methods holding the app lock when the app is written for Ryu (as eventlet would)."""

    one_at_a_time: contextlib.AbstractContextManager[Any] = contextlib.nullcontext()

    def dispatch(self, request: Any, caller: Any = None) -> Any:
        with self.one_at_a_time:
            return super().dispatch(request, caller)


class WebSocketRPCServer(RPCServer):
    """Answers the client's JSON-RPC requests with ``callback``'s ``@rpc_public`` methods."""

    def __init__(self, ws: Any, rpc_callback: Any) -> None:
        dispatcher = _TakingTurnsDispatcher()  # tinyrpc makes sub-dispatchers without arguments
        dispatcher.register_instance(rpc_callback)
        dispatcher.one_at_a_time = lock_for(type(rpc_callback).__module__)
        super().__init__(WebSocketServerTransport(ws), JSONRPCProtocol(), dispatcher)

    def serve_forever(self) -> None:
        """Answer requests until the client leaves."""
        try:
            super().serve_forever()
        except WebSocketDisconnectedError:
            return


_GONE = object()  # put on a client's reply queue when its session ends


class WebSocketClientTransport(ClientTransport):
    """Requests to the client; replies come from ``WebSocketClient.serve_forever``."""

    def __init__(self, ws: Any, replies: queue.Queue[Any], timeout_s: float) -> None:
        self.ws = ws
        self.replies = replies
        self.timeout_s = timeout_s

    def send_message(self, message: bytes, expect_reply: bool = True) -> bytes | None:
        self.ws.send(_text(message))  # ConnectionResetError once the session is closed
        if not expect_reply:
            return None
        try:
            with APP_LOCK.suspended():  # an app's event handler calls the client: others may run
                reply = self.replies.get(timeout=self.timeout_s)
        except queue.Empty:
            raise TimeoutError(f"websocket client did not reply within {self.timeout_s:g} s") from None
        if reply is _GONE:
            self.replies.put(_GONE)  # later callers learn it too
            raise ConnectionResetError("websocket client left")
        return reply


class WebSocketClient(RPCClient):
    """Calls the JSON-RPC methods of the client on the other end of ``ws``."""

    def __init__(self, ws: Any, timeout_s: float = REPLY_TIMEOUT_S) -> None:
        self.ws = ws
        self.queue: queue.Queue[Any] = queue.Queue()
        super().__init__(JSONRPCProtocol(), WebSocketClientTransport(ws, self.queue, timeout_s))

    def serve_forever(self) -> None:
        """Collect the client's replies until it leaves (run on the session's thread)."""
        try:
            while True:
                message = self.ws.wait()
                if message is None:
                    break
                self.queue.put(message.encode("utf-8") if isinstance(message, str) else message)
        finally:
            self.queue.put(_GONE)


# Ryu 4.34's name for the client (its ws_topology imports it from ryu.app.wsgi).
WebSocketRPCClient = WebSocketClient
