"""The per-lab REST token: made at lab start, readable only by the lab's owner, sent by clients.

The runtime calls ``create_token(lab_dir)`` before it starts a lab's controller and passes the
file to it (``--wsapi-token-file``); the controller then refuses every REST request that does
not carry the token (HTTP 401). Clients add ``auth_headers(lab_dir)`` to their requests, or
``auth_headers_for_url(url)`` when they only know the controller's URL: it finds the running
lab whose REST port the URL names. ``SDNLAB_REST_TOKEN`` in the environment overrides both.
A user who cannot read the lab's state directory cannot drive its controller.
"""

from __future__ import annotations

import json
import os
import secrets
import urllib.parse
from pathlib import Path

TOKEN_FILE = "rest.token"
TOKEN_ENV = "SDNLAB_REST_TOKEN"
HEADER = "X-Sdnlab-Token"


def create_token(lab_dir: Path) -> Path:
    """The lab's token file ``lab_dir/rest.token`` (mode 0600), made with a random token if missing.

    A controller restarted within the lab keeps the token its clients already use.
    """
    path = Path(lab_dir) / TOKEN_FILE
    if read_token(lab_dir) is not None and (path.stat().st_mode & 0o077) == 0:
        return path
    path.unlink(missing_ok=True)  # a new file, so its mode is ours whatever the old one had
    handle = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(handle, "w") as out:
        out.write(secrets.token_urlsafe(32) + "\n")
    return path


def read_token(lab_dir: Path) -> str | None:
    """The token of the lab whose state is in ``lab_dir``, or None (no token, or not readable)."""
    try:
        token = (Path(lab_dir) / TOKEN_FILE).read_text().strip()
    except (OSError, UnicodeDecodeError):
        return None
    return token or None


def auth_headers(lab_dir: Path | None) -> dict[str, str]:
    """Headers carrying the lab's token (empty if it has none)."""
    token = os.environ.get(TOKEN_ENV) or (read_token(lab_dir) if lab_dir is not None else None)
    return {"Authorization": f"Bearer {token}"} if token else {}


def lab_dir_for_port(port: int, run_dir: Path | None = None) -> Path | None:
    """The state directory of the running lab whose controller serves REST on ``port``."""
    if run_dir is None:
        from sdnlab.runtime import paths

        run_dir = paths.run_dir()
    try:
        labs = sorted(p for p in run_dir.iterdir() if p.is_dir())
    except OSError:
        return None
    for lab in labs:
        try:
            spec = json.loads((lab / "spec.json").read_text())
        except (OSError, ValueError):
            continue
        controller = spec.get("controller") if isinstance(spec, dict) else None
        if isinstance(controller, dict) and controller.get("rest_port") == port:
            return lab
    return None


def auth_headers_for_url(url: str, run_dir: Path | None = None) -> dict[str, str]:
    """Headers carrying the token of the lab whose controller ``url`` points at (empty if none)."""
    if os.environ.get(TOKEN_ENV):
        return auth_headers(None)
    try:
        port = urllib.parse.urlsplit(url).port
    except ValueError:
        return {}
    if port is None:
        return {}
    return auth_headers(lab_dir_for_port(port, run_dir))
