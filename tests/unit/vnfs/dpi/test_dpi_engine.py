"""The engine keeps bidirectional flows within bounds, reports each once, raises risk events and
never crashes."""

from __future__ import annotations

import os
import random
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sdnlab.errors import SdnlabError
from sdnlab.vnfs import packet as pk
from sdnlab.vnfs.dpi import DpiConfig, DpiConfigError, DpiEngine, Limits, classify_capture, classify_pcap
from sdnlab.vnfs.dpi.classify import Classification, PacketView, step
from sdnlab.vnfs.dpi.synth import tcp_conversation, udp_exchange
from sdnlab.vnfs.pcapio import PcapTruncated, write_pcap

HTTP_GET = b"GET / HTTP/1.1\r\nHost: h\r\n\r\n"


def run(engine: DpiEngine, frames: list[bytes], start: float = 0.0, gap: float = 0.01) -> list:
    return [engine.process_frame(start + i * gap, frame) for i, frame in enumerate(frames)]


def test_both_directions_are_one_flow_with_per_direction_counters():
    engine = DpiEngine()
    run(
        engine,
        tcp_conversation(
            "10.0.0.1", "10.0.0.2", 40000, 8080, [("c", HTTP_GET), ("s", b"HTTP/1.1 204 No\r\n\r\n")]
        ),
    )
    (record,) = engine.records()
    assert (record.src, record.sport, record.dst, record.dport) == ("10.0.0.1", 40000, "10.0.0.2", 8080)
    assert (record.packets_c2s, record.packets_s2c, record.packets) == (3, 2, 5)
    assert record.bytes == record.bytes_c2s + record.bytes_s2c > 0
    assert record.first_seen == 0.0 and record.last_seen == 0.04


def test_process_returns_the_record_once_on_the_deciding_packet():
    engine = DpiEngine()
    results = run(
        engine, tcp_conversation("10.0.0.1", "10.0.0.2", 40000, 8080, [("c", HTTP_GET), ("c", HTTP_GET)])
    )
    decided = [r for r in results if r is not None]
    assert len(decided) == 1 and decided[0].app == "HTTP"
    assert results.index(decided[0]) == 3  # the first payload packet, after the handshake


def test_flow_seen_from_its_syn_ack_keeps_the_real_client():
    engine = DpiEngine()
    frames = tcp_conversation("10.0.0.1", "10.0.0.2", 40000, 8080, [("c", HTTP_GET)])[1:]
    run(engine, frames)
    (record,) = engine.records()
    assert (record.src, record.dst) == ("10.0.0.1", "10.0.0.2")


def test_classification_step_is_pure():
    view = PacketView(6, True, 40000, 8080, HTTP_GET)
    before = Classification()
    first = step(before, HTTP_GET, view)
    assert before == Classification()  # input untouched
    assert step(before, HTTP_GET, view) == first
    assert first.app == "HTTP"


def test_gives_up_as_unknown_after_the_payload_budget():
    engine = DpiEngine(DpiConfig(limits=Limits(max_payload_packets=4, port_guess=False)))
    frames = udp_exchange(
        "10.0.0.1", "10.0.0.2", 5000, 6000, [("c", bytes([0x80, 0, i, i]) + b"x" * 20) for i in range(10)]
    )
    results = run(engine, frames)
    decided = [i for i, r in enumerate(results) if r is not None]
    assert decided == [3] and results[3].app == "Unknown"


def test_port_guess_only_when_payload_says_nothing_and_marked_as_such():
    frames = tcp_conversation("10.0.0.1", "10.0.0.2", 40000, 443, [])
    guessed = DpiEngine()
    run(guessed, frames)
    strict = DpiEngine(DpiConfig(limits=Limits(port_guess=False)))
    run(strict, frames)
    assert [(r.app, r.confidence) for r in guessed.flush()] == [("TLS", "port")]
    assert [r.app for r in strict.flush()] == ["Unknown"]


def test_lru_bounds_the_table_and_keeps_closed_records_bounded():
    closed = []
    engine = DpiEngine(DpiConfig(max_flows=50, max_records=20), on_record=closed.append)
    for i in range(200):
        engine.process_frame(
            float(i),
            pk.build_frame(
                ip_src="10.0.0.1", ip_dst="10.0.0.2", ip_proto=17, l4_src=1000 + i, l4_dst=9999, payload=b"x"
            ),
        )
    assert engine.flow_count == 50 and engine.stats.evicted == 150
    assert len(closed) == 150 and len(engine.records()) == 50 + 20
    assert {r.sport for r in engine.records()[-50:]} == set(range(1150, 1200))  # the most recent stay


