"""The stateful firewall: conntrack states, first-match rules, rate limits, reject vs drop."""

from __future__ import annotations

import pytest
from scapy.layers.inet import ICMP, IP, TCP, IPerror
from scapy.layers.l2 import Ether

from sdnlab.vnfs.firewall.vnf import Firewall
from sdnlab.vnfs.framework.testing import handshake, icmp, tcp, udp
from sdnlab.vnfs.packet import TCP_ACK, TCP_FIN, TCP_RST, TCP_SYN

CONFIG = """
default: drop
outside: outside
rate_limits:
  - {name: telnet-scan, proto: tcp, dport: [23, 2323], rate: 1, burst: 3}
rules:
  - {name: web, action: accept, proto: tcp, dst: 10.0.0.0/24, dport: 80}
  - {name: dns, action: accept, proto: udp, dport: 53, direction: outbound}
  - {name: ping, action: accept, proto: icmp, icmp_type: 8}
  - {name: telnet, action: reject, proto: tcp, dport: [23, 2323]}
  - {name: high, action: accept, proto: tcp, dport: 8000-8100, src: [192.168.1.0/24, 10.9.9.9]}
  - {name: noudp, action: reject, proto: udp, reject_with: admin-prohibited}
"""


@pytest.fixture
def fw():
    return Firewall(CONFIG)


def test_tcp_handshake_is_new_then_established(fw):
    syn, synack, ack = handshake(fw, "10.1.0.1", 40000, "10.0.0.2", 80)
    assert syn.forwards and synack.forwards and ack.forwards
    assert fw.counters["new"] == 1 and fw.counters["established"] == 2
    assert fw.stats()["rules"]["web"]["packets"] == 1


def test_unsolicited_reply_is_invalid_and_dropped(fw):
    verdict = fw.process(tcp("10.0.0.2", 80, "10.1.0.1", 40000, TCP_SYN | TCP_ACK), "outside", 1.0)
    assert not verdict.forwards and fw.counters["invalid"] == 1


def test_mid_stream_ack_without_connection_is_invalid(fw):
    assert not fw.process(tcp("10.1.0.1", 40000, "10.0.0.2", 80, TCP_ACK), "inside", 1.0).forwards
    assert fw.counters["invalid"] == 1


def test_tcp_pickup_accepts_mid_stream_when_enabled():
    fw = Firewall(CONFIG + "tcp_pickup: true\n")
    assert fw.process(tcp("10.1.0.1", 40000, "10.0.0.2", 80, TCP_ACK), "inside", 1.0).forwards


def test_default_policy_drops_unmatched_and_counts(fw):
    assert not fw.process(tcp("10.1.0.1", 40000, "10.0.0.2", 443, TCP_SYN), "inside", 1.0).forwards
    assert fw.stats()["rules"]["default"]["packets"] == 1


def test_first_match_wins_and_cidr_lists_match(fw):
    assert fw.process(tcp("192.168.1.7", 1, "10.5.0.1", 8050, TCP_SYN), "inside", 1.0).forwards
    assert fw.process(tcp("10.9.9.9", 1, "10.5.0.1", 8000, TCP_SYN), "inside", 1.0).forwards
    assert not fw.process(tcp("10.9.9.8", 1, "10.5.0.1", 8000, TCP_SYN), "inside", 1.0).forwards
    assert not fw.process(tcp("192.168.1.7", 1, "10.5.0.1", 8101, TCP_SYN), "inside", 1.0).forwards


def test_direction_restricts_a_rule(fw):
    assert fw.process(udp("10.1.0.1", 5000, "8.8.8.8", 53), "inside", 1.0).forwards  # outbound
    rejected = fw.process(udp("8.8.8.8", 5000, "10.1.0.1", 53), "outside", 1.0)  # inbound -> noudp
    assert not rejected.forwards and rejected.reason == "reject"


