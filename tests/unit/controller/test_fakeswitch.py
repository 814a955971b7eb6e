"""The fake switch's messages are valid OpenFlow 1.3 as os-ken parses them."""

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