def test_expire_closes_idle_flows_from_a_timer_and_app_of_answers_per_packet():
    engine = DpiEngine(DpiConfig(idle_timeout=10.0))
    frames = tcp_conversation("10.0.0.1", "10.0.0.2", 40000, 8080, [("c", HTTP_GET)])
    run(engine, frames)
    assert engine.app_of(pk.parse(frames[-1])) == "HTTP"
    assert engine.app_of(pk.parse(frames[0])) == "HTTP"  # either direction, any packet of the flow
    assert engine.expire(5.0) == []
    (closed,) = engine.expire(20.0)
    assert (closed.app, engine.flow_count) == ("HTTP", 0)
    assert engine.app_of(pk.parse(frames[-1])) is None


def test_idle_flows_expire():
    engine = DpiEngine(DpiConfig(idle_timeout=10.0))
    engine.process_frame(
        0.0, pk.build_frame(ip_src="10.0.0.1", ip_dst="10.0.0.2", l4_src=1, l4_dst=2, payload=b"a")
    )
    engine.process_frame(
        5.0, pk.build_frame(ip_src="10.0.0.3", ip_dst="10.0.0.2", l4_src=1, l4_dst=2, payload=b"a")
    )
    engine.process_frame(
        12.0, pk.build_frame(ip_src="10.0.0.4", ip_dst="10.0.0.2", l4_src=1, l4_dst=2, payload=b"a")
    )
    assert engine.flow_count == 2 and engine.stats.expired == 1


def test_telnet_scan_from_one_source_raises_one_event_naming_it():
    events = []
    engine = DpiEngine(DpiConfig(scan_threshold=10, scan_window=60.0), on_risk=events.append)
    for i in range(25):
        port = 23 if i % 2 else 2323
        engine.process_frame(
            i * 0.5,
            pk.build_frame(
                ip_src="10.9.9.9",
                ip_dst=f"10.0.1.{i + 1}",
                ip_proto=6,
                l4_src=50000 + i,
                l4_dst=port,
                tcp_flags=pk.TCP_SYN,
            ),
        )
    scans = [e for e in events if e.kind == "telnet_scan"]
    assert len(scans) == 1 and scans[0].host == "10.9.9.9"
    assert len(scans[0].evidence["hosts"]) == 10
    assert engine.pending_risks == len(events)
    assert engine.drain_risks() == events and engine.drain_risks() == [] and engine.pending_risks == 0


def test_a_few_telnet_connections_are_not_a_scan():
    engine = DpiEngine(DpiConfig(scan_threshold=10))
    for i in range(9):
        engine.process_frame(
            float(i),
            pk.build_frame(
                ip_src="10.9.9.9",
                ip_dst=f"10.0.1.{i + 1}",
                ip_proto=6,
                l4_src=50000 + i,
                l4_dst=23,
                tcp_flags=pk.TCP_SYN,
            ),
        )
    assert [e.kind for e in engine.risks()] == []


def test_dns_to_a_server_off_the_allowed_list_is_flagged():
    query = struct.pack("!HHHHHH", 1, 0x0100, 1, 0, 0, 0) + b"\x01a\x00" + struct.pack("!HH", 1, 1)
    engine = DpiEngine(DpiConfig(dns_servers=frozenset({"10.0.0.53"})))
    run(engine, udp_exchange("10.0.0.7", "10.0.0.53", 5000, 53, [("c", query)]))
    run(engine, udp_exchange("10.0.0.7", "8.8.8.8", 5001, 53, [("c", query)]))
    run(engine, udp_exchange("10.0.0.7", "10.0.0.53", 5002, 5353 + 1, [("c", query)]))
    flagged = [(e.host, e.peer) for e in engine.risks() if e.kind == "unusual_dns_server"]
    assert flagged == [("10.0.0.7", "8.8.8.8"), ("10.0.0.7", "10.0.0.53")]


