"""Bonded hosts without a bonding driver: a small OVS bond that speaks LACP for the host.

The Ryu book's link-aggregation chapter bonds two interfaces of h1 with Linux bonding
(802.3ad). This kernel has no bonding driver, so a host declared with ``bond:`` gets the same
thing from Open vSwitch: its two links leave the host's namespace and become the members of an
OVS bond (userspace datapath, ``lacp=active``) on a bridge of their own, and the host keeps one
interface, ``bond0``, a veth whose peer is that bridge's other port. Seen from the switch, the
host's two links speak LACP exactly as a Linux 802.3ad bond would; seen from the host, there is
one interface with its address and MAC.

This module only names things and writes the commands (pure functions); the supervisor runs
them once Mininet has built the hosts, and the lab's teardown removes the bridge and the veths
like the lab's own (their names are in the lab's spec).
"""

from __future__ import annotations

from dataclasses import dataclass

from sdnlab.topologies.model import Node, Topology

HOST_INTERFACE = "bond0"


@dataclass(frozen=True)
class BondPlan:
    """The names one bonded host uses in the root namespace of the lab in ``slot``."""

    host: str
    bridge: str  # the OVS bridge holding the bond (``bd<slot>x<n>``)
    port: str  # the OVS bond port (``<bridge>b``)
    members: tuple[str, ...]  # the host's former interfaces, renamed (``<bridge>m0``, ...)
    inner: str  # the peer of the host's bond0 (``<bridge>in``)

    @property
    def interfaces(self) -> tuple[str, ...]:
        """Root-namespace interfaces to delete at teardown."""
        return (*self.members, self.inner)


def bond_plans(topology: Topology, slot: int) -> list[BondPlan]:
    """One plan per bonded host, in declaration order; names fit Linux's 15 characters."""
    plans = []
    for index, node in enumerate(n for n in topology.hosts() if n.bond is not None):
        bridge = f"bd{slot}x{index}"
        members = tuple(f"{bridge}m{i}" for i in range(len(node.interfaces)))
        plans.append(BondPlan(node.name, bridge, f"{bridge}b", members, f"{bridge}in"))
    return plans


def host_commands(node: Node, plan: BondPlan) -> str:
    """Shell commands run in the host's namespace: hand the links to the root namespace, make bond0."""
    first = node.interfaces[0]
    cmds = []
    for intf, member in zip(node.interfaces, plan.members, strict=True):
        cmds += [
            f"ip addr flush dev {intf.name}",
            f"ip link set dev {intf.name} down",
            f"ip link set dev {intf.name} name {member}",
            f"ip link set dev {member} netns 1",
        ]
    cmds += [
        f"ip link add {HOST_INTERFACE} type veth peer name {plan.inner} netns 1",
        f"ip link set dev {HOST_INTERFACE} address {first.mac}",
    ]
    if first.ip:
        cmds.append(f"ip addr add {first.ip}/{first.prefixlen} dev {HOST_INTERFACE}")
    cmds.append(f"ip link set dev {HOST_INTERFACE} up")
    if node.gateway:
        cmds.append(f"ip route replace default via {node.gateway}")
    cmds.append(f"ethtool -K {HOST_INTERFACE} tx off rx off >/dev/null 2>&1")
    return " && ".join(cmds[:-1]) + " ; " + cmds[-1]


def root_link_batch(plan: BondPlan) -> str:
    """``ip -batch`` input bringing the bond's root-namespace interfaces up."""
    return "".join(f"link set dev {name} up\n" for name in plan.interfaces)


def vsctl_args(node: Node, plan: BondPlan) -> list[str]:
    """One ``ovs-vsctl`` transaction: the bridge, the bond (LACP, mode) and the host's port."""
    assert node.bond is not None
    return [
        "ovs-vsctl",
        "--timeout=30",
        "add-br",
        plan.bridge,
        "--",
        "set",
        "bridge",
        plan.bridge,
        "datapath_type=netdev",
        "fail_mode=standalone",
        "--",
        "add-bond",
        plan.bridge,
        plan.port,
        *plan.members,
        f"lacp={node.bond.lacp}",
        f"bond_mode={node.bond.mode}",
        "--",
        "set",
        "port",
        plan.port,
        # LACPDUs every second (Linux lacp_rate=1, as in the book); with no LACP partner the bond
        # still carries traffic on one member, as Linux 802.3ad does,
        "other_config:lacp-time=fast",
        "other_config:lacp-fallback-ab=true",
        # without a partner the first link carries the traffic: the one the topology (and a
        # controller that reads it) sees as the host's
        f"other_config:bond-primary={plan.members[0]}",
        "--",
        "add-port",
        plan.bridge,
        plan.inner,
    ]


def echo_drop_flows(node: Node, plan: BondPlan) -> str:
    """``ovs-ofctl add-flows`` input: drop the host's own frames coming back in through the bond.

    A switch that floods out every port but the one a broadcast came in on sends the host's
    broadcasts back in through the other member (a Linux bond would just see a duplicate). The
    bond's learning bridge would then learn the host's own MAC on the bond and stop delivering
    to it; dropping those echoes keeps the host where it is.
    """
    mac = node.interfaces[0].mac
    return "".join(f"priority=100,in_port={m},dl_src={mac},actions=drop\n" for m in plan.members)
