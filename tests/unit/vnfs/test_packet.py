"""The fast header parser agrees with scapy, rewrites with valid checksums and fails only with PacketError."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scapy.layers.inet import ICMP, IP, TCP, UDP, IPerror
from scapy.layers.inet6 import ICMPv6EchoRequest, IPv6, IPv6ExtHdrFragment, IPv6ExtHdrHopByHop
from scapy.layers.l2 import CookedLinux, Dot1Q, Ether
from scapy.packet import Raw

from sdnlab.errors import VnfError
from sdnlab.vnfs import packet as P

MACS = {"src": "02:00:00:00:00:01", "dst": "02:00:00:00:00:02"}


def _ip(text: str) -> int:
    return P.ip_value(text)[0]


def test_ipv4_tcp_fields_match_the_wire():
    frame = bytes(
        Ether(**MACS)
        / IP(src="10.0.0.1", dst="10.0.0.2", ttl=17)
        / TCP(sport=40000, dport=80, flags="SA", seq=7, ack=9)
        / Raw(b"GET /")
    )
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
    frame = bytes(
        Ether(**MACS)
        / Dot1Q(vlan=100)
        / Dot1Q(vlan=7)
        / IP(src="1.1.1.1", dst="2.2.2.2")
        / UDP(sport=5, dport=53)
        / Raw(b"q")
    )
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
    frame = bytes(
        Ether(**MACS)
        / IPv6(src="2001:db8::1", dst="2001:db8::2", hlim=9)
        / IPv6ExtHdrHopByHop()
        / UDP(sport=546, dport=547)
        / Raw(b"x")
    )
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
    pkt = P.parse(bytes.fromhex("ffffffffffff0200000000010806") + b"\0" * 28)
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
    sll2 = P.parse(
        b"\x08\x00" + b"\0\0" + b"\0\0\0\1" + b"\0\1\0\6" + b"\2\0\0\0\0\1\0\0" + bytes(inner),
        P.LINKTYPE_LINUX_SLL2,
    )
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
    out = P.rewrite(
        P.parse(frame), ip_src=_ip(new_src), l4_dst=8080, ttl=5, eth_dst=P.mac_bytes("02:aa:bb:cc:dd:ee")
    )
    assert _checksums_valid(out)
    pkt = P.parse(out)
    assert (pkt.ip_src_text, pkt.l4_dst, pkt.ttl, pkt.eth_dst_text) == (new_src, 8080, 5, "02:aa:bb:cc:dd:ee")


def test_build_frame_checksums_are_what_scapy_computes():
    for proto in (6, 17, 1):
        assert _checksums_valid(
            P.build_frame(
                ip_src="1.2.3.4", ip_dst="5.6.7.8", ip_proto=proto, l4_src=1, l4_dst=2, payload=b"odd"
            )
        )
    assert _checksums_valid(P.build_frame(ip_src="::1", ip_dst="::2", ip_proto=58, payload=b"x"))


def test_rewrite_refuses_fields_that_do_not_apply():
    icmp = P.parse(P.build_frame(ip_src="1.2.3.4", ip_dst="5.6.7.8", ip_proto=1))
    with pytest.raises(P.PacketError, match="ports"):
        P.rewrite(icmp, l4_dst=1)


def test_icmp_error_quote_gives_the_offending_flow():
    offending = IP(src="10.0.0.1", dst="10.0.0.2") / TCP(sport=4444, dport=23)
    error = (
        Ether(**MACS)
        / IP(src="10.0.0.254", dst="10.0.0.1")
        / ICMP(type=3, code=1)
        / IPerror(bytes(offending)[:28])
    )
    inner = P.icmp_embedded(P.parse(bytes(error)))
    assert inner is not None
    assert (inner.ip_src_text, inner.l4_src, inner.ip_dst_text, inner.l4_dst) == (
        "10.0.0.1",
        4444,
        "10.0.0.2",
        23,
    )
    assert P.icmp_embedded(P.parse(bytes(Ether(**MACS) / IP() / ICMP(type=8)))) is None


@pytest.mark.parametrize(
    "frame,reason",
    [
        (b"\x00" * 10, "Ethernet"),
        (bytes(Ether(**MACS, type=0x0800)) + b"\x45\x00", "IPv4 header"),
        (bytes(Ether(**MACS) / IP(src="1.1.1.1", dst="2.2.2.2", proto=6)) + b"\x00" * 4, "TCP header"),
        (bytes(Ether(**MACS) / IP(ihl=15, src="1.1.1.1", dst="2.2.2.2"))[:40], "IPv4 options"),
        (bytes(Ether(**MACS, type=0x86DD)) + b"\x60" + b"\0" * 20, "IPv6 header"),
        (bytes(Ether(**MACS) / Dot1Q(vlan=1))[:15], "VLAN"),
    ],
)
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
    bytes(
        Ether(**MACS)
        / Dot1Q(vlan=3)
        / IP(src="1.1.1.1", dst="2.2.2.2", options=b"\x01" * 4)
        / TCP(sport=1, dport=2, options=[("MSS", 1460)])
        / Raw(b"p" * 30)
    ),
    bytes(
        Ether(**MACS)
        / IPv6(src="::1", dst="::2")
        / IPv6ExtHdrHopByHop()
        / UDP(sport=1, dport=2)
        / Raw(b"u" * 9)
    ),
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


@pytest.mark.parametrize(
    "text", ["notanip", "10.0.0.256", "1.2.3.4\n", "1.2.3.4\x00", "::1\x00", "\udcff", ""]
)
def test_ip_value_rejects_non_addresses_with_a_packet_error(text):
    with pytest.raises(P.PacketError, match="not an IP address"):
        P.ip_value(text)


# --------------------------------------------------------------------------------------------
# The fast path (untagged Ethernet + IPv4 without options + TCP/UDP) agrees with the general one

_general = P._parse_general  # the real one, kept before any test replaces it with a spy
_MAC_PAIR = P.mac_bytes(MACS["dst"]) + P.mac_bytes(MACS["src"])


def _outcome(parse, frame: bytes):
    """What parsing gives: the Packet's fields with their types (False is not 0), or the error text."""
    try:
        pkt = parse(frame)
    except P.PacketError as exc:
        return ("PacketError", str(exc))
    return (type(pkt), [(type(value), value) for value in pkt])