def test_ftp_passive_data_connection_is_ftp_data():
    engine = DpiEngine()
    run(
        engine,
        tcp_conversation(
            "10.0.0.1",
            "10.0.0.2",
            40000,
            21,
            [
                ("s", b"220 FTP ready\r\n"),
                ("c", b"USER bob\r\n"),
                ("s", b"331 ok\r\n"),
                ("c", b"PASV\r\n"),
                ("s", b"227 Entering Passive Mode (10,0,0,2,117,48)\r\n"),
            ],
        ),
    )
    run(
        engine,
        tcp_conversation("10.0.0.1", "10.0.0.2", 40001, 117 * 256 + 48, [("s", b"\x00\x01binary")]),
        start=1.0,
    )
    apps = {r.dport: (r.app, r.confidence) for r in engine.records()}
    assert apps == {21: ("FTP_CONTROL", "dpi"), 30000: ("FTP_DATA", "expected")}


def test_tunnelled_flows_are_classified_by_their_inner_packet():
    inner = pk.build_frame(
        ip_src="192.168.0.1", ip_dst="192.168.0.2", ip_proto=6, l4_src=40000, l4_dst=9000, payload=HTTP_GET
    )[14:]
    outer = pk.build_frame(ip_src="1.1.1.1", ip_dst="2.2.2.2", ip_proto=4, payload=inner)
    engine = DpiEngine()
    assert engine.process_frame(0.0, outer).app == "HTTP"
    assert engine.records()[0].src == "192.168.0.1"


def test_one_million_distinct_flows_keep_memory_bounded():
    config = DpiConfig(max_flows=20_000, max_records=1_000, max_risks=100, max_scan_sources=5_000)
    engine = DpiEngine(config)
    frame = bytearray(
        pk.build_frame(
            ip_src="10.0.0.1", ip_dst="172.16.0.1", ip_proto=6, l4_src=1, l4_dst=23, tcp_flags=pk.TCP_SYN
        )
    )
    rss_before = _rss_bytes()
    peak_bounds: dict[str, int] = {}
    for i in range(1_000_000):
        struct.pack_into("!I", frame, 26, 0x0A000000 | i)  # a new source every time
        struct.pack_into("!H", frame, 34, 1024 + (i & 0x7FFF))
        engine.process(i * 1e-5, pk.parse(bytes(frame)))
        if i % 100_000 == 99_999:
            for name, size in engine.memory_bounds().items():
                peak_bounds[name] = max(peak_bounds.get(name, 0), size)
    assert engine.stats.flows == 1_000_000
    assert peak_bounds["flows"] == 20_000 and peak_bounds["closed_records"] == 1_000
    assert peak_bounds["scan_sources"] == 5_000
    assert _rss_bytes() - rss_before < 150 * 2**20  # the table, not a million flows (~1 GB), stays resident


