"""Ryu book, switching hub in OpenFlow 1.4 and 1.5: switches offered those versions carry traffic.

``sdnlab up --protocols OpenFlow13,OpenFlow14,OpenFlow15`` (here through the library call) offers
the versions; the chapter's 1.4 and 1.5 apps (apps/simple_switch_14.py, _15.py) negotiate their
version, learn, and install flows that ``ovs-ofctl -O OpenFlow1x`` shows.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from sdnlab.errors import LabError
from sdnlab.runtime import api, paths

pytestmark = pytest.mark.network

APPS = Path(__file__).parent / "apps"
ALL_VERSIONS = "OpenFlow13,OpenFlow14,OpenFlow15"


def ping_all(name: str, ips: dict[str, str]) -> list[tuple[str, str]]:
    failures = []
    for src in ips:
        for dst, ip in ips.items():
            if src != dst:
                tries = [
                    api.run_in(name, src, ["ping", "-c", "1", "-W", "1", ip], timeout=10) for _ in range(3)
                ]
                if all(t.returncode != 0 for t in tries):
                    failures.append((src, dst))
    return failures


@pytest.mark.parametrize(
    ("app", "version", "ofctl"),
    [("simple_switch_14.py", 5, "OpenFlow14"), ("simple_switch_15.py", 6, "OpenFlow15")],
)
def test_the_switching_hub_runs_on_openflow_14_and_15(lab_factory, app, version, ofctl):
    name = f"t-rb-of{version}"
    state = lab_factory(
        "linear", {"switches": 2}, name=name, controller=f"app:{APPS / app}", protocols=ALL_VERSIONS
    )
    bridges = [s["bridge"] for s in state["switches"]]
    offered = subprocess.run(
        ["ovs-vsctl", "get", "bridge", bridges[0], "protocols"], capture_output=True, text=True
    )
    assert offered.stdout.strip() == "[OpenFlow13, OpenFlow14, OpenFlow15]"
    log = (paths.lab_dir(name) / "controller.log").read_text()
    assert log.count(f"speaks OpenFlow version 0x{version:02x}") == 2, log
    ips = {h["name"]: h["ip"] for h in state["hosts"]}
    assert ping_all(name, ips) == []
    flows = subprocess.run(
        ["ovs-ofctl", "-O", ofctl, "dump-flows", bridges[0]], capture_output=True, text=True
    ).stdout
    assert "priority=1,in_port" in flows and "dl_dst=" in flows, flows


def test_an_unknown_protocol_name_is_a_one_line_error_before_anything_is_built():
    with pytest.raises(LabError, match="--protocols 'OpenFlow13,OF99'"):
        api.parse_protocols("OpenFlow13,OF99")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "sdnlab.cli",
            "up",
            "linear",
            "--name",
            "t-rb-bad",
            "--protocols",
            "OpenFlow16",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0 and "--protocols 'OpenFlow16'" in result.stderr
    assert "Traceback" not in result.stderr
