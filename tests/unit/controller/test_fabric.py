"""The built-in routing logic, event by event, without a switch."""

import pytest
from ctl_unit_data import BROADCAST, H1, H2, TOPOLOGY
from oftable import FakeNetwork

from sdnlab.controller import discovery, ofmsg
from sdnlab.controller.config import ControllerConfig
from sdnlab.controller.fabric import Fabric, Quarantined
from sdnlab.controller.l2 import PacketIn
from sdnlab.controller.network import load_declared
from sdnlab.controller.ofctl_values import BadRequest
from sdnlab.controller.pipeline import PRIORITY_QUARANTINE, check_flow


def declared_fabric(config: ControllerConfig | None = None) -> Fabric:
    fabric = Fabric(config or ControllerConfig())
    load_declared(fabric.state, TOPOLOGY)
    fabric.switch_up(0.0, 1, {1, 2, 3})
    fabric.switch_up(0.0, 2, {1, 2, 3})
    return fabric


def flows(per_dpid, dpid):
    return [m for m in per_dpid.get(dpid, []) if ofmsg.is_flow_add(m)]


def arp_request(src_mac, src_ip, target_ip) -> bytes:
    from os_ken.lib.packet import arp, ethernet, packet

    pkt = packet.Packet()
    pkt.add_protocol(ethernet.ethernet(dst=BROADCAST, src=src_mac, ethertype=0x0806))
    pkt.add_protocol(
        arp.arp(opcode=1, src_mac=src_mac, src_ip=src_ip, dst_mac="00:00:00:00:00:00", dst_ip=target_ip)
    )
    pkt.serialize()
    return bytes(pkt.data)


def test_a_connecting_switch_gets_routes_to_every_declared_host():
    fabric = Fabric(ControllerConfig())
    load_declared(fabric.state, TOPOLOGY)
    net = FakeNetwork()
    net.apply(fabric.switch_up(0.0, 2, {1, 2, 3}))
    net.apply(fabric.switch_up(0.0, 1, {1, 2, 3}))
    h1_to_h2 = {
        "eth_src": H1,
        "eth_dst": H2,
        "eth_type": 0x0800,
        "ipv4_src": "10.0.0.1",
        "ipv4_dst": "10.0.0.2",
    }
    assert net.forward(1, 1, **h1_to_h2) == {3}  # s1 sends it over the link to s2
    assert net.forward(2, 3, **h1_to_h2) == {1}  # s2 delivers it to h2
    assert net.forward(2, 1, eth_src=H2, eth_dst=H1, eth_type=0x0800) == {3}
    assert net.forward(1, 1, eth_src=H1, eth_dst=BROADCAST, eth_type=0x0806) == {"CONTROLLER"}  # ARP
    for dpid in (1, 2):
        for msg in net.tables[dpid].flows.values():
            check_flow(msg)


def test_arp_for_a_known_host_is_answered_by_the_controller():
    fabric = declared_fabric()
    out = fabric.packet_in(
        10.0, PacketIn(1, 1, H1, BROADCAST, arp_request(H1, "10.0.0.1", "10.0.0.2"), eth_type=0x0806)
    )
    (reply,) = out[1]
    answer = discovery.parse_arp(reply.data)
    assert answer.opcode == 2 and answer.src_mac == H2 and answer.dst_ip == "10.0.0.1"
    assert ofmsg.output_ports(reply) == [1]


def test_unknown_broadcasts_go_out_of_host_ports_only_never_links_or_vnfs():
    fabric = declared_fabric()
    out = fabric.packet_in(
        10.0, PacketIn(1, 1, H1, BROADCAST, arp_request(H1, "10.0.0.1", "10.0.0.99"), eth_type=0x0806)
    )
    assert {dpid: [p for m in msgs for p in ofmsg.output_ports(m)] for dpid, msgs in out.items()} == {2: [1]}


def test_a_new_host_is_learned_and_routed_everywhere():
    fabric = declared_fabric()
    new = "00:00:00:00:00:77"
    out = fabric.packet_in(10.0, PacketIn(2, 1, new, H1, b"\0" * 60, eth_type=0x0800))
    assert fabric.state.hosts[new].dpid == 2
    assert any(dict(f.match.items()).get("eth_dst") == new for f in flows(out, 1))


