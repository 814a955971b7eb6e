"""The REST apps' shared pieces: request errors as JSON replies, optional bodies, 16-hex dpids."""

import logging

import pytest
import webob

from ryu.app.wsgi import ControllerBase, WSGIApplication, json_response, route
from sdnlab.controller.offload import Conflict
from sdnlab.controller.rest_handlers import error_replies
from sdnlab.controller.rest_input import BadRequest, NotFound, hex_dpid, parse_body

rest_errors = error_replies((Conflict, 409), unchecked=(KeyError,))


class Raiser(ControllerBase):
    """Raises what the request body names, else echoes the body (an empty one as {})."""

    @route("raiser", "/raise", methods=["POST"])
    @rest_errors
    def raise_it(self, req, **_kwargs):
        body = parse_body(req.body, optional=True)
        kinds = {"bad": BadRequest, "missing": NotFound, "taken": Conflict, "key": KeyError}
        if body.get("raise") in kinds:
            raise kinds[body["raise"]](f"{body['raise']}: said so")
        if body.get("raise") == "bug":
            raise RuntimeError("a bug")
        return json_response(body)


def post(body: bytes):
    wsgi = WSGIApplication(start_server=False)
    wsgi.register(Raiser, {})
    return webob.Request.blank("/raise", method="POST", body=body).get_response(wsgi)


@pytest.mark.parametrize(
    "kind, status, message",
    [
        ("bad", 400, "bad: said so"),
        ("missing", 404, "missing: said so"),
        ("taken", 409, "taken: said so"),
    ],
)
def test_request_errors_are_json_replies_with_their_status_and_message(kind, status, message):
    response = post(f'{{"raise": "{kind}"}}'.encode())
    assert response.status_int == status and response.json == {"error": message}


def test_an_unchecked_error_is_a_logged_400_naming_its_type(caplog):
    with caplog.at_level(logging.WARNING, logger="sdnlab.controller.rest"):
        response = post(b'{"raise": "key"}')
    assert response.status_int == 400
    assert response.json == {"error": "invalid value: KeyError: 'key: said so'"}
    assert "POST /raise: unchecked bad value" in caplog.text


def test_any_other_exception_is_left_to_the_wsgi_layer_as_a_500():
    response = post(b'{"raise": "bug"}')
    assert response.status_int == 500 and "RuntimeError" in response.json["error"]


@pytest.mark.parametrize("body", [b"", b"  \n"])
def test_an_optional_body_may_be_empty(body):
    assert post(body).json == {}
    assert parse_body(body, optional=True) == {}
    with pytest.raises(BadRequest, match="empty body"):
        parse_body(body)


def test_an_optional_body_that_is_there_is_still_checked():
    with pytest.raises(BadRequest, match="malformed JSON"):
        parse_body(b"{x", optional=True)


def test_a_hex_dpid_is_exactly_16_hex_digits():
    assert hex_dpid("0000000000000001") == 1 and hex_dpid("00000000000000fF") == 255


@pytest.mark.parametrize(
    "text",
    [
        "1",
        "00000000000000001",
        "000000000000000g",
        "0x00000000000001",
        "+000000000000001",
        " 000000000000001",
        "0000_00000000001",
        "0000000000000001\n",
        None,
    ],
)
def test_anything_else_is_no_hex_dpid(text):
    assert hex_dpid(text) is None


@pytest.mark.parametrize("dpid", ["1", "0x00000000000001", "zz"])
def test_rest_topology_answers_a_bad_dpid_with_a_400(dpid):
    from ryu.app.rest_topology import TopologyController

    wsgi = WSGIApplication(start_server=False)
    wsgi.register(TopologyController, {"topology_api_app": None})
    response = webob.Request.blank(f"/v1.0/topology/switches/{dpid}").get_response(wsgi)
    assert response.status_int == 400
    assert response.json == {"error": f"dpid: expected 16 hex digits, got {dpid!r}"}
