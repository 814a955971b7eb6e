"""Typed flow state: matches, actions, flow entries, groups, ports and whole switches.

These frozen objects are what every parser (ovs-ofctl text, ofctl_rest JSON) produces and what
the pipeline model consumes. A ``Match`` carries its header-space cube (``value``/``mask`` over
the bit vector of ``sdnlab.grader.fields``) so matching is two integer operations.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from sdnlab.grader.fields import FIELDS, OFPVID_PRESENT, format_value, port_label

GROUP_TYPES = ("all", "select", "indirect", "ff")


@dataclass(frozen=True)
class FieldMatch:
    """One matched field (stored name) with value and mask in the field's own units."""

    field: str
    value: int
    mask: int

    def describe(self) -> str:
        text = format_value(self.field, self.value)
        if self.mask == FIELDS[self.field].full:
            return f"{self.field}={text}"
        address = format_value(self.field, self.mask)
        mask = address if address != str(self.mask) else hex(self.mask)  # addresses keep their notation
        return f"{self.field}={text}/{mask}"


@dataclass(frozen=True)
class Match:
    """A flow match: its fields, the header cube they define, and the text it came from."""

    fields: tuple[FieldMatch, ...] = ()
    value: int = 0
    mask: int = 0
    text: str = ""

    @classmethod
    def of(cls, triples: Iterable[tuple[str, int, int]], text: str = "") -> Match:
        """Build from (field, value, mask) triples; repeated fields are intersected."""
        merged: dict[str, list[int]] = {}
        for name, value, mask in triples:
            if name in merged:
                old_value, old_mask = merged[name]
                if (old_value ^ value) & old_mask & mask:
                    return cls((), 0, -1, text)  # contradictory: matches nothing
                merged[name] = [old_value | value, old_mask | mask]
            else:
                merged[name] = [value & mask, mask]
        vector = vmask = 0
        fms = []
        for name, (value, mask) in merged.items():
            f = FIELDS[name]
            vector |= f.put(value)
            vmask |= f.put(mask)
            fms.append(FieldMatch(name, value, mask))
        return cls(tuple(fms), vector, vmask, text)

    @property
    def impossible(self) -> bool:
        return self.mask < 0

    def get(self, name: str) -> FieldMatch | None:
        for fm in self.fields:
            if fm.field == name:
                return fm
        return None

    def describe(self) -> str:
        return self.text or ",".join(fm.describe() for fm in self.fields) or "(any)"


# ---- actions -------------------------------------------------------------------------


@dataclass(frozen=True)
class Output:
    port: int
    max_len: int | None = None

    def describe(self) -> str:
        return f"output:{port_label(self.port)}"


@dataclass(frozen=True)
class SetField:
    """Set ``field`` (stored name) to ``value`` in the bits of ``mask`` (field units)."""

    field: str
    value: int
    mask: int

    def describe(self) -> str:
        f = FIELDS[self.field]
        masked = "" if self.mask == f.full else f"/{hex(self.mask)}"
        return f"set_field:{format_value(self.field, self.value)}{masked}->{self.field}"


@dataclass(frozen=True)
class PushVlan:
    ethertype: int = 0x8100

    def describe(self) -> str:
        return f"push_vlan:{hex(self.ethertype)}"


@dataclass(frozen=True)
class PopVlan:
    def describe(self) -> str:
        return "pop_vlan"


@dataclass(frozen=True)
class ModVlanVid:
    """OpenFlow 1.0 ``mod_vlan_vid``: sets the VID, pushing a tag first if there is none."""

    vid: int

    def describe(self) -> str:
        return f"mod_vlan_vid:{self.vid}"


@dataclass(frozen=True)
class ModVlanPcp:
    """OpenFlow 1.0 ``mod_vlan_pcp``: sets the PCP, pushing a tag first if there is none (as OVS does)."""

    pcp: int

    def describe(self) -> str:
        return f"mod_vlan_pcp:{self.pcp}"


@dataclass(frozen=True)
class PushMpls:
    ethertype: int = 0x8847

    def describe(self) -> str:
        return f"push_mpls:{hex(self.ethertype)}"


@dataclass(frozen=True)
class PopMpls:
    ethertype: int = 0x0800

    def describe(self) -> str:
        return f"pop_mpls:{hex(self.ethertype)}"


@dataclass(frozen=True)
class DecTtl:
    def describe(self) -> str:
        return "dec_ttl"


@dataclass(frozen=True)
class GroupAction:
    group_id: int

    def describe(self) -> str:
        return f"group:{self.group_id}"


@dataclass(frozen=True)
class SetQueue:
    queue_id: int

    def describe(self) -> str:
        return f"set_queue:{self.queue_id}"


@dataclass(frozen=True)
class Meter:
    meter_id: int

    def describe(self) -> str:
        return f"meter:{self.meter_id}"


@dataclass(frozen=True)
class Resubmit:
    """OVS ``resubmit([port],[table])``: look up ``table`` (default: current) as if from ``port``."""

    port: int | None
    table: int | None

    def describe(self) -> str:
        port = "" if self.port is None else port_label(self.port)
        table = "" if self.table is None else str(self.table)
        return f"resubmit({port},{table})"


@dataclass(frozen=True)
class Move:
    """``move:SRC[bits]->DST[bits]``: copy header bits (``*_mask`` in field units, same width)."""

    src: str
    src_mask: int
    dst: str
    dst_mask: int

    def describe(self) -> str:
        return f"move:{self.src}/{hex(self.src_mask)}->{self.dst}/{hex(self.dst_mask)}"