def test_lldp_probe_discovers_a_link_and_unlearns_hosts_seen_on_it():
    fabric = Fabric(ControllerConfig())
    fabric.switch_up(0.0, 1, {1, 2})
    fabric.switch_up(0.0, 2, {1, 2})
    fabric.state.learn_host(H1, 2, 2)  # mislearned before the link was known
    fabric.packet_in(
        5.0,
        PacketIn(
            2, 2, discovery.PROBE_SRC_MAC, discovery.LLDP_DST, discovery.lldp_probe(1, 2), eth_type=0x88CC
        ),
    )
    assert fabric.state.links[(1, 2)] == (2, 2) and H1 not in fabric.state.hosts


def test_no_flooding_before_discovery_had_a_chance():
    fabric = Fabric(ControllerConfig())
    fabric.switch_up(100.0, 1, {1, 2})
    assert fabric.packet_in(100.5, PacketIn(1, 1, H1, BROADCAST, b"\0" * 60)) == {}
    assert fabric.packet_in(102.0, PacketIn(1, 1, H1, BROADCAST, b"\0" * 60)) != {}


def test_quarantine_drops_a_host_everywhere_and_release_lifts_it():
    fabric = Fabric(ControllerConfig())
    load_declared(fabric.state, TOPOLOGY)
    net = FakeNetwork()
    net.apply(fabric.switch_up(0.0, 1, {1, 2, 3}))
    net.apply(fabric.switch_up(0.0, 2, {1, 2, 3}))
    h2_to_h1 = {
        "eth_src": H2,
        "eth_dst": H1,
        "eth_type": 0x0800,
        "ipv4_src": "10.0.0.2",
        "ipv4_dst": "10.0.0.1",
    }
    assert net.forward(2, 1, **h2_to_h1) == {3}
    entry, out = fabric.quarantine("10.0.0.2", "dpi")
    net.apply(out)
    assert entry.mac == H2 and all(flow.priority == PRIORITY_QUARANTINE for flow in flows(out, 1))
    assert net.forward(2, 1, **h2_to_h1) == set() and net.forward(1, 3, **h2_to_h1) == set()
    assert fabric.packet_in(10.0, PacketIn(2, 1, H2, BROADCAST, b"\0" * 60)) == {}
    released, out = fabric.release(H2)
    net.apply(out)
    assert released == entry and net.forward(2, 1, **h2_to_h1) == {3}


@pytest.mark.parametrize("key", ["abc", "zz:zz", "\u0000", "1" * 400, "10.0.0.256", "h9"])
def test_a_key_that_names_no_host_mac_or_ip_is_refused_and_changes_nothing(key):
    fabric = declared_fabric()
    with pytest.raises(BadRequest):
        fabric.quarantine(key, "bad")
    assert fabric.quarantined == {} and fabric.release(key) == (None, {})
    net = FakeNetwork()
    net.apply(fabric.switch_up(0.0, 1, {1, 2, 3}))
    assert net.forward(1, 1, eth_src=H1, eth_dst=H2, eth_type=0x0800) == {3}


def test_a_bad_entry_in_the_quarantine_list_does_not_stop_a_switch_from_being_programmed(caplog):
    fabric = declared_fabric()
    fabric.quarantined["abc"] = Quarantined(None, "abc", "left by an older version")
    net = FakeNetwork()
    net.apply(fabric.switch_up(0.0, 1, {1, 2, 3}))
    assert net.forward(1, 1, eth_src=H1, eth_dst=H2, eth_type=0x0800) == {3}
    assert "quarantine Quarantined(mac=None, ip='abc'" in caplog.text


def test_port_down_on_a_link_removes_it_from_the_graph_and_on_a_host_port_changes_no_route():
    fabric = declared_fabric()
    assert fabric.port_changed(1, 1, up=False) == {}
    fabric.port_changed(1, 3, up=False)
    assert not fabric.state.graph().has_edge(1, 2)


