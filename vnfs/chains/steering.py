"""Static OpenFlow steering of a symmetric chain on one switch, as ``ovs-ofctl`` flow strings.

The chain is client -> vnf[0] -> ... -> vnf[n-1] -> server, each VNF a bump in the wire with
an ``inside`` port (towards the client) and an ``outside`` port (towards the server). Every
switch port has exactly one next hop, so steering is one ``in_port`` rule per port and the
return path runs through the same VNFs in reverse order (symmetric).
"""

from __future__ import annotations

from collections.abc import Sequence


def chain_hops(client_port: int, server_port: int, vnf_ports: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
    """(in_port, out_port) pairs for both directions of the chain."""
    hops = []
    previous = client_port
    for inside, outside in vnf_ports:
        hops.append((previous, inside))  # forward: into the VNF
        hops.append((inside, previous))  # return: out of the VNF towards the client
        previous = outside
    hops.append((previous, server_port))
    hops.append((server_port, previous))
    return hops


def chain_flows(client_port: int, server_port: int, vnf_ports: Sequence[tuple[int, int]],
                priority: int = 300, cookie: int = 0x5D1AB5F0) -> list[str]:
    """``ovs-ofctl add-flow`` specifications that steer the chain by input port."""
    return [f"cookie={cookie:#x},priority={priority},in_port={a},actions=output:{b}"
            for a, b in chain_hops(client_port, server_port, vnf_ports)]
