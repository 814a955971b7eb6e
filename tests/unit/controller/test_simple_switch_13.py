"""``simple_switch_13`` installs its flows in table 0, the QoS chapter's variant the same flows in table 1."""

from os_ken.ofproto import ofproto_v1_3, ofproto_v1_3_parser

from ryu.app import qos_simple_switch_13, simple_switch_13


class Datapath:
    """Keeps what an app sends, serialised as it would go to the switch."""

    ofproto = ofproto_v1_3
    ofproto_parser = ofproto_v1_3_parser
    id = 1

    def __init__(self) -> None:
        self.sent = []

    def send_msg(self, msg) -> None:
        msg.serialize()
        self.sent.append(msg)


def learnt_flow(app_class, buffer_id=None):
    dp = Datapath()
    match = ofproto_v1_3_parser.OFPMatch(in_port=1, eth_dst="00:00:00:00:00:02")
    actions = [ofproto_v1_3_parser.OFPActionOutput(2)]
    app_class().add_flow(dp, 1, match, actions, buffer_id, idle_timeout=5)
    [flow] = dp.sent
    return flow


def test_the_switching_hub_learns_into_table_0_and_the_qos_variant_into_table_1():
    plain, qos = (
        learnt_flow(simple_switch_13.SimpleSwitch13),
        learnt_flow(qos_simple_switch_13.SimpleSwitch13),
    )
    assert (plain.table_id, qos.table_id) == (0, 1)
    for flow in (plain, qos):
        assert flow.priority == 1 and flow.idle_timeout == 5 and flow.hard_timeout == 0
        assert flow.buffer_id == ofproto_v1_3.OFP_NO_BUFFER
        assert flow.match["eth_dst"] == "00:00:00:00:00:02"
        assert flow.instructions[0].actions[0].port == 2


def test_a_buffered_packet_s_buffer_id_goes_with_the_flow():
    assert learnt_flow(qos_simple_switch_13.SimpleSwitch13, buffer_id=7).buffer_id == 7
