"""ryu.app.wsgi dispatches routed ControllerBase methods and answers JSON errors."""

import json

import webob

from ryu.app.wsgi import ControllerBase, Response, WSGIApplication, route


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
