"""The pipeline model for controller unit tests: what a switch does with a packet, given os-ken messages.

A controller's unit test collects the ``OFPFlowMod`` and ``OFPGroupMod`` messages its app sent
and asks the grader's model where a packet goes, instead of comparing message lists::

    tables = FlowTables.from_ofmsgs(sent_messages)
    assert tables.forwards("in_port=1,tcp,nw_src=10.0.0.1,nw_dst=10.0.0.2,tp_dst=80") == {3}

Packets are written in the ovs flow syntax of ``sdnlab.grader.trace`` (fields not given are
zero; ``in_port`` is required). Messages are applied in order, as a switch would: ``ADD``
replaces a rule with the same table, priority and match; ``DELETE``/``DELETE_STRICT`` and the
group commands are honoured. Messages of other types (packet-outs, barriers) are ignored.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sdnlab.grader.errors import FlowParseError
from sdnlab.grader.fields import OFPP_CONTROLLER
from sdnlab.grader.model import (
    Action,
    Bucket,
    DecTtl,
    Flow,
    Group,
    GroupAction,
    Match,
    Noop,
    Output,
    PopMpls,
    PopVlan,
    PushMpls,
    PushVlan,
    SetQueue,
    SwitchState,
)
from sdnlab.grader.ofctl_text import _set_field, parse_match_tokens

# OpenFlow 1.3 constants (from the specification, so this module needs no os-ken import)
_OFPFC_ADD, _OFPFC_MODIFY, _OFPFC_MODIFY_STRICT, _OFPFC_DELETE, _OFPFC_DELETE_STRICT = 0, 1, 2, 3, 4
_OFPGC_ADD, _OFPGC_MODIFY, _OFPGC_DELETE = 0, 1, 2
_OFPIT_GOTO_TABLE, _OFPIT_WRITE_METADATA, _OFPIT_WRITE_ACTIONS = 1, 2, 3
_OFPIT_APPLY_ACTIONS, _OFPIT_CLEAR_ACTIONS, _OFPIT_METER = 4, 5, 6
_OFPTT_ALL, _OFPG_ALL, _OFPP_ANY, _OFPG_ANY = 0xFF, 0xFFFFFFFC, 0xFFFFFFFF, 0xFFFFFFFF
_GROUP_TYPES = {0: "all", 1: "select", 2: "indirect", 3: "ff"}
_SOURCE = "<ofmsgs>"


def _oxm_text(name: str, value: object) -> str:
    """One os-ken match item as an ovs-ofctl match token (``ipv4_dst=10.0.0.0/255.255.255.0``)."""
    if isinstance(value, tuple):
        shown, mask = value
        return f"{name}={shown}/{mask:#x}" if isinstance(mask, int) else f"{name}={shown}/{mask}"
    return f"{name}={value}"


def match_of(ofmatch: Any, index: int = 0) -> Match:
    """An os-ken ``OFPMatch`` as the grader's ``Match``."""
    tokens = [_oxm_text(name, value) for name, value in ofmatch.items()]
    return parse_match_tokens(tokens, where=(_SOURCE, index))


def action_of(action: Any, index: int = 0) -> Action | None:
    """One os-ken action as the grader's action (None: no effect on forwarding)."""
    kind = type(action).__name__
    if kind == "OFPActionOutput":
        return Output(action.port, action.max_len)
    if kind == "OFPActionSetField":
        return _set_field(str(action.value), action.key, _SOURCE, index)
    if kind == "OFPActionGroup":
        return GroupAction(action.group_id)
    if kind == "OFPActionPushVlan":
        return PushVlan(action.ethertype)
    if kind == "OFPActionPopVlan":
        return PopVlan()
    if kind == "OFPActionPushMpls":
        return PushMpls(action.ethertype)
    if kind == "OFPActionPopMpls":
        return PopMpls(action.ethertype)
    if kind == "OFPActionDecNwTtl":
        return DecTtl()
    if kind == "OFPActionSetQueue":
        return SetQueue(action.queue_id)
    if kind in ("OFPActionCopyTtlIn", "OFPActionCopyTtlOut", "OFPActionSetMplsTtl", "OFPActionDecMplsTtl"):
        return Noop(kind)
    raise FlowParseError(_SOURCE, index, f"action {kind} is not modelled")


def _actions(actions: Iterable[Any], index: int) -> tuple[Action, ...]:
    return tuple(a for a in (action_of(x, index) for x in actions) if a is not None)


def flow_of(mod: Any, index: int = 0) -> Flow:
    """An os-ken ``OFPFlowMod`` (add/modify) as the grader's ``Flow``."""
    fields: dict[str, Any] = {"apply_actions": (), "write_actions": (), "clear_actions": False}
    for inst in mod.instructions:
        kind = inst.type
        if kind == _OFPIT_APPLY_ACTIONS:
            fields["apply_actions"] = fields["apply_actions"] + _actions(inst.actions, index)
        elif kind == _OFPIT_WRITE_ACTIONS:
            fields["write_actions"] = _actions(inst.actions, index)
        elif kind == _OFPIT_CLEAR_ACTIONS:
            fields["clear_actions"] = True
        elif kind == _OFPIT_GOTO_TABLE:
            fields["goto_table"] = inst.table_id
        elif kind == _OFPIT_WRITE_METADATA:
            fields["write_metadata"] = (inst.metadata, inst.metadata_mask)
        elif kind == _OFPIT_METER:
            fields["meter_id"] = inst.meter_id
    return Flow(
        table_id=mod.table_id,
        priority=mod.priority,
        match=match_of(mod.match, index),
        cookie=mod.cookie,
        line=index,
        source="flow-mod",
        text=f"flow-mod #{index}",
        **fields,
    )


