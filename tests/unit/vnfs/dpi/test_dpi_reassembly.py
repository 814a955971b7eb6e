"""IPv4 fragments are reassembled before inspection: a fragmented SIP INVITE or DNS query is
classified as if it had come whole, in any order, within bounded memory, and hostile
fragment patterns (overlaps, absurd lengths, floods of incomplete datagrams) are dropped."""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from sdnlab.vnfs import packet as pk
from sdnlab.vnfs.dpi import DpiConfig, DpiEngine
from sdnlab.vnfs.dpi.reassembly import Reassembler

SIP_INVITE = (
    b"INVITE sip:meter-7@hes.example SIP/2.0\r\n"
    b"Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK776asdhds\r\n"
    b"From: <sip:cam@10.0.0.1>;tag=1928301774\r\nTo: <sip:meter-7@hes.example>\r\n"
    b"Call-ID: a84b4c76e66710@10.0.0.1\r\nCSeq: 314159 INVITE\r\nContent-Type: application/sdp\r\n"
    b"Content-Length: 400\r\n\r\n" + b"v=0\r\n" + b"a=x\r\n" * 79
)

DNS_QUERY = b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x03www\x07example\x03com\x00\x00\x01\x00\x01"


def whole(payload: bytes, sport=5060, dport=5060, ident=0x4242) -> bytes:
    frame = bytearray(
        pk.build_frame(
            ip_src="10.0.0.1",
            ip_dst="10.0.0.2",
            ip_proto=pk.IPPROTO_UDP,
            l4_src=sport,
            l4_dst=dport,
            payload=payload,
        )
    )
    frame[18:20] = ident.to_bytes(2, "big")
    return bytes(frame)


