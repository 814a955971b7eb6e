"""Each protocol is recognised from its payload structure, on a port that gives no hint, with its metadata."""

from __future__ import annotations

import struct

import pytest

from sdnlab.vnfs.dpi import DpiConfig, DpiEngine, Limits
from sdnlab.vnfs.dpi.protocols.ics import dnp3_crc, hdlc_fcs
from sdnlab.vnfs.dpi.synth import tcp_conversation, udp_exchange

ODD_PORT = 40000  # no dissector lists it: only structure can decide


def classify(frames: list[bytes], port_guess: bool = False):
    """The single flow record the frames make."""
    engine = DpiEngine(DpiConfig(max_records=None, limits=Limits(port_guess=port_guess)))
    for i, frame in enumerate(frames):
        engine.process_frame(1000.0 + i, frame)
    engine.flush()
    records = engine.records()
    assert len(records) == 1, records
    return records[0]


def tcp(exchanges, port=ODD_PORT):
    return classify(tcp_conversation("10.0.0.1", "10.0.0.2", 51000, port, exchanges))


def udp(exchanges, port=ODD_PORT):
    return classify(udp_exchange("10.0.0.1", "10.0.0.2", 51000, port, exchanges))


def client_hello(sni: str) -> bytes:
    name = sni.encode()
    sni_ext = struct.pack("!HHHBH", 0, len(name) + 5, len(name) + 3, 0, len(name)) + name
    versions = struct.pack("!HHB", 43, 5, 4) + b"\x03\x04\x03\x03"
    extensions = sni_ext + versions
    body = (
        b"\x03\x03"
        + b"\x11" * 32
        + b"\x00"
        + b"\x00\x02\x13\x01"
        + b"\x01\x00"
        + struct.pack("!H", len(extensions))
        + extensions
    )
    handshake = b"\x01" + len(body).to_bytes(3, "big") + body
    return b"\x16\x03\x01" + struct.pack("!H", len(handshake)) + handshake


def server_hello(version: int) -> bytes:
    extensions = struct.pack("!HHH", 43, 2, version)
    body = (
        b"\x03\x03"
        + b"\x22" * 32
        + b"\x00"
        + b"\x13\x01"
        + b"\x00"
        + struct.pack("!H", len(extensions))
        + extensions
    )
    handshake = b"\x02" + len(body).to_bytes(3, "big") + body
    return b"\x16\x03\x03" + struct.pack("!H", len(handshake)) + handshake


def test_http_on_a_non_standard_port_with_host_and_user_agent():
    record = tcp(
        [
            ("c", b"GET /index.html HTTP/1.1\r\nHost: example.org\r\nUser-Agent: curl/8.0\r\n\r\n"),
            ("s", b"HTTP/1.1 200 OK\r\nServer: nginx\r\nContent-Length: 0\r\n\r\n"),
        ]
    )
    assert record.app == "HTTP" and record.confidence == "dpi"
    assert record.metadata["host"] == "example.org"
    assert record.metadata["user_agent"] == "curl/8.0"
    assert record.metadata["status"] == 200


def test_tls_sni_and_negotiated_version():
    record = tcp([("c", client_hello("meter.example.net")), ("s", server_hello(0x0304))])
    assert record.app == "TLS"
    assert record.metadata["sni"] == "meter.example.net"
    assert record.metadata["version"] == "TLSv1.3"


def test_tls_client_hello_split_over_two_segments_is_reassembled():
    hello = client_hello("split.example.com")
    record = tcp([("c", hello[:40]), ("c", hello[40:])])
    assert (record.app, record.metadata.get("sni")) == ("TLS", "split.example.com")


def test_dns_query_name_and_response_code():
    query = (
        struct.pack("!HHHHHH", 0x1234, 0x0100, 1, 0, 0, 0)
        + b"\x05meter\x03lab\x00"
        + struct.pack("!HH", 1, 1)
    )
    answer = (
        struct.pack("!HHHHHH", 0x1234, 0x8183, 1, 0, 0, 0)
        + b"\x05meter\x03lab\x00"
        + struct.pack("!HH", 1, 1)
    )
    record = udp([("c", query), ("s", answer)])
    assert record.app == "DNS"
    assert record.metadata == {"query": "meter.lab", "qtype": "A", "rcode": 3}


