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
"""

from __future__ import annotations

import hmac
import inspect
import json
import logging
from typing import ClassVar

import webob
import webob.exc
from os_ken import cfg
from routes import Mapper, URLGenerator
from webob.request import DisconnectionError

from sdnlab.controller import options
from sdnlab.controller.errors import ListenError
from sdnlab.controller.rest_server import RestLimits, RestServer, request_received, start_server

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
        if data is None:
            instance = controller(request, link, None, **self.config)
        else:
            instance = controller(request, link, data, **self.config)
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


def token_matches(environ, token: str) -> bool:
    """True if the request carries ``token`` (``Authorization: Bearer`` or ``X-Sdnlab-Token``)."""
    given = str(environ.get("HTTP_X_SDNLAB_TOKEN", ""))
    authorization = str(environ.get("HTTP_AUTHORIZATION", ""))
    if not given and authorization[:7].lower() == "bearer ":
        given = authorization[7:].strip()
    return hmac.compare_digest(given.encode("utf-8", "replace"), token.encode("utf-8"))


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


class WebSocketRegistrationWrapper:
    """Placeholder for Ryu's websocket support, which sdnlab does not provide."""

    def __init__(self, *_args, **_kwargs):
        raise NotImplementedError("ryu.app.wsgi websockets are not supported by sdnlab")


def websocket(name, path):
    """Ryu's websocket route decorator; websockets are not supported (raises when used)."""

    def _websocket(_controller_func):
        raise NotImplementedError(f"websocket route {name} {path}: not supported by sdnlab")

    return _websocket
