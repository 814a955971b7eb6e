"""Turn a ``Topology`` into Mininet objects on the Open vSwitch userspace datapath.

``LabTopo`` is a plain Mininet ``Topo`` whose ``build()`` adds the topology's hosts, switches and
links; ``switch_names`` maps topology switch names to OVS bridge names (labs other than the first
get a prefix so that several labs can run side by side). Which link properties Mininet can apply
depends on the kernel: delay and loss need netem, which ``link_params`` leaves out when absent.
"""

from __future__ import annotations

from mininet.link import TCLink
from mininet.node import OVSSwitch
from mininet.topo import Topo
from mininet.util import errRun

from sdnlab.topologies.fastnet import LabLink
from sdnlab.topologies.model import (  # bridge_name: re-exported, the runtime imports it from here
    Link,
    Topology,
    bridge_name,
)


class BuildError(RuntimeError):
    """Open vSwitch refused the bridges and ports of the lab."""


class LabSwitch(OVSSwitch):
    """Mininet's OVSSwitch, always started in one batched ovs-vsctl transaction that must succeed.

    Unbatched, Mininet sends each switch's ovs-vsctl line through the switch's pty, where lines
    longer than 4095 characters are cut: a switch with ~100 ports then silently never appears.
    Batched, Mininet runs the commands through a shell but ignores their failure; we do not.
    """

    def __init__(self, name, **params):
        params.setdefault("batch", True)
        super().__init__(name, **params)

    def startShell(self, *args, **kwargs):
        from sdnlab.topologies.fastnet import tolerant_decoder

        self.decoder = tolerant_decoder()
        return super().startShell(*args, **kwargs)

    @classmethod
    def batchStartup(cls, switches, run=errRun):
        def checked(cmd, **kwargs):
            out, err, code = run(cmd, **kwargs)
            if code != 0 and cmd.strip() != "ovs-vsctl":
                raise BuildError(f"ovs-vsctl failed ({code}): {err.strip()[:400]}")
            return out, err, code

        return super().batchStartup(switches, run=checked)


def link_params(link: Link, netem: bool) -> tuple[dict, list[str]]:
    """TCLink keyword arguments for a link, and the declared properties that cannot be applied."""
    params: dict = {}
    unapplied: list[str] = []
    if link.bw_mbit is not None:
        params["bw"] = link.bw_mbit
    for name, value, unit in (("delay", link.delay_ms, "ms"), ("loss", link.loss_pct, "%")):
        if not value:
            continue
        if netem:
            params[name] = f"{value:g}ms" if name == "delay" else value
        else:
            unapplied.append(f"{name}={value:g}{unit}")
    return params, unapplied


class LabTopo(Topo):
    """Mininet topology built from an sdnlab ``Topology`` (hosts keep their names, switches get bridges)."""

    def __init__(self, topology: Topology, slot: int = 0, netem: bool = False, **opts):
        self.topology = topology
        self.slot = slot
        self.netem = netem
        self.unapplied: dict[str, list[str]] = {}
        super().__init__(**opts)

    def node_name(self, name: str) -> str:
        node = self.topology.nodes[name]
        return bridge_name(name, self.slot) if node.is_switch else name

    def build(self):
        for node in self.topology.switches():
            self.addSwitch(self.node_name(node.name), dpid=f"{node.dpid:016x}", protocols="OpenFlow13")
        for node in self.topology.hosts():
            first = node.interfaces[0]
            ip = f"{first.ip}/{first.prefixlen}" if first.ip else None
            self.addHost(node.name, ip=ip, mac=first.mac, gateway=node.gateway)
        for link in self.topology.links:
            params, unapplied = link_params(link, self.netem)
            if unapplied:
                self.unapplied[link.label] = unapplied
            a, b = self.node_name(link.a), self.node_name(link.b)
            names = {}
            for end, port, intf in ((link.a, link.a_port, link.a_intf), (link.b, link.b_port, link.b_intf)):
                names[end] = (port, self.node_name(end) + intf[len(end) :])
            (port1, intf1), (port2, intf2) = names[link.a], names[link.b]
            if self.topology.nodes[link.a].is_switch and not self.topology.nodes[link.b].is_switch:
                # the host end creates the veth pair in its own shell: links of one switch build in parallel
                a, b, port1, port2, intf1, intf2 = b, a, port2, port1, intf2, intf1
            # only shaped links pay for tc set-up (two tc runs per interface with TCLink)
            link_class = TCLink if params else LabLink
            self.addLink(
                a, b, port1=port1, port2=port2, intfName1=intf1, intfName2=intf2, cls=link_class, **params
            )
