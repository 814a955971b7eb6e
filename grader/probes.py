"""Probe selection (ATPG-style) and probe frames: which concrete packets confirm the static verdicts.

``select_probes`` picks, for a sample of each behaviour's (src, dst) cases, one packet of the
class (the counterexample when the case fails), then adds packets until every rule that some
host's traffic can reach is exercised by at least one probe (greedy cover over the leaves of the
per-host symbolic trees). Each probe carries the set of hosts the model predicts will receive
it. ``probe_frame`` turns a probe into the bytes a host sends; ``probe_key`` identifies it again
in a capture at the receivers (an IP payload marker, or the ARP addresses).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sdnlab.grader.behaviours import kind_named
from sdnlab.grader.fields import ALL_BITS, FIELDS
from sdnlab.grader.grading import Grader, packet_string
from sdnlab.grader.headerspace import Space
from sdnlab.grader.network import Delivered, ToControllerLeaf, leaves
from sdnlab.grader.spec import Behaviour, parse_traffic

MARKER = b"SDNLAB-PROBE-"
IP_ID = 0x5D1B  # probes carry this IPv4 id; kernel replies that echo the payload do not
CASES_PER_BEHAVIOUR = 8


@dataclass(frozen=True)
class Probe:
    id: int
    src: str
    vector: int  # the original header, as the source sends it
    predicted: frozenset  # hosts that should receive a copy
    behaviour: str = ""  # "" for rule-coverage probes
    dst: str = ""
    controller: bool = False

    @property
    def packet(self) -> str:
        return packet_string(self.vector)


def predict(grader: Grader, src: str, vector: int, down=()) -> tuple[frozenset, bool]:
    """Hosts receiving a copy of one concrete packet from ``src`` (with links ``down``), and whether
    the controller gets it."""
    tree = grader.network(down).inject(src, Space(vector, ALL_BITS))
    hosts, controller = set(), False
    for leaf in leaves(tree):
        if isinstance(leaf, Delivered) and leaf.host != src:
            hosts.add(leaf.host)
        controller = controller or isinstance(leaf, ToControllerLeaf)
    return frozenset(hosts), controller


def rules_exercised(grader: Grader, probes, down=()) -> set:
    """(switch, dump line) of every rule some probe goes through, per the model."""
    hit = set()
    for probe in probes:
        for leaf in leaves(grader.network(down).inject(probe.src, Space(probe.vector, ALL_BITS))):
            hit |= {
                (hop.switch, step.flow.line)
                for hop in leaf.hops
                for step in hop.steps
                if step.flow is not None
            }
    return hit


def _rules_on(leaf) -> set:
    return {(hop.switch, id(step.flow)) for hop in leaf.hops for step in hop.steps if step.flow is not None}


def _spread(items: list, count: int) -> list:
    if len(items) <= count:
        return items
    step = len(items) / count
    return [items[int(i * step)] for i in range(count)]


def select_probes(grader: Grader, behaviours, max_probes: int = 200, down=()) -> list[Probe]:
    """Probes that confirm a sample of every behaviour's cases and cover every reachable rule.

    ``down``: links that are down in the live network right now. Failover behaviours are probed
    only when their scenario is exactly that one (the grader never takes links down itself).
    """
    probes: list[Probe] = []
    seen: set = set()
    scenario = frozenset(frozenset(pair) for pair in down)

    def add(src, vector, behaviour="", dst=""):
        key = (src, vector)
        if key in seen or len(probes) >= max_probes:
            return
        seen.add(key)
        hosts, controller = predict(grader, src, vector, down)
        probes.append(Probe(len(probes), src, vector, hosts, behaviour, dst, controller))

    for b in behaviours:
        _behaviour_probes(grader, b, scenario, add)
    covered: set = set()
    any_ip = parse_traffic("any")
    for src in grader.fabric.attachment:
        for tree, prefer in grader.trees(src, None, any_ip, down):
            for leaf in leaves(tree):
                new = _rules_on(leaf) - covered
                if not new:
                    continue
                vector = leaf.space.pick(prefer)
                if vector is None or vector is ...:
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
    """One packet per protocol variant for a spread sample of the behaviour's cases (its kind's ``probe_cases``)."""
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
            if vector is None or vector is ...:
                continue
            add(case.src, vector, case.behaviour.id, case.dst)


# ---- frames -------------------------------------------------------------------------------


def probe_frame(probe: Probe) -> bytes:
    """The Ethernet frame a host sends for this probe (IP probes carry a payload marker)."""
    from scapy.layers.inet import ICMP, IP, TCP, UDP
    from scapy.layers.l2 import ARP, Dot1Q, Ether
    from scapy.packet import Raw

    v = probe.vector
    get = lambda name: FIELDS[name].get(v)  # noqa: E731
    mac = lambda x: ":".join(f"{x:012x}"[i : i + 2] for i in range(0, 12, 2))  # noqa: E731
    ip = lambda x: ".".join(str((x >> s) & 0xFF) for s in (24, 16, 8, 0))  # noqa: E731
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


def probe_key(frame: bytes):
    """What identifies a received probe: ("ip", id) from the marker, or ("arp", op, spa, tpa, sha)."""
    from scapy.layers.inet import IP
    from scapy.layers.l2 import ARP, Ether

    packet = Ether(frame)
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


def expected_key(probe: Probe):
    v = probe.vector
    if FIELDS["eth_type"].get(v) == 0x0806:
        ip = lambda x: ".".join(str((x >> s) & 0xFF) for s in (24, 16, 8, 0))  # noqa: E731
        sha = ":".join(f"{FIELDS['arp_sha'].get(v):012x}"[i : i + 2] for i in range(0, 12, 2))
        return (
            "arp",
            FIELDS["ip_proto"].get(v) or 1,
            ip(FIELDS["ipv4_src"].get(v)),
            ip(FIELDS["ipv4_dst"].get(v)),
            sha,
        )
    return ("ip", probe.id)
