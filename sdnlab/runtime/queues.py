"""Queue classification for the userspace datapath: OpenFlow flows -> tc u32 filter specs (pure).

On Open vSwitch's kernel datapath, ``set_queue:Q`` sets the packet's skb priority to the HTB
class ``1:(Q+1)`` that OVS's ``linux-htb`` QoS made for queue Q, and HTB classifies on it. The
userspace (netdev) datapath sends packets with ``AF_PACKET`` without that priority: every packet
lands in the default class (queue 0). sdnlab gives the queues back by reading the switches'
flow tables and installing, under the HTB qdisc OVS built on a port's device, ``u32`` filters
that match what the flows that choose a queue match (the lab watcher does the I/O,
``sdnlab.runtime.queue_classifier``). This module only decides:

    flows = parse_flows(ovs_ofctl_dump_flows_text)
    plan = plan_filters(flows, {ofport: HtbPort(name, ofport, queues)})
    plan.filters   # FilterSpec(device, pref, classid, protocol, keys, flow): one tc filter each
    plan.skipped   # Skipped(flow, reason): flows whose queue cannot be expressed at egress

Rules (docs/controller.md, "Queues on the userspace datapath"):

* A *queue flow* carries ``set_queue:Q`` (or ``enqueue:P:Q``). Its filter sends to class
  ``1:(Q+1)`` the packets that match the flow's match fields as they leave the port: a field the
  flow rewrites before the output (``set_field``/``mod_*``) is matched at its new value.
* The ports a flow reaches: its ``output:N``; every queued port of the bridge for ``NORMAL``,
  ``FLOOD``, ``ALL``, ``IN_PORT`` and groups; through ``goto_table:T`` the ports the flows of
  table T reach (transitively). A filter only ever sees packets that really leave its port.
* Precedence mirrors OpenFlow: a later table's decision wins (its filters come first), then the
  higher priority. A flow without ``set_queue`` that outranks a queue flow of its table and
  reaches the same port gets a filter to the default class ``1:1``, so it shadows it as in the
  switch.
* What u32 cannot see at the egress port is not guessed: ``in_port`` (the packet's ingress port
  is gone), VLAN fields and VLAN/MPLS pushes (the frame's layout changes), metadata, registers,
  tunnel and conntrack fields, IPv6, ARP payload fields, TCP flags, fragments. A queue flow with
  one of them is skipped with its reason; its packets use the default queue, as before.
* IPv4 transport fields (ports, ICMP type/code) are matched for unfragmented packets without IP
  options (IHL 5), which u32 can address; other packets fall to the default queue.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

FIRST_PREF = 1000  # tc filter preferences from here on belong to sdnlab; lower ones are left alone
MAX_PREF = 65000
DEFAULT_CLASS_MINOR = 1  # OVS's linux-htb: queue Q is class 1:(Q+1); queue 0 (1:1) is the default

# ------------------------------------------------------------------ parsing ovs-ofctl text

_NOT_MATCH = {"cookie", "duration", "table", "n_packets", "n_bytes", "idle_age", "hard_age"}
_NOT_MATCH |= {"priority", "idle_timeout", "hard_timeout", "importance", "reset_counts"}
_NOT_MATCH |= {"send_flow_rem", "check_overlap", "no_packet_counts", "no_byte_counts", "out_port"}

# protocol shorthands -> (dl_type, nw_proto)
_SHORTHANDS: dict[str, tuple[int, int | None]] = {
    "ip": (0x0800, None),
    "icmp": (0x0800, 1),
    "igmp": (0x0800, 2),
    "tcp": (0x0800, 6),
    "udp": (0x0800, 17),
    "sctp": (0x0800, 132),
    "arp": (0x0806, None),
    "rarp": (0x8035, None),
    "ipv6": (0x86DD, None),
    "tcp6": (0x86DD, 6),
    "udp6": (0x86DD, 17),
    "sctp6": (0x86DD, 132),
    "icmp6": (0x86DD, 58),
    "mpls": (0x8847, None),
    "mplsm": (0x8848, None),
}


@dataclass(frozen=True)
class Flow:
    """One flow of a ``dump-flows`` listing: where it is, what it matches, what it does."""

    table: int
    priority: int
    match: tuple[tuple[str, str], ...]  # (field, value) as OVS prints them, shorthands as (name, "")
    actions: tuple[str, ...]  # top-level actions, ``write_actions(...)``'s content appended
    text: str  # the line, for messages

    def fields(self) -> dict[str, str]:
        return dict(self.match)


def split_top(text: str, sep: str = ",") -> list[str]:
    """Split on ``sep`` outside parentheses and brackets: ``a,b(c,d),e`` -> ``a``, ``b(c,d)``, ``e``."""
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(text):
        if ch in "([":
            depth += 1
        elif ch in ")]":
            depth -= 1
        elif ch == sep and depth == 0:
            parts.append(text[start:i].strip())
            start = i + 1
    parts.append(text[start:].strip())
    return [p for p in parts if p]


def parse_actions(text: str) -> tuple[str, ...]:
    """The actions of a flow, ``apply_actions(...)`` unwrapped, ``write_actions(...)`` run last."""
    now: list[str] = []
    later: list[str] = []
    for action in split_top(text):
        name, _, inner = action.partition("(")
        if name in ("apply_actions",) and action.endswith(")"):
            now.extend(split_top(inner[:-1]))
        elif name == "write_actions" and action.endswith(")"):
            later.extend(split_top(inner[:-1]))
        else:
            now.append(action)
    return tuple(now + later)


def parse_flow(line: str) -> Flow | None:
    """One ``ovs-ofctl dump-flows`` line -> Flow (None for lines that are not flows)."""
    text = line.strip()
    if " actions=" not in text and not text.startswith("actions="):
        return None
    head, _, actions = text.partition("actions=")
    table, priority = 0, 32768
    match: list[tuple[str, str]] = []
    for item in split_top(head.replace(", ", ",")):
        for token in item.split():
            name, eq, value = token.partition("=")
            if name == "table":
                table = int(value) if value.isdigit() else 0
            elif name == "priority":
                priority = int(value)
            elif name in _NOT_MATCH:
                continue
            elif eq:
                match.append((name, value))
            else:
                match.append((name, ""))
    return Flow(table, priority, tuple(match), parse_actions(actions.strip()), text)


def parse_flows(text: str) -> list[Flow]:
    """Every flow of an ``ovs-ofctl --no-names dump-flows`` listing (reply headers ignored)."""
    return [f for f in (parse_flow(line) for line in text.splitlines()) if f is not None]


# ------------------------------------------------------------------ match fields -> u32 bytes


class Unexpressible(Exception):
    """A field u32 cannot match at the egress port; the message says why."""


def _int(text: str) -> int:
    return int(text, 0)


def _value_mask(text: str, width: int) -> tuple[int, int]:
    """``5001`` or ``0x1000/0xf000`` -> (value, mask) of ``width`` bits."""
    full = (1 << width) - 1
    value, slash, mask = text.partition("/")
    return _int(value) & full, (_int(mask) & full) if slash else full


def _ipv4(text: str) -> tuple[int, int]:
    net = ipaddress.IPv4Network(text, strict=False)
    return int(net.network_address), int(net.netmask)


def _mac(text: str) -> tuple[int, int]:
    value, slash, mask = text.partition("/")
    as_int = int(value.replace(":", ""), 16)
    return as_int, int(mask.replace(":", ""), 16) if slash else (1 << 48) - 1


# field -> (offset from the IP header, width in bytes, parser); Ethernet is before it (negative)
_ETH_FIELDS = {
    "dl_dst": (-14, 6),
    "eth_dst": (-14, 6),
    "dl_src": (-8, 6),
    "eth_src": (-8, 6),
}
_IP_FIELDS = {
    "nw_src": (12, 4),
    "ip_src": (12, 4),
    "nw_dst": (16, 4),
    "ip_dst": (16, 4),
}
_L4_FIELDS = {  # IHL 5 assumed, and checked by the filter
    "tp_src": (20, 2),
    "tp_dst": (22, 2),
    "tcp_src": (20, 2),
    "tcp_dst": (22, 2),
    "udp_src": (20, 2),
    "udp_dst": (22, 2),
    "sctp_src": (20, 2),
    "sctp_dst": (22, 2),
    "icmp_type": (20, 1),
    "icmp_code": (21, 1),
    "icmpv4_type": (20, 1),
    "icmpv4_code": (21, 1),
}
_PLACED = {**_ETH_FIELDS, **_IP_FIELDS, **_L4_FIELDS}
_WHY_NOT = {
    "in_port": "in_port: the port a packet came in on is not known where it leaves",
    "dl_vlan": "VLAN fields: the tag shifts the frame's layout at egress",
    "dl_vlan_pcp": "VLAN fields: the tag shifts the frame's layout at egress",
    "vlan_tci": "VLAN fields: the tag shifts the frame's layout at egress",
    "vlan_vid": "VLAN fields: the tag shifts the frame's layout at egress",
    "vlan_pcp": "VLAN fields: the tag shifts the frame's layout at egress",
    "metadata": "metadata: pipeline state, not in the packet",
    "tcp_flags": "tcp_flags: not matched (needs the TCP header's variable offset)",
    "nw_frag": "nw_frag: fragments are not matched",
    "ip_frag": "nw_frag: fragments are not matched",
}
_PREFIX_WHY_NOT = (
    ("reg", "registers: pipeline state, not in the packet"),
    ("xreg", "registers: pipeline state, not in the packet"),
    ("tun", "tunnel fields: not in the packet at egress"),
    ("ct_", "conntrack fields: not in the packet"),
    ("pkt_mark", "pkt_mark: not in the packet"),
    ("ipv6", "IPv6 fields: not matched (u32 filters here are IPv4)"),
    ("nd_", "IPv6 fields: not matched (u32 filters here are IPv4)"),
    ("arp_", "ARP fields: not matched"),
    ("mpls", "MPLS fields: not matched"),
)


@dataclass
class _Match:
    """The packet as it leaves: ethertype, IP protocol and byte constraints (offset -> value, mask)."""

    dl_type: int | None = None
    nw_proto: int | None = None
    needs_l4: bool = False
    data: dict[int, tuple[int, int]] = field(default_factory=dict)

    def put(self, offset: int, width: int, value: int, mask: int) -> None:
        for i in range(width):
            shift = 8 * (width - 1 - i)
            byte_mask = (mask >> shift) & 0xFF
            if not byte_mask:
                continue
            byte_value = (value >> shift) & byte_mask
            old_value, old_mask = self.data.get(offset + i, (0, 0))
            keep = old_mask & ~byte_mask
            self.data[offset + i] = ((old_value & keep) | byte_value, keep | byte_mask)


def _apply_field(m: _Match, name: str, value: str) -> None:
    """Constrain ``m`` by one OVS field (as ``dump-flows`` prints it); raises Unexpressible."""
    if name in _SHORTHANDS:
        m.dl_type, proto = _SHORTHANDS[name]
        if proto is not None:
            m.nw_proto = proto
    elif name in ("dl_type", "eth_type"):
        m.dl_type = _int(value)
    elif name in ("nw_proto", "ip_proto"):
        m.nw_proto = _int(value)
    elif name in _ETH_FIELDS:
        offset, width = _ETH_FIELDS[name]
        m.put(offset, width, *_mac(value))
    elif name in _IP_FIELDS:
        offset, width = _IP_FIELDS[name]
        m.put(offset, width, *_ipv4(value))
    elif name in ("nw_tos", "ip_tos"):
        m.put(1, 1, _int(value) & 0xFC, 0xFC)
    elif name == "ip_dscp":
        m.put(1, 1, (_int(value) << 2) & 0xFC, 0xFC)
    elif name in ("nw_ecn", "ip_ecn"):
        m.put(1, 1, _int(value) & 0x03, 0x03)
    elif name in ("nw_ttl", "ip_ttl"):
        m.put(8, 1, _int(value) & 0xFF, 0xFF)
    elif name in _L4_FIELDS:
        offset, width = _L4_FIELDS[name]
        m.put(offset, width, *_value_mask(value, 8 * width))
        m.needs_l4 = True
    elif name in _WHY_NOT:
        raise Unexpressible(_WHY_NOT[name])
    else:
        for prefix, why in _PREFIX_WHY_NOT:
            if name.startswith(prefix):
                raise Unexpressible(why)
        raise Unexpressible(f"{name}: not a field sdnlab translates")


def _egress_match(flow: Flow, rewrites: Mapping[str, str]) -> _Match:
    """What the flow's packets look like where they leave (its match, then its rewrites)."""
    m = _Match()
    for name, value in flow.match:
        _apply_field(m, name, value)
    for name, value in rewrites.items():
        if name in ("nw_tos", "ip_dscp", "nw_ecn", "ip_ecn"):  # a rewrite replaces those bits
            mask = 0x03 if "ecn" in name else 0xFC
            old_value, old_mask = m.data.get(1, (0, 0))
            m.data[1] = (old_value & ~mask & 0xFF, old_mask & ~mask & 0xFF)
        elif name in _PLACED:
            offset, width = _PLACED[name]
            for i in range(width):  # the flow's match on this field no longer holds
                m.data.pop(offset + i, None)
        _apply_field(m, name, value)
    if m.dl_type not in (None, 0x0800) and (m.nw_proto is not None or any(o >= 0 for o in m.data)):
        raise Unexpressible(f"ethertype 0x{m.dl_type:04x}: only IPv4 fields are matched")
    if m.needs_l4 and m.nw_proto is None:
        raise Unexpressible("transport ports without an IP protocol")
    return m


