"""Ryu's REST layer (``ryu.app.wsgi``), written for sdnlab on webob + Routes + a threaded server.

An app asks for it as a context (``_CONTEXTS = {'wsgi': WSGIApplication}``) and registers
controller classes whose methods carry ``@route(name, path, methods=[...])``::

    wsgi.register(MyController, {'app': self})

Each request builds a new ``ControllerBase`` instance with that data and calls the routed
method as ``method(req, **url_variables)``; the method returns a ``Response``. The server
listens on ``--wsapi-host:--wsapi-port`` (127.0.0.1:8080 by default) in daemon threads, so it
never delays the controller's exit. Uncaught handler errors become a JSON 500 and are logged.
"""

from __future__ import annotations

import inspect
import json
import logging
import socketserver
import threading
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer

import webob
import webob.exc
from os_ken import cfg
from routes import Mapper, URLGenerator

from sdnlab.controller import options
from sdnlab.controller.errors import ListenError

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

    special_vars = ["action", "controller"]

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


class _QuietHandler(WSGIRequestHandler):
    """Request handler that logs at debug level instead of printing every request."""

    def log_message(self, format, *args):
        LOG.debug("%s %s", self.address_string(), format % args)


class _ThreadingWSGIServer(socketserver.ThreadingMixIn, WSGIServer):
    daemon_threads = True
    allow_reuse_address = True


class WSGIApplication:
    """The WSGI app behind ``--wsapi-host:--wsapi-port``; also an os-ken context."""

    def __init__(self, **config):
        self.config = config
        self.mapper = Mapper()
        self.registory: dict[str, object] = {}  # Ryu's spelling, kept for apps that read it
        self._server = None
        self._thread = None
        if config.pop("start_server", True):
            self.start(CONF.wsapi_host, CONF.wsapi_port)

    # -- serving ----------------------------------------------------------------------------
    def start(self, host: str, port: int) -> None:
        """Bind ``host:port`` and serve in a daemon thread."""
        try:
            self._server = _ThreadingWSGIServer((host, port), _QuietHandler)
        except OSError as exc:
            raise ListenError(f"REST {host}:{port}: cannot listen: {exc.strerror}") from exc
        self._server.set_app(self)
        self._thread = threading.Thread(target=self._server.serve_forever, name="wsgi", daemon=True)
        self._thread.start()
        LOG.debug("REST API on http://%s:%d", host, port)

    @property
    def address(self) -> tuple[str, int] | None:
        return self._server.server_address if self._server else None

    def close(self) -> None:
        """Stop serving (os-ken calls this when contexts are closed)."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
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
        request = webob.Request(environ)
        try:
            response = self._dispatch(request, environ)
        except webob.exc.HTTPException as exc:
            response = exc
        except Exception as exc:  # a handler bug must not take the server down
            LOG.exception("REST %s %s failed", request.method, request.path)
            response = json_error(500, f"internal error: {type(exc).__name__}: {exc}")
        return response(environ, start_response)

    def _dispatch(self, request, environ):
        match = self.mapper.match(environ=environ)
        if match is None:
            return json_error(404, f"no such resource: {request.method} {request.path}")
        request.urlvars = match
        link = URLGenerator(self.mapper, environ)
        controller = match["controller"]
        data = self.registory.get(controller.__name__)
        if data is None:
            instance = controller(request, link, None, **self.config)
        else:
            instance = controller(request, link, data, **self.config)
        return instance(request)


class WebSocketRegistrationWrapper:
    """Placeholder for Ryu's websocket support, which sdnlab does not provide."""

    def __init__(self, *_args, **_kwargs):
        raise NotImplementedError("ryu.app.wsgi websockets are not supported by sdnlab")


def websocket(name, path):
    """Ryu's websocket route decorator; websockets are not supported (raises when used)."""

    def _websocket(_controller_func):
        raise NotImplementedError(f"websocket route {name} {path}: not supported by sdnlab")

    return _websocket
