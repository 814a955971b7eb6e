"""The OpenFlow 1.3 pipeline of one switch, run on header spaces (concrete or symbolic).

``SwitchPipeline(state).run(space, in_port)`` returns an execution tree:

- ``Emit(port, space)``: the packets leave through ``port`` with ``space.current`` headers;
- ``Drop(space, reason)`` and ``ToController(space)``;
- ``Fork(kind, children)``: ``split`` partitions the original packets (different rules matched),
  ``fanout`` sends copies of the same packets (several outputs, ALL groups), ``choice`` is a
  nondeterministic pick (SELECT group buckets).

Semantics follow Open vSwitch: tables in order, highest priority first, table-miss drops, the
action set runs when the pipeline ends (also after a miss), apply-actions run in order, group
buckets act on clones, ``output:N`` to the input port is skipped (``IN_PORT`` is needed),
FLOOD/ALL go to every port but the input port, ``set_field vlan_vid`` needs a tag already present,
fast-failover groups take the first bucket whose watch port is live.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sdnlab.grader.fields import (
    FIELDS,
    OFPP_ALL,
    OFPP_CONTROLLER,
    OFPP_FLOOD,
    OFPP_IN_PORT,
    OFPP_LOCAL,
    OFPP_NORMAL,
    OFPP_TABLE,
    OFPVID_PRESENT,
)
from sdnlab.grader.headerspace import Space
from sdnlab.grader.model import (
    Action,
    Bucket,
    DecTtl,
    Flow,
    GroupAction,
    Meter,
    ModVlanPcp,
    ModVlanVid,
    Move,
    Noop,
    Output,
    PopMpls,
    PopVlan,
    PushMpls,
    PushVlan,
    Resubmit,
    SetField,
    SetQueue,
    SwitchState,
)

MAX_RESUBMIT_DEPTH = 16
Steps = tuple["Step", ...]
Live = frozenset[int] | None  # ports that are up; None: all
ActionSet = dict[str, Action]
Index = tuple[Any, dict[int, list[Flow]], list[Flow], dict[int, list[Flow]]]  # (Field | None, ...)
INDEX_THRESHOLD = 48  # tables shorter than this are scanned linearly
INDEX_FIELDS = ("ipv4_dst", "eth_dst", "ipv4_src", "eth_src", "tp_dst")
_F_IN_PORT = FIELDS["in_port"]
_F_VLAN = FIELDS["vlan_vid"]
_F_PCP = FIELDS["vlan_pcp"]
_F_TTL = FIELDS["ip_ttl"]
_F_ETH_TYPE = FIELDS["eth_type"]
_F_METADATA = FIELDS["metadata"]
_PRESENT_BIT = _F_VLAN.put(OFPVID_PRESENT)


@dataclass(frozen=True)
class Step:
    """One thing that happened to a packet on a switch: a rule (or miss) in a table, or a group."""

    switch: str
    table_id: int
    flow: Flow | None = None
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        """The step as JSON-ready data (rule fields, or the note of a miss or group)."""
        data: dict[str, Any] = {"switch": self.switch, "table": self.table_id}
        if self.flow is not None:
            data.update(
                priority=self.flow.priority,
                match=self.flow.match.describe(),
                actions=self.flow.describe_actions(),
                cookie=hex(self.flow.cookie),
                line=self.flow.line,
            )
            if self.flow.source:
                data["source"] = self.flow.source
            data["where"] = self.flow.location  # s2.flows:3, or "dump-flows s2 line 3" when no file wrote it
        if self.note:
            data["note"] = self.note
        return data

    def describe(self) -> str:
        if self.flow is None:
            return f"{self.switch} table {self.table_id}: {self.note}"
        f = self.flow
        text = (
            f"{self.switch} table {self.table_id} priority {f.priority} [{f.match.describe()}] "
            f"-> {f.describe_actions()} (cookie {hex(f.cookie)}, {f.location})"
        )
        return text + (f"; {self.note}" if self.note else "")


class Emit:
    __slots__ = ("port", "space", "steps")
    kind = "emit"

    def __init__(self, port: int, space: Space, steps: Steps):
        self.port, self.space, self.steps = port, space, steps


class Drop:
    __slots__ = ("reason", "space", "steps")
    kind = "drop"

    def __init__(self, space: Space, reason: str, steps: Steps):
        self.space, self.reason, self.steps = space, reason, steps


class ToController:
    __slots__ = ("space", "steps")
    kind = "controller"

    def __init__(self, space: Space, steps: Steps):
        self.space, self.steps = space, steps


class Fork:
    __slots__ = ("children", "kind")

    def __init__(self, kind: str, children: list[Any]):  # pipeline nodes, or propagation-tree nodes
        self.kind, self.children = kind, children


Node = Emit | Drop | ToController | Fork  # a node of a switch's execution tree
Then = Callable[[Space], "Node | None"]  # what runs after an action list


def _group_by_in_port(flows: list[Flow]) -> tuple[dict[int, list[Flow]], list[Flow], dict[int, int]]:
    """({in_port: flows matching exactly that port}, flows wildcarding in_port, position of each flow)."""
    full = _F_IN_PORT.mask
    exact: dict[int, list[Flow]] = {}
    wild = []
    for flow in flows:
        m = flow.match.mask
        if m >= 0 and (m & full) == full:
            exact.setdefault(_F_IN_PORT.get(flow.match.value), []).append(flow)
        elif m >= 0 and not (m & full):
            wild.append(flow)
        else:
            wild.append(flow)  # a partial in_port mask (or an impossible match): keep it, lookup decides
    order = {id(flow): i for i, flow in enumerate(flows)}
    return exact, wild, order


def _build_index(flows: list[Flow]) -> Index:
    """(field, {value: [flows exact on it]}, [other flows], {}) for the best index field."""
    best, best_count = None, 0
    for name in INDEX_FIELDS:
        f = FIELDS[name]
        count = sum(1 for fl in flows if (fl.match.mask & f.mask) == f.mask)
        if count > best_count:
            best, best_count = f, count
    if best is None or best_count < len(flows) // 2:
        return None, {}, [], {}
    by_value: dict[int, list[Flow]] = {}
    wild = []
    for fl in flows:
        if (fl.match.mask & best.mask) == best.mask:
            by_value.setdefault(best.get(fl.match.value), []).append(fl)
        else:
            wild.append(fl)
    return best, by_value, wild, {}


def fanout(children: Iterable[Node | None]) -> Node | None:
    """One node for several outcomes of the same packets (None when there are none)."""
    children = [c for c in children if c is not None]
    if not children:
        return None
    if len(children) == 1:
        return children[0]
    return Fork("fanout", children)


def _action_key(action: Action) -> str:
    if isinstance(action, SetField):
        return "set_field:" + action.field
    return type(action).__name__


def _move(action: Move, space: Space) -> tuple[Space, str]:
    """Copy the source bits into the destination when they are known for the whole space.

    A copy from bits that differ between the space's packets would relate two fields, which a
    cube cannot express: the destination is then left as it was and the step says so.
    """
    src, dst = FIELDS[action.src], FIELDS[action.dst]
    value, mask = space.current
    src_bits = src.put(action.src_mask)
    if mask & src_bits != src_bits:
        return space, f"{action.describe()}: source not constant for this class, not modelled"
    bits = src.get(value) & action.src_mask
    low_src = (action.src_mask & -action.src_mask).bit_length() - 1
    low_dst = (action.dst_mask & -action.dst_mask).bit_length() - 1
    moved = ((bits >> low_src) << low_dst) & action.dst_mask
    return space.rewrite(dst.put(moved), dst.put(action.dst_mask)), ""


# Order in which an action set executes (OpenFlow 1.3 section 5.10).
_ACTION_SET_ORDER = {
    "PopVlan": 1,
    "PopMpls": 1,
    "PushMpls": 2,
    "PushVlan": 3,
    "ModVlanVid": 3,
    "ModVlanPcp": 3,
    "DecTtl": 4,
    "SetQueue": 6,
    "GroupAction": 7,
    "Output": 8,
}


class SwitchPipeline:
    """Runs spaces through one switch's tables and groups."""

    def __init__(self, state: SwitchState, ports: Iterable[int] | None = None):
        self.state = state
        self.name = state.name
        tables: dict[int, list[Flow]] = {}
        for flow in state.flows:
            tables.setdefault(flow.table_id, []).append(flow)
        # Highest priority first; equal priorities keep dump order.
        self.tables = {t: sorted(flows, key=lambda f: -f.priority) for t, flows in tables.items()}
        self.ports = tuple(sorted(ports if ports is not None else state.ports.keys()))
        self._port_set = frozenset(self.ports)
        self._candidates: dict[tuple[int, int | None], list[Flow]] = {}
        self._by_port: dict[int, tuple[dict[int, list[Flow]], list[Flow], dict[int, int]]] = {}
        self._indexes: dict[int, tuple[list[Flow], Index]] = {}

    # ---- lookup ---------------------------------------------------------------------------
    def candidates(self, table_id: int, in_port: int | None) -> list[Flow]:
        """Flows of a table that can match packets from ``in_port`` (priority order)."""
        key = (table_id, in_port)
        cached = self._candidates.get(key)
        if cached is None:
            flows = self.tables.get(table_id, [])
            if in_port is None:
                cached = flows
            else:
                by_port = self._by_port.get(table_id)
                if by_port is None:
                    by_port = self._by_port[table_id] = _group_by_in_port(flows)
                exact, wild, order = by_port
                mine = exact.get(in_port, [])
                cached = sorted(mine + wild, key=lambda f: order[id(f)]) if mine else wild
            self._candidates[key] = cached
        return cached

    def indexed(self, table_id: int, in_port: int | None, value: int, mask: int) -> list[Flow]:
        """Candidates narrowed by an exact-match index on one address field, when the table is large.

        Tables with many host routes (``nw_dst=10.1.0.7``) would otherwise cost one cube test per
        rule per lookup; rules exact on the index field are grouped by value and merged with the
        rules that wildcard it, keeping priority order.
        """
        flows = self.candidates(table_id, in_port)
        if len(flows) < INDEX_THRESHOLD:
            return flows
        key = id(flows)  # ports whose candidates are the same list share one index
        entry = self._indexes.get(key)
        if entry is None:
            entry = self._indexes[key] = (flows, _build_index(flows))  # keeps the list alive: ids stay unique
        field, by_value, wild, merged = entry[1]
        if field is None or (mask & field.mask) != field.mask:
            return flows
        v = field.get(value)
        hit = merged.get(v)
        if hit is None:
            exact = by_value.get(v, [])
            hit = merged[v] = sorted(exact + wild, key=lambda f: (-f.priority, f.line))
        return hit

    def lookup(self, table_id: int, space: Space) -> list[tuple[Flow | None, Space]]:
        """Partition ``space`` by the flow of ``table_id`` each packet matches (None = miss)."""
        value, mask = space.current
        in_port = _F_IN_PORT.get(value) if (mask & _F_IN_PORT.mask) == _F_IN_PORT.mask else None
        concrete = space.is_concrete
        parts: list[tuple[Flow | None, Space]] = []
        rest: Space | None = space
        for flow in self.indexed(table_id, in_port, value, mask):
            if rest is None:
                break
            m = flow.match
            if m.mask < 0:
                continue
            part = rest.restrict(m.value, m.mask)
            if part is None:
                continue
            if not concrete and part.excluded and part.pick() is None:
                continue
            parts.append((flow, part))
            rest = rest.subtract(m.value, m.mask)
        if rest is not None and (concrete or not rest.excluded or rest.pick() is not None):
            parts.append((None, rest))
        return parts

    # ---- running ---------------------------------------------------------------------------
    def run(self, space: Space, in_port: int, live: Live = None) -> Node | None:
        """Execution tree for packets ``space`` arriving on ``in_port`` (live: ports up, None = all)."""
        space = space.rewrite(_F_IN_PORT.put(in_port), _F_IN_PORT.mask).rewrite(0, _F_METADATA.mask)
        return self._table(0, space, {}, (), live, 0)

    def _table(
        self,
        table_id: int,
        space: Space,
        action_set: ActionSet,
        steps: Steps,
        live: Live,
        depth: int,
        nested: bool = False,
    ) -> Node | None:
        children: list[Node | None] = []
        for flow, part in self.lookup(table_id, space):
            if flow is None:
                miss_steps = (*steps, Step(self.name, table_id, None, "no match (table-miss: drop)"))
                if nested:
                    children.append(None)
                elif action_set:
                    children.append(self._action_set(part, action_set, miss_steps, live, depth))
                else:
                    children.append(Drop(part, f"table {table_id} miss", miss_steps))
            else:
                children.append(self._flow(flow, part, action_set, steps, live, depth, nested))
        found = [c for c in children if c is not None]
        if not found:
            return None
        return found[0] if len(found) == 1 else Fork("split", found)

    def _flow(
        self,
        flow: Flow,
        space: Space,
        action_set: ActionSet,
        steps: Steps,
        live: Live,
        depth: int,
        nested: bool,
    ) -> Node | None:
        steps = (*steps, Step(self.name, flow.table_id, flow))

        def after_apply(sp: Space) -> Node | None:
            new_set = {} if flow.clear_actions else action_set
            if flow.write_actions:
                new_set = dict(new_set)
                for action in flow.write_actions:
                    new_set[_action_key(action)] = action
            if flow.write_metadata is not None:
                value, mask = flow.write_metadata
                sp = sp.rewrite(_F_METADATA.put(value & mask), _F_METADATA.put(mask))
            if flow.goto_table is not None:
                node = self._table(flow.goto_table, sp, new_set, steps, live, depth, nested)
                return node
            if nested:
                return None
            if new_set:
                return self._action_set(sp, new_set, steps, live, depth)
            return None

        def after_abort(sp: Space) -> Node | None:
            return None if nested or not action_set else self._action_set(sp, action_set, steps, live, depth)

        node = self.run_actions(flow.apply_actions, space, steps, live, depth, after_apply, after_abort)
        if node is None and not nested:
            return Drop(space, f"rule at {flow.location} has no output", steps)
        return node

    def _action_set(self, space: Space, action_set: ActionSet, steps: Steps, live: Live, depth: int) -> Node:
        ordered = sorted(action_set.values(), key=lambda a: _ACTION_SET_ORDER.get(type(a).__name__, 5))
        if any(isinstance(a, GroupAction) for a in ordered):
            ordered = [a for a in ordered if not isinstance(a, Output)]
        steps = (*steps, Step(self.name, -1, None, "action set: " + ",".join(a.describe() for a in ordered)))
        node = self.run_actions(tuple(ordered), space, steps, live, depth, lambda sp: None)
        return node if node is not None else Drop(space, "action set has no output", steps)

    def run_actions(
        self,
        actions: Sequence[Action],
        space: Space,
        steps: Steps,
        live: Live,
        depth: int,
        then: Then,
        abort: Then | None = None,
    ) -> Node | None:
        """Execute an action list in order; ``then(space)`` continues after the last action.

        ``abort(space)`` continues instead when an exception (TTL) stops the list.
        """
        out: list[Node | None] = []
        for i, action in enumerate(actions):
            if isinstance(action, Output):
                out.append(self._output(action.port, space, steps))
            elif isinstance(action, SetField):
                f = FIELDS[action.field]
                if action.field == "vlan_vid":
                    present = self._vlan_present(space)
                    if present is None:
                        return fanout(
                            [*out, self._split_vlan(actions[i:], space, steps, live, depth, then, abort)]
                        )
                    if not present:
                        continue
                space = space.rewrite(f.put(action.value & action.mask), f.put(action.mask))
            elif isinstance(action, (PushVlan, PopVlan, ModVlanVid, ModVlanPcp)):
                present = self._vlan_present(space)
                if present is None:
                    return fanout(
                        [*out, self._split_vlan(actions[i:], space, steps, live, depth, then, abort)]
                    )
                space = self._vlan_action(action, space, present)
            elif isinstance(action, DecTtl):
                value, mask = space.current
                ip_packet = (mask & _F_ETH_TYPE.mask) == _F_ETH_TYPE.mask and _F_ETH_TYPE.get(value) in (
                    0x0800,
                    0x86DD,
                )
                if ip_packet and (mask & _F_TTL.mask) == _F_TTL.mask:
                    ttl = _F_TTL.get(value)
                    if ttl <= 1:
                        # OVS stops the actions and raises a packet-in with reason invalid_ttl.
                        # The rest of the rule's actions and instructions are skipped; the
                        # action set gathered so far still runs at the end of the pipeline.
                        out.append(
                            ToController(
                                space,
                                (
                                    *steps,
                                    Step(self.name, -1, None, "dec_ttl: TTL exception -> controller"),
                                ),
                            )
                        )
                        if abort is not None:
                            out.append(abort(space))
                        return fanout(out)
                    space = space.rewrite(_F_TTL.put(ttl - 1), _F_TTL.mask)
            elif isinstance(action, GroupAction):
                out.append(self._group(action.group_id, space, steps, live, depth))
            elif isinstance(action, (PushMpls, PopMpls)):
                space = space.rewrite(_F_ETH_TYPE.put(action.ethertype), _F_ETH_TYPE.mask)
            elif isinstance(action, Resubmit):
                if depth >= MAX_RESUBMIT_DEPTH:
                    out.append(Drop(space, "resubmit depth exceeded", steps))
                    continue
                sub = space
                if action.port is not None:
                    sub = sub.rewrite(_F_IN_PORT.put(action.port), _F_IN_PORT.mask)
                table = action.table if action.table is not None else steps[-1].table_id if steps else 0
                out.append(self._table(table, sub, {}, steps, live, depth + 1, nested=True))
            elif isinstance(action, Move):
                space, note = _move(action, space)
                if note:
                    steps = (*steps, Step(self.name, -1, None, note))
            elif isinstance(action, (SetQueue, Meter, Noop)):
                continue
        out.append(then(space))
        return fanout(out)

    # ---- helpers --------------------------------------------------------------------------
    @staticmethod
    def _vlan_present(space: Space) -> bool | None:
        value, mask = space.current
        if mask & _PRESENT_BIT:
            return bool(value & _PRESENT_BIT)
        return None

    def _split_vlan(
        self,
        actions: Sequence[Action],
        space: Space,
        steps: Steps,
        live: Live,
        depth: int,
        then: Then,
        abort: Then | None = None,
    ) -> Node | None:
        children: list[Node | None] = []
        for bit in (_PRESENT_BIT, 0):
            part = space.restrict(bit, _PRESENT_BIT)
            if part is not None:
                children.append(self.run_actions(actions, part, steps, live, depth, then, abort))
        found = [c for c in children if c is not None]
        return found[0] if len(found) == 1 else (Fork("split", found) if found else None)

    @staticmethod
    def _vlan_action(
        action: PushVlan | PopVlan | ModVlanVid | ModVlanPcp, space: Space, present: bool
    ) -> Space:
        if isinstance(action, PopVlan):
            return space.rewrite(0, _F_VLAN.mask | _F_PCP.mask) if present else space
        if isinstance(action, PushVlan):
            if present:
                return space  # the new outer tag copies the existing VID/PCP
            return space.rewrite(_PRESENT_BIT, _F_VLAN.mask | _F_PCP.mask)
        # ModVlanVid / ModVlanPcp: push if needed, then set the VID or the PCP.
        if not present:
            space = space.rewrite(_PRESENT_BIT, _F_VLAN.mask | _F_PCP.mask)
        if isinstance(action, ModVlanPcp):
            return space.rewrite(_F_PCP.put(action.pcp), _F_PCP.mask)
        return space.rewrite(_F_VLAN.put(action.vid), _F_VLAN.put(0xFFF))

    def _output(self, port: int, space: Space, steps: Steps) -> Node | None:
        value, _ = space.current
        in_port = _F_IN_PORT.get(value)
        if port == OFPP_IN_PORT:
            return Emit(in_port, space, steps)
        if port == OFPP_CONTROLLER:
            return ToController(space, steps)
        if port in (OFPP_FLOOD, OFPP_ALL, OFPP_NORMAL):
            if not self.ports:
                return Emit(port, space, steps)
            return fanout([Emit(p, space, steps) for p in self.ports if p != in_port])
        if port == OFPP_TABLE:
            return None
        if port == in_port:
            return None  # OVS skips output to the input port unless IN_PORT is used
        if self.ports and port not in self._port_set and port != OFPP_LOCAL:
            return None  # nonexistent port: OVS outputs nothing
        return Emit(port, space, steps)

    def _bucket_live(self, bucket: Bucket, live: Live, seen: tuple[int, ...] = ()) -> bool:
        if (
            bucket.watch_port is not None
            and bucket.watch_port < 0xFFFFFF00
            and live is not None
            and bucket.watch_port not in live
        ):
            return False
        if bucket.watch_group is not None and bucket.watch_group < 0xFFFFFF00:
            group = self.state.groups.get(bucket.watch_group)
            if group is None or bucket.watch_group in seen:
                return False
            return any(self._bucket_live(b, live, (*seen, bucket.watch_group)) for b in group.buckets)
        return True

    def _group(self, group_id: int, space: Space, steps: Steps, live: Live, depth: int) -> Node | None:
        group = self.state.groups.get(group_id)
        if group is None:
            return Drop(
                space,
                f"group {group_id} does not exist",
                (*steps, Step(self.name, -1, None, f"group:{group_id} missing")),
            )
        if depth >= MAX_RESUBMIT_DEPTH:
            return Drop(space, "group chaining too deep", steps)

        def bucket_node(index: int, bucket: Bucket) -> Node | None:
            bsteps = (*steps, Step(self.name, -1, None, f"group {group_id} ({group.type}) bucket {index}"))
            return self.run_actions(bucket.actions, space, bsteps, live, depth + 1, lambda sp: None)

        if group.type == "all":
            return fanout([bucket_node(i, b) for i, b in enumerate(group.buckets)])
        if group.type == "indirect":
            return bucket_node(0, group.buckets[0]) if group.buckets else None
        live_buckets = [(i, b) for i, b in enumerate(group.buckets) if self._bucket_live(b, live)]
        if not live_buckets:
            return Drop(space, f"group {group_id} ({group.type}) has no live bucket", steps)
        if group.type == "ff":
            return bucket_node(*live_buckets[0])
        children: list[Node] = [
            c if c is not None else Drop(space, f"group {group_id} bucket outputs nothing", steps)
            for c in (bucket_node(i, b) for i, b in live_buckets)
        ]
        return children[0] if len(children) == 1 else Fork("choice", children)
