"""Every VNF survives hostile input and keeps forwarding valid traffic, with bounded memory."""

from __future__ import annotations

import random
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sdnlab.vnfs.dpi_vnf.vnf import DpiVnf
from sdnlab.vnfs.firewall.vnf import Firewall
from sdnlab.vnfs.framework.base import VNF
from sdnlab.vnfs.framework.testing import handshake, tcp, udp
from sdnlab.vnfs.lb.vnf import LoadBalancer
from sdnlab.vnfs.packet import TCP_ACK, TCP_SYN

FW = """
default: accept
max_flows: 5000
rate_limits: [{name: scan, proto: tcp, dport: [23, 2323], rate: 1, burst: 2}]
rules: [{name: telnet, action: reject, proto: tcp, dport: 23}]
"""
LB = """
vip: 10.0.0.100
vip_mac: 02:00:00:00:01:00
scheduler: maglev
maglev_table_size: 251
max_flows: 5000
backends: [{name: a, ip: 10.0.0.11}, {name: b, ip: 10.0.0.12}]
"""


def make_vnfs():
    return [Firewall(FW), LoadBalancer(LB), DpiVnf({"max_flows": 5000}), VNF()]


def valid_traffic_flows(vnf) -> bool:
    """A fresh TCP connection through ``vnf`` is forwarded in both directions."""
    if isinstance(vnf, LoadBalancer):
        return vnf.process(tcp("10.9.0.1", 999, "10.0.0.100", 80, TCP_SYN), "inside", 99.0).forwards
    return all(v.forwards for v in handshake(vnf, "10.9.0.1", 999, "10.0.0.2", 80, now=99.0))


def mutations(seed: int, count: int):
    """Truncated, length-corrupted and random frames derived from valid ones."""
    rng = random.Random(seed)
    base = [
        tcp("10.1.0.1", 1234, "10.0.0.2", 80, TCP_SYN, payload=b"hello"),
        udp("10.1.0.1", 5353, "10.0.0.2", 53, payload=b"q" * 30),
        tcp("10.1.0.1", 1234, "10.0.0.100", 80, TCP_ACK, payload=b"x" * 100),
    ]
    for _ in range(count):
        frame = bytearray(rng.choice(base))
        kind = rng.randrange(6)
        if kind == 0:
            frame = frame[: rng.randrange(len(frame))]  # truncated anywhere
        elif kind == 1:
            struct.pack_into("!H", frame, 16, rng.randrange(65536))  # IP total length
        elif kind == 2:
            frame[14] = rng.randrange(256)  # version / IHL
        elif kind == 3:
            frame[46] = rng.randrange(256)  # TCP data offset / UDP payload
        elif kind == 4:
            struct.pack_into("!H", frame, 20, rng.choice([0x2000, 0x0001, 0x3FFF]))  # fragments
        else:
            frame = bytearray(rng.randbytes(rng.randrange(0, 200)))
        yield bytes(frame)


@pytest.mark.parametrize("vnf", make_vnfs(), ids=lambda v: v.kind)
def test_malformed_frames_never_raise_and_valid_traffic_still_flows(vnf):
    ports = random.Random(7)
    for frame in mutations(seed=7, count=20_000):
        vnf.process(frame, ports.choice(vnf.ports), 1.0)
    assert vnf.counters["parse_errors"] > 0  # the corpus really contains broken frames
    assert valid_traffic_flows(vnf)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_any_bytes_get_a_verdict(data):
    for vnf in (Firewall(FW), LoadBalancer(LB), DpiVnf()):
        verdict = vnf.process(data, "inside", 1.0)
        assert verdict.action is not None


@pytest.mark.parametrize("vnf", make_vnfs()[:3], ids=lambda v: v.kind)
def test_a_million_distinct_flows_keep_memory_bounded(vnf):
    template = bytearray(tcp("10.0.0.1", 1, "10.0.0.100", 80, TCP_SYN))
    for i in range(1_000_000):
        frame = template[:]
        struct.pack_into("!I", frame, 26, 0x0A000000 | (i >> 10))  # source address
        struct.pack_into("!H", frame, 34, 1024 + (i & 1023))  # source port
        vnf.process(bytes(frame), "inside", 1.0 + i * 1e-6)
    if isinstance(vnf, Firewall):
        assert len(vnf.conntrack) <= 5000 and vnf.conntrack.tcp.evicted_lru > 990_000
    elif isinstance(vnf, DpiVnf):
        assert vnf.engine.flow_count <= 5000 and vnf.engine.stats.evicted > 990_000
    else:
        assert len(vnf.flows) <= 5000 and len(vnf.reverse) <= 5000
        assert sum(s.active for s in vnf.states.values()) == len(vnf.flows)
    assert valid_traffic_flows(vnf)
