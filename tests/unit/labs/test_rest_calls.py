"""The ``rest`` step and probe: calls to a real (local) HTTP server and the verdict on them."""

import http.server
import json
import threading

import pytest

from sdnlab.labs.rest_calls import call, contains, judge_rest

TABLE = {"00:00:0a:00:00:01": 1}


class _Api(http.server.BaseHTTPRequestHandler):
    def _answer(self, status, data):
        body = json.dumps(data).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        self._answer(200, TABLE) if self.path == "/mactable/1" else self._answer(404, {"error": "no"})

    def do_PUT(self):
        entry = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self._answer(200, {**TABLE, entry["mac"]: entry["port"]})

    def log_message(self, *args):
        pass


@pytest.fixture
def api_url():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Api)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_calls_return_the_status_and_the_decoded_answer(api_url):
    assert call(api_url, "GET", "/mactable/1") == (200, {"00:00:0a:00:00:01": 1})
    assert call(api_url, "GET", "/mactable/2")[0] == 404
    status, answer = call(api_url, "PUT", "/mactable/1", {"mac": "00:00:0a:00:00:03", "port": 3})
    assert status == 200 and answer["00:00:0a:00:00:03"] == 3


def test_no_server_is_status_zero():
    assert call("", "GET", "/x") == (0, None)
    assert call("http://127.0.0.1:9", "GET", "/x", timeout=1) == (0, None)


def test_containment_is_key_by_key_and_recursive():
    assert contains({"a": 1, "b": {"c": 2, "d": 3}}, {"b": {"c": 2}})
    assert not contains({"a": 1}, {"a": 2})
    assert not contains([1, 2], {"a": 1})
    assert contains([1, 2], [1, 2])


def test_the_verdict_names_what_went_wrong():
    assert judge_rest("GET", "/t", 200, {"m": 1}, 200, {"m": 1}) == (
        True,
        "GET /t: status 200, answer as expected",
    )
    assert judge_rest("PUT", "/t", 405, None, 200) == (False, "PUT /t: status 405, expected 200")
    assert (
        judge_rest("GET", "/t", 0, None, 200)[1]
        == "GET /t: the app did not answer (does it serve a REST API?)"
    )
    ok, text = judge_rest("GET", "/t", 200, {"m": 1}, 200, {"n": 2})
    assert not ok and text == 'GET /t: the answer {"m": 1} does not contain {"n": 2}'
