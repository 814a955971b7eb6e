"""Steering flows for a service chain: classify, tag, hand to the VNF, continue, deliver."""

from ctl_unit_data import H1, H2, TOPOLOGY

from sdnlab.controller import ofmsg
from sdnlab.controller.config import parse_config
from sdnlab.controller.fabric import Fabric
from sdnlab.controller.network import load_declared
from sdnlab.controller.pipeline import PRIORITY_STEER, check_flow
from sdnlab.controller.sfc import stage_vid

CONFIG = {
    "chains": [
        {"name": "c", "match": {"src": "h1", "dst": "h2", "ip_proto": "tcp", "dst_port": 80}, "vnfs": ["v1"]}
    ]
}


def steering():
    fabric = Fabric(parse_config(CONFIG, host_names={"h1", "h2", "v1"}))
    load_declared(fabric.state, TOPOLOGY)
    fabric.mark_chain_vnfs()
    fabric.switch_up(0.0, 1, {1, 2, 3})
    fabric.switch_up(0.0, 2, {1, 2, 3})
    return fabric.chain_flows()


def steer_flows(out, dpid):
    return [m for m in out[dpid] if ofmsg.is_flow_add(m) and m.priority == PRIORITY_STEER]


def by_match(flows, **fields):
    return [f for f in flows if all(dict(f.match.items()).get(k) == v for k, v in fields.items())]


def test_classifier_at_the_source_port_hands_the_flow_to_the_vnf():
    (flow,) = by_match(steer_flows(steering(), 1), in_port=1, tcp_dst=80, ipv4_dst="10.0.0.2")
    assert ofmsg.output_ports(flow) == [2]  # v1-eth0 is on the same switch: no tag needed


def test_what_the_vnf_emits_is_delivered_normally():
    (flow,) = by_match(steer_flows(steering(), 2), in_port=2, tcp_dst=80)
    assert flow.instructions[-1].table_id == 1


def test_return_traffic_enters_the_vnf_by_its_other_side():
    (flow,) = by_match(steer_flows(steering(), 2), in_port=1, tcp_src=80, ipv4_dst="10.0.0.1")
    assert ofmsg.output_ports(flow) == [2]  # v1-eth1
    (back,) = by_match(steer_flows(steering(), 1), in_port=2, tcp_src=80)
    assert back.instructions[-1].table_id == 1


def test_tagged_transit_pops_the_tag_at_the_vnf():
    (transit,) = by_match(steer_flows(steering(), 1), vlan_vid=ofmsg.VLAN_PRESENT | stage_vid(0, False, 1))
    actions = transit.instructions[0].actions
    assert isinstance(actions[0], ofmsg.parser.OFPActionPopVlan) and actions[1].port == 2


def test_every_steering_flow_fits_table_ingress():
    out = steering()
    for dpid in out:
        for flow in steer_flows(out, dpid):
            check_flow(flow)
    assert H1 and H2
