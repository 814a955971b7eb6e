"""The sandbox Pod manifest the Kubernetes backend creates, run for real with ``podman kube play``.

No cluster here: podman plays the rendered Pod (same securityContext, capabilities, volumes,
command). The backend's own agent relay (the code it runs through ``pods/exec``) is run with
``podman exec`` instead of the API server's exec, so the pod's agent is driven exactly as the
backend drives it: start lab 3, check the starter (< 100%), write the solution, deploy, check
100%, and the pod comes down with nothing left.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import time
from pathlib import Path

import pytest
import yaml

from sdnlab.classroom import podspec
from sdnlab.classroom.backends.kubernetes import RELAY_COMMAND, parse_answer
from sdnlab.labs.loader import load_lab

pytestmark = pytest.mark.slow
LAB = "smart_meters"
# kube play takes its runtime and ulimits from containers.conf (it has no --ulimit): see docs/scale-out.md
CONF = {
    **os.environ,
    "CONTAINERS_CONF": str(Path(__file__).resolve().parents[3] / "tools/image/containers.conf"),
}


class PodmanExec:
    """The backend's ``PodExec`` with ``podman exec`` into a played pod's ``sandbox`` container."""

    def run(self, pod: str, command: list[str], stdin: bytes, timeout: float) -> bytes:
        done = subprocess.run(
            ["podman", "exec", "-i", f"{pod}-sandbox", *command],
            input=stdin, capture_output=True, timeout=timeout,
        )  # fmt: skip
        return done.stdout


def call(pod: str, op: str, **args):
    line = json.dumps({"op": op, **args}).encode() + b"\n"
    return parse_answer(op, PodmanExec().run(pod, RELAY_COMMAND, line, 240))


@pytest.fixture
def played(sandbox_image, tmp_path):
    """The rendered Pod of one sandbox, played by podman; removed afterwards."""
    if not shutil.which("catatonit"):
        pytest.skip("podman kube play needs catatonit for its pause container (apt-get install catatonit)")
    sandbox = "kp" + secrets.token_hex(3)
    spec = podspec.SandboxSpec(image=sandbox_image)
    labels = podspec.labels(sandbox, "kubeplay-test", class_name="c1", trainee="ann", session="1")
    manifest = podspec.pod_manifest(spec, sandbox, labels, namespace="default", ttl_s=600)
    path = tmp_path / "pod.yaml"
    path.write_text(yaml.safe_dump(manifest))
    play = subprocess.run(
        ["podman", "kube", "play", "--network", "none", str(path)],
        capture_output=True, text=True, timeout=180, env=CONF,
    )  # fmt: skip
    try:
        assert play.returncode == 0, play.stderr
        yield sandbox, podspec.dns_name(sandbox), manifest
    finally:
        subprocess.run(["podman", "kube", "down", str(path)], capture_output=True, timeout=120, env=CONF)
        left = subprocess.run(["podman", "pod", "exists", podspec.dns_name(sandbox)], env=CONF)
        assert left.returncode != 0, "the played pod is gone"


def test_the_rendered_pod_runs_a_lab_graded_live_through_the_backends_relay(played):
    sandbox, pod, _manifest = played
    info = json.loads(
        subprocess.run(["podman", "inspect", f"{pod}-sandbox"], capture_output=True, text=True).stdout
    )[0]
    assert {c.removeprefix("CAP_") for c in info["EffectiveCaps"]} == set(podspec.CAPABILITIES)
    assert not info["HostConfig"]["Privileged"]
    assert info["Config"]["Labels"][f"{podspec.LABEL_PREFIX}/trainee"] == "ann"

    deadline = time.time() + 90  # readiness through the agent, as the backend waits for it
    while True:
        try:
            assert call(pod, "sandboxes") == []
            break
        except Exception:
            if time.time() > deadline:
                logs = subprocess.run(["podman", "logs", f"{pod}-sandbox"], capture_output=True, text=True)
                pytest.fail("the pod's agent never answered: " + (logs.stderr + logs.stdout)[-1500:])
            time.sleep(0.5)

    status = call(pod, "start", sandbox=sandbox, lab=LAB)
    assert status["state"] == "ready" and {h["name"] for h in status["topology"]["hosts"]} >= {"hes", "m1"}
    starter = call(pod, "grade", sandbox=sandbox, include_hidden=False)
    assert starter["percent"] < 100.0
    for path in sorted((load_lab(LAB).solution_dir / "flows").iterdir()):
        call(pod, "write_file", sandbox=sandbox, path=f"flows/{path.name}", text=path.read_text())
    call(pod, "deploy", sandbox=sandbox)
    solved = call(pod, "grade", sandbox=sandbox, include_hidden=True)
    assert solved["percent"] == 100.0, [c for c in solved["checks"] if not c["passed"]]
    call(pod, "stop", sandbox=sandbox)
    assert call(pod, "sandboxes") == []