def group_of(mod: Any, index: int = 0) -> Group:
    """An os-ken ``OFPGroupMod`` (add/modify) as the grader's ``Group``."""
    buckets = tuple(
        Bucket(
            actions=_actions(b.actions, index),
            weight=b.weight,
            watch_port=None if b.watch_port == _OFPP_ANY else b.watch_port,
            watch_group=None if b.watch_group == _OFPG_ANY else b.watch_group,
        )
        for b in mod.buckets
    )
    return Group(mod.group_id, _GROUP_TYPES[mod.type], buckets, line=index, source="group-mod")


def _covers(outer: Match, inner: Match) -> bool:
    """Whether every packet of ``inner`` matches ``outer`` (non-strict delete semantics)."""
    return (outer.mask & inner.mask) == outer.mask and (outer.value ^ inner.value) & outer.mask == 0


@dataclass
class FlowTables:
    """One switch's flow tables and groups, built from os-ken messages, asked what happens to packets."""

    flows: list[Flow] = field(default_factory=list)
    groups: dict[int, Group] = field(default_factory=dict)
    ports: tuple[int, ...] = ()  # the switch's ports (FLOOD/ALL use them); empty: ports seen in rules

    @classmethod
    def from_ofmsgs(cls, msgs: Iterable[Any], ports: Iterable[int] = ()) -> FlowTables:
        """Apply ``OFPFlowMod``/``OFPGroupMod`` messages in order (others are ignored)."""
        tables = cls(ports=tuple(ports))
        for index, msg in enumerate(msgs, start=1):
            tables.apply(msg, index)
        return tables

    def apply(self, msg: Any, index: int = 0) -> None:
        """Apply one message as a switch would."""
        kind = type(msg).__name__
        if kind == "OFPFlowMod":
            self._flow_mod(msg, index)
        elif kind == "OFPGroupMod":
            if msg.command == _OFPGC_DELETE:
                if msg.group_id == _OFPG_ALL:
                    self.groups.clear()
                else:
                    self.groups.pop(msg.group_id, None)
            else:
                self.groups[msg.group_id] = group_of(msg, index)

    def _flow_mod(self, mod: Any, index: int) -> None:
        command = mod.command
        if command in (_OFPFC_ADD, _OFPFC_MODIFY, _OFPFC_MODIFY_STRICT):
            flow = flow_of(mod, index)
            self.flows = [f for f in self.flows if f.key != flow.key] + [flow]
            return
        match = match_of(mod.match, index)
        tables = None if mod.table_id == _OFPTT_ALL else mod.table_id
        if command == _OFPFC_DELETE_STRICT:
            key = (mod.table_id, mod.priority, match.value, match.mask)
            self.flows = [f for f in self.flows if f.key != key]
        elif command == _OFPFC_DELETE:
            self.flows = [
                f
                for f in self.flows
                if not ((tables is None or f.table_id == tables) and _covers(match, f.match))
            ]

    @property
    def state(self) -> SwitchState:
        """The tables as the grader's ``SwitchState``."""
        return SwitchState("switch", tuple(self.flows), dict(self.groups))

    def _ports_in_rules(self) -> tuple[int, ...]:
        """Physical ports the rules name (in_port matches and outputs): FLOOD's reach without ``ports``."""
        found = set()
        for f in self.flows:
            in_port = f.match.get("in_port")
            if in_port is not None:
                found.add(in_port.value)
            found.update(a.port for a in (*f.apply_actions, *f.write_actions) if isinstance(a, Output))
        for g in self.groups.values():
            found.update(a.port for b in g.buckets for a in b.actions if isinstance(a, Output))
        return tuple(sorted(p for p in found if p < 0xFFFFFF00))

    def trace(self, packet: str) -> Mapping[str, Any]:
        """The full trace of one packet (see ``sdnlab.grader.trace.trace_packets``)."""
        from sdnlab.grader.pipeline import SwitchPipeline
        from sdnlab.grader.trace import parse_packet, trace_space

        pipeline = SwitchPipeline(self.state, ports=self.ports or self._ports_in_rules())
        return {"packet": packet, **trace_space(pipeline, parse_packet(packet))}

    def forwards(self, packet: str) -> frozenset[int]:
        """The ports the packet leaves on (the controller as ``OFPP_CONTROLLER``; empty: dropped).

        With a SELECT group, the first live bucket is taken (``trace`` lists the alternatives).
        """
        result = self.trace(packet)
        ports = {out["port"] for out in result["outputs"]}
        if result["controller"]:
            ports.add(OFPP_CONTROLLER)
        return frozenset(ports)
