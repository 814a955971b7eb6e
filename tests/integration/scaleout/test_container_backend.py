"""A class on the ``container`` backend: trainees' sandboxes as podman containers side by side.

The host agent runs as its own root process with ``--backend container`` (as ``sdnlab serve
--backend container`` starts it); the app drives it over its socket. Each sandbox is a
container of the sandbox image with its own Open vSwitch, four capabilities, no network.
Two trainees start lab 3, one deploys the solution and checks 100% live, the other keeps the
starter; terminals reach into each trainee's own container; a restart of the host agent finds
the running containers again (labels); stopping leaves no container,
socket folder, network namespace or bridge behind on the host.
"""

from __future__ import annotations

import json
import secrets
import subprocess
import sys

import pytest
from classroom_client import login, terminal, wait_for_agent
from fastapi.testclient import TestClient

from sdnlab.classroom import accounts, podspec
from sdnlab.classroom.app import Settings, create_app
from sdnlab.classroom.db import default_url, open_database
from sdnlab.classroom.sandbox import AgentBackend
from sdnlab.labs.loader import load_lab

pytestmark = pytest.mark.slow
LAB = "smart_meters"


def host_view(prefix: str) -> set[str]:
    """Network namespaces, OVS bridges and links on the host named after this test's sandboxes."""

    def out(*argv: str) -> list[str]:
        done = subprocess.run(argv, capture_output=True, text=True)
        return done.stdout.split() if done.returncode == 0 else []

    links = [line.split(":")[1].strip() for line in out_lines("ip", "-o", "link")]
    names = [*out("ip", "netns", "list"), *out("ovs-vsctl", "--timeout=5", "list-br"), *links]
    return {name for name in names if prefix in name}


def out_lines(*argv: str) -> list[str]:
    return subprocess.run(argv, capture_output=True, text=True).stdout.splitlines()


