"""Port queues that ``set_queue`` really selects on the userspace datapath, and ``sdnlab up --ovsdb``.

Real OVS (netdev datapath) + Mininet + iperf3. A port towards h2 gets OVS's ``linux-htb`` QoS
(port 20 Mbit/s, queue 0 at 20 Mbit/s, queue 1 at 1 Mbit/s), configured through the lab's own
OVSDB port as a controller would; flows with ``set_queue:1`` for one UDP and one TCP port and
for DSCP AF31 then hold exactly that traffic near 1 Mbit/s while the rest runs at the port's
rate. Without the lab's queue classifier all of it would go through queue 0 (the userspace
datapath sends without the skb priority HTB classifies on).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from processes import wait_gone
from throughput import iperf3_mbit

from sdnlab.errors import LabError
from sdnlab.runtime import api, paths

pytestmark = pytest.mark.network

LAB = "t-q-queues"
OVSDB_PORT = 6649  # not the book's 6632: other labs on the machine may use that one


def vsctl(*args: str, db: str | None = None) -> str:
    argv = ["ovs-vsctl", *([f"--db={db}"] if db else []), *args]
    return subprocess.run(argv, capture_output=True, text=True, check=True).stdout.strip()


def add_flows(bridge: str, *flows: str) -> None:
    subprocess.run(
        ["ovs-ofctl", "-O", "OpenFlow13", "add-flows", bridge, "-"],
        input="\n".join(flows),
        text=True,
        check=True,
    )


def filters_in_place(lab: str, count: int, timeout: float = 15.0) -> tuple[list[dict], float]:
    """The classifier's filters once there are ``count`` of them, and how long that took."""
    started = time.monotonic()
    while True:
        state = paths.read_json(paths.lab_dir(lab) / "queues.json") or {}
        if len(state.get("filters", [])) == count:
            return state["filters"], time.monotonic() - started
        assert time.monotonic() - started < timeout, state
        time.sleep(0.05)


