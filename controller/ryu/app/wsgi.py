"""Ryu's REST layer (``ryu.app.wsgi``), written for sdnlab on webob + Routes + cheroot.

An app asks for it as a context (``_CONTEXTS = {'wsgi': WSGIApplication}``) and registers
controller classes whose methods carry ``@route(name, path, methods=[...])``::

    wsgi.register(MyController, {'app': self})

Each request builds a new ``ControllerBase`` instance with that data and calls the routed
method as ``method(req, **url_variables)``; the method returns a ``Response``. The server
(``sdnlab.controller.rest_server``: a worker pool, a backlog and per-client limits) listens on
``--wsapi-host:--wsapi-port`` (127.0.0.1:8080 by default) in daemon threads, so it never delays
the controller's exit. Bad requests get a JSON 4xx naming the problem; uncaught handler errors a
JSON 500 without a traceback (it is logged). ``--wsapi-token-file`` makes every request carry
the lab's token (``sdnlab.controller.rest_client``).

Websockets, as in Ryu: a controller method marked ``@websocket(name, path)`` is called with the
session object (``ws.wait()``, ``ws.send(msg)``) once a client upgrades on ``path``, on the same
host and port as the REST API and behind the same token (``sdnlab.controller.websocket``).
``WSGIApplication.websocketmanager.broadcast(msg)`` sends to every open session;
``WebSocketRPCServer`` and ``WebSocketClient`` (Ryu 4.34's ``WebSocketRPCClient``) carry
JSON-RPC in either direction (``sdnlab.controller.ws_rpc``).

Browsers cannot add headers to a page load or a websocket, so besides ``Authorization: Bearer
TOKEN`` and ``X-Sdnlab-Token`` the token is also taken from a ``token`` query parameter when a
page is opened (``http://127.0.0.1:8080/?token=...`` opens the viewer page; REST calls and
upgrades with the token only in the query are refused) and, on a websocket upgrade,
from the subprotocol ``sdnlab.token.TOKEN`` (which the answer then selects).
"""

from __future__ import annotations

import hmac
import inspect
import json
import logging
import urllib.parse
from typing import Any, ClassVar

import webob
import webob.exc
from os_ken import cfg
from routes import Mapper, URLGenerator
from webob.request import DisconnectionError

from sdnlab.controller import green, options
from sdnlab.controller import websocket as ws_protocol
from sdnlab.controller.errors import ListenError
from sdnlab.controller.rest_server import (
    RestLimits,
    RestServer,
    request_received,
    start_server,
    take_over_connection,
)
from sdnlab.controller.ws_rpc import (  # noqa: F401 (Ryu's names, imported by apps from here)
    WebSocketClient,
    WebSocketDisconnectedError,
    WebSocketRPCClient,
    WebSocketRPCServer,
    rpc_public,
)

LOG = logging.getLogger("ryu.app.wsgi")

options.register()
CONF = cfg.CONF

HEX_PATTERN = r"0x[0-9a-fA-F]+"
DIGIT_PATTERN = r"[1-9][0-9]*"


class Response(webob.Response):
    """A webob response that also takes ``body`` as text (UTF-8), as Ryu apps pass it."""

    default_charset = "UTF-8"

    def __init__(self, *args, **kwargs):
        body = kwargs.get("body")
        if isinstance(body, str):
            kwargs["text"] = kwargs.pop("body")
            kwargs.setdefault("charset", "UTF-8")
        super().__init__(*args, **kwargs)


def json_response(data, status: int = 200) -> Response:
    """A JSON response carrying ``data``."""
    return Response(status=status, content_type="application/json", charset="UTF-8", text=json.dumps(data))


def json_error(status: int, message: str) -> Response:
    """A JSON error body ``{"error": message}`` with the given HTTP status."""
    return json_response({"error": message}, status=status)


def route(name: str, path: str, methods=None, requirements=None):
    """Mark a ``ControllerBase`` method as the handler of ``path`` for ``methods``."""

    def _route(controller_method):
        controller_method.routing_info = {
            "name": name,
            "path": path,
            "methods": methods,
            "requirements": requirements,
        }
        return controller_method

    return _route