# ------------------------------------------------------------------ actions -> where, which queue


@dataclass(frozen=True)
class HtbPort:
    """A switch port with OVS's linux-htb QoS: its device name, OpenFlow number, queue ids."""

    name: str
    ofport: int
    queues: frozenset[int]


ALL_PORTS = -1  # NORMAL, FLOOD, ALL, IN_PORT, groups: any queued port of the bridge


@dataclass(frozen=True)
class _Exit:
    """Where one path through a flow's actions goes: a port (or ALL_PORTS) or a table."""

    port: int | None
    table: int | None
    queue: int | None
    rewrites: tuple[tuple[str, str], ...]
    unexpressible: str | None = None


_REWRITE_ALIASES = {
    "mod_dl_src": "dl_src",
    "mod_dl_dst": "dl_dst",
    "mod_nw_src": "nw_src",
    "mod_nw_dst": "nw_dst",
    "mod_nw_tos": "nw_tos",
    "mod_nw_ecn": "nw_ecn",
    "mod_nw_ttl": "nw_ttl",
    "mod_tp_src": "tp_src",
    "mod_tp_dst": "tp_dst",
}
_LAYOUT_CHANGES = ("push_vlan", "push_mpls", "pop_mpls", "encap", "decap", "mod_vlan_vid", "mod_vlan_pcp")
_ANY_PORT = {"NORMAL", "FLOOD", "ALL", "IN_PORT", "in_port"}


