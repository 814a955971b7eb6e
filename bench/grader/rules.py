"""A proactive rule set for ``smart_meter``: meters reach only the head-end, never each other.

Concentrators admit, per meter port, IPv4 and ARP from that meter's address to the head-end
only, and deliver head-end traffic back to each meter; the WAN switch holds one host route per
meter (as a proactive controller would install); the core routes between the meter pool and the
head-end. Everything else hits table-miss and is dropped.
"""

from __future__ import annotations


def proactive_rules(topo) -> dict[str, list[str]]:
    """ovs-ofctl add-flows lines per switch name."""
    hes = topo.nodes["hes"].ip
    rules: dict[str, list[str]] = {s.name: [] for s in topo.switches()}
    wan_port_of = {}
    for link in topo.links:
        ends = {link.a: link.a_port, link.b: link.b_port}
        if "wan" in ends and any(n.startswith("dc") for n in ends):
            dc = next(n for n in ends if n.startswith("dc"))
            wan_port_of[dc] = ends["wan"]
    for meter in topo.with_role("meter"):
        dc = next(link.other(meter.name) for link in topo.links_of(meter.name))
        port = topo.port(dc, meter.name)
        up = topo.port(dc, "wan")
        ip = meter.ip
        rules[dc] += [
            f"priority=100,ip,in_port={port},nw_src={ip},nw_dst={hes},actions=output:{up}",
            f"priority=100,arp,in_port={port},arp_spa={ip},arp_tpa={hes},actions=output:{up}",
            f"priority=100,ip,in_port={up},nw_src={hes},nw_dst={ip},actions=output:{port}",
            f"priority=100,arp,in_port={up},arp_spa={hes},arp_tpa={ip},actions=output:{port}",
        ]
        rules["wan"] += [
            f"priority=100,ip,nw_dst={ip},actions=output:{wan_port_of[dc]}",
            f"priority=100,arp,arp_tpa={ip},actions=output:{wan_port_of[dc]}",
        ]
    to_core = topo.port("wan", "core")
    rules["wan"] += [
        f"priority=100,ip,nw_dst={hes},actions=output:{to_core}",
        f"priority=100,arp,arp_tpa={hes},actions=output:{to_core}",
    ]
    to_hes, to_wan = topo.port("core", "hes"), topo.port("core", "wan")
    rules["core"] += [
        f"priority=100,ip,nw_dst={hes},actions=output:{to_hes}",
        f"priority=100,arp,arp_tpa={hes},actions=output:{to_hes}",
        "priority=90,ip,nw_dst=10.1.0.0/16,actions=output:" + str(to_wan),
        "priority=90,arp,arp_tpa=10.1.0.0/16,actions=output:" + str(to_wan),
    ]
    return rules


SPEC = """
behaviours:
  - id: meters-reach-head-end
    reach: {src: "role:meter", dst: hes, traffic: any}
  - id: meters-isolated
    isolate: {src: "role:meter", dst: "role:meter", traffic: any}
"""
