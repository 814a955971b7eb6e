"""Real sandboxes through the privileged agent: two trainees side by side in lab 3 (smart meters).

The agent runs as its own process on a Unix socket; the app drives it like ``sdnlab serve``
does. Each trainee deploys from the browser API, checks, types into a terminal; a restart
reattaches the running sandboxes; TTL reclaim and stop leave nothing behind (runtime lab
folders, OVS bridges).
"""

from __future__ import annotations

import json
import secrets
import subprocess
import sys
import time

import pytest
from classroom_client import login, terminal, wait_for_agent
from fastapi.testclient import TestClient

from sdnlab.classroom import accounts
from sdnlab.classroom.app import Settings, create_app
from sdnlab.classroom.db import default_url, open_database
from sdnlab.classroom.sandbox import AgentBackend
from sdnlab.labs.loader import load_lab
from sdnlab.runtime import api, paths

pytestmark = pytest.mark.network
LAB = "smart_meters"


@pytest.fixture(scope="module")
def agent(tmp_path_factory):
    """The agent as a separate root process on a socket in a temporary folder."""
    folder = tmp_path_factory.mktemp("agent")
    sock = folder / "agent.sock"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "sdnlab.classroom.agent",
            "--state",
            str(folder / "state"),
            "--socket",
            str(sock),
        ],
        stdout=subprocess.DEVNULL,
        stderr=open(folder / "agent.log", "w"),  # noqa: SIM115  # the process keeps it open
    )
    wait_for_agent(sock, proc, folder / "agent.log")
    backend = AgentBackend(str(sock), timeout=240)
    yield backend
    for sandbox in backend.sandboxes():
        backend.stop(sandbox)
    proc.terminate()
    proc.wait(timeout=30)


@pytest.fixture
def room(agent, tmp_path):
    """An app over a fresh SQLite database with trainees ann and ben and instructor ivy."""
    factory = open_database(default_url(tmp_path))
    with factory.begin() as db:
        for name, role in (("ann", "trainee"), ("ben", "trainee"), ("ivy", "instructor")):
            accounts.add_user(db, accounts.check_new_user(name, f"password-{name}", role, "c1"))
    prefix = "ci" + secrets.token_hex(2)  # unique among the labs of other test runs on this host
    app = create_app(factory, agent, Settings(sandbox_prefix=prefix, max_sandboxes=4))
    with TestClient(app) as base:
        yield app, base
    for sandbox in agent.sandboxes():
        if sandbox.startswith(prefix):
            agent.stop(sandbox)


def interrupted_ping(client) -> str:
    """Start an endless ping in the terminal, press Ctrl-C; the screen until the next prompt."""
    cookie = client.cookies.get("sdnlab_session")
    with client.websocket_connect(
        "/api/session/terminal", headers={"cookie": f"sdnlab_session={cookie}"}
    ) as ws:
        ws.send_text(json.dumps({"type": "input", "data": "m1 ping hes\n"}))
        screen, deadline = "", time.time() + 60
        while "bytes from" not in screen and time.time() < deadline:
            screen += ws.receive_bytes().decode(errors="replace")
        ws.send_text(json.dumps({"type": "input", "data": "\x03"}))
        while not screen.rstrip().endswith("]$") and time.time() < deadline:
            screen += ws.receive_bytes().decode(errors="replace")
        ws.send_text(json.dumps({"type": "input", "data": "exit\n"}))
    return screen


def bridges() -> set[str]:
    return set(subprocess.run(["ovs-vsctl", "list-br"], capture_output=True, text=True).stdout.split())


