"""REST calls to a lab's controller app, for the ``rest`` scenario step and probe.

A Ryu app serving a REST API (``ryu.app.wsgi``, as in the Ryu book's REST linkage chapter)
listens on the lab's REST port; these calls carry the lab's token like every other client.
``judge_rest`` is the pure verdict: the status code, and that the JSON answer contains the
expected values (mappings compared key by key, recursively; anything else by equality).
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

from sdnlab.controller.rest_client import auth_headers_for_url

METHODS = ("GET", "PUT", "POST", "DELETE")


def call(base_url: str, method: str, path: str, body: Any = None, timeout: float = 5.0) -> tuple[int, Any]:
    """(HTTP status, decoded JSON answer or None); status 0 when the app did not answer."""
    if not base_url:
        return 0, None
    data = None if body is None else json.dumps(body).encode()
    headers = dict(auth_headers_for_url(base_url))
    if data is not None:
        headers["Content-Type"] = "application/json"
    request = urllib.request.Request(base_url + path, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:
            status, raw = answer.status, answer.read()
    except urllib.error.HTTPError as exc:
        status, raw = exc.code, exc.read()
    except OSError:
        return 0, None
    try:
        return status, json.loads(raw) if raw else None
    except ValueError:
        return status, None


def contains(answer: Any, expected: Any) -> bool:
    """Whether ``answer`` holds ``expected``: every key of a mapping (recursively), else equality."""
    if isinstance(expected, dict):
        return isinstance(answer, dict) and all(
            key in answer and contains(answer[key], value) for key, value in expected.items()
        )
    return bool(answer == expected)


def judge_rest(
    method: str, path: str, status: int, answer: Any, want_status: int, want: Any = None
) -> tuple[bool, str]:
    """The verdict on one call and the sentence saying what came back."""
    if status == 0:
        return False, f"{method} {path}: the app did not answer (does it serve a REST API?)"
    if status != want_status:
        return False, f"{method} {path}: status {status}, expected {want_status}"
    if want is not None and not contains(answer, want):
        shown = json.dumps(answer, sort_keys=True)
        return (
            False,
            f"{method} {path}: the answer {shown[:300]} does not contain {json.dumps(want, sort_keys=True)}",
        )
    return True, f"{method} {path}: status {status}" + (", answer as expected" if want is not None else "")