def _exits(flow: Flow) -> list[_Exit]:
    queue: int | None = None
    rewrites: dict[str, str] = {}
    broken: str | None = None
    out: list[_Exit] = []

    def leave(port: int | None = None, table: int | None = None) -> None:
        out.append(_Exit(port, table, queue, tuple(rewrites.items()), broken))

    for action in flow.actions:
        name, colon, arg = action.partition(":")
        if name == "set_queue" and arg.isdigit():
            queue = int(arg)
        elif name == "pop_queue":
            queue = None
        elif name == "enqueue":
            port, _, q = arg.partition(":")
            if port.isdigit() and q.isdigit():
                queue = int(q)
                leave(port=int(port))
        elif name == "output" and arg.isdigit():
            leave(port=int(arg))
        elif not colon and action.isdigit():
            leave(port=int(action))
        elif name == "output" or action in _ANY_PORT or name == "group":
            leave(port=ALL_PORTS)
        elif name == "goto_table" and arg.isdigit():
            leave(table=int(arg))
        elif name == "resubmit":
            broken = broken or "resubmit: not followed"
        elif name == "set_field" and "->" in arg:
            value, _, target = arg.rpartition("->")
            rewrites[target] = value
        elif name in _REWRITE_ALIASES:
            rewrites[_REWRITE_ALIASES[name]] = arg
        elif name in _LAYOUT_CHANGES or action in ("strip_vlan", "pop_vlan"):
            broken = broken or f"{name}: changes the frame's layout at egress"
    return out