@dataclass(frozen=True)
class Noop:
    """An action with no effect on forwarding (note, set_queue-like hints we keep for display)."""

    text: str

    def describe(self) -> str:
        return self.text


Action = (
    Output
    | SetField
    | PushVlan
    | PopVlan
    | ModVlanVid
    | ModVlanPcp
    | PushMpls
    | PopMpls
    | DecTtl
    | GroupAction
    | SetQueue
    | Meter
    | Resubmit
    | Move
    | Noop
)


def describe_actions(actions: Iterable[Action]) -> str:
    return ",".join(a.describe() for a in actions) or "drop"


# ---- flows, groups, ports, switches ------------------------------------------------------


@dataclass(frozen=True)
class Flow:
    """One flow entry with its OpenFlow 1.3 instructions."""

    table_id: int
    priority: int
    match: Match
    apply_actions: tuple[Action, ...] = ()
    clear_actions: bool = False
    write_actions: tuple[Action, ...] = ()
    write_metadata: tuple[int, int] | None = None  # (value, mask)
    goto_table: int | None = None
    meter_id: int | None = None
    cookie: int = 0
    line: int = 0
    source: str = ""
    text: str = ""
    dumped: bool = False  # source/line are a line of dump-flows output, not of a file someone wrote

    def describe_actions(self) -> str:
        parts = []
        if self.meter_id is not None:
            parts.append(f"meter:{self.meter_id}")
        parts.extend(a.describe() for a in self.apply_actions)
        if self.clear_actions:
            parts.append("clear_actions")
        if self.write_actions:
            parts.append(f"write_actions({describe_actions(self.write_actions)})")
        if self.write_metadata is not None:
            value, mask = self.write_metadata
            parts.append(f"write_metadata:{hex(value)}" + ("" if mask == (1 << 64) - 1 else f"/{hex(mask)}"))
        if self.goto_table is not None:
            parts.append(f"goto_table:{self.goto_table}")
        return ",".join(parts) or "drop"

    @property
    def location(self) -> str:
        """``file:line`` of the rule, or ``dump-flows s2 line 3`` for a rule only known from a dump."""
        if self.dumped:
            return f"{self.source} line {self.line}"
        return f"{self.source}:{self.line}" if self.source else f"line {self.line}"

    @property
    def key(self) -> tuple[int, int, int, int]:
        """What identifies the rule in a switch (OpenFlow: table, priority and match)."""
        return self.table_id, self.priority, self.match.value, self.match.mask


@dataclass(frozen=True)
class Bucket:
    actions: tuple[Action, ...] = ()
    weight: int = 1
    watch_port: int | None = None
    watch_group: int | None = None


@dataclass(frozen=True)
class Group:
    group_id: int
    type: str  # one of GROUP_TYPES
    buckets: tuple[Bucket, ...] = ()
    line: int = 0
    source: str = ""

    def describe(self) -> str:
        buckets = ";".join(describe_actions(b.actions) for b in self.buckets)
        return f"group {self.group_id} ({self.type}): {buckets}"


@dataclass(frozen=True)
class Port:
    """A switch port as dump-ports-desc shows it; ``live`` drives fast-failover groups."""

    port_no: int
    name: str = ""
    live: bool = True


@dataclass(frozen=True)
class SwitchState:
    """Everything the pipeline model needs about one switch."""

    name: str
    flows: tuple[Flow, ...] = ()
    groups: dict[int, Group] = field(default_factory=dict)  # group_id -> Group
    ports: dict[int, Port] = field(default_factory=dict)  # port_no -> Port; empty when unknown
    dpid: int | None = None

    def live_ports(self) -> frozenset[int]:
        return frozenset(p.port_no for p in self.ports.values() if p.live)

    def undefined_groups(self) -> list[str]:
        """``file:line: group N is not defined`` for every flow or bucket that names a missing group.

        Open vSwitch refuses such a flow (OFPBAC_BAD_OUT_GROUP) or group; this says which line.
        """
        defined = sorted(self.groups)
        known = f"defined: {', '.join(map(str, defined))}" if defined else "no groups are defined"
        problems = []
        for flow in self.flows:
            for action in (*flow.apply_actions, *flow.write_actions):
                if isinstance(action, GroupAction) and action.group_id not in self.groups:
                    problems.append(f"{flow.location}: group {action.group_id} is not defined ({known})")
        for group in self.groups.values():
            for bucket in group.buckets:
                for action in bucket.actions:
                    if isinstance(action, GroupAction) and action.group_id not in self.groups:
                        where = f"{group.source}:{group.line}" if group.source else f"group {group.group_id}"
                        problems.append(f"{where}: group {action.group_id} is not defined ({known})")
        return problems


@dataclass(frozen=True)
class NetworkState:
    """Flow state of every switch of a lab, keyed by topology switch name."""

    switches: dict[str, SwitchState] = field(default_factory=dict)  # name -> SwitchState

    def __getitem__(self, name: str) -> SwitchState:
        return self.switches[name]

    @property
    def rule_count(self) -> int:
        return sum(len(s.flows) for s in self.switches.values())


def vlan_present(vector: int) -> int:
    return (FIELDS["vlan_vid"].get(vector) & OFPVID_PRESENT) != 0