def test_udp_reply_is_established(fw):
    fw.process(udp("10.1.0.1", 5000, "8.8.8.8", 53), "inside", 1.0)
    assert fw.process(udp("8.8.8.8", 53, "10.1.0.1", 5000), "outside", 1.5).forwards
    assert fw.counters["established"] == 1


def test_icmp_echo_reply_needs_a_request(fw):
    assert not fw.process(icmp("10.0.0.2", "10.1.0.1", type_=0), "outside", 1.0).forwards
    assert fw.process(icmp("10.1.0.1", "10.0.0.2", type_=8), "inside", 1.0).forwards
    assert fw.process(icmp("10.0.0.2", "10.1.0.1", type_=0), "outside", 1.0).forwards


def test_icmp_error_about_a_tracked_flow_is_related(fw):
    fw.process(udp("10.1.0.1", 5000, "8.8.8.8", 53), "inside", 1.0)
    quoted = bytes(IP(src="10.1.0.1", dst="8.8.8.8", proto=17) / b"\x13\x88\x00\x35\x00\x09\x00\x00")
    error = icmp("8.8.8.8", "10.1.0.1", type_=3, code=3, ident=0, seq=0, payload=quoted)
    assert fw.process(error, "outside", 1.0).forwards
    assert fw.counters["related"] == 1
    stranger = bytes(IP(src="10.1.0.1", dst="9.9.9.9", proto=17) / b"\x13\x88\x00\x35\x00\x09\x00\x00")
    assert not fw.process(icmp("9.9.9.9", "10.1.0.1", 3, 3, 0, 0, stranger), "outside", 1.0).forwards


def test_reject_tcp_answers_with_a_valid_rst(fw):
    verdict = fw.process(tcp("10.1.0.1", 40000, "10.0.0.2", 23, TCP_SYN, seq=5000), "inside", 1.0)
    assert not verdict.forwards and len(verdict.extra) == 1
    port, frame = verdict.extra[0]
    assert port is None  # back out of the ingress port
    rst = Ether(frame)
    assert rst[IP].src == "10.0.0.2" and rst[IP].dst == "10.1.0.1"
    assert rst[TCP].sport == 23 and rst[TCP].dport == 40000
    assert rst[TCP].flags == "RA" and rst[TCP].ack == 5001
    recomputed = Ether(bytes(rst))
    del recomputed[IP].chksum, recomputed[TCP].chksum
    again = Ether(bytes(recomputed))
    assert (again[IP].chksum, again[TCP].chksum) == (rst[IP].chksum, rst[TCP].chksum)


def test_reject_udp_answers_with_icmp_unreachable_quoting_the_packet(fw):
    verdict = fw.process(udp("8.8.8.8", 5000, "10.1.0.1", 99), "outside", 1.0)
    error = Ether(verdict.extra[0][1])
    assert error[ICMP].type == 3 and error[ICMP].code == 13
    assert error[IPerror].src == "8.8.8.8" and error[IPerror].dst == "10.1.0.1"


def test_drop_sends_nothing(fw):
    verdict = fw.process(tcp("10.1.0.1", 40000, "10.0.0.2", 443, TCP_SYN), "inside", 1.0)
    assert verdict.extra == ()


def test_mirai_style_scan_is_rate_limited_per_source(fw):
    reasons = [
        fw.process(tcp("10.1.0.66", 40000 + i, f"10.0.1.{i}", 23, TCP_SYN), "inside", 1.0).reason
        for i in range(10)
    ]
    assert reasons[:3] == ["reject"] * 3 and set(reasons[3:]) == {"ratelimit"}
    # another source is not affected, and the bucket refills with time
    assert fw.process(tcp("10.1.0.67", 1, "10.0.1.1", 2323, TCP_SYN), "inside", 1.0).reason == "reject"
    assert fw.process(tcp("10.1.0.66", 1, "10.0.1.1", 23, TCP_SYN), "inside", 3.0).reason == "reject"
    assert fw.counters["ratelimited"] == 7


