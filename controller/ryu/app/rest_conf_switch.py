"""Ryu's ``rest_conf_switch`` REST API: per-switch settings that other apps read, such as ``ovsdb_addr``.

    GET    /v1.0/conf/switches                      switches with settings: ["0000000000000001"]
    GET    /v1.0/conf/switches/{dpid}               that switch's keys: ["ovsdb_addr"]
    DELETE /v1.0/conf/switches/{dpid}               forget all of its settings
    GET    /v1.0/conf/switches/{dpid}/{key}         the value (JSON)
    PUT    /v1.0/conf/switches/{dpid}/{key}         set it to the body, a JSON value: "tcp:127.0.0.1:6632"
    DELETE /v1.0/conf/switches/{dpid}/{key}         forget it

``{dpid}`` is 16 hex digits, as in the Ryu book. Settings live in the ``conf_switch`` context
(``os_ken.controller.conf_switch.ConfSwitchSet``), which tells observing apps (``rest_qos``) of
each change. A value is checked when its key is known (``ovsdb_addr`` must be ``tcp:IP:PORT`` or
``unix:/PATH``); bad input is a 400 naming the problem, an unknown switch or key a 404.
"""

from __future__ import annotations

import json
import re
from typing import ClassVar

from os_ken.base import app_manager
from os_ken.controller import conf_switch

from ryu.app import conf_switch_key
from ryu.app.wsgi import ControllerBase, Response, WSGIApplication, json_response, route
from sdnlab.controller.ofctl_values import BadRequest
from sdnlab.controller.ovsdb_qos import check_ovsdb_addr
from sdnlab.controller.rest_handlers import error_replies
from sdnlab.controller.rest_input import NotFound, hex_dpid, parse_body

KEY_PATTERN = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
MAX_KEYS_PER_SWITCH = 64
MAX_SWITCHES = 4096


def check_value(key: str, value):
    """A setting's value, checked when the key is one apps read (``BadRequest`` names the key)."""
    if key == conf_switch_key.OVSDB_ADDR:
        try:
            return check_ovsdb_addr(value)
        except ValueError as exc:
            raise BadRequest(f"{key}: {exc}") from None
    return value


def parse_value(body: bytes):
    """The PUT body: one JSON value (a JSON string needs its quotes: '\"tcp:127.0.0.1:6632\"')."""
    text = body.decode("utf-8", "replace").strip() if body else ""
    if not text:
        raise BadRequest('body: expected a JSON value such as "tcp:127.0.0.1:6632" (with the quotes)')
    if text[0] in "[{":
        return parse_body(body)  # objects get the shared depth and shape checks
    try:
        return json.loads(text)
    except ValueError:
        raise BadRequest(
            f"body: not JSON: {text[:40]!r} (a text value needs double quotes: '\"tcp:127.0.0.1:6632\"')"
        ) from None


rest_errors = error_replies()


class ConfSwitchController(ControllerBase):
    """The /v1.0/conf/switches resources."""

    def __init__(self, req, link, data, **config):
        super().__init__(req, link, data, **config)
        self.conf: conf_switch.ConfSwitchSet = data["conf_switch"]

    def _dpid(self, text: str) -> int:
        number = hex_dpid(text)
        if number is None:
            raise BadRequest(f"dpid: expected 16 hex digits such as 0000000000000001, got {text[:40]!r}")
        return number

    def _known(self, dpid: int, key: str | None = None):
        if dpid not in self.conf.dpids():
            raise NotFound(f"dpid: no settings for switch {dpid:016x}")
        if key is not None and key not in self.conf.keys(dpid):
            raise NotFound(f"key: switch {dpid:016x} has no setting {key!r}")

    @route("conf_switch", "/v1.0/conf/switches", methods=["GET"])
    @rest_errors
    def list_switches(self, req, **_kwargs):
        return json_response([f"{dpid:016x}" for dpid in sorted(self.conf.dpids())])

    @route("conf_switch", "/v1.0/conf/switches/{dpid}", methods=["GET"])
    @rest_errors
    def list_keys(self, req, dpid, **_kwargs):
        number = self._dpid(dpid)
        self._known(number)
        return json_response(sorted(self.conf.keys(number)))

    @route("conf_switch", "/v1.0/conf/switches/{dpid}", methods=["DELETE"])
    @rest_errors
    def delete_switch(self, req, dpid, **_kwargs):
        number = self._dpid(dpid)
        self._known(number)
        self.conf.del_dpid(number)
        return Response(status=200)

    @route("conf_switch", "/v1.0/conf/switches/{dpid}/{key}", methods=["GET"])
    @rest_errors
    def get_key(self, req, dpid, key, **_kwargs):
        number = self._dpid(dpid)
        self._known(number, key)
        return json_response(self.conf.get_key(number, key))

    @route("conf_switch", "/v1.0/conf/switches/{dpid}/{key}", methods=["PUT"])
    @rest_errors
    def set_key(self, req, dpid, key, **_kwargs):
        number = self._dpid(dpid)
        if not KEY_PATTERN.match(key):
            raise BadRequest(f"key: expected letters, digits, '_', '.' or '-' (at most 64), got {key[:70]!r}")
        value = check_value(key, parse_value(req.body))
        known = set(self.conf.dpids())
        if number not in known and len(known) >= MAX_SWITCHES:
            raise BadRequest(f"dpid: settings are kept for at most {MAX_SWITCHES} switches")
        if (
            number in known
            and key not in self.conf.keys(number)
            and len(self.conf.keys(number)) >= MAX_KEYS_PER_SWITCH
        ):
            raise BadRequest(f"key: at most {MAX_KEYS_PER_SWITCH} settings per switch")
        self.conf.set_key(number, key, value)
        return Response(status=200)

    @route("conf_switch", "/v1.0/conf/switches/{dpid}/{key}", methods=["DELETE"])
    @rest_errors
    def delete_key(self, req, dpid, key, **_kwargs):
        number = self._dpid(dpid)
        self._known(number, key)
        self.conf.del_key(number, key)
        return Response(status=200)


class ConfSwitchAPI(app_manager.OSKenApp):
    """Serves the conf_switch settings over REST."""

    _CONTEXTS: ClassVar[dict[str, type]] = {
        "conf_switch": conf_switch.ConfSwitchSet,
        "wsgi": WSGIApplication,
    }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        kwargs["wsgi"].register(ConfSwitchController, {"conf_switch": kwargs["conf_switch"]})
