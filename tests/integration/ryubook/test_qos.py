"""Ryu book, QoS chapter, on Open vSwitch's userspace datapath: what really limits a rate.

Measured with iperf3 TCP between real Mininet hosts through real OVS (netdev datapath):

* the meter-table example: the chapter-style app puts TCP to port 5002 through an OpenFlow 1.3
  meter of 1 Mbit/s (it is lab 14's reference solution, instructor/labs/ryubook_qos/solution/
  qos_switch.py: one file, so the lab's reference and this measurement cannot drift apart);
  that traffic is held near 1 Mbit/s while other traffic between the same hosts runs at the
  link's 100 Mbit/s;
* queues on a port (OVSDB QoS ``linux-htb``, what rest_qos configures through rest_conf_switch):
  OVS builds the HTB on the port and the userspace datapath's output goes through it, so the
  port's default queue (queue 0) limits everything leaving the port. ``set_queue`` does not
  select another queue on this datapath (packets are sent without the skb priority HTB
  classifies on): per-flow limits need meters. The QoS rows are removed afterwards.
"""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import pytest

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


def tcp_mbit(port: int, seconds: int = 2) -> float:
    """Receiver-side throughput of one iperf3 TCP run h1 -> h2 to ``port``."""
    server = api.popen_in(
        LAB,
        "h2",
        ["iperf3", "-s", "-1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(50):
            done = api.run_in(
                LAB, "h1", ["iperf3", "-c", "10.0.0.2", "-p", str(port), "-t", str(seconds), "-J"]
            )
            if done.returncode == 0:
                break
            time.sleep(0.1)  # the server was not listening yet
        result = json.loads(done.stdout)
        return result["end"]["sum_received"]["bits_per_second"] / 1e6
    finally:
        server.kill()
        server.wait()


def vsctl(*args: str) -> str:
    return subprocess.run(["ovs-vsctl", *args], capture_output=True, text=True, check=True).stdout.strip()


def test_a_meter_limits_one_class_of_traffic_and_a_port_queue_limits_the_port(lab_factory):
    lab_factory(
        "linear",
        {"switches": 1, "hosts_per_switch": 2},
        name=LAB,
        controller=f"app:{meter_app()}",
    )
    assert api.run_in(LAB, "h1", ["ping", "-c", "2", "-W", "1", "10.0.0.2"]).returncode == 0

    # bounds leave room for a loaded machine (other labs running): unlimited TCP then measured
    # 17-95 Mbit/s on the 100 Mbit/s link, the 1 Mbit/s meter 0.4-1.0
    free = tcp_mbit(5001)
    metered = tcp_mbit(5002, seconds=3)
    assert free > 5, free
    assert 0.1 < metered < 1.5, metered

    port = api.bridge(LAB, "s1") + "-eth2"  # towards h2
    uuids = vsctl(
        "--",
        "set",
        "port",
        port,
        "qos=@q",
        "--",
        "--id=@q",
        "create",
        "qos",
        "type=linux-htb",
        "other-config:max-rate=5000000",
        "queues:0=@q0",
        "--",
        "--id=@q0",
        "create",
        "queue",
        "other-config:max-rate=3000000",
    ).split()
    try:
        queued = tcp_mbit(5001)
        assert 0.5 < queued < 4, queued  # queue 0 at 3 Mbit/s
    finally:
        vsctl("clear", "port", port, "qos")
        vsctl("destroy", "qos", uuids[0], "--", "destroy", "queue", uuids[1])
