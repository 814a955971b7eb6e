"""Own-OVS isolation of the local backend: each sandbox its own namespaces and its own Open vSwitch.

Two trainees start the same lab (lab 1, switches s1..s3) side by side through an agent
running ``--isolation own-ovs``. Each terminal's ``ovs-ofctl dump-flows s1`` shows that
trainee's own switch; the sandboxes' bridges live in their own OVS databases, not in the
host's; a crash of the agent and a restart of the app reattach them; stopping leaves no
process, network namespace or folder behind.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from classroom_client import login, terminal, wait_for_agent
from fastapi.testclient import TestClient

from sdnlab.classroom import accounts
from sdnlab.classroom.app import Settings, create_app
from sdnlab.classroom.db import default_url, open_database
from sdnlab.classroom.sandbox import AgentBackend

pytestmark = pytest.mark.network
LAB = "static_flows"
MARK = "priority=4321,udp,tp_dst=4321 actions=drop"


class Agent:
    """The privileged agent with ``--isolation own-ovs`` as its own process."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.state = folder / "state"
        self.socket = folder / "agent.sock"
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "sdnlab.classroom.agent", "--state", str(self.state),
             "--socket", str(self.socket), "--isolation", "own-ovs"],
            stdout=subprocess.DEVNULL,
            stderr=open(folder / "agent.log", "a"),  # noqa: SIM115  # the process keeps it open
        )  # fmt: skip
        wait_for_agent(self.socket, self.proc, folder / "agent.log")
        self.backend = AgentBackend(str(self.socket), timeout=240)

    def crash(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)
        self.socket.unlink(missing_ok=True)

    def close(self) -> None:
        if self.proc.poll() is None:
            for sandbox in self.backend.sandboxes():
                self.backend.stop(sandbox)
            self.proc.terminate()
            self.proc.wait(timeout=30)

    def init_pid(self, sandbox: str) -> int:
        """The host pid of the sandbox's first process (PID 1 inside it)."""
        record = json.loads((self.state / "ns" / sandbox / "box.json").read_text())
        pid = record["pid"]
        return int(Path(f"/proc/{pid}/task/{pid}/children").read_text().split()[0])


@pytest.fixture
def agent(tmp_path):
    agent = Agent(tmp_path)
    yield agent
    agent.close()


def room(agent: Agent, tmp_path: Path, prefix: str):
    factory = open_database(default_url(tmp_path))
    with factory.begin() as db:
        for name in ("ann", "ben"):
            accounts.add_user(db, accounts.check_new_user(name, f"password-{name}", "trainee", "c1"))
    return create_app(factory, agent.backend, Settings(sandbox_prefix=prefix, max_sandboxes=4))


def inside(pid: int, *argv: str) -> str:
    """Run a command in a sandbox's mount and network namespaces (as the test, not as a trainee)."""
    done = subprocess.run(["nsenter", "--target", str(pid), "--mount", "--net", *argv],
                          capture_output=True, text=True, timeout=30)  # fmt: skip
    assert done.returncode == 0, done.stderr
    return done.stdout


def host_bridge_uuids() -> set[str]:
    out = subprocess.run(["ovs-vsctl", "--bare", "--columns=_uuid", "list", "Bridge"],
                         capture_output=True, text=True, check=True).stdout  # fmt: skip
    return set(out.split())


def namespace_ids(pid: int) -> dict[str, int]:
    return {kind: os.stat(f"/proc/{pid}/ns/{kind}").st_ino for kind in ("net", "pid", "mnt")}


