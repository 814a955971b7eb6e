"""The ``kubernetes`` backend against the Kubernetes API contract, WITHOUT a cluster.

These are contract tests: the official ``kubernetes`` client is real, but its HTTP transport
(urllib3's pool manager) is replaced by ``RecordingApiServer``, which records every request
(method, path, query, JSON body) and answers from the pods it was sent. The agent inside a
pod is replaced by a recorder too (``RecordingExec``). What is asserted is what the backend
asks of the API server and how it reacts to its answers (409, 404, phases). The rendered
Pod is also validated offline against the Kubernetes schemas (``kubernetes-validate``).
The real thing: tests/integration/scaleout/test_pod_spec.py runs the Pod under podman, and
test_kubernetes_cluster.py runs the backend against a cluster when ``KUBECONFIG`` is set.
"""

from __future__ import annotations

import json
import urllib.parse

import pytest

kubernetes = pytest.importorskip("kubernetes", reason="the kubernetes extra is not installed")
from kubernetes import client  # noqa: E402  # after the importorskip above

from sdnlab.classroom import podspec  # noqa: E402
from sdnlab.classroom.backends.kubernetes import (  # noqa: E402
    EXPIRES,
    POOL,
    RELAY_COMMAND,
    KubernetesBackend,
    terminal_command,
)
from sdnlab.classroom.errors import Conflict, NotFound, SandboxError  # noqa: E402

NS = "sdnlab-labs"


class _Response:
    def __init__(self, status: int, body: dict):
        self.status = status
        self.reason = {200: "OK", 201: "Created", 404: "Not Found", 409: "Conflict"}.get(status, "")
        self.data = json.dumps(body).encode()
        self.headers = {"content-type": "application/json"}


class RecordingApiServer:
    """Stands in for urllib3's pool manager: records requests, answers from the pods it holds."""

    def __init__(self, phase: str = "Running"):
        self.requests: list[tuple[str, str, dict, dict | None]] = []
        self.pods: dict[str, dict] = {}
        self.phase = phase
        self.conflict_on_patch: set[str] = set()
        self.version = 0

    def clear(self) -> None:
        pass

    def request(self, method, url, body=None, **_kw):
        parts = urllib.parse.urlsplit(url)
        query = dict(urllib.parse.parse_qsl(parts.query))
        data = json.loads(body) if body else None
        self.requests.append((method, parts.path, query, data))
        base = f"/api/v1/namespaces/{NS}/pods"
        if method == "POST" and parts.path == base:
            name = data["metadata"]["name"]
            if name in self.pods:
                return _Response(409, {"kind": "Status", "message": f'pods "{name}" already exists'})
            self.version += 1
            data["metadata"]["resourceVersion"] = str(self.version)
            data["status"] = {
                "phase": self.phase,
                "conditions": [{"type": "Ready", "status": "True" if self.phase == "Running" else "False"}],
            }
            self.pods[name] = data
            return _Response(201, data)
        if method == "GET" and parts.path == base:
            wanted = [s for s in query.get("labelSelector", "").split(",") if s]
            items = [p for p in self.pods.values() if all(_matches(p, s) for s in wanted)]
            return _Response(200, {"kind": "PodList", "apiVersion": "v1", "metadata": {}, "items": items})
        name = parts.path.removeprefix(base + "/")
        if name not in self.pods:
            return _Response(404, {"kind": "Status", "message": f'pods "{name}" not found'})
        if method == "GET":
            return _Response(200, self.pods[name])
        if method == "DELETE":
            return _Response(200, self.pods.pop(name))
        if method == "PATCH":
            pod = self.pods[name]
            if (
                name in self.conflict_on_patch
                or data["metadata"]["resourceVersion"] != pod["metadata"]["resourceVersion"]
            ):
                return _Response(409, {"kind": "Status", "message": "the object has been modified"})
            pod["metadata"]["labels"].update(data["metadata"]["labels"])
            pod["metadata"].setdefault("annotations", {}).update(data["metadata"]["annotations"])
            return _Response(200, pod)
        raise AssertionError(f"unexpected request {method} {url}")

    def of(self, method: str) -> list[tuple[str, str, dict, dict | None]]:
        return [r for r in self.requests if r[0] == method]


def _matches(pod: dict, selector: str) -> bool:
    labels = pod["metadata"].get("labels", {})
    if "=" in selector:
        key, value = selector.split("=", 1)
        return labels.get(key) == value
    return selector in labels


class RecordingExec:
    """Stands in for the pod's agent behind ``pods/exec``: records request lines, answers ok."""

    def __init__(self):
        self.calls: list[tuple[str, list[str], dict]] = []
        self.answers: dict[str, object] = {"sandboxes": [], "start": {"state": "ready"}}

    def run(self, pod, command, stdin, timeout):
        request = json.loads(stdin)
        self.calls.append((pod, command, request))
        op = request["op"]
        if op == "fail":
            return b'{"ok": false, "error": "x", "kind": "not_found"}\n'
        return json.dumps({"ok": True, "result": self.answers.get(op, {"state": "ready"})}).encode() + b"\n"

    def tty(self, pod, command):
        self.calls.append((pod, command, {}))
        return -1