def test_set_queue_selects_the_queue_for_udp_tcp_and_dscp_and_the_rest_keeps_the_port_rate(lab_factory):
    status = lab_factory(
        "linear", {"switches": 1, "hosts_per_switch": 2}, name=LAB, controller="none", ovsdb=OVSDB_PORT
    )
    db = status["ovsdb"]["address"]
    assert db == f"tcp:127.0.0.1:{OVSDB_PORT}"
    bridge = api.bridge(LAB, "s1")
    port = f"{bridge}-eth2"  # towards h2
    # other labs' s1 has datapath id 1 too: the lab's own is found with its tag
    found = vsctl(
        "--bare",
        "--columns=name",
        "find",
        "Bridge",
        'datapath_id="0000000000000001"',
        f"external_ids:sdnlab-lab={LAB}",
        db=db,
    )
    assert found == bridge
    # as rest_qos does it: QoS and queues written through the lab's OVSDB port
    qos, *queues = vsctl(
        "--", "set", "port", port, "qos=@q",
        "--", "--id=@q", "create", "qos", "type=linux-htb", "other-config:max-rate=20000000",
        "queues:0=@q0", "queues:1=@q1",
        "--", "--id=@q0", "create", "queue", "other-config:max-rate=20000000",
        "--", "--id=@q1", "create", "queue", "other-config:max-rate=1000000",
        db=db,
    ).split()  # fmt: skip
    add_flows(
        bridge,
        "priority=1,actions=NORMAL",
        "priority=10,udp,nw_dst=10.0.0.2,tp_dst=5001,actions=set_queue:1,output:2",
        "priority=10,tcp,nw_dst=10.0.0.2,tp_dst=5001,actions=set_queue:1,output:2",
        "priority=20,ip,ip_dscp=26,actions=set_queue:1,output:2",  # DiffServ AF31
        "priority=10,in_port=1,tcp,tp_dst=5009,actions=set_queue:1,output:2",  # in_port: not at egress
    )
    filters, _ = filters_in_place(LAB, 3)
    assert {f["classid"] for f in filters} == {"1:2"} and {f["device"] for f in filters} == {port}
    skipped = paths.read_json(paths.lab_dir(LAB) / "queues.json")["skipped"]
    assert [s["reason"].split(":")[0] for s in skipped] == ["in_port"]

    # bounds leave room for a loaded machine (other labs running). UDP offers 4 Mbit/s; every
    # run has a port of its own (queue 1 drains its backlog for a while after a UDP run)
    assert 0.3 < iperf3_mbit(LAB, 5001, "-u", "-b", "4M") < 1.5  # queue 1
    assert iperf3_mbit(LAB, 5002, "-u", "-b", "4M") > 3  # queue 0
    assert iperf3_mbit(LAB, 5001) < 1.5  # TCP into queue 1
    assert iperf3_mbit(LAB, 5003) > 4  # TCP in queue 0: up to the port's 20 Mbit/s
    assert iperf3_mbit(LAB, 5004, "-u", "-b", "4M", "--tos", "104") < 1.5  # DSCP 26 = TOS 104
    assert iperf3_mbit(LAB, 5005, "-u", "-b", "4M", "--tos", "32") > 3  # DSCP 8: not that class

    # a flow that goes away takes its filter with it
    subprocess.run(
        ["ovs-ofctl", "-O", "OpenFlow13", "del-flows", "--strict", bridge, "priority=20,ip,ip_dscp=26"],
        check=True,
    )
    filters, _ = filters_in_place(LAB, 2)
    shown = subprocess.run(["tc", "filter", "show", "dev", port], capture_output=True, text=True).stdout
    assert shown.count("flowid 1:2") == 2

    api.down(LAB)
    # the QoS rows the lab's port used and the lab's OVSDB manager are gone with the lab
    rows = subprocess.run(
        ["ovs-vsctl", "--columns=_uuid", "list", "qos"], capture_output=True, text=True
    ).stdout
    assert qos not in rows and not any(q in rows for q in queues)
    assert f"ptcp:{OVSDB_PORT}:" not in vsctl("get-manager")
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", OVSDB_PORT), timeout=1).close()


def test_ovsdb_port_is_refused_to_a_second_lab_and_closed_after_a_crash(lab_factory):
    lab_factory(
        "linear",
        {"switches": 1, "hosts_per_switch": 1},
        name="t-q-db-a",
        controller="none",
        ovsdb=OVSDB_PORT + 1,
    )
    listed = vsctl("--format=json", "--columns=target,external_ids", "list", "Manager")
    assert f"ptcp:{OVSDB_PORT + 1}:127.0.0.1" in listed and "t-q-db-a" in listed
    with pytest.raises(
        LabError, match=f"port {OVSDB_PORT + 1} is already open to the controller of lab 't-q-db-a'"
    ):
        lab_factory(
            "linear",
            {"switches": 1, "hosts_per_switch": 1},
            name="t-q-db-b",
            controller="none",
            ovsdb=OVSDB_PORT + 1,
        )
    assert not paths.lab_dir("t-q-db-b").exists()

    spec = paths.read_json(paths.lab_dir("t-q-db-a") / "spec.json")
    os.kill(spec["supervisor_pid"], signal.SIGKILL)  # a crash: nothing ran its teardown
    wait_gone(spec["supervisor_pid"])  # clean only clears labs whose supervisor is dead
    api.clean()
    assert f"ptcp:{OVSDB_PORT + 1}:" not in vsctl("get-manager")