def fragments(frame: bytes, size: int) -> list[bytes]:
    """The frame's IPv4 datagram cut into fragments of ``size`` payload bytes (a multiple of 8)."""
    header, data = bytearray(frame[:34]), frame[34:]
    out = []
    for offset in range(0, len(data), size):
        chunk = data[offset : offset + size]
        more = offset + size < len(data)
        h = bytearray(header)
        h[16:18] = (20 + len(chunk)).to_bytes(2, "big")
        h[20:22] = ((0x2000 if more else 0) | offset // 8).to_bytes(2, "big")
        h[24:26] = b"\0\0"
        h[24:26] = pk.internet_checksum(h[14:34]).to_bytes(2, "big")
        out.append(bytes(h) + chunk)
    return out


def classify(frames: list[bytes], engine: DpiEngine | None = None):
    engine = engine or DpiEngine()
    for i, frame in enumerate(frames):
        engine.process_frame(i * 0.001, frame)
    engine.flush()
    return engine, engine.records()


def test_a_fragmented_sip_invite_is_classified_as_if_it_came_whole():
    frame = whole(SIP_INVITE)
    _, [reference] = classify([frame])
    for order in ("in order", "reversed", "shuffled"):
        pieces = fragments(frame, 200)
        assert len(pieces) >= 4
        if order == "reversed":
            pieces.reverse()
        elif order == "shuffled":
            random.Random(7).shuffle(pieces)
        engine, [record] = classify(pieces)
        assert (
            (record.app, record.metadata)
            == (reference.app, reference.metadata)
            == ("SIP", reference.metadata)
        )
        assert record.bytes == reference.bytes and record.packets == 1, order
        assert engine.reassembly.stats["reassembled"] == 1 and engine.stats.fragments == len(pieces)


def test_a_dns_query_cut_into_8_byte_fragments_keeps_its_query_name():
    _engine, [record] = classify(fragments(whole(DNS_QUERY, sport=40000, dport=53), 8))
    assert record.app == "DNS" and record.metadata["query"] == "www.example.com"


def test_a_retransmitted_fragment_is_ignored():
    pieces = fragments(whole(SIP_INVITE), 200)
    engine, [record] = classify([pieces[0], pieces[1], pieces[1], *pieces[2:]])
    assert record.app == "SIP" and engine.reassembly.stats["duplicates"] == 1


def test_overlapping_fragments_discard_the_whole_datagram_and_inspection_goes_on():
    pieces = fragments(whole(SIP_INVITE), 200)
    overlap = bytearray(pieces[1])
    overlap[20:22] = (0x2000 | (200 - 8) // 8).to_bytes(2, "big")  # starts 8 bytes inside the first piece
    engine, records = classify([pieces[0], bytes(overlap), *pieces])  # then every piece again, "fixed"
    stats = engine.reassembly.stats
    assert stats["dropped_overlapping"] == 1 and stats["dropped_after_discard"] == len(pieces)
    assert stats["reassembled"] == 0 and not records  # no second version slipped in after the overlap
    engine, [record] = classify(
        fragments(whole(SIP_INVITE, ident=7), 200), engine
    )  # the next datagram is fine
    assert record.app == "SIP"


def test_the_first_fragment_sets_the_layout_even_when_it_comes_last_and_carries_a_vlan_tag():
    tagged = bytearray(fragments(whole(SIP_INVITE), 200)[0])
    tagged[12:12] = b"\x81\x00\x00\x07"  # 802.1Q, VLAN 7, then the IPv4 ethertype
    reassembler = Reassembler()
    rest = fragments(whole(SIP_INVITE), 200)[1:]
    for piece in [*rest[:-1], bytes(tagged), rest[-1]]:
        result = reassembler.add(pk.parse(piece), 0.0)
    reference = pk.parse(whole(SIP_INVITE))
    assert result is not None and result.vlan == 7
    assert (result.ip_len, result.l4_src, result.l4_dst) == (reference.ip_len, 5060, 5060)
    assert bytes(result.payload) == SIP_INVITE


def test_a_first_fragment_with_ip_options_cannot_push_the_datagram_past_65535_bytes():
    frame = bytearray(whole(bytes(65000), ident=9))
    first = bytearray(fragments(bytes(frame), 1480)[0])
    first[14] = 0x4F  # IHL 15: 40 bytes of options (NOPs) after the 20-byte header
    first[34:34] = b"\x01" * 40
    first[16:18] = (60 + 1480).to_bytes(2, "big")
    others = fragments(bytes(frame), 1480)[1:]
    last = bytearray(others[-1])  # stretch the datagram to 65,515 bytes of payload
    end = 65515 - 1480 * len(others[:-1]) - 1480
    last[20:22] = ((1480 * len(others)) // 8).to_bytes(2, "big")
    last = bytes(last[:34]) + bytes(end)
    last = bytearray(last)
    last[16:18] = (20 + end).to_bytes(2, "big")
    reassembler = Reassembler()
    for piece in [bytes(first), *others[:-1], bytes(last)]:
        assert reassembler.add(pk.parse(piece), 0.0) is None  # no OverflowError, no datagram
    assert reassembler.stats["dropped_bad_length"] == 1


def test_a_datagram_older_than_the_timeout_is_not_finished_even_if_it_was_touched_lately():
    reassembler = Reassembler(timeout=30.0)
    a = fragments(whole(SIP_INVITE, ident=1), 200)
    b = fragments(whole(SIP_INVITE, ident=2), 200)
    reassembler.add(pk.parse(a[0]), 0.0)
    reassembler.add(pk.parse(b[0]), 40.0)
    reassembler.add(pk.parse(a[1]), 41.0)  # a is now behind b in the queue
    results = [reassembler.add(pk.parse(piece), 45.0) for piece in a[2:]]
    assert results == [None] * len(a[2:]) and reassembler.stats["expired"] >= 1


def test_a_fragment_past_65535_bytes_is_dropped():
    piece = bytearray(fragments(whole(SIP_INVITE), 200)[1])
    piece[20:22] = (0x2000 | 8190).to_bytes(2, "big")  # offset 65520, plus 200 bytes
    engine, _ = classify([bytes(piece)])
    assert engine.reassembly.stats["dropped_bad_length"] == 1 and engine.reassembly.stats["reassembled"] == 0


def test_incomplete_datagrams_are_bounded_and_expire():
    engine = DpiEngine(DpiConfig(max_fragmented=100, fragment_timeout=30.0))
    for ident in range(5000):
        engine.process_frame(0.0, fragments(whole(SIP_INVITE, ident=ident), 200)[0])
    assert len(engine.reassembly) == 100 and engine.reassembly.stats["evicted"] == 4900
    late = fragments(whole(SIP_INVITE, ident=4999), 200)
    for piece in late[1:]:
        engine.process_frame(31.0, piece)  # the first fragment is 31 s old: gone
    assert engine.reassembly.stats["expired"] >= 1 and engine.reassembly.stats["reassembled"] == 0


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 8191), st.integers(0, 300), st.booleans(), st.integers(0, 3)),
        min_size=1,
        max_size=40,
    )
)
def test_arbitrary_fragment_sequences_never_raise_and_stay_bounded(specs):
    reassembler = Reassembler(max_datagrams=8, max_fragments=16)
    base = bytearray(whole(bytes(range(256)) * 2))
    for offset_units, size, more, ident in specs:
        frame = bytearray(base[:34]) + bytes(size)
        frame[16:18] = (20 + size).to_bytes(2, "big")
        frame[18:20] = ident.to_bytes(2, "big")
        frame[20:22] = ((0x2000 if more else 0) | offset_units).to_bytes(2, "big")
        try:
            packet = pk.parse(bytes(frame))
        except pk.PacketError:
            continue  # a first fragment too short for its UDP header: the engine counts it malformed
        if not packet.is_fragment:
            continue
        result = reassembler.add(packet, 0.0)
        assert result is None or (not result.is_fragment and result.ip_len == 20 + result.payload_end - 34)
        assert len(reassembler) <= 8
