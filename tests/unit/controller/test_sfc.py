"""Steering flows for a service chain: classify, tag, hand to the VNF, continue, deliver."""

from ctl_unit_data import H1, H2, TOPOLOGY
from oftable import FakeNetwork

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


def chained_network() -> FakeNetwork:
    """Both switches programmed by the fabric (routes and the chain), as a fake table."""
    fabric = Fabric(parse_config(CONFIG, host_names={"h1", "h2", "v1"}))
    load_declared(fabric.state, TOPOLOGY)
    fabric.mark_chain_vnfs()
    net = FakeNetwork()
    net.apply(fabric.switch_up(0.0, 1, {1, 2, 3}))
    net.apply(fabric.switch_up(0.0, 2, {1, 2, 3}))
    net.apply(fabric.chain_flows())
    return net


WEB = {"eth_type": 0x0800, "ip_proto": 6, "ipv4_src": "10.0.0.1", "ipv4_dst": "10.0.0.2"}
REPLY = {"eth_type": 0x0800, "ip_proto": 6, "ipv4_src": "10.0.0.2", "ipv4_dst": "10.0.0.1", "tp_src": 80}


def test_h1_to_h2_on_tcp_80_goes_to_the_vnf_and_other_traffic_does_not():
    net = chained_network()
    assert net.forward(1, 1, eth_src=H1, eth_dst=H2, tp_dst=80, **WEB) == {2}  # v1-eth0, same switch
    assert net.forward(1, 1, eth_src=H1, eth_dst=H2, tp_dst=22, **WEB) == {3}  # straight over the link


def test_what_the_vnf_emits_is_delivered_to_h2():
    net = chained_network()
    assert net.forward(2, 2, eth_src=H1, eth_dst=H2, tp_dst=80, **WEB) == {1}  # from v1-eth1 to h2


def test_return_traffic_enters_the_vnf_by_its_other_side_and_reaches_h1():
    net = chained_network()
    assert net.forward(2, 1, eth_src=H2, eth_dst=H1, **REPLY) == {2}  # h2's reply into v1-eth1
    assert net.forward(1, 2, eth_src=H2, eth_dst=H1, **REPLY) == {1}  # out of v1-eth0 to h1


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