# ------------------------------------------------------------------ the plan


@dataclass(frozen=True)
class FilterSpec:
    """One tc u32 filter under OVS's HTB root (handle 1:) of ``device``."""

    device: str
    pref: int
    classid: str  # "1:2" = queue 1
    protocol: str  # "ip", "all" or "0x0806"
    keys: tuple[tuple[int, int, int], ...]  # (offset from the IP header, value, mask): 32-bit words
    flow: str  # the OpenFlow flow it mirrors

    def tc_command(self) -> str:
        """The ``tc -batch`` line that adds this filter."""
        words = " ".join(f"match u32 0x{v:08x} 0x{m:08x} at {o}" for o, v, m in self.keys)
        words = words or "match u32 0 0 at 0"
        return (
            f"filter add dev {self.device} parent 1: protocol {self.protocol} pref {self.pref} "
            f"u32 {words} classid {self.classid}"
        )


@dataclass(frozen=True)
class Skipped:
    """A flow whose queue choice has no filter, and why."""

    flow: str
    reason: str


@dataclass(frozen=True)
class Plan:
    filters: tuple[FilterSpec, ...]
    skipped: tuple[Skipped, ...]

    def by_device(self) -> dict[str, list[FilterSpec]]:
        result: dict[str, list[FilterSpec]] = {}
        for spec in self.filters:
            result.setdefault(spec.device, []).append(spec)
        return result


