"""The sample apps print what the Ryu book's chapters show in ryu-manager's output."""

import logging
from types import SimpleNamespace

from os_ken.lib.packet import ethernet, packet
from os_ken.ofproto import ofproto_v1_3, ofproto_v1_3_parser

from ryu.app.simple_monitor_13 import SimpleMonitor13
from ryu.app.simple_switch_13 import SimpleSwitch13


def fake_datapath(sent: list) -> SimpleNamespace:
    return SimpleNamespace(
        id=1, ofproto=ofproto_v1_3, ofproto_parser=ofproto_v1_3_parser, send_msg=sent.append
    )


def test_the_switching_hub_logs_each_packet_in_at_info_as_the_chapter_shows(caplog):
    app = SimpleSwitch13()
    sent: list = []
    frame = packet.Packet()
    frame.add_protocol(ethernet.ethernet(dst="ff:ff:ff:ff:ff:ff", src="00:00:00:00:00:01"))
    frame.serialize()
    msg = SimpleNamespace(
        datapath=fake_datapath(sent),
        match={"in_port": 1},
        data=bytes(frame.data),
        buffer_id=ofproto_v1_3.OFP_NO_BUFFER,
    )
    with caplog.at_level(logging.INFO):
        app._packet_in_handler(SimpleNamespace(msg=msg))
    assert "packet in 1 00:00:00:00:00:01 ff:ff:ff:ff:ff:ff 1" in [r.getMessage() for r in caplog.records]
    assert [type(m).__name__ for m in sent] == ["OFPPacketOut"]  # flooded: the destination is unknown


def test_the_traffic_monitor_prints_column_heads_over_its_tables(caplog):
    monitor = SimpleNamespace(logger=logging.getLogger("monitor"), flow_stats={}, port_stats={})
    counters = dict.fromkeys(ofproto_v1_3_parser.OFPPortStats._fields, 0)
    counters.update(port_no=1, rx_packets=11, tx_packets=20, rx_bytes=846, tx_bytes=1524)
    port = ofproto_v1_3_parser.OFPPortStats(**counters)

    def reply(body):
        return SimpleNamespace(msg=SimpleNamespace(datapath=SimpleNamespace(id=1), body=body))

    with caplog.at_level(logging.INFO):
        SimpleMonitor13._port_stats_reply_handler(monitor, reply([port]))
        SimpleMonitor13._flow_stats_reply_handler(monitor, reply([]))
    lines = [r.getMessage() for r in caplog.records]
    assert lines[0].split() == [
        "datapath",
        "port",
        "rx-pkts",
        "rx-bytes",
        "rx-error",
        "tx-pkts",
        "tx-bytes",
        "tx-error",
    ]
    assert lines[1] == " ".join(["-" * 16] + ["-" * 8] * 7)
    assert lines[2].split() == ["0000000000000001", "1", "11", "846", "0", "20", "1524", "0"]
    assert lines[3].split() == ["datapath", "in-port", "eth-dst", "out-port", "packets", "bytes"]
    assert lines[4] == " ".join(["-" * 16, "-" * 8, "-" * 17, "-" * 8, "-" * 8, "-" * 8])
