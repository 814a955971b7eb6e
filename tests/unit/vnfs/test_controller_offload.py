"""Offload requests reach the lab's controller: the engine hands each request to a sink, the
runner's sink posts it to ``/sdnlab/offload`` from a background thread, and ``sdnlab vnf run``
tells the VNF where the builtin controller listens."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from types import SimpleNamespace

import pytest

from sdnlab.vnfs import manage
from sdnlab.vnfs.framework.base import VNF
from sdnlab.vnfs.framework.engine import PortIO, Worker
from sdnlab.vnfs.framework.eventlog import EventLog
from sdnlab.vnfs.framework.rest import JsonPoster
from sdnlab.vnfs.framework.runner import controller_offloads, parse_args
from sdnlab.vnfs.framework.testing import udp
from sdnlab.vnfs.framework.verdict import forward


class Offloading(VNF):
    def handle(self, packet):
        self.offload(packet)
        return forward()


def worker_for(vnf):
    ports = {}
    for name in vnf.ports:
        ours, _theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
        ports[name] = PortIO(name, f"if-{name}", ours, b"\x02" * 6)
    return Worker(vnf, ports)


def test_the_engine_hands_each_request_to_the_sink_as_it_writes_it(tmp_path):
    worker = worker_for(Offloading())
    sent = []
    worker.offload_path = tmp_path / "offload.jsonl"
    worker.offload_sink = sent.append
    worker.dispatch(worker.ports["inside"], [udp("10.0.0.1", 9, "10.0.0.2", 53)], now=1.0)
    line = json.loads(worker.offload_path.read_text())
    assert (
        sent
        == [line]
        == [
            {
                "vnf": "vnf",
                "action": "bypass",
                "proto": 17,
                "src": "10.0.0.1",
                "sport": 9,
                "dst": "10.0.0.2",
                "dport": 53,
            }
        ]
    )


def test_without_a_file_the_sink_still_gets_the_requests():
    worker = worker_for(Offloading())
    sent = []
    worker.offload_sink = sent.append
    worker.dispatch(worker.ports["inside"], [udp("10.0.0.1", 9, "10.0.0.2", 53)], now=1.0)
    assert [r["dport"] for r in sent] == [53] and worker.vnf.offload_requests == []


@pytest.fixture
def controller():
    """A stand-in REST server: accepts dport 53, refuses anything else with a JSON error."""
    received = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            received.append((self.path, body))
            ok = body.get("dport") == 53
            answer = json.dumps(
                {"offloads": []} if ok else {"error": "flow ... is not steered through 'fw1'"}
            )
            self.send_response(200 if ok else 409)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(answer.encode())

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield SimpleNamespace(url=f"http://127.0.0.1:{server.server_address[1]}", received=received)
    server.shutdown()
    server.server_close()


def test_the_poster_reports_success_and_the_controllers_reason_for_a_refusal(controller):
    results, done = [], threading.Semaphore(0)

    def on_result(body, ok, detail):
        results.append((body["dport"], ok, detail))
        done.release()

    poster = JsonPoster(controller.url + "/sdnlab/offload", None, on_result)
    poster.post({"dport": 53})
    poster.post({"dport": 80})
    assert done.acquire(timeout=5) and done.acquire(timeout=5)
    poster.close()
    assert results == [(53, True, "HTTP 200"), (80, False, "HTTP 409: flow ... is not steered through 'fw1'")]
    assert [path for path, _ in controller.received] == ["/sdnlab/offload"] * 2


def test_the_runners_offloads_are_counted_and_refusals_logged(controller):
    vnf = Offloading(None, name="fw1", log=EventLog("fw1"))
    poster = controller_offloads(vnf, controller.url + "/")
    poster.post({"vnf": "fw1", "proto": 17, "src": "10.0.0.1", "sport": 9, "dst": "10.0.0.2", "dport": 53})
    poster.post({"vnf": "fw1", "proto": 17, "src": "10.0.0.1", "sport": 9, "dst": "10.0.0.2", "dport": 80})
    poster.close()
    poster.thread.join(timeout=5)
    assert vnf.counters["offload_accepted"] == 1 and vnf.counters["offload_refused"] == 1
    (refused,) = [e for e in vnf.log.lines if e["event"] == "offload_refused"]
    assert refused["detail"].startswith("HTTP 409: flow") and refused["flow"]["dport"] == 80


def test_the_runner_takes_the_controller_and_the_host():
    args = parse_args(
        ["--kind", "firewall", "--port", "inside=a", "--controller", "http://127.0.0.1:8081", "--host", "fw1"]
    )
    assert (args.controller, args.host) == ("http://127.0.0.1:8081", "fw1")
    assert parse_args(["--kind", "firewall"]).controller is None


@pytest.mark.parametrize(
    ("controller", "url"),
    [
        ({"mode": "builtin", "host": "127.0.0.1", "port": 6700, "rest_port": 8100}, "http://127.0.0.1:8100"),
        (
            {"mode": "app", "apps": ["x"], "host": "127.0.0.1", "rest_port": 8100},
            None,
        ),  # no /sdnlab/offload there
        ({"mode": "remote", "host": "10.0.0.9", "port": 6653}, None),
        ({"mode": "none"}, None),
        ({}, None),
    ],
)
def test_only_the_builtin_controller_gets_offload_requests(controller, url):
    assert manage.controller_url(controller) == url


def test_vnf_run_passes_the_builtin_controllers_url_and_the_host(tmp_path, monkeypatch):
    from sdnlab.runtime import api

    monkeypatch.setenv("SDNLAB_RUN_DIR", str(tmp_path))
    (tmp_path / "lab1").mkdir()
    monkeypatch.setattr(
        api,
        "status",
        lambda lab: {
            "hosts": [{"name": "fw1", "interfaces": [{"name": "fw1-eth0"}, {"name": "fw1-eth1"}]}],
            "controller": {"mode": "builtin", "host": "127.0.0.1", "port": 6700, "rest_port": 8100},
        },
    )
    argvs = []

    def popen_in(lab, host, argv, **kwargs):
        argvs.append(argv)
        kwargs.pop("pass_fds", None)
        return subprocess.Popen([sys.executable, "-c", "import sys; sys.exit(3)"], **kwargs)

    monkeypatch.setattr(api, "popen_in", popen_in)
    with pytest.raises(Exception, match="exited at start"):
        manage.start("lab1", "firewall", "fw1", vnf_name="fwz")
    argv = argvs[0]
    assert argv[argv.index("--controller") + 1] == "http://127.0.0.1:8100"
    assert argv[argv.index("--host") + 1] == "fw1"


def test_a_poster_that_cannot_reach_the_root_namespace_says_so_for_every_request(controller, tmp_path):
    results, done = [], threading.Semaphore(0)

    def on_result(body, ok, detail):
        results.append((body, ok, detail))
        done.release()

    poster = JsonPoster(controller.url + "/sdnlab/offload", str(tmp_path / "no-such-netns"), on_result)
    poster.post({"dport": 53})
    assert done.acquire(timeout=5)
    poster.close()
    [(body, ok, detail)] = results
    assert body == {"dport": 53} and not ok
    assert detail.startswith("cannot enter the root network namespace (") and "No such file" in detail
    assert controller.received == []  # nothing was posted from the wrong namespace