def test_dns_over_tcp_uses_the_length_prefix():
    query = struct.pack("!HHHHHH", 7, 0x0100, 1, 0, 0, 0) + b"\x03abc\x00" + struct.pack("!HH", 28, 1)
    record = tcp([("c", struct.pack("!H", len(query)) + query)])
    assert (record.app, record.metadata["query"], record.metadata["qtype"]) == ("DNS", "abc", "AAAA")


DNS_QUERY = (
    struct.pack("!HHHHHH", 0x1234, 0x0100, 1, 0, 0, 0) + b"\x07example\x03com\x00" + struct.pack("!HH", 1, 1)
)
DNS_ANSWER = (
    struct.pack("!HHHHHH", 0x1234, 0x8180, 1, 1, 0, 0)
    + b"\x07example\x03com\x00"
    + struct.pack("!HH", 1, 1)
    + b"\xc0\x0c"
    + struct.pack("!HHIH", 1, 1, 60, 4)
    + bytes([93, 184, 216, 34])
)


@pytest.mark.parametrize(
    "client, cport, server, sport, exchanges, app",
    [
        # the querier's port says nothing: a unicast query to 53 is DNS (nDPI 4.2 agrees for 5353)
        ("10.0.0.1", 5353, "10.0.0.53", 53, [("c", DNS_QUERY), ("s", DNS_ANSWER)], "DNS"),
        ("10.0.0.1", 5355, "10.0.0.53", 53, [("c", DNS_QUERY), ("s", DNS_ANSWER)], "DNS"),
        ("2001:db8::1", 5353, "2001:db8::53", 53, [("c", DNS_QUERY)], "DNS"),
        # only the reply was captured: it comes from 53, so it is DNS too
        ("10.0.0.1", 5353, "10.0.0.53", 53, [("s", DNS_ANSWER)], "DNS"),
        # mDNS: to the multicast group on 5353, from 5353 or from a one-shot querier's port
        ("10.0.0.1", 5353, "224.0.0.251", 5353, [("c", DNS_QUERY)], "MDNS"),
        ("10.0.0.1", 40001, "224.0.0.251", 5353, [("c", DNS_QUERY)], "MDNS"),
        ("fe80::1", 5353, "ff02::fb", 5353, [("c", DNS_QUERY)], "MDNS"),
        (
            "10.0.0.1",
            40002,
            "10.0.0.7",
            5353,
            [("c", DNS_QUERY), ("s", DNS_ANSWER)],
            "MDNS",
        ),  # direct unicast to 5353
        ("10.0.0.1", 40003, "224.0.0.252", 5355, [("c", DNS_QUERY)], "LLMNR"),
    ],
)
def test_dns_mdns_and_llmnr_are_told_apart_by_the_responders_port(
    client, cport, server, sport, exchanges, app
):
    record = classify(udp_exchange(client, server, cport, sport, exchanges))
    assert (record.app, record.metadata["query"]) == (app, "example.com")
    assert (record.src, record.sport, record.dst, record.dport) == (client, cport, server, sport)


def test_dns_query_from_port_5353_to_a_resolver_off_the_list_is_flagged():
    engine = DpiEngine(DpiConfig(dns_servers=frozenset({"10.0.0.53"})))
    for i, frame in enumerate(udp_exchange("10.0.0.1", "203.0.113.9", 5353, 53, [("c", DNS_QUERY)])):
        engine.process_frame(float(i), frame)
    engine.flush()
    assert [(e.kind, e.host, e.peer) for e in engine.risks()] == [
        ("unusual_dns_server", "10.0.0.1", "203.0.113.9")
    ]


def test_quic_v1_initial_is_quic():
    initial = bytes([0xC3]) + b"\x00\x00\x00\x01" + b"\x08" + b"\xaa" * 8 + b"\x00" + b"\x00" * 1200
    assert udp([("c", initial)]).app == "QUIC"


