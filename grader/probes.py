"""Probe selection (ATPG-style) and probe frames: which concrete packets confirm the static verdicts.

``select_probes`` picks, for a sample of each behaviour's (src, dst) cases, one packet of the
class (the counterexample when the case fails), then adds packets until every rule that some
host's traffic can reach is exercised by at least one probe (greedy cover over the leaves of the
per-host symbolic trees). Each probe carries the set of hosts the model predicts will receive
it. ``probe_frame`` turns a probe into the bytes a host sends; ``probe_key`` identifies it again
in a capture at the receivers (an IP payload marker, or the ARP addresses).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

from sdnlab.grader.behaviours import kind_named
from sdnlab.grader.fields import ALL_BITS, FIELDS
from sdnlab.grader.grading import Grader, packet_string
from sdnlab.grader.headerspace import Space
from sdnlab.grader.network import Delivered, Leaf, ToControllerLeaf, leaves
from sdnlab.grader.spec import Behaviour, parse_traffic

MARKER = b"SDNLAB-PROBE-"
IP_ID = 0x5D1B  # probes carry this IPv4 id; kernel replies that echo the payload do not
CASES_PER_BEHAVIOUR = 8
T = TypeVar("T")
ProbeKey = tuple[Any, ...]  # ("ip", probe id) or ("arp", op, spa, tpa, sha)


@dataclass(frozen=True)
class Probe:
    id: int
    src: str
    vector: int  # the original header, as the source sends it
    predicted: frozenset[str]  # hosts that should receive a copy
    behaviour: str = ""  # "" for rule-coverage probes
    dst: str = ""
    controller: bool = False

    @property
    def packet(self) -> str:
        return packet_string(self.vector)


def predict(
    grader: Grader, src: str, vector: int, down: Iterable[Iterable[str]] = ()
) -> tuple[frozenset[str], bool]:
    """Hosts receiving a copy of one concrete packet from ``src`` (with links ``down``), and whether
    the controller gets it."""
    tree = grader.network(down).inject(src, Space(vector, ALL_BITS))
    hosts: set[str] = set()
    controller = False
    for leaf in leaves(tree):
        if isinstance(leaf, Delivered) and leaf.host != src:
            hosts.add(leaf.host)
        controller = controller or isinstance(leaf, ToControllerLeaf)
    return frozenset(hosts), controller


def rules_exercised(
    grader: Grader, probes: Iterable[Probe], down: Iterable[Iterable[str]] = ()
) -> set[tuple[str, int]]:
    """(switch, dump line) of every rule some probe goes through, per the model."""
    hit: set[tuple[str, int]] = set()
    for probe in probes:
        for leaf in leaves(grader.network(down).inject(probe.src, Space(probe.vector, ALL_BITS))):
            hit |= {
                (hop.switch, step.flow.line)
                for hop in leaf.hops
                for step in hop.steps
                if step.flow is not None
            }
    return hit


def _rules_on(leaf: Leaf) -> set[tuple[str, int]]:
    return {(hop.switch, id(step.flow)) for hop in leaf.hops for step in hop.steps if step.flow is not None}


def _spread(items: list[T], count: int) -> list[T]:
    if len(items) <= count:
        return items
    step = len(items) / count
    return [items[int(i * step)] for i in range(count)]


def select_probes(
    grader: Grader, behaviours: Iterable[Behaviour], max_probes: int = 200, down: Iterable[Iterable[str]] = ()
) -> list[Probe]:
    """Probes that confirm a sample of every behaviour's cases and cover every reachable rule.

    ``down``: links that are down in the live network right now. Failover behaviours are probed
    only when their scenario is exactly that one (the grader never takes links down itself).
    """
    probes: list[Probe] = []
    seen: set[tuple[str, int]] = set()
    down = tuple(tuple(pair) for pair in down)
    scenario = frozenset(frozenset(pair) for pair in down)

    def add(src: str, vector: int, behaviour: str = "", dst: str = "") -> None:
        key = (src, vector)
        if key in seen or len(probes) >= max_probes:
            return
        seen.add(key)
        hosts, controller = predict(grader, src, vector, down)
        probes.append(Probe(len(probes), src, vector, hosts, behaviour, dst, controller))

    for b in behaviours:
        _behaviour_probes(grader, b, scenario, add)
    covered: set[tuple[str, int]] = set()
    any_ip = parse_traffic("any")
    for src in grader.fabric.attachment:
        for tree, prefer in grader.trees(src, None, any_ip, down):
            for leaf in leaves(tree):
                new = _rules_on(leaf) - covered
                if not new:
                    continue
                vector = leaf.space.pick(prefer)
                if not isinstance(vector, int):
                    continue
                covered |= new
                add(src, vector)
    return probes


def _behaviour_probes(
    grader: Grader,
    b: Behaviour,
    scenario: frozenset[frozenset[str]],
    add: Callable[[str, int, str, str], None],
) -> None:
    """One packet per protocol variant for a sample of the behaviour's cases (its kind's ``probe_cases``)."""
    cases = _spread(list(kind_named(b.kind).probe_cases(grader, b, scenario)), CASES_PER_BEHAVIOUR)
    for case in cases:
        traffic = case.behaviour.traffic
        if traffic is None:
            continue
        for proto, ports in traffic.variants():
            space, prefer = grader.class_space(case.src, case.class_dst, proto, ports, traffic)
            if space is None:
                continue
            vector = space.pick(prefer)
            if not isinstance(vector, int):
                continue
            add(case.src, vector, case.behaviour.id, case.dst)


# ---- frames -------------------------------------------------------------------------------


def _scapy() -> tuple[Any, Any, Any]:
    """scapy's inet, l2 and packet modules, used untyped (scapy's layer classes have no annotations)."""
    from scapy import packet
    from scapy.layers import inet, l2

    return inet, l2, packet


def _mac_text(x: int) -> str:
    return ":".join(f"{x:012x}"[i : i + 2] for i in range(0, 12, 2))


def _ip_text(x: int) -> str:
    return ".".join(str((x >> s) & 0xFF) for s in (24, 16, 8, 0))


def probe_frame(probe: Probe) -> bytes:
    """The Ethernet frame a host sends for this probe (IP probes carry a payload marker)."""
    inet, l2, packet = _scapy()
    ICMP, IP, TCP, UDP = inet.ICMP, inet.IP, inet.TCP, inet.UDP
    ARP, Dot1Q, Ether, Raw = l2.ARP, l2.Dot1Q, l2.Ether, packet.Raw

    v = probe.vector

    def get(name: str) -> int:
        return FIELDS[name].get(v)

    mac, ip = _mac_text, _ip_text
    frame = Ether(src=mac(get("eth_src")), dst=mac(get("eth_dst")))
    if get("vlan_vid") & 0x1000:
        frame = frame / Dot1Q(vlan=get("vlan_vid") & 0xFFF, prio=get("vlan_pcp"))
    eth_type = get("eth_type")
    if eth_type == 0x0806:
        frame = frame / ARP(
            op=get("ip_proto") or 1,
            hwsrc=mac(get("arp_sha")),
            psrc=ip(get("ipv4_src")),
            hwdst=mac(get("arp_tha")),
            pdst=ip(get("ipv4_dst")),
        )
        return bytes(frame)
    if eth_type != 0x0800:
        raise ValueError(f"probe {probe.id}: only IPv4 and ARP probes can be sent (eth_type {eth_type:#x})")
    proto = get("ip_proto")
    layer = IP(
        id=IP_ID,
        src=ip(get("ipv4_src")),
        dst=ip(get("ipv4_dst")),
        ttl=get("ip_ttl") or 64,
        tos=(get("ip_dscp") << 2) | get("ip_ecn"),
        proto=proto,
    )
    payload = Raw(MARKER + str(probe.id).encode())
    if proto == 6:
        layer = layer / TCP(sport=get("tp_src"), dport=get("tp_dst"), flags=get("tcp_flags") or "S")
    elif proto == 17:
        layer = layer / UDP(sport=get("tp_src"), dport=get("tp_dst"))
    elif proto == 1:
        layer = layer / ICMP(type=get("tp_src"), code=get("tp_dst"))
    return bytes(frame / layer / payload)


def probe_key(frame: bytes) -> ProbeKey | None:
    """What identifies a received probe: ("ip", id) from the marker, or ("arp", op, spa, tpa, sha)."""
    inet, l2, _ = _scapy()
    IP, ARP = inet.IP, l2.ARP

    packet = l2.Ether(frame)
    if IP in packet:
        index = frame.find(MARKER)
        if packet[IP].id != IP_ID or index < 0:
            return None
        digits = frame[index + len(MARKER) : index + len(MARKER) + 8]
        number = "".join(chr(c) for c in digits if 48 <= c <= 57)
        return ("ip", int(number)) if number else None
    if ARP in packet:
        arp = packet[ARP]
        return ("arp", arp.op, arp.psrc, arp.pdst, arp.hwsrc.lower())
    return None


def expected_key(probe: Probe) -> ProbeKey:
    """The key ``probe_key`` gives for this probe when it is received."""
    v = probe.vector
    if FIELDS["eth_type"].get(v) == 0x0806:
        ip = _ip_text
        sha = _mac_text(FIELDS["arp_sha"].get(v))
        return (
            "arp",
            FIELDS["ip_proto"].get(v) or 1,
            ip(FIELDS["ipv4_src"].get(v)),
            ip(FIELDS["ipv4_dst"].get(v)),
            sha,
        )
    return ("ip", probe.id)