def _general_outcome(frame: bytes):
    return _outcome(lambda f: _general(f, P.LINKTYPE_ETHERNET), frame)


@pytest.fixture
def general_calls(monkeypatch):
    """The frames that reached ``_parse_general``, in order."""
    calls = []

    def spy(frame, linktype):
        calls.append(frame)
        return _general(frame, linktype)

    monkeypatch.setattr(P, "_parse_general", spy)
    return calls


def _ipv4(
    proto: int, l4: bytes, *, ihl: int = 5, total: int | None = None, frag: int = 0x4000, options: bytes = b""
) -> bytes:
    """An untagged Ethernet + IPv4 frame around ``l4`` (checksum left 0: the parser ignores it)."""
    total = 4 * ihl + len(l4) if total is None else total
    header = struct.pack("!BBHHHBBHII", 0x40 | ihl, 0, total, 1, frag, 64, proto, 0, 0x0A000001, 0x0A000002)
    return _MAC_PAIR + b"\x08\x00" + header + options + l4


def _tcp(payload: bytes = b"", *, doff: int = 5, flags: int = P.TCP_ACK, ns: bool = False) -> bytes:
    return struct.pack("!HHIIBBHHH", 40000, 80, 7, 9, doff << 4 | ns, flags, 65535, 0, 0) + payload


def _udp(payload: bytes = b"", *, length: int | None = None) -> bytes:
    return struct.pack("!HHHH", 5353, 53, 8 + len(payload) if length is None else length, 0) + payload


def _usually(draw, usual, other: st.SearchStrategy, percent: int = 85):
    """``usual`` most of the time, else a value drawn from ``other``."""
    return usual if draw(st.integers(0, 99)) < percent else draw(other)


_U16 = st.integers(0, 0xFFFF)
_U32 = st.integers(0, 2**32 - 1)