def _rss_bytes() -> int:
    with open(f"/proc/{os.getpid()}/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


@settings(max_examples=1500, deadline=None)
@given(
    st.lists(st.binary(min_size=0, max_size=120), min_size=1, max_size=6),
    st.sampled_from([6, 17]),
    st.integers(1, 65535),
)
def test_random_payloads_never_crash_the_classifier(payloads, proto, port):
    engine = DpiEngine()
    for i, payload in enumerate(payloads):
        frame = pk.build_frame(
            ip_src="10.0.0.1" if i % 2 == 0 else "10.0.0.2",
            ip_dst="10.0.0.2" if i % 2 == 0 else "10.0.0.1",
            ip_proto=proto,
            l4_src=40000 if i % 2 == 0 else port,
            l4_dst=port if i % 2 == 0 else 40000,
            payload=payload,
            tcp_seq=i * 1000,
        )
        engine.process_frame(float(i), frame)
    assert len(engine.flush()) == 1


def test_truncated_and_bit_flipped_captures_never_crash_the_engine():
    rng = random.Random(5)
    sources = [
        *tcp_conversation(
            "10.0.0.1", "10.0.0.2", 40000, 443, [("c", b"\x16\x03\x01\x00\x50\x01" + bytes(80))]
        ),
        *udp_exchange("10.0.0.1", "10.0.0.2", 5000, 53, [("c", b"\x00\x01\x01\x00\x00\x01" + bytes(20))]),
        *tcp_conversation(
            "10.0.0.1", "10.0.0.2", 40001, 1883, [("c", b"\x10\x10\x00\x04MQTT\x04\x02\x00\x3c\x00\x04abcd")]
        ),
    ]
    engine = DpiEngine(DpiConfig(max_flows=100))
    for i in range(20_000):
        frame = bytearray(rng.choice(sources))
        for _ in range(rng.randint(0, 4)):
            frame[rng.randrange(len(frame))] = rng.randrange(256)
        frame = frame[: rng.randint(0, len(frame))]
        engine.process_frame(i * 0.001, bytes(frame))
    engine.flush()
    assert engine.stats.packets == 20_000 and engine.stats.malformed > 0


def test_random_payloads_are_rarely_mistaken_for_a_protocol():
    """Structure checks, not ports, decide: random bytes on random ports stay Unknown (< 1% false
    positives)."""
    rng = random.Random(7)
    engine = DpiEngine(DpiConfig(max_records=None, limits=Limits(port_guess=False)))
    for i in range(2000):
        exchanges = [("c" if j % 2 == 0 else "s", rng.randbytes(rng.randint(1, 300))) for j in range(4)]
        build = udp_exchange if i % 2 else tcp_conversation
        for k, frame in enumerate(build(f"10.0.{i >> 8}.{i & 255}", "10.9.0.1", 40000, 30000 + i, exchanges)):
            engine.process_frame(i + k * 0.001, frame)
    labelled = [r.app for r in engine.flush() if r.app != "Unknown"]
    assert len(labelled) < 20, labelled


def test_a_port_guess_raises_no_flow_risk():
    """SYNs to port 23 with no payload are guessed Telnet but are no evidence of a cleartext session."""
    engine = DpiEngine()
    run(engine, tcp_conversation("10.0.0.1", "10.0.0.2", 40000, 23, []))
    (record,) = engine.flush()
    assert (record.app, record.confidence, record.risks) == ("Telnet", "port", ())
    assert engine.risks() == []


def test_a_flow_without_payload_gives_up_after_the_packet_budget():
    engine = DpiEngine(DpiConfig(limits=Limits(max_packets=8, port_guess=False)))
    ack = pk.build_frame(
        ip_src="10.0.0.1", ip_dst="10.0.0.2", ip_proto=6, l4_src=40000, l4_dst=9000, tcp_flags=pk.TCP_ACK
    )
    results = run(engine, [ack] * 20)
    assert [i for i, r in enumerate(results) if r is not None] == [7]
    assert results[7].app == "Unknown" and results[7].packets == 8


def test_repeated_segments_of_an_undecided_flow_end_within_the_packet_budget():
    """Retransmissions carry no new bytes, so only the packet budget can end such a flow's inspection."""
    engine = DpiEngine(DpiConfig(limits=Limits(max_packets=10, port_guess=False)))
    same = pk.build_frame(
        ip_src="10.0.0.1",
        ip_dst="10.0.0.2",
        ip_proto=6,
        l4_src=40000,
        l4_dst=9000,
        tcp_flags=pk.TCP_ACK,
        payload=b"\x00" * 100,
    )
    results = run(engine, [same] * 30)
    decided = [i for i, r in enumerate(results) if r is not None]
    assert len(decided) == 1 and decided[0] <= 10 and results[decided[0]].app == "Unknown"


def test_allowed_dns_servers_are_checked_and_kept_in_the_records_spelling():
    assert DpiConfig(dns_servers=frozenset({"2001:DB8:0::53", "10.0.0.53"})).dns_servers == {
        "2001:db8::53",
        "10.0.0.53",
    }
    with pytest.raises(DpiConfigError, match="dns_servers: 'notanip' is not an IPv4 or IPv6 address"):
        DpiConfig(dns_servers=frozenset({"10.0.0.53", "notanip"}))
    with pytest.raises(DpiConfigError, match=r"expected a set of IP addresses, got the string '10.0.0.53'"):
        DpiConfig(dns_servers="10.0.0.53")
    assert issubclass(DpiConfigError, SdnlabError)


def test_classify_capture_keeps_the_flows_before_a_cut_and_classify_pcap_raises_it(tmp_path):
    query = struct.pack("!HHHHHH", 1, 0x0100, 1, 0, 0, 0) + b"\x01a\x00" + struct.pack("!HH", 1, 1)
    frames = udp_exchange("10.0.0.1", "10.0.0.53", 40000, 53, [("c", query)])
    frames += udp_exchange("10.0.0.2", "10.0.0.53", 40001, 53, [("c", query)])
    path = tmp_path / "cut.pcap"
    write_pcap(path, [(1.0 + i, f) for i, f in enumerate(frames)])
    path.write_bytes(path.read_bytes()[:-1])
    result = classify_capture(path)
    assert [(r.src, r.app) for r in result.records] == [("10.0.0.1", "DNS")] and result.packets == 1
    assert isinstance(result.truncation, PcapTruncated) and "record 2" in str(result.truncation)
    with pytest.raises(PcapTruncated):
        classify_pcap(path)
