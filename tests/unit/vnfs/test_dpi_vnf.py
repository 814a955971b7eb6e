"""The DPI VNF: flows classified from payload, telnet blocking, quarantine of a telnet scanner."""

from __future__ import annotations

import pytest

from sdnlab.vnfs.dpi_vnf.vnf import DpiVnf
from sdnlab.vnfs.errors import VnfConfigError
from sdnlab.vnfs.framework.testing import handshake, tcp
from sdnlab.vnfs.packet import TCP_ACK, TCP_PSH, TCP_SYN


def http_flow(vnf, client, cport, server, sport=8080, now=1.0):
    handshake(vnf, client, cport, server, sport, now)
    request = b"GET /index.html HTTP/1.1\r\nHost: example.test\r\nUser-Agent: meter/1.0\r\n\r\n"
    return vnf.process(
        tcp(client, cport, server, sport, TCP_ACK | TCP_PSH, payload=request, seq=1, ack=1), "inside", now
    )


def test_http_on_a_non_standard_port_is_classified_and_logged():
    vnf = DpiVnf()
    assert http_flow(vnf, "10.1.0.1", 40000, "10.2.0.1").forwards
    flows = [line for line in vnf.log.lines if line["event"] == "flow"]
    assert flows and flows[0]["app"] == "HTTP" and flows[0]["dport"] == 8080
    assert vnf.stats()["apps"] == {"HTTP": 1}


def test_telnet_scanner_is_quarantined_locally():
    vnf = DpiVnf({"scan_threshold": 3, "quarantine": {"risks": ["TELNET_SCAN"]}})
    for i in range(6):
        vnf.process(tcp("10.1.0.66", 50000 + i, f"10.2.0.{i + 1}", 23, TCP_SYN), "inside", 1.0 + i * 0.01)
    assert any(line["event"] == "quarantine" for line in vnf.log.lines)
    verdict = vnf.process(tcp("10.1.0.66", 1, "10.2.0.1", 80, TCP_SYN), "inside", 2.0)
    assert not verdict.forwards and verdict.reason == "quarantined"
    assert vnf.process(tcp("10.1.0.67", 1, "10.2.0.1", 80, TCP_SYN), "inside", 2.0).forwards


def test_unknown_risk_kind_is_a_config_error():
    with pytest.raises(
        VnfConfigError, match=r"quarantine.risks\[0\]: expected one of .* \(got .SOMETHING.\)$"
    ):
        DpiVnf("quarantine: {risks: [SOMETHING]}\n")


def test_risk_events_are_logged_with_unix_time_like_every_other_event():
    import time

    vnf = DpiVnf({"scan_threshold": 3})
    before = time.time()
    for i in range(6):  # packet times from a monotonic clock, as a live engine passes them
        vnf.process(tcp("10.1.0.66", 50000 + i, f"10.2.0.{i + 1}", 23, TCP_SYN), "inside", 1577.69 + i)
    risks = [line for line in vnf.log.lines if line["event"] == "risk"]
    assert risks, "no risk event logged"
    for line in vnf.log.lines:
        assert before - 1 <= line["ts"] <= time.time() + 1, line