def _words(m: _Match) -> tuple[tuple[int, int, int], ...]:
    data = dict(m.data)
    if m.dl_type == 0x0800:
        if m.nw_proto is not None:
            data[9] = (m.nw_proto & 0xFF, 0xFF)
        if m.needs_l4:
            data[0] = (0x05, 0x0F)  # IHL 5: the transport header is at offset 20
            data[6] = (0x00, 0x1F)  # fragment offset 0
            data[7] = (0x00, 0xFF)
    words: dict[int, tuple[int, int]] = {}
    for offset, (value, mask) in data.items():
        base = offset - (offset % 4)  # floor to a multiple of 4, also below zero
        shift = 8 * (3 - (offset - base))
        old_value, old_mask = words.get(base, (0, 0))
        words[base] = (old_value | (value << shift), old_mask | (mask << shift))
    return tuple((o, v, mk) for o, (v, mk) in sorted(words.items()) if mk)


def _protocol(m: _Match) -> str:
    if m.dl_type is None:
        return "all"
    if m.dl_type == 0x0800:
        return "ip"
    return f"0x{m.dl_type:04x}"


class _Reach:
    """Which queued ports each table's flows send to (computed once per table, per plan)."""

    def __init__(self, flows: list[Flow], ports: Iterable[int]) -> None:
        self.ports = set(ports)
        self.exits = {id(flow): _exits(flow) for flow in flows}
        self.by_table: dict[int, list[Flow]] = {}
        for flow in flows:
            self.by_table.setdefault(flow.table, []).append(flow)
        self.tables: dict[int, set[int]] = {}

    def table(self, table: int, seen: frozenset[int]) -> set[int]:
        if table in self.tables:
            return self.tables[table]
        if table in seen:
            return set()  # a loop (goto_table only goes forward; resubmit is not followed)
        reached: set[int] = set()
        for flow in self.by_table.get(table, []):
            for exit_ in self.exits[id(flow)]:
                reached |= self.exit(exit_, seen | {table})
        self.tables[table] = reached
        return reached

    def exit(self, exit_: _Exit, seen: frozenset[int]) -> set[int]:
        if exit_.table is not None:
            return self.table(exit_.table, seen)
        if exit_.port == ALL_PORTS:
            return self.ports
        return {exit_.port} & self.ports if exit_.port is not None else set()