def backend(server: RecordingApiServer, **options) -> tuple[KubernetesBackend, RecordingExec]:
    api = client.ApiClient(client.Configuration(host="https://cluster.invalid"))
    api.rest_client.pool_manager = server
    pod_exec = RecordingExec()
    options.setdefault("poll_s", 0.0)
    return KubernetesBackend(
        client.CoreV1Api(api), namespace=NS, owner="srv1", pod_exec=pod_exec, clock=lambda: 1000.0, **options
    ), pod_exec


def test_start_creates_one_labelled_pod_with_the_spec_waits_for_the_agent_then_starts_the_lab():
    server = RecordingApiServer()
    owner = {"apiVersion": "apps/v1", "kind": "Deployment", "name": "sdnlab-server", "uid": "u-1"}
    k8s, agent = backend(server, owner_reference=owner, ttl_s=3600)
    status = k8s.start("cr7", "smart_meters", class_name="c1", trainee="ann", session="7")
    assert status["backend"] == "kubernetes" and status["pod"] == "sdnlab-cr7"
    [(_m, path, _q, pod)] = server.of("POST")
    assert path == f"/api/v1/namespaces/{NS}/pods"
    labels = pod["metadata"]["labels"]
    assert (
        labels[f"{podspec.LABEL_PREFIX}/owner"] == "srv1"
        and labels[f"{podspec.LABEL_PREFIX}/trainee"] == "ann"
    )
    assert (
        labels[f"{podspec.LABEL_PREFIX}/session"] == "7" and labels[f"{podspec.LABEL_PREFIX}/class"] == "c1"
    )
    security = pod["spec"]["containers"][0]["securityContext"]
    assert security["capabilities"] == {"drop": ["ALL"], "add": list(podspec.CAPABILITIES)}
    assert pod["spec"]["activeDeadlineSeconds"] == 3600
    assert pod["metadata"]["annotations"][EXPIRES] == "4600"
    assert pod["metadata"]["ownerReferences"][0]["uid"] == "u-1"
    # readiness through the agent, then the lab: both through the relay in the pod
    assert [c[2]["op"] for c in agent.calls] == ["sandboxes", "start"]
    assert all(c[0] == "sdnlab-cr7" and c[1] == RELAY_COMMAND for c in agent.calls)
    assert agent.calls[1][2] == {"op": "start", "sandbox": "cr7", "lab": "smart_meters"}
    assert k8s.sandboxes() == ["cr7"]


def test_a_second_start_of_the_same_sandbox_is_a_conflict_and_creates_nothing():
    server = RecordingApiServer()
    k8s, _agent = backend(server)
    k8s.start("cr7", "smart_meters")
    with pytest.raises(Conflict):
        k8s.start("cr7", "smart_meters")
    assert len(server.of("POST")) == 1


def test_a_pod_that_fails_to_start_is_reported_and_deleted():
    server = RecordingApiServer(phase="Failed")
    k8s, _agent = backend(server)
    with pytest.raises(SandboxError, match="ended while starting"):
        k8s.start("cr8", "smart_meters")
    assert [r[1] for r in server.of("DELETE")] == [f"/api/v1/namespaces/{NS}/pods/sdnlab-cr8"]
    assert server.pods == {}


def test_calls_go_to_the_sandboxes_own_pod_and_agent_errors_keep_their_kind():
    server = RecordingApiServer()
    k8s, agent = backend(server)
    k8s.start("cr1", "smart_meters")
    k8s.start("cr2", "smart_meters")
    k8s.write_file("cr2", "flows/core.flows", "x")
    assert agent.calls[-1][0] == "sdnlab-cr2"
    assert agent.calls[-1][2] == {
        "op": "write_file",
        "sandbox": "cr2",
        "path": "flows/core.flows",
        "text": "x",
    }
    k8s.grade("cr1", include_hidden=True)
    assert agent.calls[-1][0] == "sdnlab-cr1" and agent.calls[-1][2]["include_hidden"] is True
    with pytest.raises(NotFound):
        k8s.status("cr9")
    assert k8s.terminal("cr1") == -1
    assert agent.calls[-1][1] == terminal_command("cr1")


def test_stop_deletes_the_pod_and_reap_deletes_expired_and_finished_pods_only():
    server = RecordingApiServer()
    k8s, _agent = backend(server, ttl_s=100)
    for sandbox in ("cr1", "cr2", "cr3"):
        k8s.start(sandbox, "smart_meters")
    k8s.stop("cr1")
    assert "sdnlab-cr1" not in server.pods
    server.pods["sdnlab-cr3"]["metadata"]["annotations"][EXPIRES] = "5000"  # renewed
    assert k8s.reap(now=1200.0) == ["sdnlab-cr2"]
    server.pods["sdnlab-cr3"]["status"]["phase"] = "Succeeded"
    assert k8s.reap(now=1200.0) == ["sdnlab-cr3"]
    assert server.pods == {}
    # every list is scoped to this server's pods
    assert all(q["labelSelector"].startswith(f"{podspec.LABEL_PREFIX}/owner=srv1") for _m, _p, q, _b in
               server.of("GET") if "labelSelector" in q)  # fmt: skip


