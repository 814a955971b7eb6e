"""Ryu book, QoS chapter, on Open vSwitch's userspace datapath: what limits a rate.

Measured with iperf3 TCP between real Mininet hosts through real OVS (netdev datapath):

* the meter-table example: the chapter-style app puts TCP to port 5002 through an OpenFlow 1.3
  meter of 1 Mbit/s (it is lab 14's reference solution, instructor/labs/ryubook_qos/solution/
  qos_switch.py: one file, so the lab's reference and this measurement cannot drift apart);
  that traffic is held near 1 Mbit/s while other traffic between the same hosts runs at the
  link's 100 Mbit/s;
* queues on a port (OVSDB QoS ``linux-htb``, what rest_qos configures through rest_conf_switch):
  OVS builds the HTB on the port and the userspace datapath's output goes through it, so the
  port's default queue (queue 0) limits everything leaving the port; and ``set_queue:1`` in
  table 0 (rest_qos's place, before the switching hub's table 1) selects queue 1: the lab's
  queue classifier mirrors the flow as a tc filter on the port (the userspace datapath sends
  without the skb priority HTB classifies on). The QoS rows are removed afterwards.
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest
from throughput import iperf3_mbit

from sdnlab import instructor
from sdnlab.runtime import api

pytestmark = pytest.mark.network

LAB = "t-rb-qos"


def meter_app() -> Path:
    """Lab 14's reference solution: the chapter's meter-table example."""
    try:
        app = instructor.catalogue_part("ryubook_qos") / "solution" / "qos_switch.py"
    except instructor.InstructorDataMissing as exc:
        pytest.skip(str(exc))
    assert app.is_file(), app
    return app


def vsctl(*args: str) -> str:
    return subprocess.run(["ovs-vsctl", *args], capture_output=True, text=True, check=True).stdout.strip()


def test_a_meter_limits_one_class_of_traffic_a_port_queue_the_port_and_set_queue_picks_a_queue(lab_factory):
    lab_factory(
        "linear",
        {"switches": 1, "hosts_per_switch": 2},
        name=LAB,
        controller=f"app:{meter_app()}",
    )
    assert api.run_in(LAB, "h1", ["ping", "-c", "2", "-W", "1", "10.0.0.2"]).returncode == 0

    # bounds leave room for a loaded machine (other labs running): unlimited TCP then measured
    # 17-95 Mbit/s on the 100 Mbit/s link, the 1 Mbit/s meter 0.4-1.0
    free = iperf3_mbit(LAB, 5001, seconds=2)
    metered = iperf3_mbit(LAB, 5002, seconds=3)
    assert free > 5, free
    assert 0.1 < metered < 1.5, metered

    bridge = api.bridge(LAB, "s1")
    port = bridge + "-eth2"  # towards h2
    uuids = vsctl(
        "--", "set", "port", port, "qos=@q",
        "--", "--id=@q", "create", "qos", "type=linux-htb", "other-config:max-rate=20000000",
        "queues:0=@q0", "queues:1=@q1",
        "--", "--id=@q0", "create", "queue", "other-config:max-rate=10000000",
        "--", "--id=@q1", "create", "queue", "other-config:max-rate=1000000",
    ).split()  # fmt: skip
    # rest_qos's shape: the queue chosen in table 0, the output by the hub's flows in table 1
    subprocess.run(
        ["ovs-ofctl", "-O", "OpenFlow13", "add-flow", bridge,
         "table=0,priority=30,tcp,nw_dst=10.0.0.2,tp_dst=5003,actions=set_queue:1,goto_table:1"],
        check=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 5
        while not (api.paths.read_json(api.paths.lab_dir(LAB) / "queues.json") or {}).get("filters"):
            assert time.monotonic() < deadline, "no queue filter within 5 s"
            time.sleep(0.05)
        queue0 = iperf3_mbit(LAB, 5001, seconds=2)
        queue1 = iperf3_mbit(LAB, 5003, seconds=2)
        assert 2 < queue0 < 12, queue0  # queue 0 at 10 Mbit/s limits the port
        assert queue1 < 1.5, queue1  # set_queue:1 selects queue 1 at 1 Mbit/s
    finally:
        vsctl("clear", "port", port, "qos")
        vsctl(
            "destroy", "qos", uuids[0], "--", "destroy", "queue", uuids[1], "--", "destroy", "queue", uuids[2]
        )