def test_two_trainees_side_by_side_each_in_their_own_lab(room, agent):
    app, _base = room
    ann, ben = login(app, "ann"), login(app, "ben")
    started = [ann.post(f"/api/labs/{LAB}/start"), ben.post(f"/api/labs/{LAB}/start")]
    assert [s.status_code for s in started] == [200, 200], [s.text for s in started]
    boxes = [s.json()["sandbox"] for s in started]
    assert boxes[0] != boxes[1]
    for s in started:
        topology = s.json()["status"]["topology"]
        assert {h["name"] for h in topology["hosts"]} >= {"hes", "m1", "m2"}
        assert all(h["ip"] for h in topology["hosts"])
    assert started[0].json()["ready_s"] < 60
    own = [{s["bridge"] for s in api.status(box)["switches"]} for box in boxes]
    assert own[0] and own[1] and not own[0] & own[1], "each sandbox has its own switches"
    assert own[0] | own[1] <= bridges()

    # ann deploys the right flows from the editor; ben keeps the starter
    solution = load_lab(LAB).solution_dir / "flows"
    for path in sorted(solution.iterdir()):
        answer = ann.put(f"/api/session/files/flows/{path.name}", json={"content": path.read_text()})
        assert answer.status_code == 200
    assert ann.post("/api/session/deploy").status_code == 200, "deploy"
    ann_check, ben_check = ann.post("/api/session/check").json(), ben.post("/api/session/check").json()
    assert ann_check["percent"] == 100.0 and ann_check["mode"] == "live"
    assert ben_check["percent"] < 100.0
    assert any(c["details"] for c in ben_check["checks"] if not c["passed"]), "ben sees a counterexample"
    # a live ping probe that failed carries the path its packets take through ben's flow tables
    probe = next(c for c in ben_check["checks"] if c["id"] == "ping-meters-blocked")
    assert not probe["passed"] and probe["paths"], probe
    assert probe["paths"][0]["src"] == "m1" and "delivered to m2" in probe["paths"][0]["outcome"]
    assert probe["paths"][0]["blame"]["where"].startswith("flows/"), "no server folder in the path"

    # each terminal shows its own lab: ann's switch has her deployed rules, ben's the starter's
    [ann_flows] = terminal(ann, "ovs-ofctl dump-flows core")
    [ben_flows] = terminal(ben, "ovs-ofctl dump-flows core")
    assert "priority=0 actions=FLOOD" in ben_flows and "FLOOD" not in ann_flows
    # from inside ann's terminal: her hosts answer; ben's switches, the host's files and shells do not
    ben_bridge = sorted(own[1])[0]
    outputs = terminal(
        ann,
        "m1 ping -c1 -W2 hes",
        f"ovs-ofctl dump-flows {ben_bridge}",
        "cat /etc/passwd",
        "sh -c id",
        "m1 sh -c id",
        "m1 curl file:///etc/passwd",
        "cat ../../../etc/passwd",
        "cat flows/core.flows",
    )
    assert "1 received" in outputs[0], outputs[0]
    assert f"refused: ovs-ofctl: no switch '{ben_bridge}'" in outputs[1]
    assert all("refused:" in out and "root:" not in out for out in outputs[2:7]), outputs[2:7]
    assert "uid=" not in "".join(outputs[3:5])
    assert "priority=" in outputs[7]
    stopped = interrupted_ping(ann)
    assert "packets transmitted" in stopped and stopped.rstrip().endswith("]$"), stopped[-300:]

    submitted = ann.post("/api/session/submit").json()
    assert (
        submitted["percent"] == 100.0
        and submitted["hidden_checks"]["passed"] == submitted["hidden_checks"]["total"]
        and submitted["hidden_checks"]["total"] == load_lab(LAB).hidden_count > 0  # sent by the server
    )
    ivy = login(app, "ivy")
    rows = {r["user"]: r for r in ivy.get("/api/class/sessions").json()["sessions"]}
    assert rows["ann"]["last_percent"] == 100.0 and rows["ben"]["last_percent"] == ben_check["percent"]

    # a restart of the web app reattaches both sandboxes; stopping leaves nothing behind
    room2 = create_app(app.state.room.factory, agent, app.state.room.settings).state.room
    assert room2.reconcile() == {"reattached": 2, "lost": 0, "cleaned": 0}
    assert ann.get("/api/session").json()["status"]["state"] == "ready"
    assert ann.post("/api/session/stop").status_code == 200
    assert room2.reclaim_idle(now=time.time() + 3 * 3600) == [boxes[1]]
    assert agent.sandboxes() == [] or not set(agent.sandboxes()) & set(boxes)
    for box in boxes:
        assert not paths.lab_dir(box).exists()
    assert not (own[0] | own[1]) & bridges(), "no bridge left behind"


def test_a_warm_sandbox_is_a_real_lab_handed_to_one_trainee_and_shutdown_leaves_nothing(agent, tmp_path):
    """Warm pool on the real agent: a ready lab 3 is taken by ann's start; the refill and the pool
    are stopped with the server, and ann's sandbox is not."""
    factory = open_database(default_url(tmp_path))
    with factory.begin() as db:
        accounts.add_user(db, accounts.check_new_user("ann", "password-ann", "trainee", "c1"))
    prefix = "cw" + secrets.token_hex(2)
    settings = Settings(sandbox_prefix=prefix, max_sandboxes=3, warm={LAB: 1}, warm_every_s=0.2)
    app = create_app(factory, agent, settings)
    pool = app.state.room.pool
    try:
        with TestClient(app):
            deadline = time.time() + 120
            while pool.ready(LAB) < 1 and time.time() < deadline:
                time.sleep(0.2)
            [warm] = [s for s in agent.sandboxes() if s.startswith(prefix)]
            assert warm.startswith(prefix + "w") and api.status(warm)["phase"] == "ready"
            ann = login(app, "ann")
            started = ann.post(f"/api/labs/{LAB}/start").json()
            assert started["sandbox"] == warm and started["ready_s"] < 2.0, started
            [output] = terminal(ann, "nodes")
            assert "switches:" in output
            deadline = time.time() + 120
            while pool.ready(LAB) < 1 and time.time() < deadline:  # refilled behind ann's start
                time.sleep(0.2)
            [refill] = [s for s in agent.sandboxes() if s.startswith(prefix) and s != warm]
            refill_bridges = {s["bridge"] for s in api.status(refill)["switches"]}
        assert [s for s in agent.sandboxes() if s.startswith(prefix)] == [warm], "the pool was drained"
        assert not paths.lab_dir(refill).exists() and not refill_bridges & bridges()
    finally:
        for sandbox in agent.sandboxes():
            if sandbox.startswith(prefix):
                agent.stop(sandbox)
