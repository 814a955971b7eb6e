"""The researcher API: verdicts, the VNF base, loading a researcher's file, offline capture runs."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from sdnlab.cli import root
from sdnlab.vnfs.errors import VnfConfigError, VnfLoadError
from sdnlab.vnfs.framework import VNF, drop, forward, rewrite, send_to
from sdnlab.vnfs.framework.eventlog import EventLog
from sdnlab.vnfs.framework.loader import load_vnf_class
from sdnlab.vnfs.framework.offline import run_frames
from sdnlab.vnfs.framework.testing import tcp, udp
from sdnlab.vnfs.pcapio import read_pcap, write_pcap

RESEARCHER_VNF = '''
from sdnlab.vnfs.framework import VNF, FlowTable, drop, forward
from sdnlab.vnfs.framework.config import to_int


class UdpCap(VNF):
    """Drops UDP flows after max_packets packets."""

    kind = "udpcap"

    def parse_config(self, fields):
        return fields.get("max_packets", to_int(1), 2)

    def apply_config(self, cfg):
        self.max_packets = cfg
        self.flows = FlowTable(max_flows=100, idle_timeout=60)

    def handle(self, packet):
        if packet.ip_proto != 17:
            return forward()
        key = packet.bidi_key()
        seen = (self.flows.get(key, self.now) or 0) + 1
        self.flows.put(key, seen, self.now)
        return forward() if seen <= self.max_packets else drop("cap")
'''


def test_verdict_constructors():
    assert forward().forwards and not drop().forwards
    assert rewrite(b"x").frame == b"x" and send_to("outside").port == "outside"
    assert drop("reject", reply=b"rst").extra == ((None, b"rst"),)


def test_base_forwards_and_picks_the_other_port():
    vnf = VNF()
    assert vnf.process(udp("10.0.0.1", 1, "10.0.0.2", 2), "inside", 0).forwards
    assert vnf.egress("inside") == "outside" and vnf.egress("outside") == "inside"
    assert VNF(ports=("arm",)).egress("arm") == "arm"


def test_unknown_settings_of_a_plain_vnf_are_rejected():
    with pytest.raises(VnfConfigError, match="colour: unknown setting"):
        VNF("colour: blue\n")


def test_researcher_file_is_loaded_and_runs_offline(tmp_path):
    path = tmp_path / "udpcap.py"
    path.write_text(RESEARCHER_VNF)
    cls = load_vnf_class(str(path))
    vnf = cls({"max_packets": 1})
    frames = [(float(i), udp("10.0.0.1", 1, "10.0.0.2", 2)) for i in range(3)] + [
        (3.0, tcp("10.0.0.1", 1, "10.0.0.2", 80))
    ]
    result, out = run_frames(vnf, frames)
    assert (result.forwarded, result.dropped, dict(result.reasons)) == (2, 2, {"cap": 2})
    assert len(out) == 2


@pytest.mark.parametrize(
    "text,problem",
    [
        ("x = (", "syntax error"),
        ("", "expected one subclass of VNF, found no"),
        ("import nope_missing_mod", "importing it failed"),
    ],
)
def test_bad_researcher_files_are_reported(tmp_path, text, problem):
    path = tmp_path / "bad.py"
    path.write_text(text)
    with pytest.raises(VnfLoadError, match=problem):
        load_vnf_class(str(path))


def test_unknown_kind():
    with pytest.raises(VnfLoadError, match="unknown VNF kind 'nat64'"):
        load_vnf_class("nat64")


def test_cli_test_runs_a_capture_and_writes_the_output(tmp_path):
    vnf_file = tmp_path / "udpcap.py"
    vnf_file.write_text(RESEARCHER_VNF)
    pcap, out = tmp_path / "in.pcap", tmp_path / "out.pcap"
    write_pcap(pcap, [(float(i), udp("10.0.0.1", 1, "10.0.0.2", 2)) for i in range(5)])
    result = CliRunner().invoke(root, ["vnf", "test", str(vnf_file), "--pcap", str(pcap), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "5 packets: 2 forwarded" in result.output and "cap=3" in result.output
    assert len(list(read_pcap(out))) == 2


def test_cli_test_with_firewall_config_reports_json(tmp_path):
    config = tmp_path / "fw.yaml"
    config.write_text("default: drop\nrules: [{name: dns, action: accept, proto: udp, dport: 2}]\n")
    pcap = tmp_path / "in.pcap"
    write_pcap(pcap, [(0.0, udp("10.0.0.1", 1, "10.0.0.2", 2)), (0.1, udp("10.0.0.1", 1, "10.0.0.2", 3))])
    result = CliRunner().invoke(
        root, ["vnf", "test", "firewall", "--pcap", str(pcap), "-c", str(config), "--json"]
    )
    assert result.exit_code == 0, result.output
    import json

    summary = json.loads(result.output)
    assert summary["forwarded"] == 1 and summary["stats"]["rules"]["dns"]["packets"] == 1


def test_event_log_suppresses_floods_per_class():
    clock = iter([100.0] * 60 + [101.5])
    log = EventLog("fw", burst=50, clock=lambda: next(clock))
    for _ in range(60):
        log.emit("drop", n=1)
    log.emit("drop", n=2)
    assert len(log.lines) == 51 and log.lines[-1]["suppressed"] == 10
