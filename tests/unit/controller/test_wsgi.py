"""ryu.app.wsgi dispatches routed ControllerBase methods and answers JSON errors."""

import json

import pytest
import webob

from ryu.app.wsgi import ControllerBase, Response, WSGIApplication, read_token_file, route
from sdnlab.controller.errors import ListenError
from sdnlab.controller.rest_server import RestLimits


class Greeter(ControllerBase):
    def __init__(self, req, link, data, **config):
        super().__init__(req, link, data, **config)
        self.app = data["app"]

    @route("greet", "/greet/{name}", methods=["GET"])
    def greet(self, req, name, **_kwargs):
        return Response(content_type="application/json", body=json.dumps({"hello": name, "by": self.app}))

    @route("greet", "/greet", methods=["POST"])
    def echo(self, req, **_kwargs):
        return Response(content_type="application/json", body=json.dumps(req.json))

    @route("greet", "/boom", methods=["GET"])
    def boom(self, req, **_kwargs):
        raise RuntimeError("bug")


def app():
    wsgi = WSGIApplication(start_server=False)
    wsgi.register(Greeter, {"app": "tester"})
    return wsgi


def call(wsgi, path, method="GET", body=None):
    request = webob.Request.blank(path, method=method, body=body)
    return request.get_response(wsgi)


def test_routes_pass_url_variables_and_registered_data():
    response = call(app(), "/greet/alice")
    assert response.status_int == 200 and response.json == {"hello": "alice", "by": "tester"}


def test_text_bodies_and_request_json_work_as_in_ryu():
    assert call(app(), "/greet", "POST", b'{"a": 1}').json == {"a": 1}


def test_unknown_path_is_a_json_404():
    response = call(app(), "/nope", "GET")
    assert response.status_int == 404 and "no such resource" in response.json["error"]


def test_a_known_path_with_another_method_is_a_405_naming_the_allowed_ones():
    response = call(app(), "/greet", "GET")
    assert response.status_int == 405 and response.headers["Allow"] == "POST"
    assert "allowed: POST" in response.json["error"]


def test_a_handler_bug_is_a_json_500_not_a_dead_server():
    response = call(app(), "/boom")
    assert response.status_int == 500 and "RuntimeError: bug" in response.json["error"]


def guarded(token="t0ken-0123456789abcdef"):
    wsgi = WSGIApplication(start_server=False, token=token)
    wsgi.register(Greeter, {"app": "tester"})
    return wsgi


def test_with_a_token_a_request_without_it_is_a_401_and_reaches_no_handler():
    request = webob.Request.blank("/greet/alice")
    response = request.get_response(guarded())
    assert response.status_int == 401 and "token" in response.json["error"]
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_the_token_is_accepted_as_a_bearer_or_in_x_sdnlab_token():
    for headers in (
        {"Authorization": "Bearer t0ken-0123456789abcdef"},
        {"X-Sdnlab-Token": "t0ken-0123456789abcdef"},
    ):
        request = webob.Request.blank("/greet/alice", headers=headers)
        assert request.get_response(guarded()).status_int == 200
    wrong = webob.Request.blank("/greet/alice", headers={"Authorization": "Bearer t0ken-0123456789abcdeX"})
    assert wrong.get_response(guarded()).status_int == 401


def test_a_token_file_that_is_missing_or_too_short_stops_the_start(tmp_path):
    short = tmp_path / "short"
    short.write_text("abc\n")
    for path in (tmp_path / "missing", short):
        with pytest.raises(ListenError, match=str(path)):
            read_token_file(str(path))


def test_an_undecodable_path_is_a_400_naming_it():
    response = call(app(), "/greet/%ff")
    assert response.status_int == 400 and response.json["error"].startswith("path: not valid UTF-8")


def test_a_body_over_the_limit_is_a_413_before_any_handler_runs():
    wsgi = WSGIApplication(start_server=False, limits=RestLimits(max_body_bytes=10))
    wsgi.register(Greeter, {"app": "tester"})
    response = call(wsgi, "/greet", "POST", b'{"a": "0123456789"}')
    assert response.status_int == 413 and "larger than 10 bytes" in response.json["error"]