def test_in_an_own_ovs_sandbox_the_lab_opens_its_own_ovsdb_and_its_queues_work(tmp_path):
    """The classroom's own-ovs sandbox (its own ovsdb-server, started without Manager remotes):
    the lab's Manager row is in the sandbox's database, on the sandbox's loopback."""
    from sdnlab.classroom.backends.namespaces import UNSHARE, sandbox_script

    box = tmp_path / "state" / "box"
    box.mkdir(parents=True)
    script = sandbox_script(box, tmp_path / "state", sys.executable).splitlines()
    assert "sdnlab.classroom.agent" in script[-1]  # what the sandbox runs once its OVS is up
    sdnlab = str(Path(sys.executable).parent / "sdnlab")
    commands = [
        *script[:-1],
        f"{sdnlab} up linear -p switches=1 -p hosts_per_switch=2 --name t-q-sbx --controller none --ovsdb",
        (
            "ovs-vsctl --db=tcp:127.0.0.1:6632 -- set port s1-eth2 qos=@q -- --id=@q create qos"
            " type=linux-htb other-config:max-rate=20000000 queues:0=@q0 queues:1=@q1"
            " -- --id=@q0 create queue other-config:max-rate=20000000"
            " -- --id=@q1 create queue other-config:max-rate=1000000 >/dev/null"
        ),
        (
            "printf 'priority=1,actions=NORMAL\\npriority=10,udp,tp_dst=5001,actions=set_queue:1,output:2\\n'"
            " | ovs-ofctl -O OpenFlow13 add-flows s1 -"
        ),
        "for i in $(seq 150); do tc filter show dev s1-eth2 | grep -q 'flowid 1:2' && break; sleep 0.1; done",
        "echo managers: $(ovs-vsctl --columns=target,external_ids list Manager | tr -s ' ')",
        "echo filters: $(tc filter show dev s1-eth2 | grep -c 'flowid 1:2')",
        f"{sdnlab} down --name t-q-sbx",
        "echo after: $(ovs-vsctl --columns=target list Manager) qos=$(ovs-vsctl list QoS | grep -c _uuid)",
    ]
    host_managers = subprocess.run(["ovs-vsctl", "get-manager"], capture_output=True, text=True).stdout
    done = subprocess.run(
        [*UNSHARE, "sh", "-c", "\n".join(commands)], capture_output=True, text=True, timeout=120
    )
    out = done.stdout
    assert 'managers: target : "ptcp:6632:127.0.0.1" external_ids : {sdnlab-lab=t-q-sbx}' in out, (
        out + done.stderr
    )
    assert "filters: 1" in out
    assert "after: qos=0" in out
    # the host's database never saw it
    assert (
        subprocess.run(["ovs-vsctl", "get-manager"], capture_output=True, text=True).stdout == host_managers
    )


def test_up_says_when_it_opens_the_shared_ovsdb_and_refuses_a_taken_port_in_one_line():
    cli = [sys.executable, "-m", "sdnlab.cli"]
    env = {**os.environ, "COLUMNS": "200"}
    common = ["linear", "-p", "switches=1", "-p", "hosts_per_switch=1", "--controller", "none"]
    up = subprocess.run(
        [*cli, "up", *common, "--name", "t-q-cli", "--ovsdb-port", str(OVSDB_PORT + 2)],
        capture_output=True, text=True, timeout=120, env=env,
    )  # fmt: skip
    try:
        assert up.returncode == 0, up.stderr
        said = " ".join(up.stderr.split())
        assert f"the switches' OVSDB is open to the controller at tcp:127.0.0.1:{OVSDB_PORT + 2}" in said
        assert "holds the bridges of every lab that runs on it" in said
        again = subprocess.run(
            [*cli, "up", *common, "--name", "t-q-cli2", "--ovsdb-port", str(OVSDB_PORT + 2)],
            capture_output=True, text=True, timeout=120, env=env,
        )  # fmt: skip
        assert again.returncode != 0
        taken = f"port {OVSDB_PORT + 2} is already open to the controller of lab 't-q-cli'"
        hint = f"give this lab another with --ovsdb-port (e.g. {OVSDB_PORT + 3})"
        assert again.stderr.strip().splitlines() == [f"sdnlab: error: --ovsdb: {taken}; {hint}"]
    finally:
        subprocess.run([*cli, "down", "--name", "t-q-cli"], capture_output=True, timeout=120)
    assert f"ptcp:{OVSDB_PORT + 2}:" not in vsctl("get-manager")