@st.composite
def _near_fast_path_frames(draw) -> bytes:
    """Ethernet + IPv4 + TCP/UDP frames, most on the fast path: each field it reads sometimes varies
    (EtherType, version, IHL, fragment bits, protocol, IP and UDP lengths, data offset), and the
    frame is often cut short or padded."""
    eth_type = _usually(draw, 0x0800, st.sampled_from([0x8100, 0x86DD, 0x0806, 0x0801]))
    version = _usually(draw, 4, st.sampled_from([0, 5, 6]), 95)
    ihl = _usually(draw, 5, st.sampled_from([0, 4, 6, 15]))
    frag = _usually(
        draw,
        draw(st.sampled_from([0, 0x4000, 0x8000])),
        st.sampled_from([0x2000, 0x6000, 0x0001, 0x1FFF]) | _U16,
    )
    proto = _usually(draw, draw(st.sampled_from([6, 17])), st.sampled_from([1, 132, 47, 0]), 90)
    payload = draw(st.binary(max_size=8) | st.binary(min_size=6, max_size=60))
    if proto == 6:
        doff = _usually(draw, draw(st.integers(5, 15)), st.sampled_from([4, 4, 3, 0]))
        options = draw(st.binary(min_size=max(doff - 5, 0) * 4, max_size=max(doff - 5, 0) * 4))
        l4 = (
            struct.pack(
                "!HHIIBBHHH",
                draw(_U16),
                draw(_U16),
                draw(_U32),
                draw(_U32),
                doff << 4 | draw(st.integers(0, 15)),
                draw(st.integers(0, 255)),
                draw(_U16),
                draw(_U16),
                draw(_U16),
            )
            + options
            + payload
        )
    elif proto == 17:
        length = _usually(draw, 8 + len(payload), st.integers(0, 8 + len(payload) + 2) | _U16, 70)
        l4 = struct.pack("!HHHH", draw(_U16), draw(_U16), length, draw(_U16)) + payload
    else:
        l4 = payload
    ip_options = draw(st.binary(min_size=max(ihl - 5, 0) * 4, max_size=max(ihl - 5, 0) * 4))
    exact = 4 * max(ihl, 5) + len(l4)
    ends_in_l4 = st.sampled_from(
        [26, 27, 28, 38, 39, 40]
    )  # IP length ending inside or at the L4 header's end
    total = _usually(draw, exact, st.integers(0, exact + 30) | ends_in_l4 | _U16, 70)
    header = struct.pack(
        "!BBHHHBBHII",
        version << 4 | ihl,
        draw(st.integers(0, 255)),
        total,
        draw(_U16),
        frag,
        draw(st.integers(0, 255)),
        proto,
        draw(_U16),
        draw(_U32),
        draw(_U32),
    )
    frame = _MAC_PAIR + struct.pack("!H", eth_type) + header + ip_options + l4
    end = draw(st.sampled_from(["whole", "cut", "padded"]))
    if end == "cut":  # anywhere, or (more often) inside the payload as a snaplen would
        return frame[: draw(st.integers(0, len(frame)) | st.integers(max(len(frame) - 60, 0), len(frame)))]
    if end == "padded":
        return frame + draw(st.binary(max_size=30))
    return frame


_FAST_PREFIX = _MAC_PAIR + b"\x08\x00\x45"


@settings(max_examples=4000, deadline=None)
@given(
    st.one_of(
        _near_fast_path_frames(),
        st.binary(max_size=120),
        st.binary(max_size=100).map(lambda rest: _FAST_PREFIX + rest),
    )
)
def test_fast_path_gives_what_the_general_path_gives_for_any_frame(frame):
    assert _outcome(P.parse, frame) == _general_outcome(frame)


@pytest.mark.parametrize(
    "frame",
    [
        P.build_frame(
            ip_src="10.0.0.1", ip_dst="10.0.0.2", ip_proto=6, l4_src=1, l4_dst=2, payload=b"x" * 1446
        ),
        P.build_frame(
            ip_src="10.0.0.1", ip_dst="10.0.0.2", ip_proto=17, l4_src=1, l4_dst=2, payload=b"x" * 1458
        ),
        P.build_frame(
            ip_src="10.0.0.1", ip_dst="10.0.0.2", ip_proto=17, l4_src=1, l4_dst=2, payload=b"x" * 6
        ),
        _ipv4(6, _tcp(flags=P.TCP_SYN | P.TCP_ECE | P.TCP_CWR), frag=0x0000),
        _ipv4(
            6, bytes(TCP(sport=1, dport=2, flags="SA", options=[("MSS", 1460), ("NOP", None), ("WScale", 7)]))
        ),
    ],
    ids=["tcp-1500", "udp-1500", "udp-48", "tcp-no-df", "tcp-options"],
)
def test_untagged_ipv4_tcp_and_udp_never_reach_the_general_path(frame, general_calls):
    assert _outcome(P.parse, frame) == _general_outcome(frame)
    assert general_calls == []