def test_google_quic_chlo_gives_version_and_sni():
    tags = [(b"SNI\0", b"www.youtube.com"), (b"VER\0", b"Q035")]
    table, values, end = b"", b"", 0
    for tag, value in tags:
        end += len(value)
        table += tag + struct.pack("<I", end)
        values += value
    chlo = b"CHLO" + struct.pack("<HH", len(tags), 0) + table + values
    packet = bytes([0x0D]) + b"\x01" * 8 + b"Q035" + b"\x01" + b"\x00" * 12 + chlo
    record = udp([("c", packet)])
    assert (record.app, record.metadata["version"], record.metadata["sni"]) == (
        "QUIC",
        "Q035",
        "www.youtube.com",
    )


def test_mqtt_connect_gives_client_id():
    client_id = b"meter-0042"
    variable = b"\x00\x04MQTT\x04\x02\x00\x3c" + struct.pack("!H", len(client_id)) + client_id
    record = tcp([("c", bytes([0x10, len(variable)]) + variable), ("s", b"\x20\x02\x00\x00")])
    assert record.app == "MQTT"
    assert record.metadata["client_id"] == "meter-0042" and record.metadata["version"] == "3.1.1"


def test_mqtt_mid_stream_publish_is_recognised_from_its_topic():
    topic = b"site/meter/42/kwh"
    body = struct.pack("!H", len(topic)) + topic + b"12.5"
    record = tcp([("c", bytes([0x30, len(body)]) + body)])
    assert (record.app, record.metadata["topic"]) == ("MQTT", "site/meter/42/kwh")


def test_coap_get_with_uri_path():
    message = bytes([0x42, 0x01, 0x12, 0x34, 0xAB, 0xCD, 0xB4]) + b"temp" + bytes([0x03]) + b"now"
    record = udp([("c", message)])
    assert (record.app, record.metadata["code"], record.metadata["uri_path"]) == ("COAP", "GET", "/temp/now")


def test_rtsp_and_sip_are_told_apart_from_http_by_their_version_token():
    rtsp = tcp([("c", b"OPTIONS rtsp://cam/stream RTSP/1.0\r\nCSeq: 1\r\n\r\n")])
    sip = udp([("c", b"INVITE sip:bob@lab SIP/2.0\r\nFrom: <sip:alice@lab>\r\nTo: <sip:bob@lab>\r\n\r\n")])
    assert (rtsp.app, rtsp.metadata["method"]) == ("RTSP", "OPTIONS")
    assert (sip.app, sip.metadata["to"]) == ("SIP", "<sip:bob@lab>")


def test_ssdp_is_http_over_udp():
    record = udp([("c", b"M-SEARCH * HTTP/1.1\r\nHOST: 239.255.255.250:1900\r\nST: ssdp:all\r\n\r\n")])
    assert (record.app, record.metadata["st"]) == ("SSDP", "ssdp:all")


def test_rtp_needs_two_consistent_packets():
    def rtp(seq: int, stamp: int) -> bytes:
        return struct.pack("!BBHII", 0x80, 0, seq, stamp, 0xDEADBEEF) + b"\xd5" * 160

    assert udp([("c", rtp(10, 1600)), ("c", rtp(11, 1760))]).app == "RTP"
    assert udp([("c", rtp(10, 1600))]).app == "Unknown"


def test_telnet_negotiation_and_typed_username():
    record = tcp(
        [
            ("s", b"\xff\xfd\x18\xff\xfd\x20"),
            ("c", b"\xff\xfc\x18\xff\xfc\x20"),
            ("s", b"\r\nlab login: "),
            ("c", b"r"),
            ("c", b"o"),
            ("c", b"o"),
            ("c", b"t"),
            ("c", b"\r\n"),
        ]
    )
    assert record.app == "Telnet"
    assert record.metadata["username"] == "root"
    assert "cleartext_telnet" in record.risks


