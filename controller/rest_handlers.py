"""What sdnlab's REST handlers share: the errors a request causes, answered as JSON.

``error_replies(...)`` makes the decorator every REST app puts under its ``@route``s: the
``BadRequest`` a handler raises becomes HTTP 400 and ``NotFound`` 404, each as
``{"error": message}`` whose message names the field; an app adds its own (exception class,
status) pairs after those two, such as rest_qos's unreachable OVSDB server (502) or the built-in
app's conflicting offload (409). ``unchecked`` exception classes (ofctl_rest: a value the checks
let through but os-ken's conversion refused) become a 400 ``invalid value: ...`` and are logged
with the request, as they point at a missing check. Any other exception reaches the WSGI layer,
which answers 500 (``ryu.app.wsgi``).

Request bodies are read by ``sdnlab.controller.rest_input.parse_body``.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable

from ryu.app.wsgi import json_error
from sdnlab.controller.rest_input import BadRequest, NotFound

REQUEST_ERRORS: tuple[tuple[type[Exception], int], ...] = ((BadRequest, 400), (NotFound, 404))

LOG = logging.getLogger("sdnlab.controller.rest")


def error_replies(
    *more: tuple[type[Exception], int],
    unchecked: tuple[type[Exception], ...] = (),
    log: logging.Logger = LOG,
) -> Callable[[Callable], Callable]:
    """A decorator for ``ControllerBase`` handlers: the request errors they raise become JSON replies.

    ``BadRequest`` 400, ``NotFound`` 404, then ``more`` in order (the first class that matches
    gives the status); then ``unchecked`` classes as a logged 400."""
    statuses = REQUEST_ERRORS + more
    answered = tuple(kind for kind, _status in statuses)

    def decorate(method: Callable) -> Callable:
        @functools.wraps(method)
        def handler(self, req, **kwargs):
            try:
                return method(self, req, **kwargs)
            except answered as exc:
                status = next(status for kind, status in statuses if isinstance(exc, kind))
                return json_error(status, str(exc))
            except unchecked as exc:
                log.warning("REST %s %s: unchecked bad value", req.method, req.path, exc_info=True)
                return json_error(400, f"invalid value: {type(exc).__name__}: {exc}")

        return handler

    return decorate
