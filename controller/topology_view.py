"""Ryu ``rest_topology`` JSON built from the built-in app's own view of the network.

Pure functions: they take the switches' port descriptions (``PortDesc`` per dpid, from the
OpenFlow port description os-ken fetched) and the ``DiscoveredNetwork``, and return the lists Ryu's
``GET /v1.0/topology/switches|links|hosts[/<dpid>]`` answer with (dpids as 16 hex digits,
port numbers as 8 hex digits, links once per direction).
"""

from __future__ import annotations

from dataclasses import dataclass

from sdnlab.controller.network import DiscoveredNetwork


@dataclass(frozen=True)
class PortDesc:
    """One switch port as Ryu reports it."""

    dpid: int
    port_no: int
    hw_addr: str = "00:00:00:00:00:00"
    name: str = ""


def dpid_text(dpid: int) -> str:
    return f"{dpid:016x}"


def port_dict(port: PortDesc) -> dict:
    return {
        "dpid": dpid_text(port.dpid),
        "port_no": f"{port.port_no:08x}",
        "hw_addr": port.hw_addr,
        "name": port.name,
    }


def _port(ports: dict[int, dict[int, PortDesc]], dpid: int, port_no: int) -> PortDesc:
    return ports.get(dpid, {}).get(port_no) or PortDesc(dpid, port_no)


def switches(ports: dict[int, dict[int, PortDesc]], dpid: int | None = None) -> list[dict]:
    """Connected switches with their ports."""
    return [
        {"dpid": dpid_text(d), "ports": [port_dict(p) for _n, p in sorted(ports[d].items())]}
        for d in sorted(ports)
        if dpid is None or d == dpid
    ]


def links(
    state: DiscoveredNetwork, ports: dict[int, dict[int, PortDesc]], dpid: int | None = None
) -> list[dict]:
    """Live switch-to-switch links, one entry per direction, filtered by source dpid."""
    return [
        {"src": port_dict(_port(ports, *here)), "dst": port_dict(_port(ports, *there))}
        for here, there in sorted(state.links.items())
        if (dpid is None or here[0] == dpid) and state.live(here) and state.live(there)
    ]


def hosts(
    state: DiscoveredNetwork, ports: dict[int, dict[int, PortDesc]], dpid: int | None = None
) -> list[dict]:
    """Known hosts with the switch port they hang off, filtered by dpid."""
    rows = []
    for host in sorted(state.hosts.values(), key=lambda h: (h.dpid, h.port_no, h.mac)):
        if dpid is not None and host.dpid != dpid:
            continue
        ipv4 = [host.ip] if host.ip and ":" not in host.ip else []
        ipv6 = [host.ip] if host.ip and ":" in host.ip else []
        rows.append(
            {
                "mac": host.mac,
                "ipv4": ipv4,
                "ipv6": ipv6,
                "port": port_dict(_port(ports, host.dpid, host.port_no)),
            }
        )
    return rows