class ControllerBase:
    """Base of REST controllers: one instance per request, with the registered ``data``."""

    special_vars: ClassVar[list[str]] = ["action", "controller"]

    def __init__(self, req, link, data, **config):
        self.req = req
        self.link = link
        self.data = data
        self.parent = None
        for name, value in config.items():
            setattr(self, name, value)

    def __call__(self, req):
        action = self.req.urlvars.get("action", "index")
        if hasattr(self, "__before__"):
            self.__before__()
        kwargs = {k: v for k, v in self.req.urlvars.items() if k not in self.special_vars}
        return getattr(self, action)(req, **kwargs)


class WSGIApplication:
    """The WSGI app behind ``--wsapi-host:--wsapi-port``; also an os-ken context.

    Every request is answered in JSON: a bad one gets a 4xx naming the problem (undecodable
    path, missing or wrong token, body too large or shorter than its Content-Length, unknown
    resource or method), a handler bug a 500 without a traceback (the traceback is logged).
    With ``--wsapi-token-file`` every request must carry that token.
    """

    def __init__(self, **config):
        self.limits: RestLimits = config.pop("limits", None) or RestLimits()
        self.token: str | None = config.pop("token", None)
        self.config = config
        self.mapper = Mapper()
        self.registory: dict[str, object] = {}  # Ryu's spelling, kept for apps that read it
        self.websocketmanager = WebSocketManager()
        self._server: RestServer | None = None
        if config.pop("start_server", True):
            if CONF.wsapi_token_file:
                self.token = read_token_file(CONF.wsapi_token_file)
            self.start(CONF.wsapi_host, CONF.wsapi_port, CONF.wsapi_server)

    # -- serving ----------------------------------------------------------------------------
    def start(self, host: str, port: int, kind: str = "cheroot") -> None:
        """Bind ``host:port`` and serve in daemon threads (``kind``: cheroot or wsgiref)."""
        try:
            self._server = start_server(self, host, port, kind, self.limits)
        except OSError as exc:
            raise ListenError(f"REST {host}:{port}: cannot listen: {exc.strerror or exc}") from exc
        LOG.debug("REST API on http://%s:%d (%s)", host, port, kind)

    @property
    def address(self) -> tuple[str, int] | None:
        return self._server.address if self._server else None

    def close(self) -> None:
        """Stop serving (os-ken calls this when contexts are closed)."""
        if self._server is not None:
            self._server.close()
            self._server = None

    # -- registration ---------------------------------------------------------------------
    def register(self, controller, data=None):
        """Connect every ``@route`` method of ``controller``; ``data`` is handed to each instance."""
        for method_name, method in inspect.getmembers(controller, inspect.isfunction):
            info = getattr(method, "routing_info", None)
            if info is None:
                continue
            conditions = {"method": info["methods"]} if info["methods"] else {}
            self.mapper.connect(
                info["name"],
                info["path"],
                controller=controller,
                requirements=info["requirements"] or {},
                action=method_name,
                conditions=conditions,
            )
        if data:
            self.registory[controller.__name__] = data

    # -- WSGI -----------------------------------------------------------------------------
    def __call__(self, environ, start_response):
        method = str(environ.get("REQUEST_METHOD", "?"))[:16]
        try:
            response = self._handle(environ, method)
        except Exception as exc:  # a handler bug must not take the server down nor show a traceback
            LOG.exception("REST %s %s failed", method, _shown_path(environ))
            response = json_error(500, f"internal error: {type(exc).__name__}: {_short(str(exc))}")
        return response(environ, start_response)

    def _handle(self, environ, method: str):
        problem = _bad_path(environ)
        if problem:
            return json_error(400, problem)
        if self.token is not None and not token_matches(environ, self.token):
            response = json_error(401, "missing or wrong token (send Authorization: Bearer TOKEN)")
            response.headers["WWW-Authenticate"] = 'Bearer realm="sdnlab"'
            return response
        request = webob.Request(environ)
        problem = self._read_body(request)
        request_received()
        if problem:
            return problem
        try:
            return self._dispatch(request, environ, method)
        except webob.exc.HTTPException as exc:
            return exc

    def _read_body(self, request) -> Response | None:
        """Read the whole body now (bounded); an error response if it is too large or cut short."""
        raw_length = request.environ.get("CONTENT_LENGTH") or ""
        if raw_length.strip():
            try:
                length = int(raw_length)
            except ValueError:
                return json_error(400, f"Content-Length: not a number: {_short(raw_length)}")
            if length < 0:
                return json_error(400, "Content-Length: negative")
            if length > self.limits.max_body_bytes:
                return json_error(413, f"body: larger than {self.limits.max_body_bytes} bytes")
        try:
            body = request.body
        except (DisconnectionError, OSError) as exc:
            if "Too Large" in str(exc):  # cheroot's chunked-body limit
                return json_error(413, f"body: larger than {self.limits.max_body_bytes} bytes")
            return json_error(400, "body: shorter than its Content-Length (the client stopped sending)")
        if len(body) > self.limits.max_body_bytes:
            return json_error(413, f"body: larger than {self.limits.max_body_bytes} bytes")
        return None

    def _dispatch(self, request, environ, method: str):
        match = self.mapper.match(environ=environ)
        if match is None:
            allowed = self._allowed_methods(environ)
            path = _shown_path(environ)
            if allowed:
                response = json_error(
                    405, f"method {method} not allowed on {path} (allowed: {', '.join(allowed)})"
                )
                response.headers["Allow"] = ", ".join(allowed)
                return response
            return json_error(404, f"no such resource: {method} {path}")
        request.urlvars = match
        link = URLGenerator(self.mapper, environ)
        controller = match["controller"]
        data = self.registory.get(controller.__name__)
        with green.lock_for(controller.__module__):  # a Ryu-style app's REST handler: one at a time
            instance = controller(request, link, data, **self.config)
            instance.parent = self  # Ryu's websocket wrapper finds the application here
            return instance(request)

    def _allowed_methods(self, environ) -> list[str]:
        allowed = []
        for other in ("GET", "POST", "PUT", "DELETE"):
            if other != environ.get("REQUEST_METHOD") and self.mapper.match(
                environ=dict(environ, REQUEST_METHOD=other)
            ):
                allowed.append(other)
        return allowed


