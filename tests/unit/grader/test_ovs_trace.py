"""Replaying OVS datapath actions (as printed by ofproto/trace) onto header fields."""

import pytest

from sdnlab.grader.fields import OFPP_LOCAL
from sdnlab.grader.ovs_trace import UnsupportedTrace, datapath_actions, odp_port_map, replay_actions

DPIF_SHOW = """netdev@ovs-netdev: hit:0 missed:1
  grtmp0:
    grp1 1/3: (tap)
    grp2 2/4: (tap)
    grtmp0 65534/2: (tap)
  other:
    o1 1/9: (tap)
"""

BASE = {
    "dl_src": "00:00:00:00:00:01",
    "dl_dst": "00:00:00:00:00:02",
    "nw_src": "10.0.0.1",
    "nw_dst": "10.0.0.2",
    "nw_tos": 0,
    "nw_ecn": 0,
    "nw_ttl": 64,
    "tp_src": 1,
    "tp_dst": 80,
}


def test_port_map_is_per_bridge_and_maps_local():
    assert odp_port_map("grtmp0", DPIF_SHOW) == {3: 1, 4: 2, 2: OFPP_LOCAL}


def test_sets_apply_to_later_outputs_only():
    ports = {3: 1, 4: 2}
    result = replay_actions(
        "set(ipv4(src=1.2.3.4)),4,set(eth(dst=00:00:00:00:00:09)),set(ipv4(tos=0x20,ttl=63)),3",
        dict(BASE),
        ports,
    )
    first, second = result["outputs"]
    assert (
        first["port"] == 2
        and first["fields"]["nw_src"] == "1.2.3.4"
        and first["fields"]["dl_dst"] == "00:00:00:00:00:02"
    )
    assert (
        second["fields"]["dl_dst"] == "00:00:00:00:00:09"
        and second["fields"]["nw_tos"] == 0x20
        and second["fields"]["nw_ttl"] == 63
    )


def test_vlan_clone_and_controller():
    ports = {3: 1, 4: 2}
    result = replay_actions(
        "push_vlan(vid=5,pcp=0),3,clone(pop_vlan,set(tcp(dst=99)),4),userspace(pid=0,controller(reason=1,max_len=128))",
        dict(BASE),
        ports,
    )
    assert result["controller"]
    assert result["outputs"][0]["fields"]["dl_vlan"] == 5
    assert "dl_vlan" not in result["outputs"][1]["fields"] and result["outputs"][1]["fields"]["tp_dst"] == 99


def test_masked_set_and_unsupported_actions():
    fields = dict(BASE)
    replay_actions("set(ipv4(dst=10.9.0.0/255.255.0.0))", fields, {})
    assert fields["nw_dst"] == "10.9.0.2"
    with pytest.raises(UnsupportedTrace):
        replay_actions("hash(sym_l4(0)),recirc(0x3)", dict(BASE), {})
    assert datapath_actions("Final flow: unchanged\nDatapath actions: drop\n") == "drop"