def test_arp_always_reaches_the_controller_so_every_host_is_learned():
    fabric = Fabric(ControllerConfig())
    out = fabric.switch_up(0.0, 1, {1, 2})
    arp = [f for f in flows(out, 1) if dict(f.match.items()) == {"eth_type": 0x0806}]
    assert arp and ofmsg.output_ports(arp[0]) == [ofmsg.OFPP_CONTROLLER]
    fabric.switch_up(0.0, 2, {1, 2})
    fabric.state.learn_host(H1, 1, 1, "10.0.0.1")
    reply = discovery.arp_reply(H1, "10.0.0.1", H2, "10.0.0.2")  # h2 answers h1: h2 gets learned
    out = fabric.packet_in(10.0, PacketIn(2, 1, H2, H1, reply, eth_type=0x0806))
    assert fabric.state.hosts[H2].ip == "10.0.0.2"
    assert [p for m in out[1] if isinstance(m, ofmsg.parser.OFPPacketOut) for p in ofmsg.output_ports(m)] == [
        1
    ]


def test_only_changed_routes_are_rewritten():
    fabric = declared_fabric()
    assert fabric.all_routes() == {}  # nothing changed since both switches connected
    out = fabric.port_changed(1, 3, up=False)  # the only link: s1 and s2 lose each other
    assert out == {} or all(not flows(out, d) for d in out)
    fabric.port_changed(1, 3, up=True)
    out = fabric.all_routes()
    assert out == {}


def test_a_mislearned_host_loses_its_flows_when_the_link_is_discovered():
    fabric = Fabric(ControllerConfig())
    fabric.switch_up(0.0, 1, {1, 2})
    fabric.switch_up(0.0, 2, {1, 2})
    fabric.packet_in(5.0, PacketIn(2, 2, H1, BROADCAST, b"\0" * 60))  # H1's flood arrived over the link
    out = fabric.packet_in(
        5.0,
        PacketIn(
            2, 2, discovery.PROBE_SRC_MAC, discovery.LLDP_DST, discovery.lldp_probe(1, 2), eth_type=0x88CC
        ),
    )
    deletes = [m for m in out[1] if m.command == ofmsg.ofp.OFPFC_DELETE]
    assert any(dict(m.match.items()) == {"eth_dst": H1} for m in deletes)


def test_arp_for_a_load_balancer_vip_is_answered_with_the_owner_mac():
    fabric = declared_fabric(ControllerConfig(vips=(("10.0.0.100", "h2"),)))
    out = fabric.packet_in(
        10.0, PacketIn(1, 1, H1, BROADCAST, arp_request(H1, "10.0.0.1", "10.0.0.100"), eth_type=0x0806)
    )
    (reply,) = out[1]
    answer = discovery.parse_arp(reply.data)
    assert answer.opcode == 2 and answer.src_mac == H2 and answer.src_ip == "10.0.0.100"
    assert answer.dst_ip == "10.0.0.1" and ofmsg.output_ports(reply) == [1]
    # the VIP's MAC is h2's, which s1 routes towards h2 (port 3 to s2)
    assert fabric.installed[(1, H2)].out_port == 3


def test_a_vip_owner_replying_from_the_vip_keeps_its_own_ip():
    fabric = declared_fabric(ControllerConfig(vips=(("10.0.0.100", "h2"),)))
    reply = discovery.arp_reply(H1, "10.0.0.1", H2, "10.0.0.100")  # h2 announces the VIP
    fabric.packet_in(10.0, PacketIn(2, 1, H2, H1, reply, eth_type=0x0806))
    assert fabric.state.host_by("10.0.0.2").mac == H2 and fabric.state.host_by("10.0.0.100") is None


def test_a_host_whose_routes_cannot_be_built_does_not_stop_the_others(caplog, monkeypatch):
    fabric = declared_fabric()
    real = fabric.host_routes

    def failing_for_h2(host, graph=None, cache=None):
        if host.mac == H2:
            raise ValueError("broken host record")
        return real(host, graph, cache)

    monkeypatch.setattr(fabric, "host_routes", failing_for_h2)
    net = FakeNetwork()
    net.apply(fabric.switch_up(0.0, 2, {1, 2, 3}))
    assert 1 not in net.forward(2, 3, eth_src=H1, eth_dst=H2, eth_type=0x0800)  # no route to h2 ...
    assert net.forward(2, 1, eth_src=H2, eth_dst=H1, eth_type=0x0800) == {3}  # ... but h1 is routed
    assert "routes to host 00:00:00:00:00:02 skipped: ValueError" in caplog.text
