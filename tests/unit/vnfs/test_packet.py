"""The fast header parser agrees with scapy, rewrites with valid checksums and fails only with PacketError."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scapy.layers.inet import ICMP, IP, TCP, UDP, IPerror
from scapy.layers.inet6 import ICMPv6EchoRequest, IPv6, IPv6ExtHdrFragment, IPv6ExtHdrHopByHop
from scapy.layers.l2 import CookedLinux, Dot1Q, Ether
from scapy.packet import Raw

from sdnlab.errors import VnfError
from sdnlab.vnfs import packet as P

MACS = dict(src="02:00:00:00:00:01", dst="02:00:00:00:00:02")


def _ip(text: str) -> int:
    return P.ip_value(text)[0]


def test_ipv4_tcp_fields_match_the_wire():
    frame = bytes(Ether(**MACS) / IP(src="10.0.0.1", dst="10.0.0.2", ttl=17)
                  / TCP(sport=40000, dport=80, flags="SA", seq=7, ack=9) / Raw(b"GET /"))
    pkt = P.parse(frame)
    assert (pkt.eth_src_text, pkt.eth_dst_text) == ("02:00:00:00:00:01", "02:00:00:00:00:02")
    assert (pkt.ip_version, pkt.ip_src, pkt.ip_dst) == (4, _ip("10.0.0.1"), _ip("10.0.0.2"))
    assert (pkt.ip_src_text, pkt.ip_dst_text) == ("10.0.0.1", "10.0.0.2")
    assert (pkt.ip_proto, pkt.ttl, pkt.l4_src, pkt.l4_dst) == (6, 17, 40000, 80)
    assert pkt.tcp_flags == P.TCP_SYN | P.TCP_ACK
    assert (pkt.tcp_seq, pkt.tcp_ack) == (7, 9)
    assert bytes(pkt.payload) == b"GET /"
    assert pkt.vlan is None and not pkt.is_fragment and not pkt.truncated


def test_vlan_tag_and_qinq_are_skipped_and_outer_vid_kept():
    frame = bytes(Ether(**MACS) / Dot1Q(vlan=100) / Dot1Q(vlan=7) / IP(src="1.1.1.1", dst="2.2.2.2")
                  / UDP(sport=5, dport=53) / Raw(b"q"))
    pkt = P.parse(frame)
    assert pkt.vlan == 100
    assert pkt.eth_type == P.ETH_TYPE_IPV4
    assert (pkt.l4_src, pkt.l4_dst, bytes(pkt.payload)) == (5, 53, b"q")


def test_ethernet_padding_is_not_payload():
    frame = bytes(Ether(**MACS) / IP(src="1.1.1.1", dst="2.2.2.2") / TCP(sport=1, dport=2, flags="A"))
    padded = frame + b"\0" * (60 - len(frame))
    assert P.parse(padded).payload_len == 0


def test_udp_length_bounds_the_payload():
    frame = bytes(Ether(**MACS) / IP(src="1.1.1.1", dst="2.2.2.2") / UDP(sport=1, dport=2) / Raw(b"abc"))
    assert bytes(P.parse(frame + b"junk").payload) == b"abc"


def test_ipv6_extension_headers_are_walked_to_the_upper_layer():
    frame = bytes(Ether(**MACS) / IPv6(src="2001:db8::1", dst="2001:db8::2", hlim=9) / IPv6ExtHdrHopByHop()
                  / UDP(sport=546, dport=547) / Raw(b"x"))
    pkt = P.parse(frame)
    assert (pkt.ip_version, pkt.ip_proto, pkt.ttl) == (6, 17, 9)
    assert pkt.ip_src_text == "2001:db8::1"
    assert (pkt.l4_src, pkt.l4_dst, bytes(pkt.payload)) == (546, 547, b"x")


def test_icmp_and_icmpv6_type_and_code():
    v4 = P.parse(bytes(Ether(**MACS) / IP(src="1.1.1.1", dst="2.2.2.2") / ICMP(type=8, code=0)))
    v6 = P.parse(bytes(Ether(**MACS) / IPv6(src="::1", dst="::2") / ICMPv6EchoRequest()))
    assert (v4.ip_proto, v4.icmp_type, v4.icmp_code) == (1, 8, 0)
    assert (v6.ip_proto, v6.icmp_type, v6.icmp_code) == (58, 128, 0)
    assert v4.l4_src == v4.l4_dst == 0


def test_non_ip_frames_parse_with_ip_version_zero():
    pkt = P.parse(bytes.fromhex("ffffffffffff020000000001" "0806") + b"\0" * 28)
    assert (pkt.eth_type, pkt.ip_version, pkt.l4_offset) == (P.ETH_TYPE_ARP, 0, -1)


def test_ipv4_fragments_first_has_ports_later_ones_do_not():
    whole = IP(src="1.1.1.1", dst="2.2.2.2", id=5) / UDP(sport=7, dport=9) / Raw(b"z" * 64)
    first = IP(bytes(whole))
    first.flags = "MF"
    first = IP(bytes(first)[: 20 + 32])
    first.len = 52
    del first.chksum
    later = IP(src="1.1.1.1", dst="2.2.2.2", id=5, frag=4, proto=17) / Raw(b"z" * 40)
    p1 = P.parse(bytes(Ether(**MACS) / first))
    p2 = P.parse(bytes(Ether(**MACS) / later))
    assert p1.is_fragment and p1.frag_offset == 0 and (p1.l4_src, p1.l4_dst) == (7, 9)
    assert p2.is_fragment and p2.frag_offset == 32 and (p2.l4_src, p2.l4_dst, p2.l4_offset) == (0, 0, -1)


def test_ipv6_fragment_header_marks_fragments():
    later = IPv6(src="::1", dst="::2") / IPv6ExtHdrFragment(offset=3, m=0, nh=17) / Raw(b"y" * 16)
    pkt = P.parse(bytes(Ether(**MACS) / later))
    assert pkt.is_fragment and pkt.frag_offset == 24 and pkt.l4_offset == -1 and pkt.ip_proto == 17


def test_snaplen_cut_payload_is_marked_truncated_not_an_error():
    frame = bytes(Ether(**MACS) / IP(src="1.1.1.1", dst="2.2.2.2") / TCP(sport=1, dport=2) / Raw(b"a" * 100))
    pkt = P.parse(frame[:70])
    assert pkt.truncated and pkt.payload_len == 70 - 54


def test_linux_cooked_and_raw_ip_link_types():
    inner = IP(src="10.1.1.1", dst="10.1.1.2") / UDP(sport=1, dport=554) / Raw(b"R")
    sll = P.parse(bytes(CookedLinux(proto=0x0800) / inner), P.LINKTYPE_LINUX_SLL)
    raw = P.parse(bytes(inner), P.LINKTYPE_RAW)
    sll2 = P.parse(b"\x08\x00" + b"\0\0" + b"\0\0\0\1" + b"\0\1\0\6" + b"\2\0\0\0\0\1\0\0" + bytes(inner),
                   P.LINKTYPE_LINUX_SLL2)
    for pkt in (sll, raw, sll2):
        assert (pkt.ip_dst_text, pkt.l4_dst, bytes(pkt.payload)) == ("10.1.1.2", 554, b"R")


def test_flow_key_and_bidi_key():
    a = P.parse(P.build_frame(ip_src="10.0.0.9", ip_dst="10.0.0.1", ip_proto=6, l4_src=5555, l4_dst=23))
    b = P.parse(P.build_frame(ip_src="10.0.0.1", ip_dst="10.0.0.9", ip_proto=6, l4_src=23, l4_dst=5555))
    assert a.flow_key() == P.FlowKey(6, _ip("10.0.0.9"), 5555, _ip("10.0.0.1"), 23)
    assert a.flow_key().reversed() == b.flow_key()
    assert a.bidi_key() == b.bidi_key() == a.flow_key().canonical()
    assert a.flow_key() != b.flow_key()


@pytest.mark.parametrize("src,dst", [("10.0.0.1", "10.0.0.2"), ("2001:db8::1", "2001:db8::2")])
@pytest.mark.parametrize("proto", [6, 17])
def test_rewrite_keeps_checksums_valid(src, dst, proto):
    frame = P.build_frame(ip_src=src, ip_dst=dst, ip_proto=proto, l4_src=1000, l4_dst=80, payload=b"data!")
    new_src = "192.168.7.7" if ":" not in src else "2001:db8::77"
    out = P.rewrite(P.parse(frame), ip_src=_ip(new_src), l4_dst=8080, ttl=5,
                    eth_dst=P.mac_bytes("02:aa:bb:cc:dd:ee"))
    assert _checksums_valid(out)
    pkt = P.parse(out)
    assert (pkt.ip_src_text, pkt.l4_dst, pkt.ttl, pkt.eth_dst_text) == (new_src, 8080, 5, "02:aa:bb:cc:dd:ee")


def test_build_frame_checksums_are_what_scapy_computes():
    for proto in (6, 17, 1):
        assert _checksums_valid(P.build_frame(ip_src="1.2.3.4", ip_dst="5.6.7.8", ip_proto=proto,
                                              l4_src=1, l4_dst=2, payload=b"odd"))
    assert _checksums_valid(P.build_frame(ip_src="::1", ip_dst="::2", ip_proto=58, payload=b"x"))


def test_rewrite_refuses_fields_that_do_not_apply():
    icmp = P.parse(P.build_frame(ip_src="1.2.3.4", ip_dst="5.6.7.8", ip_proto=1))
    with pytest.raises(P.PacketError, match="ports"):
        P.rewrite(icmp, l4_dst=1)


def test_icmp_error_quote_gives_the_offending_flow():
    offending = IP(src="10.0.0.1", dst="10.0.0.2") / TCP(sport=4444, dport=23)
    error = Ether(**MACS) / IP(src="10.0.0.254", dst="10.0.0.1") / ICMP(type=3, code=1) \
        / IPerror(bytes(offending)[:28])
    inner = P.icmp_embedded(P.parse(bytes(error)))
    assert inner is not None
    assert (inner.ip_src_text, inner.l4_src, inner.ip_dst_text, inner.l4_dst) == ("10.0.0.1", 4444, "10.0.0.2", 23)
    assert P.icmp_embedded(P.parse(bytes(Ether(**MACS) / IP() / ICMP(type=8)))) is None


@pytest.mark.parametrize("frame,reason", [
    (b"\x00" * 10, "Ethernet"),
    (bytes(Ether(**MACS, type=0x0800)) + b"\x45\x00", "IPv4 header"),
    (bytes(Ether(**MACS) / IP(src="1.1.1.1", dst="2.2.2.2", proto=6)) + b"\x00" * 4, "TCP header"),
    (bytes(Ether(**MACS) / IP(ihl=15, src="1.1.1.1", dst="2.2.2.2"))[:40], "IPv4 options"),
    (bytes(Ether(**MACS, type=0x86DD)) + b"\x60" + b"\0" * 20, "IPv6 header"),
    (bytes(Ether(**MACS) / Dot1Q(vlan=1))[:15], "VLAN"),
])
def test_truncated_headers_raise_packet_error_naming_the_header(frame, reason):
    with pytest.raises(P.PacketError, match=reason):
        P.parse(frame)


def test_packet_error_is_a_vnf_error():
    assert issubclass(P.PacketError, VnfError)


@settings(max_examples=3000, deadline=None)
@given(st.binary(max_size=200), st.sampled_from([1, 101, 113, 276, 0, 228, 229]))
def test_random_bytes_never_raise_anything_but_packet_error(data, linktype):
    try:
        pkt = P.parse(data, linktype)
    except P.PacketError:
        return
    assert 0 <= pkt.payload_offset <= pkt.payload_end <= len(data)


_VALID = [
    bytes(Ether(**MACS) / Dot1Q(vlan=3) / IP(src="1.1.1.1", dst="2.2.2.2", options=b"\x01" * 4)
          / TCP(sport=1, dport=2, options=[("MSS", 1460)]) / Raw(b"p" * 30)),
    bytes(Ether(**MACS) / IPv6(src="::1", dst="::2") / IPv6ExtHdrHopByHop() / UDP(sport=1, dport=2) / Raw(b"u" * 9)),
]


@settings(max_examples=2000, deadline=None)
@given(st.sampled_from(_VALID), st.integers(0, 200), st.integers(0, 255), st.integers(0, 120))
def test_mutated_and_truncated_valid_frames_never_crash(base, cut, value, position):
    mutated = bytearray(base[: max(cut, 0)] if cut < len(base) else base)
    if position < len(mutated):
        mutated[position] = value
    try:
        pkt = P.parse(bytes(mutated))
    except P.PacketError:
        return
    assert 0 <= pkt.payload_offset <= pkt.payload_end <= len(mutated)
    pkt.flow_key(), pkt.bidi_key(), P.icmp_embedded(pkt)


def _checksums_valid(frame: bytes) -> bool:
    """Recompute every checksum with scapy and compare with the frame's."""
    pkt = Ether(frame)
    fresh = Ether(frame)
    for layer in (IP, TCP, UDP, ICMP):
        if layer in fresh:
            del fresh[layer].chksum
    for layer_name in ("ICMPv6EchoRequest", "ICMPv6Unknown"):
        if fresh.haslayer(layer_name):
            del fresh.getlayer(layer_name).cksum
    fresh = Ether(bytes(fresh))
    for layer in (IP, TCP, UDP, ICMP):
        if layer in pkt and pkt[layer].chksum != fresh[layer].chksum:
            return False
    for layer_name in ("ICMPv6EchoRequest", "ICMPv6Unknown"):
        if pkt.haslayer(layer_name) and pkt.getlayer(layer_name).cksum != fresh.getlayer(layer_name).cksum:
            return False
    return True


@pytest.mark.parametrize("text", ["notanip", "10.0.0.256", "1.2.3.4\n", "1.2.3.4\x00", "::1\x00", "\udcff", ""])
def test_ip_value_rejects_non_addresses_with_a_packet_error(text):
    with pytest.raises(P.PacketError, match="not an IP address"):
        P.ip_value(text)
