"""Bonded hosts (``bond:``): what the topology says, the names and commands a lab uses, and errors."""

import pytest

from sdnlab.errors import TopologyError
from sdnlab.topologies import load_topology, load_topology_text
from sdnlab.topologies.bond import bond_plans, echo_drop_flows, host_commands, vsctl_args
from sdnlab.topologies.model import Bond

BONDED = """
version: 1
nodes:
  - {name: s1, kind: switch}
  - {name: h1, interfaces: 2, bond: %s}
  - {name: h2}
links:
  - {a: h1, b: s1}
  - {a: h1, b: s1}
  - {a: h2, b: s1}
"""


def test_the_books_set_up_bonds_h1_over_switch_ports_1_and_2():
    topo = load_topology("link_aggregation")
    h1 = topo.nodes["h1"]
    assert h1.bond == Bond(lacp="active", mode="balance-slb")
    assert [lk.port_of("s1") for lk in topo.links_of("h1")] == [1, 2]
    assert [topo.port("s1", h) for h in ("h2", "h3", "h4")] == [3, 4, 5]
    assert topo.to_dict()["nodes"][1]["bond"] == {"lacp": "active", "mode": "balance-slb"}


def test_bond_true_takes_the_defaults_and_other_modes_are_kept():
    assert load_topology_text(BONDED % "true", "t.yaml").nodes["h1"].bond == Bond()
    topo = load_topology_text(BONDED % "{lacp: passive, mode: active-backup}", "t.yaml")
    assert topo.nodes["h1"].bond == Bond(lacp="passive", mode="active-backup")
    assert topo.nodes["h2"].bond is None


def test_names_fit_linux_interfaces_and_differ_between_lab_slots():
    topo = load_topology("link_aggregation")
    (plan,) = bond_plans(topo, 99)
    assert plan.bridge == "bd99x0" and plan.members == ("bd99x0m0", "bd99x0m1") and plan.inner == "bd99x0in"
    assert all(len(name) <= 15 for name in (*plan.interfaces, plan.port))
    assert bond_plans(topo, 3)[0].bridge != plan.bridge


def test_the_host_keeps_one_interface_with_its_address_and_the_bond_speaks_lacp():
    topo = load_topology("link_aggregation")
    h1 = topo.nodes["h1"]
    (plan,) = bond_plans(topo, 2)
    cmds = host_commands(h1, plan)
    assert "ip link set dev h1-eth0 name bd2x0m0" in cmds and "ip link set dev bd2x0m1 netns 1" in cmds
    assert "ip addr add 10.0.0.1/8 dev bond0" in cmds and "address 00:00:0a:00:00:01" in cmds
    args = vsctl_args(h1, plan)
    assert args[args.index("add-bond") + 1 : args.index("add-bond") + 6] == [
        "bd2x0",
        "bd2x0b",
        "bd2x0m0",
        "bd2x0m1",
        "lacp=active",
    ]
    assert "datapath_type=netdev" in args and "other_config:lacp-time=fast" in args
    assert echo_drop_flows(h1, plan).splitlines() == [
        "priority=100,in_port=bd2x0m0,dl_src=00:00:0a:00:00:01,actions=drop",
        "priority=100,in_port=bd2x0m1,dl_src=00:00:0a:00:00:01,actions=drop",
    ]


@pytest.mark.parametrize(
    ("bond", "message"),
    [
        ("{lacp: fast}", "node 'h1'.bond.lacp: must be one of active, passive, off, got 'fast'"),
        (
            "{mode: round-robin}",
            "node 'h1'.bond.mode: must be one of balance-slb, active-backup, balance-tcp",
        ),
        ("{speed: 10}", "node 'h1'.bond.speed: unknown key (allowed: lacp, mode)"),
        ("[a]", "node 'h1'.bond: expected true or a mapping {lacp: active, mode: balance-slb}"),
    ],
)
def test_bad_bonds_are_named_with_their_line(bond, message):
    with pytest.raises(TopologyError) as info:
        load_topology_text(BONDED % bond, "t.yaml")
    assert f"t.yaml:5: {message}" in str(info.value)


def test_a_bond_needs_two_interfaces_on_a_host():
    text = BONDED.replace("interfaces: 2, ", "") % "true"
    with pytest.raises(TopologyError) as info:
        load_topology_text(text, "t.yaml")
    assert "node 'h1'.bond: a bond needs at least two interfaces (interfaces: 2)" in str(info.value)
    text = BONDED.replace("{name: h1,", "{name: h1, kind: server,") % "true"
    with pytest.raises(TopologyError) as info:
        load_topology_text(text, "t.yaml")
    assert "only hosts (kind: host) can bond their interfaces" in str(info.value)
