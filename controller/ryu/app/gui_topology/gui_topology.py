"""Ryu's topology viewer (``gui_topology``), written for sdnlab: one page, no external scripts.

``ryu-manager --observe-links ryu.app.gui_topology`` (or ``sdnlab up --observe-links
--controller app:ryu.app.gui_topology``) serves at ``http://127.0.0.1:PORT/`` (with a lab:
``/?token=TOKEN``, the lab's REST token) a page that draws the switches, links and hosts. It
reads them from ``rest_topology`` (``/v1.0/topology/switches|links|hosts``) and follows
``ws_topology``'s websocket (``/v1.0/topology/ws``) for changes; both are loaded with it, as is
``ofctl_rest``. The page is built from ``html/`` (markup, script and style inlined into one
response, so the token in the address is the only credential it needs) and sent with a
Content-Security-Policy that allows only its own inline code and connections to this server.
"""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import ClassVar

from os_ken.base import app_manager

from ryu.app.wsgi import ControllerBase, Response, WSGIApplication, route

HTML = Path(__file__).parent / "html"
PAGE_PARTS = ("index.html", "topology.css", "topology.js")

app_manager.require_app("ryu.app.rest_topology")
app_manager.require_app("ryu.app.ws_topology")
app_manager.require_app("ryu.app.ofctl_rest")


def render_page(nonce: str) -> str:
    """The viewer page: index.html with the style and the script inlined under ``nonce``."""
    page, style, script = ((HTML / name).read_text(encoding="utf-8") for name in PAGE_PARTS)
    page = page.replace("<!--STYLE-->", f'<style nonce="{nonce}">\n{style}</style>')
    return page.replace("<!--SCRIPT-->", f'<script nonce="{nonce}">\n{script}</script>')


def content_security_policy(nonce: str, host: str) -> str:
    """Only the page's own inline code runs; it may connect only to this server."""
    return (
        f"default-src 'none'; script-src 'nonce-{nonce}'; style-src 'nonce-{nonce}'; "
        f"connect-src 'self' ws://{host}; img-src 'self' data:; base-uri 'none'; form-action 'none'; "
        "frame-ancestors 'none'"
    )


class GUIServerController(ControllerBase):
    """Serves the viewer page."""

    @route("topology_gui", "/", methods=["GET"])
    def index(self, req, **_kwargs):
        nonce = secrets.token_urlsafe(16)
        host = req.host if all(c.isalnum() or c in ".:-[]" for c in req.host) else "127.0.0.1"
        response = Response(content_type="text/html", charset="UTF-8", text=render_page(nonce))
        response.headers["Content-Security-Policy"] = content_security_policy(nonce, host)
        response.headers["Cache-Control"] = "no-store"
        response.headers["Referrer-Policy"] = "no-referrer"  # the address holds the token
        response.headers["X-Content-Type-Options"] = "nosniff"
        return response


class GUIServerApp(app_manager.OSKenApp):
    """Registers the viewer page on the REST server."""

    _CONTEXTS: ClassVar[dict[str, type]] = {"wsgi": WSGIApplication}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        kwargs["wsgi"].register(GUIServerController)
