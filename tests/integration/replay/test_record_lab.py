"""Recording a real lab's OpenFlow conversation (SDNLAB_OF_RECORD) gives a file show and tshark read."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from sdnlab.grader.replay import pcapng, show
from sdnlab.runtime import api

pytestmark = pytest.mark.network


def test_a_lab_with_a_recording_controller_writes_the_conversation_of_every_switch(
    lab_factory, tmp_path, monkeypatch
):
    path = tmp_path / "lab.pcapng"
    monkeypatch.setenv("SDNLAB_OF_RECORD", str(path))  # inherited by the lab's controller process
    state = lab_factory("linear", {"switches": 2}, name="t-rp-rec", controller="app:ryu.app.simple_switch_13")
    ips = {h["name"]: h["ip"] for h in state["hosts"]}
    assert api.run_in("t-rp-rec", "h1", ["ping", "-c", "2", "-W", "2", ips["h2"]], timeout=20).returncode == 0
    api.down("t-rp-rec")

    records = pcapng.read_conversation(path)
    assert {r.dpid for r in records if r.msg_type == 10} == {1, 2}  # packet-ins from both switches
    text = show.render(records)
    assert "ARP who-has " + ips["h2"] in text and "ICMP" in text
    assert "=> FLOW_MOD add table=0 priority=1 match=in_port=" in text
    if shutil.which("tshark"):
        out = subprocess.run(
            ["tshark", "-r", str(path), "-Y", "openflow_v4.type == 14"],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert out.returncode == 0 and len(out.stdout.splitlines()) >= 4  # the flow-mods decode as OpenFlow
