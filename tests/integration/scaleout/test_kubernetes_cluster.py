"""The ``kubernetes`` backend against a real cluster: runs only when ``KUBECONFIG`` is set.

Needs the sandbox image reachable by the cluster's nodes (``SDNLAB_SANDBOX_IMAGE``, default
the local tag) and a namespace the credentials may create pods and pods/exec in
(``SDNLAB_K8S_NAMESPACE``, default sdnlab-labs; deploy/kubernetes/base creates it). Starts one
sandbox of lab 3, grades it through ``pods/exec``, stops it and checks the pod is gone.
"""

from __future__ import annotations

import os
import secrets
import time

import pytest

pytestmark = pytest.mark.slow


@pytest.fixture
def cluster_backend():
    if not os.environ.get("KUBECONFIG"):
        pytest.skip("no cluster: set KUBECONFIG to run the kubernetes backend against a real cluster")
    pytest.importorskip("kubernetes", reason="the kubernetes extra is not installed")
    from sdnlab.classroom.backends.kubernetes import from_environment

    env = {**os.environ, "SDNLAB_K8S_OWNER": "test-" + secrets.token_hex(3)}
    backend = from_environment(env)
    yield backend
    for sandbox in backend.sandboxes():
        backend.stop(sandbox)


def test_a_sandbox_pod_starts_grades_and_goes(cluster_backend):
    sandbox = "kt" + secrets.token_hex(3)
    status = cluster_backend.start(sandbox, "smart_meters", trainee="ann")
    assert status["state"] == "ready" and status["backend"] == "kubernetes"
    assert cluster_backend.sandboxes() == [sandbox]
    assert cluster_backend.grade(sandbox, include_hidden=False)["percent"] < 100.0
    cluster_backend.stop(sandbox)
    deadline = time.time() + 60
    while cluster_backend.sandboxes() and time.time() < deadline:
        time.sleep(1)
    assert cluster_backend.sandboxes() == []