def containers(owner_label: str) -> list[dict]:
    done = subprocess.run(
        ["podman", "ps", "--all", "--format", "json", "--filter", f"label={owner_label}"],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(done.stdout or "[]")


@pytest.fixture(scope="module")
def agent(sandbox_image, tmp_path_factory):
    """The host agent with ``--backend container`` as a separate root process."""
    folder = tmp_path_factory.mktemp("cagent")
    sock = folder / "agent.sock"
    log = open(folder / "agent.log", "a")  # noqa: SIM115  # the agent processes keep it open
    procs = []

    def launch() -> None:
        sock.unlink(missing_ok=True)
        procs.append(subprocess.Popen(
            [sys.executable, "-m", "sdnlab.classroom.agent", "--state", str(folder / "state"),
             "--socket", str(sock), "--backend", "container", "--image", sandbox_image],
            stdout=subprocess.DEVNULL, stderr=log,
        ))  # fmt: skip
        wait_for_agent(sock, procs[-1], folder / "agent.log")

    def restart() -> None:
        """Stop the host agent (as a server restart does) and start a new one on the same state."""
        procs[-1].terminate()
        procs[-1].wait(timeout=30)
        launch()

    launch()
    backend = AgentBackend(str(sock), timeout=240)
    from sdnlab.classroom.backends.container import owner_id

    owner = f"{podspec.LABEL_PREFIX}/owner={owner_id(folder / 'state')}"
    yield backend, owner, folder / "state", restart
    for sandbox in backend.sandboxes():
        backend.stop(sandbox)
    procs[-1].terminate()
    procs[-1].wait(timeout=30)


@pytest.fixture
def room(agent, tmp_path):
    """An app over SQLite with trainees ann and ben."""
    backend = agent[0]
    factory = open_database(default_url(tmp_path))
    with factory.begin() as db:
        for name in ("ann", "ben"):
            accounts.add_user(db, accounts.check_new_user(name, f"password-{name}", "trainee", "c1"))
    prefix = "cc" + secrets.token_hex(2)
    app = create_app(factory, backend, Settings(sandbox_prefix=prefix, max_sandboxes=4))
    with TestClient(app):
        yield app
    for sandbox in backend.sandboxes():
        if sandbox.startswith(prefix):
            backend.stop(sandbox)


def test_two_trainees_in_containers_side_by_side_and_nothing_left(room, agent):
    backend, owner_label, state, restart_agent = agent
    prefix = room.state.room.settings.sandbox_prefix
    ann, ben = login(room, "ann"), login(room, "ben")
    started = [ann.post(f"/api/labs/{LAB}/start"), ben.post(f"/api/labs/{LAB}/start")]
    assert [s.status_code for s in started] == [200, 200], [s.text for s in started]
    boxes = [s.json()["sandbox"] for s in started]
    for s in started:
        assert s.json()["status"]["backend"] == "container"
        assert {h["name"] for h in s.json()["status"]["topology"]["hosts"]} >= {"hes", "m1", "m2"}

    # two containers with exactly the spec's capabilities, no network, not privileged
    rows = {c["Labels"][f"{podspec.LABEL_PREFIX}/sandbox"]: c for c in containers(owner_label)}
    assert sorted(rows) == sorted(boxes)
    for box in boxes:
        info = json.loads(
            subprocess.run(
                ["podman", "inspect", podspec.dns_name(box)], capture_output=True, text=True, check=True
            ).stdout
        )[0]
        assert info["State"]["Running"]
        assert info["HostConfig"]["NetworkMode"] == "none"
        assert not info["HostConfig"]["Privileged"]
        caps = {c.removeprefix("CAP_") for c in info["EffectiveCaps"]}
        assert caps == set(podspec.CAPABILITIES), caps
        mounts = [m["Source"] for m in info["Mounts"]]
        assert mounts == [str(state / "agents" / box)], "the socket folder is the only host path"
    # the labs live inside the containers: the host has no namespace, bridge or link of theirs
    assert host_view(prefix) == set()

    # ann deploys the solution from the editor; ben keeps the starter
    for path in sorted((load_lab(LAB).solution_dir / "flows").iterdir()):
        answer = ann.put(f"/api/session/files/flows/{path.name}", json={"content": path.read_text()})
        assert answer.status_code == 200
    assert ann.post("/api/session/deploy").status_code == 200
    ann_check, ben_check = ann.post("/api/session/check").json(), ben.post("/api/session/check").json()
    assert ann_check["percent"] == 100.0 and ann_check["mode"] == "live", ann_check
    assert ben_check["percent"] < 100.0

    # terminals open inside each trainee's own container
    [ann_flows, ping] = terminal(ann, "ovs-ofctl dump-flows core", "m1 ping -c1 -W2 hes")
    [ben_flows] = terminal(ben, "ovs-ofctl dump-flows core")
    assert "priority=0 actions=FLOOD" in ben_flows and "FLOOD" not in ann_flows
    assert "1 received" in ping, ping

    submitted = ann.post("/api/session/submit").json()
    assert submitted["percent"] == 100.0
    # the image holds no instructor data: the server sent the hidden checks with the grade call
    assert submitted["hidden_checks"]["total"] == load_lab(LAB).hidden_count > 0, submitted

    # the host agent restarts (a server restart): the containers run on and are found again
    restart_agent()
    assert backend.sandboxes() == sorted(boxes)
    assert ann.post("/api/session/check").json()["percent"] == 100.0

    # stopping removes the containers and their socket folders; nothing is left on the host
    assert ann.post("/api/session/stop").status_code == 200
    assert ben.post("/api/session/stop").status_code == 200
    assert containers(owner_label) == []
    assert backend.sandboxes() == []
    assert not any((state / "agents").iterdir())
    assert host_view(prefix) == set()
    leftovers = subprocess.run(["pgrep", "-af", f"{prefix}"], capture_output=True, text=True).stdout
    assert not [line for line in leftovers.splitlines() if "pytest" not in line], leftovers