def processes_in(kinds: dict[str, int]) -> list[int]:
    """Host pids of processes in any of these namespaces."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            for kind, inode in kinds.items():
                try:
                    if os.stat(entry / "ns" / kind).st_ino == inode:
                        found.append(int(entry.name))
                        break
                except OSError:
                    pass
    return found


def assert_gone(agent: Agent, box: str, kinds: dict[str, int]) -> None:
    deadline = time.time() + 60  # killed processes go at once; a busy host reaps them late
    while processes_in(kinds) and time.time() < deadline:
        time.sleep(0.1)
    assert processes_in(kinds) == [], f"processes of {box} left"
    assert not (agent.state / "ns" / box).exists(), f"folder of {box} left"


def test_two_trainees_each_see_only_their_own_s1_and_nothing_is_left(agent, tmp_path):
    prefix = "oo" + secrets.token_hex(2)
    app = room(agent, tmp_path, prefix)
    with TestClient(app):
        ann, ben = login(app, "ann"), login(app, "ben")
        started = [ann.post(f"/api/labs/{LAB}/start"), ben.post(f"/api/labs/{LAB}/start")]
        assert [s.status_code for s in started] == [200, 200], [s.text for s in started]
        boxes = [s.json()["sandbox"] for s in started]
        for s in started:
            assert [w["name"] for w in s.json()["status"]["topology"]["switches"]] == ["s1", "s2", "s3"]
        pids = [agent.init_pid(box) for box in boxes]
        kinds = [namespace_ids(pid) for pid in pids]
        assert kinds[0]["net"] != kinds[1]["net"] and kinds[0]["pid"] != kinds[1]["pid"]
        assert namespace_ids(os.getpid())["net"] not in (kinds[0]["net"], kinds[1]["net"])

        # each sandbox's Open vSwitch holds its lab's switches under their own names, the host's none of them
        own_uuids = []
        for pid in pids:
            assert inside(pid, "ovs-vsctl", "list-br").split() == ["s1", "s2", "s3"]
            own_uuids.append(
                set(inside(pid, "ovs-vsctl", "--bare", "--columns=_uuid", "list", "Bridge").split())
            )
        assert len(own_uuids[0]) == 3 and not own_uuids[0] & own_uuids[1]
        assert not (own_uuids[0] | own_uuids[1]) & host_bridge_uuids()

        # ann deploys a marked rule on s1; her terminal shows it, ben's s1 (same name) does not
        flows = ann.get("/api/session/files/flows/s1.flows").json()["content"]
        marked = flows + MARK.replace(" actions", ",actions") + "\n"
        assert ann.put("/api/session/files/flows/s1.flows", json={"content": marked}).status_code == 200
        assert ann.post("/api/session/deploy").status_code == 200
        [ann_s1, ann_other] = terminal(ann, "ovs-ofctl dump-flows s1", "ovs-ofctl dump-flows l1s1")
        [ben_s1, ben_id] = terminal(ben, "ovs-ofctl dump-flows s1", "h1 ip -o link show")
        assert "priority=4321" in ann_s1 and "priority=4321" not in ben_s1
        assert "priority=100,ip,nw_dst=10.0.0.1" in ben_s1, ben_s1
        assert "refused" in ann_other
        assert "h1-eth0" in ben_id

        # the trainee's shell runs inside the sandbox: the server's state folder is hidden there
        own = agent.state / "ns" / boxes[0]
        assert inside(pids[0], "ls", "-A", str(agent.state)).split() == ["ns"]
        assert inside(pids[0], "ls", "-A", str(agent.state / "ns")).split() == [boxes[0]]
        assert "agent.sock" in inside(pids[0], "ls", str(own))

        # stop: every process, namespace and folder of both sandboxes goes
        assert ann.post("/api/session/stop").status_code == 200
        assert_gone(agent, boxes[0], kinds[0])
        assert ben.post("/api/session/stop").status_code == 200
        assert_gone(agent, boxes[1], kinds[1])
        assert agent.backend.sandboxes() == []


def test_after_an_agent_crash_sandboxes_are_reattached_or_cleaned(agent, tmp_path):
    prefix = "op" + secrets.token_hex(2)
    app = room(agent, tmp_path, prefix)
    with TestClient(app):
        ann = login(app, "ann")
        answer = ann.post(f"/api/labs/{LAB}/start")
        assert answer.status_code == 200, answer.text
        box = answer.json()["sandbox"]
        stray = f"{prefix}99"  # a sandbox of this server that its database does not know
        agent.backend.start(stray, LAB)
        kinds = {b: namespace_ids(agent.init_pid(b)) for b in (box, stray)}

        agent.crash()  # the sandboxes' process trees are not the agent's: they keep running
        assert all(processes_in(k) for k in kinds.values())
        restarted = Agent(tmp_path)
        try:
            assert restarted.backend.sandboxes() == sorted([box, stray])
            room2 = create_app(app.state.room.factory, restarted.backend, app.state.room.settings).state.room
            assert room2.reconcile() == {"reattached": 1, "lost": 0, "cleaned": 1}
            assert_gone(restarted, stray, kinds[stray])
            [flows] = terminal(ann, "ovs-ofctl dump-flows s2")
            assert "priority=" in flows, flows
            assert ann.post("/api/session/stop").status_code == 200
            assert_gone(restarted, box, kinds[box])
        finally:
            restarted.close()
