"""Offline packets/s per core: a VNF's ``process`` over frames held in memory (no I/O)."""

from __future__ import annotations

import time

from sdnlab.vnfs.framework.loader import load_vnf_class
from sdnlab.vnfs.packet import IPPROTO_TCP, TCP_ACK, TCP_SYN, build_frame

HEADER = 14 + 20 + 20  # Ethernet + IPv4 + TCP


def ruleset(n: int, port: int = 5201) -> str:
    """A firewall config with ``n`` rules, the last of which accepts TCP to ``port``."""
    rules = [
        f"  - {{name: r{i}, action: drop, proto: tcp, "
        f"src: 192.168.{i // 250}.{i % 250}/32, dport: {1000 + i}}}"
        for i in range(n - 1)
    ]
    rules.append(f"  - {{name: bench, action: accept, proto: tcp, dport: {port}}}")
    return "default: drop\nrules:\n" + "\n".join(rules) + "\n"


LB_CONFIG = """
vip: 10.79.0.100
vip_mac: 02:00:00:00:79:64
scheduler: maglev
backends: [{name: a, ip: 10.79.0.2, port: 5201}, {name: b, ip: 10.79.0.3, port: 5201}]
"""


def frames(size: int, flows: int, dst: str = "10.79.0.2", flags: int = TCP_ACK) -> list[bytes]:
    """``flows`` TCP frames of ``size`` bytes (without FCS) from distinct client ports."""
    payload = b"\x00" * max(0, size - HEADER)
    return [
        build_frame(
            ip_src="10.79.0.1",
            ip_dst=dst,
            ip_proto=IPPROTO_TCP,
            l4_src=10000 + i,
            l4_dst=5201,
            tcp_flags=flags,
            payload=payload,
        )
        for i in range(flows)
    ]


def measure(vnf, batch: list[bytes], seconds: float = 1.5) -> float:
    """Packets per CPU-second of ``vnf.process`` cycling over ``batch`` (per core, whatever else runs)."""
    process = vnf.process
    count = 0
    start = time.process_time()
    deadline = time.perf_counter() + seconds
    now = 1.0
    while time.perf_counter() < deadline:
        for frame in batch:
            process(frame, "inside", now)
        count += len(batch)
    return count / (time.process_time() - start)


def prime_firewall(vnf, batch: list[bytes]) -> None:
    """Open the connections of ``batch`` (SYN then SYN-ACK) so the frames are ESTABLISHED."""
    from sdnlab.vnfs.packet import parse, rewrite

    for frame in batch:
        packet = parse(frame)
        syn = frames(64, 1, flags=TCP_SYN)[0]
        syn = rewrite(parse(syn), l4_src=packet.l4_src)
        vnf.process(syn, "inside", 1.0)
        back = parse(syn)
        synack = build_frame(
            ip_src="10.79.0.2",
            ip_dst="10.79.0.1",
            ip_proto=IPPROTO_TCP,
            l4_src=5201,
            l4_dst=back.l4_src,
            tcp_flags=TCP_SYN | TCP_ACK,
        )
        vnf.process(synack, "outside", 1.0)


def run(rules: int = 100, flows: int = 1000) -> dict:
    """pps per VNF and frame size, plus the firewall's new-connection rate through ``rules`` rules."""
    results: dict = {}
    for size in (64, 1500):
        established = frames(size, flows)
        row = {}
        row["passthrough"] = measure(load_vnf_class("passthrough")(), established)
        fw = load_vnf_class("firewall")(ruleset(rules))
        prime_firewall(fw, established)
        row["firewall"] = measure(fw, established)
        lb = load_vnf_class("lb")(LB_CONFIG)
        row["lb"] = measure(lb, frames(size, flows, dst="10.79.0.100"))
        try:
            dpi = load_vnf_class("dpi")()
            row["dpi"] = measure(dpi, established)
        except Exception as exc:
            row["dpi"] = f"unavailable: {type(exc).__name__}: {exc}"
        results[f"{size}B"] = {k: round(v) if isinstance(v, float) else v for k, v in row.items()}
    fw = load_vnf_class("firewall")(
        ruleset(rules).replace("default: drop", "default: drop\nmax_flows: 2000000")
    )
    syns = frames(64, 20000, flags=TCP_SYN)
    results["firewall_new_connections_per_s"] = round(measure(fw, syns, 1.0))
    results["firewall_rules"] = rules
    results["flows"] = flows
    return results
