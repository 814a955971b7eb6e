"""The fake switch's messages are valid OpenFlow 1.3 as os-ken parses them; it knows its handshake ended."""

import asyncio
import struct

from os_ken.ofproto import ofproto_parser, ofproto_v1_3, ofproto_v1_3_parser
from os_ken.ofproto.ofproto_protocol import ProtocolDesc

from sdnlab.controller import fakeswitch as fk


def parse(buf: bytes):
    version, msg_type, length, xid = ofproto_parser.header(buf)
    return ofproto_parser.msg(ProtocolDesc(ofproto_v1_3.OFP_VERSION), version, msg_type, length, xid, buf)


def test_packet_in_carries_in_port_and_frame():
    frame = fk.ethernet_frame(fk.mac_bytes(2), fk.mac_bytes(1))
    msg = parse(fk.packet_in_msg(7, 3, frame))
    assert isinstance(msg, ofproto_v1_3_parser.OFPPacketIn)
    assert msg.match["in_port"] == 3 and bytes(msg.data) == frame


def test_features_and_port_description_replies():
    features = parse(fk.features_reply(1, 0xABC))
    assert features.datapath_id == 0xABC
    ports = parse(fk.port_desc_reply(2, 5, 4))
    assert [port.port_no for port in ports.body] == [1, 2, 3, 4]


async def _read_message(reader) -> tuple[int, int, bytes]:
    header = await reader.readexactly(8)
    _version, msg_type, length, xid = fk.HEADER.unpack(header)
    return msg_type, xid, await reader.readexactly(length - 8)


async def _handshake_then_echo_replies(reply_xids) -> tuple[bool, bool]:
    """A scripted controller: (main set before any echo reply, main set after ``reply_xids``)."""
    seen: dict[str, bool] = {}
    done = asyncio.Event()

    async def controller(reader, writer):
        writer.write(fk.hello())
        writer.write(fk.message(fk.OFPT_FEATURES_REQUEST, b"", 2))
        writer.write(fk.message(fk.OFPT_MULTIPART_REQUEST, struct.pack("!HH4x", fk.OFPMP_PORT_DESC, 0), 3))
        while True:
            msg_type, xid, _ = await _read_message(reader)
            if msg_type == fk.OFPT_ECHO_REQUEST:
                break
        await asyncio.sleep(0.05)  # the switch had time to (wrongly) think it is in the main phase
        seen["before"] = switch.main.is_set()
        for reply_xid in reply_xids(xid):
            writer.write(fk.message(fk.OFPT_ECHO_REPLY, b"", reply_xid))
        await writer.drain()
        await fk.until(switch.main.is_set, 1)
        seen["after"] = switch.main.is_set()
        done.set()

    server = await asyncio.start_server(controller, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    switch = fk.FakeSwitch(0x42)
    await switch.connect("127.0.0.1", port)
    await asyncio.wait_for(done.wait(), 5)
    await switch.close()
    server.close()
    return seen["before"], seen["after"]


def test_main_is_set_by_the_reply_to_the_echo_sent_after_the_port_description():
    assert asyncio.run(_handshake_then_echo_replies(lambda xid: [xid])) == (False, True)


def test_an_echo_reply_to_another_request_does_not_set_main():
    assert asyncio.run(_handshake_then_echo_replies(lambda xid: [xid + 1])) == (False, False)


def test_until_reports_whether_the_condition_came_true_in_time():
    assert asyncio.run(fk.until(lambda: True, 0)) is True
    assert asyncio.run(fk.until(lambda: False, 0.05)) is False