def plan_filters(flows: Iterable[Flow], ports: Mapping[int, HtbPort]) -> Plan:
    """The tc filters that give ``flows``' ``set_queue`` choices to the HTB ``ports`` (by ofport)."""
    flows = list(flows)
    candidates: list[tuple[Flow, int, int | None, tuple[tuple[str, str], ...], str | None]] = []
    skipped: dict[tuple[str, str], Skipped] = {}
    reach = _Reach(flows, ports)
    for flow in flows:
        for exit_ in reach.exits[id(flow)]:
            for port in sorted(reach.exit(exit_, frozenset({flow.table}))):
                candidates.append((flow, port, exit_.queue, exit_.rewrites, exit_.unexpressible))
    # the lowest-priority queue flow per (table, port): flows without a queue above it shadow it
    lowest: dict[tuple[int, int], int] = {}
    for flow, port, queue, _rw, _broken in candidates:
        if queue is not None:
            key = (flow.table, port)
            lowest[key] = min(lowest.get(key, flow.priority), flow.priority)
    chosen = []
    for flow, port, queue, rewrites, broken in candidates:
        if queue is None:
            floor = lowest.get((flow.table, port))
            if floor is None or flow.priority <= floor:
                continue  # shadows no queue flow: the default class is where it lands anyway
            classid = f"1:{DEFAULT_CLASS_MINOR}"
        elif queue not in ports[port].queues:
            absent = f"queue {queue} is not configured on {ports[port].name}: the default queue is used"
            skipped[(flow.text, absent)] = Skipped(flow.text, absent)
            continue
        else:
            classid = f"1:{queue + 1}"
        try:
            if broken:
                raise Unexpressible(broken)
            match = _egress_match(flow, dict(rewrites))
        except Unexpressible as exc:
            reason = str(exc) if queue is not None else f"{exc} (this flow should shadow a queue flow)"
            skipped[(flow.text, reason)] = Skipped(flow.text, reason)
            continue
        except ValueError as exc:
            reason = f"cannot read a field: {exc}"
            skipped[(flow.text, reason)] = Skipped(flow.text, reason)
            continue
        chosen.append((flow, port, classid, match))
    ranks = sorted({(-flow.table, -flow.priority) for flow, *_ in chosen})
    pref_of = {rank: FIRST_PREF + i for i, rank in enumerate(ranks)}
    filters = []
    seen: set[tuple[str, str, tuple[tuple[int, int, int], ...], str]] = set()
    for flow, port, classid, match in chosen:
        pref = pref_of[(-flow.table, -flow.priority)]
        if pref > MAX_PREF:
            many = "too many distinct flow priorities for tc preferences"
            skipped[(flow.text, many)] = Skipped(flow.text, many)
            continue
        spec = FilterSpec(ports[port].name, pref, classid, _protocol(match), _words(match), flow.text)
        same = (spec.device, spec.protocol, spec.keys, str(spec.pref))
        if same in seen:
            continue  # one flow reaching the port twice (several outputs, or NORMAL and a goto)
        seen.add(same)
        filters.append(spec)
    filters.sort(key=lambda s: (s.device, s.pref, s.keys))
    return Plan(tuple(filters), tuple(skipped.values()))