def test_warm_pool_fills_up_and_start_claims_a_ready_pod_guarded_by_its_resource_version():
    server = RecordingApiServer()
    k8s, agent = backend(server, warm_pool=2)
    created = k8s.fill_pool()
    assert len(created) == 2 and k8s.fill_pool() == []
    assert all(server.pods[n]["metadata"]["labels"][POOL] == "warm" for n in created)
    assert k8s.sandboxes() == [], "warm pods are nobody's sandbox"
    server.conflict_on_patch = {created[0]}  # another replica got there first
    status = k8s.start("cr5", "smart_meters", trainee="ben")
    patches = server.of("PATCH")
    assert len(patches) == 2 and {p[1].rsplit("/", 1)[1] for p in patches} == set(created)
    claimed = status["pod"]
    assert claimed == created[1]
    labels = server.pods[claimed]["metadata"]["labels"]
    assert labels[POOL] == "claimed" and labels[f"{podspec.LABEL_PREFIX}/sandbox"] == "cr5"
    assert (
        patches[-1][3]["metadata"]["resourceVersion"] == server.pods[claimed]["metadata"]["resourceVersion"]
    )
    assert len(server.of("POST")) == 2, "no new pod: the warm one was used"
    assert agent.calls[-1][0] == claimed and k8s.sandboxes() == ["cr5"]
    assert len(k8s.fill_pool()) == 1


@pytest.mark.parametrize("version", ["1.30.0", "1.37.0"])
def test_the_pod_validates_against_the_kubernetes_schemas(version):
    kubernetes_validate = pytest.importorskip("kubernetes_validate")
    labels = podspec.labels("cr7", "srv1", class_name="c1", trainee="ann", session="7")
    for pod in (
        podspec.pod_manifest(podspec.SandboxSpec(), "cr7", labels, ttl_s=60),
        podspec.pod_manifest(
            podspec.SandboxSpec(), "cr7", labels, agent_host_dir="/x", node_selector={"a": "b"}
        ),
    ):
        kubernetes_validate.validate(pod, version, strict=True)


def test_an_exec_tty_is_bridged_to_a_local_pty_with_keystrokes_output_and_window_size():
    """``bridge_pty`` with a stand-in remote TTY that echoes input upper-cased and records resizes."""
    import fcntl
    import os
    import queue
    import struct
    import termios
    import time

    from sdnlab.classroom.backends.kubernetes import bridge_pty

    remote: queue.Queue[bytes | None] = queue.Queue()
    sizes: list[tuple[int, int]] = []
    closed: list[bool] = []

    def receive() -> bytes | None:
        try:
            return remote.get(timeout=0.05)
        except queue.Empty:
            return b""

    master = bridge_pty(
        send=lambda text: remote.put(text.upper().encode()),
        resize=lambda cols, rows: sizes.append((cols, rows)),
        receive=receive,
        close=lambda: closed.append(True),
    )
    try:
        fcntl.ioctl(master, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 132, 0, 0))
        os.write(master, b"ovs-ofctl show\r")
        seen = b""
        deadline = time.time() + 5
        while b"OVS-OFCTL SHOW" not in seen and time.time() < deadline:
            seen += os.read(master, 1024)
        assert b"OVS-OFCTL SHOW" in seen
        assert (132, 40) in sizes
        remote.put(None)  # the remote shell exits
        deadline = time.time() + 5
        while not closed and time.time() < deadline:
            time.sleep(0.05)
        assert closed == [True]
    finally:
        os.close(master)


def test_the_owner_reference_is_the_labs_namespaces_configmap_read_for_its_uid():
    from sdnlab.classroom.backends.kubernetes import configmap_owner

    class ConfigMaps(RecordingApiServer):
        def request(self, method, url, body=None, **kw):
            if "/configmaps/" in url:
                self.requests.append((method, urllib.parse.urlsplit(url).path, {}, None))
                name = url.rsplit("/", 1)[1]
                if name != "sdnlab-sandbox-owner":
                    return _Response(404, {"kind": "Status", "message": f'configmaps "{name}" not found'})
                meta = {"name": name, "namespace": NS, "uid": "cm-uid-1"}
                return _Response(200, {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta})
            return super().request(method, url, body=body, **kw)

    server = ConfigMaps()
    api = client.ApiClient(client.Configuration(host="https://cluster.invalid"))
    api.rest_client.pool_manager = server
    owner = configmap_owner(client.CoreV1Api(api), NS, "sdnlab-sandbox-owner")
    assert owner == {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "name": "sdnlab-sandbox-owner",
        "uid": "cm-uid-1",
    }
    assert server.requests[-1][1] == f"/api/v1/namespaces/{NS}/configmaps/sdnlab-sandbox-owner"
    with pytest.raises(SandboxError, match='cannot be read: configmaps "other" not found'):
        configmap_owner(client.CoreV1Api(api), NS, "other")