def test_rst_closes_the_connection(fw):
    handshake(fw, "10.1.0.1", 40000, "10.0.0.2", 80)
    assert fw.process(tcp("10.0.0.2", 80, "10.1.0.1", 40000, TCP_RST), "outside", 2.0).forwards
    assert not fw.process(tcp("10.1.0.1", 40000, "10.0.0.2", 80, TCP_ACK), "inside", 2.0).forwards


def test_fin_both_ways_then_connection_lingers_and_closes(fw):
    handshake(fw, "10.1.0.1", 40000, "10.0.0.2", 80)
    fw.process(tcp("10.1.0.1", 40000, "10.0.0.2", 80, TCP_FIN | TCP_ACK), "inside", 2.0)
    fw.process(tcp("10.0.0.2", 80, "10.1.0.1", 40000, TCP_FIN | TCP_ACK), "outside", 2.0)
    assert fw.process(tcp("10.1.0.1", 40000, "10.0.0.2", 80, TCP_ACK), "inside", 2.1).forwards
    assert not fw.process(tcp("10.1.0.1", 40000, "10.0.0.2", 80, TCP_ACK), "inside", 30.0).forwards


def test_idle_connections_expire(fw):
    handshake(fw, "10.1.0.1", 40000, "10.0.0.2", 80)
    fw.tick(10_000.0)
    assert fw.stats()["connections"] == 0


def test_non_ip_passes_and_ipv6_is_dropped_by_default(fw):
    arp = bytes.fromhex("ffffffffffff0200000000010806") + bytes(28)
    assert fw.process(arp, "inside", 1.0).forwards
    from sdnlab.vnfs.packet import build_frame

    v6 = build_frame(ip_src="fe80::1", ip_dst="fe80::2", ip_proto=17, l4_src=1, l4_dst=2)
    assert not fw.process(v6, "inside", 1.0).forwards


def test_fragments_follow_their_first_fragment(fw):
    from scapy.all import fragment
    from scapy.layers.inet import UDP

    big = Ether() / IP(src="10.1.0.1", dst="8.8.8.8", id=77) / UDP(sport=5000, dport=53) / (b"a" * 3000)
    parts = [bytes(p) for p in fragment(big, fragsize=1000)]
    assert all(fw.process(p, "inside", 1.0).forwards for p in parts)
    orphan = Ether() / IP(src="10.1.0.1", dst="8.8.8.8", id=78, frag=100) / (b"b" * 100)
    assert not fw.process(bytes(orphan), "inside", 1.0).forwards


def test_reload_keeps_connections_and_applies_new_rules(fw, tmp_path):
    handshake(fw, "10.1.0.1", 40000, "10.0.0.2", 80)
    path = tmp_path / "fw.yaml"
    path.write_text("default: accept\nrules:\n  - {name: noweb, action: drop, proto: tcp, dport: 80}\n")
    fw.reload_file(str(path))
    assert fw.process(tcp("10.1.0.1", 40000, "10.0.0.2", 80, TCP_ACK), "inside", 2.0).forwards  # established
    assert not fw.process(tcp("10.1.0.2", 40000, "10.0.0.2", 80, TCP_SYN), "inside", 2.0).forwards


def test_bad_reload_keeps_running_config(fw, tmp_path):
    from sdnlab.vnfs.errors import VnfConfigError

    path = tmp_path / "fw.yaml"
    path.write_text("default: maybe\n")
    with pytest.raises(VnfConfigError):
        fw.reload_file(str(path))
    assert fw.config.default == "drop" and len(fw.rules) == 6


def test_decisions_are_logged_per_class(fw):
    fw.process(tcp("10.1.0.1", 40000, "10.0.0.2", 443, TCP_SYN), "inside", 1.0)
    fw.process(tcp("10.1.0.1", 40001, "10.0.0.2", 23, TCP_SYN), "inside", 1.0)
    events = [line["event"] for line in fw.log.lines]
    assert events == ["drop", "reject"]
    assert fw.log.lines[0]["rule"] == "default" and fw.log.lines[0]["dport"] == 443