def read_token_file(path: str) -> str:
    """The REST token stored in ``path`` (one line), or ``ListenError`` naming the file."""
    try:
        with open(path, encoding="utf-8") as handle:
            token = handle.read().strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise ListenError(f"{path}: cannot read the REST token: {exc}") from exc
    if len(token) < 16:
        raise ListenError(f"{path}: the REST token is shorter than 16 characters")
    return token


TOKEN_SUBPROTOCOL = "sdnlab.token."
# pages a browser opens by URL (the topology viewer): the only requests that may carry the token
# in the query, which browsers keep in their history; the page's own calls send it as a header
PAGE_PATHS = frozenset({"/"})


def given_token(environ) -> str:
    """The token a request carries: ``X-Sdnlab-Token``, ``Authorization: Bearer``, the websocket
    subprotocol ``sdnlab.token.T`` (upgrades) or the ``token`` query parameter (GET of a page in
    ``PAGE_PATHS``); else ""."""
    given = str(environ.get("HTTP_X_SDNLAB_TOKEN", ""))
    authorization = str(environ.get("HTTP_AUTHORIZATION", ""))
    if not given and authorization[:7].lower() == "bearer ":
        given = authorization[7:].strip()
    if not given and ws_protocol.is_upgrade(environ):
        given = _subprotocol_token(environ) or ""
    if not given and environ.get("REQUEST_METHOD") == "GET" and environ.get("PATH_INFO") in PAGE_PATHS:
        try:
            query = urllib.parse.parse_qs(str(environ.get("QUERY_STRING", "")), max_num_fields=64)
        except ValueError:  # too many fields: no token taken from it
            query = {}
        given = (query.get("token") or [""])[0]
    return given


def token_matches(environ, token: str) -> bool:
    """True if the request carries ``token`` (see ``given_token`` for where it may be)."""
    return hmac.compare_digest(given_token(environ).encode("utf-8", "replace"), token.encode("utf-8"))