def test_ssh_banners_of_both_sides():
    record = tcp([("s", b"SSH-2.0-OpenSSH_9.2\r\n"), ("c", b"SSH-2.0-PuTTY_0.78\r\n")])
    assert record.app == "SSH"
    assert record.metadata == {"server": "SSH-2.0-OpenSSH_9.2", "client": "SSH-2.0-PuTTY_0.78"}


def test_ftp_control_from_greeting_and_commands_not_smtp():
    ftp = tcp([("s", b"220 Welcome\r\n"), ("c", b"USER anonymous\r\n"), ("s", b"331 Password\r\n")])
    smtp = tcp([("s", b"220 mail.lab ESMTP Postfix\r\n"), ("c", b"EHLO client\r\n")])
    assert (ftp.app, ftp.metadata["username"]) == ("FTP_CONTROL", "anonymous")
    assert smtp.app != "FTP_CONTROL"


def test_ntp_client_request():
    request = bytes([0x23]) + b"\x00\x06\xec" + b"\x00" * 44
    assert udp([("c", request)]).metadata == {"version": 4, "mode": "client"}


def test_snmp_v2c_get_request():
    pdu = bytes.fromhex("a019020104020100020100300e300c06082b060102010101000500")
    community = b"\x04\x06public"
    body = b"\x02\x01\x01" + community + pdu
    message = b"\x30" + bytes([len(body)]) + body
    record = udp([("c", message)])
    assert (record.app, record.metadata["version"], record.metadata["pdu"]) == ("SNMP", "2c", "get-request")


def test_syslog_priority_gives_facility_and_severity():
    record = udp([("c", b"<34>Oct 11 22:14:15 meter7 su: 'su root' failed on /dev/pts/8")])
    assert record.app == "Syslog"
    assert record.metadata == {"facility": 4, "severity": "crit"}


def test_amqp_protocol_header():
    assert tcp([("c", b"AMQP\x00\x00\x09\x01")]).metadata == {"version": "0.9.1"}


def test_modbus_read_holding_registers():
    request = struct.pack("!HHHBBHH", 1, 0, 6, 17, 3, 0, 10)
    record = tcp([("c", request)])
    assert (record.app, record.metadata) == ("Modbus", {"unit_id": 17, "function": 3})


def test_dnp3_link_header_with_valid_crc_only():
    header = bytes([0x05, 0x64, 0x05, 0xC9]) + struct.pack("<HH", 10, 1)
    good = header + struct.pack("<H", dnp3_crc(header))
    bad = header + struct.pack("<H", dnp3_crc(header) ^ 1)
    assert tcp([("c", good)]).app == "DNP3"
    assert tcp([("c", bad)]).app == "Unknown"


def test_iec104_startdt_and_i_frames():
    startdt = bytes([0x68, 0x04, 0x07, 0x00, 0x00, 0x00])
    i_frame = bytes(
        [0x68, 0x0E, 0x00, 0x00, 0x00, 0x00, 0x64, 0x01, 0x06, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x14]
    )
    assert tcp([("c", startdt)]).metadata == {"format": "U", "function": "STARTDT act"}
    assert tcp([("c", i_frame)]).metadata == {"format": "I", "asdu_type": 100}


def test_dlms_hdlc_frame_with_valid_fcs_and_wrapper():
    inner = bytes([0xA0, 0x07, 0x03, 0x21, 0x93])
    frame = b"\x7e" + inner + struct.pack("<H", hdlc_fcs(inner)) + b"\x7e"
    wrapper = struct.pack("!HHHH", 1, 16, 1, 3) + b"\x60\x01\x00"
    assert tcp([("c", frame)]).metadata == {"framing": "hdlc"}
    assert udp([("c", wrapper)]).metadata["apdu"] == "AARQ"


@pytest.mark.parametrize("payload", [b"\x00" * 64, bytes(range(256)), b"hello there, nothing to see\r\n"])
def test_unstructured_payload_is_unknown(payload):
    assert tcp([("c", payload), ("s", payload)]).app == "Unknown"
    assert udp([("c", payload), ("s", payload)]).app == "Unknown"