def test_fast_path_leaves_ethernet_padding_out_of_the_payload(general_calls):
    frame = _ipv4(6, _tcp()) + b"\0" * 6  # a 54-byte ACK padded to the 60-byte minimum
    pkt = P.parse(frame)
    assert (pkt.payload_offset, pkt.payload_end, pkt.truncated) == (54, 54, False)
    assert _outcome(P.parse, frame) == _general_outcome(frame) and general_calls == []


def test_fast_path_marks_a_snaplen_cut_payload_truncated(general_calls):
    frame = _ipv4(6, _tcp(b"a" * 100))[:70]
    pkt = P.parse(frame)
    assert (pkt.ip_len, pkt.truncated, bytes(pkt.payload)) == (140, True, b"a" * 16)
    assert _outcome(P.parse, frame) == _general_outcome(frame) and general_calls == []


def test_fast_path_ends_the_payload_at_a_udp_length_shorter_than_the_datagram(general_calls):
    frame = _ipv4(17, _udp(b"abc", length=11) + b"trailer")
    pkt = P.parse(frame)
    assert (pkt.ip_len, bytes(pkt.payload)) == (20 + 8 + 3 + 7, b"abc")
    assert _outcome(P.parse, frame) == _general_outcome(frame) and general_calls == []


def test_fast_path_keeps_the_ns_flag_as_bit_8_of_the_tcp_flags(general_calls):
    frame = _ipv4(6, _tcp(b"x" * 10, ns=True))
    assert P.parse(frame).tcp_flags == 0x100 | P.TCP_ACK
    assert _outcome(P.parse, frame) == _general_outcome(frame) and general_calls == []


def test_tcp_data_offset_4_falls_back_and_keeps_the_general_error(general_calls):
    frame = _ipv4(6, _tcp(b"x" * 10, doff=4))
    with pytest.raises(P.PacketError, match=r"^TCP data offset 16 below 20$"):
        P.parse(frame)
    assert general_calls == [frame]


def test_tcp_header_beyond_the_datagram_falls_back_and_keeps_the_general_error(general_calls):
    frame = _ipv4(6, _tcp(doff=5), total=20 + 12) + b"\0" * 20  # IP length stops inside TCP; padding after
    with pytest.raises(P.PacketError, match=r"^truncated TCP header \(12 of 20 bytes\)$"):
        P.parse(frame)
    assert general_calls == [frame]


def test_udp_header_beyond_the_datagram_falls_back_and_keeps_the_general_error(general_calls):
    frame = _ipv4(17, _udp(), total=20 + 6) + b"\0" * 22  # IP length stops inside UDP; padding after
    with pytest.raises(P.PacketError, match=r"^truncated UDP header \(6 of 8 bytes\)$"):
        P.parse(frame)
    assert general_calls == [frame]


def test_ihl_6_falls_back_to_the_general_path(general_calls):
    frame = _ipv4(6, _tcp(b"data"), ihl=6, options=b"\x01\x01\x01\x00")
    pkt = P.parse(frame)
    assert (pkt.l4_offset, pkt.l4_src, bytes(pkt.payload)) == (38, 40000, b"data")
    assert general_calls == [frame]


@pytest.mark.parametrize(
    "frame",
    [
        _ipv4(17, _udp(b"z" * 40), frag=0x2000),  # first fragment (MF)
        _ipv4(17, _udp(b"z" * 40), frag=0x0004),  # a later fragment
        _ipv4(1, b"\x08\x00\x00\x00" + b"p" * 56),  # ICMP
        _ipv4(17, _udp(b"z")),  # 43 bytes: shorter than the fast path's one read
        P.build_frame(
            ip_src="10.0.0.1", ip_dst="10.0.0.2", ip_proto=6, l4_src=1, l4_dst=2, vlan=7, payload=b"x" * 20
        ),
        P.build_frame(ip_src="::1", ip_dst="::2", ip_proto=6, l4_src=1, l4_dst=2, payload=b"x" * 20),
    ],
    ids=["first-fragment", "later-fragment", "icmp", "short-udp", "vlan", "ipv6"],
)
def test_frames_outside_the_fast_path_fall_back(frame, general_calls):
    assert _outcome(P.parse, frame) == _general_outcome(frame)
    assert general_calls == [frame]