def _subprotocol_token(environ) -> str | None:
    offered = str(environ.get("HTTP_SEC_WEBSOCKET_PROTOCOL", ""))
    for name in (p.strip() for p in offered.split(",")):
        if name.startswith(TOKEN_SUBPROTOCOL):
            return name[len(TOKEN_SUBPROTOCOL) :]
    return None


def _bad_path(environ) -> str | None:
    """Why the request path cannot be used (not UTF-8 once decoded), or None."""
    try:
        str(environ.get("PATH_INFO", "")).encode("latin-1").decode("utf-8")
    except UnicodeError:
        return f"path: not valid UTF-8 after percent-decoding: {_shown_path(environ)}"
    return None


def _shown_path(environ) -> str:
    """The request path as printable text, whatever bytes it holds (for messages and logs)."""
    raw = str(environ.get("PATH_INFO", ""))
    return _short(raw.encode("latin-1", "replace").decode("utf-8", "backslashreplace"))


def _short(text: str, limit: int = 120) -> str:
    text = text.encode("unicode_escape").decode("ascii") if not text.isprintable() else text
    return text if len(text) <= limit else text[: limit - 3] + "..."


class WebSocketManager:
    """The open websocket sessions of one ``WSGIApplication``."""

    def __init__(self) -> None:
        self._connections: list = []

    def add_connection(self, ws) -> None:
        self._connections.append(ws)

    def delete_connection(self, ws) -> None:
        if ws in self._connections:
            self._connections.remove(ws)

    def broadcast(self, msg) -> None:
        """Send ``msg`` to every open session (sessions that are gone are skipped)."""
        for connection in list(self._connections):
            try:
                connection.send(msg)
            except OSError:
                self.delete_connection(connection)


class WebSocketRegistrationWrapper:
    """Runs a ``@websocket`` method on a session, registered with the manager meanwhile."""

    def __init__(self, func, controller) -> None:
        self._controller = controller
        self._method = func.__get__(controller, type(controller))

    def __call__(self, ws) -> None:
        manager = self._controller.parent.websocketmanager
        manager.add_connection(ws)
        try:
            self._method(ws)
        finally:
            manager.delete_connection(ws)


class _SwitchingProtocols:
    """The ``101 Switching Protocols`` answer (no body, no Content-Length)."""

    def __init__(self, headers: list[tuple[str, str]]) -> None:
        self.headers = headers

    def __call__(self, environ, start_response):
        start_response("101 Switching Protocols", self.headers)
        return []


def _upgrade(controller, request, func):
    """Answer a websocket handshake on a ``@websocket`` route and run ``func`` on the session."""
    environ = request.environ
    if not ws_protocol.is_upgrade(environ):
        response = json_error(426, f"{_shown_path(environ)} is a websocket: send Upgrade: websocket")
        response.headers["Upgrade"] = "websocket"
        return response
    problem = ws_protocol.handshake_problem(environ)
    if problem:
        return json_error(400, problem)
    headers = ws_protocol.accept_headers(environ)
    chosen = _subprotocol_token(environ)
    if chosen is not None:  # a browser must see the subprotocol it offered selected
        headers.append(("Sec-WebSocket-Protocol", TOKEN_SUBPROTOCOL + chosen))
    wrapper = WebSocketRegistrationWrapper(func, controller)

    def run(sock, leftover: bytes) -> None:
        ws = ws_protocol.WebSocket(sock, environ, leftover)
        try:
            wrapper(ws)
        finally:
            ws.close()

    problem = take_over_connection(run)
    if problem:
        return json_error(503, problem)
    return _SwitchingProtocols(headers)


def websocket(name, path):
    """Mark a ``ControllerBase`` method as the websocket handler of ``path``: ``method(ws)``."""

    def _websocket(controller_func):
        def __websocket(self, req, **_kwargs):
            return _upgrade(self, req, controller_func)

        marked: Any = __websocket
        marked.routing_info = {"name": name, "path": path, "methods": None, "requirements": None}
        __websocket.__name__ = controller_func.__name__
        __websocket.__doc__ = controller_func.__doc__
        return __websocket

    return _websocket
