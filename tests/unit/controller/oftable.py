"""A fake OpenFlow switch for the controller's unit tests: apply messages, ask what a packet does.

``FakeNetwork.apply({dpid: [messages]})`` keeps each switch's flow and group tables as an
OpenFlow 1.3 switch would (add replaces the same table/priority/match, delete and
delete-strict remove by match, cookie and priority, group add/modify/delete). ``forward(dpid,
in_port, **headers)`` then runs one concrete packet through the grader's pipeline model
(``sdnlab.grader.pipeline``), fed the tables in ofctl_rest's JSON form, and answers where it
leaves: ``{2}``, ``{"CONTROLLER"}`` or ``set()`` for a drop. Tests state behaviour ("h1 to h2
leaves s1 on port 3") instead of comparing message lists, as Faucet's FakeOFTable does.
"""

from __future__ import annotations

from os_ken.lib import ofctl_v1_3
from os_ken.ofproto import ofproto_v1_3 as ofp
from os_ken.ofproto import ofproto_v1_3_parser as parser

from sdnlab.grader.fields import ALL_BITS, FIELDS
from sdnlab.grader.headerspace import Space
from sdnlab.grader.model import Port, SwitchState
from sdnlab.grader.ofctl_rest import parse_rest_flows, parse_rest_groups
from sdnlab.grader.pipeline import Drop, Emit, Fork, SwitchPipeline, ToController

GROUP_TYPES = {
    ofp.OFPGT_ALL: "ALL",
    ofp.OFPGT_SELECT: "SELECT",
    ofp.OFPGT_INDIRECT: "INDIRECT",
    ofp.OFPGT_FF: "FF",
}


def _match_items(match) -> dict:
    return dict(match.items())


def _covers(filter_items: dict, flow_items: dict) -> bool:
    """True if a delete's match selects a flow (every field it names, the flow matches the same)."""
    return all(flow_items.get(name) == value for name, value in filter_items.items())


def _mac_int(text: str) -> int:
    return int(text.replace(":", ""), 16)


def _ipv4_int(text: str) -> int:
    a, b, c, d = (int(x) for x in text.split("."))
    return a << 24 | b << 16 | c << 8 | d


def packet_vector(**headers) -> int:
    """A header vector for the grader's model from field values (MACs and IPv4 as text)."""
    vector = 0
    for name, value in headers.items():
        if isinstance(value, str):
            value = _mac_int(value) if ":" in value else _ipv4_int(value)
        vector |= FIELDS[name].put(value)
    return vector


class FakeTable:
    """One switch's flow and group tables."""

    def __init__(self, ports=(1, 2, 3, 4)) -> None:
        self.flows: dict[tuple, parser.OFPFlowMod] = {}
        self.groups: dict[int, parser.OFPGroupMod] = {}
        self.ports = {p: Port(p) for p in ports}

    def apply(self, msgs) -> None:
        """Apply flow-mods and group-mods in order (packet-outs and others change no table)."""
        for msg in msgs:
            if isinstance(msg, parser.OFPFlowMod):
                self._flow_mod(msg)
            elif isinstance(msg, parser.OFPGroupMod):
                self._group_mod(msg)

    def _flow_mod(self, msg) -> None:
        items = _match_items(msg.match)
        if msg.command in (ofp.OFPFC_ADD, ofp.OFPFC_MODIFY, ofp.OFPFC_MODIFY_STRICT):
            self.flows[(msg.table_id, msg.priority, tuple(sorted(items.items())))] = msg
            return
        strict = msg.command == ofp.OFPFC_DELETE_STRICT
        for key, flow in list(self.flows.items()):
            if msg.table_id not in (ofp.OFPTT_ALL, flow.table_id):
                continue
            if (flow.cookie ^ msg.cookie) & msg.cookie_mask:
                continue
            flow_items = _match_items(flow.match)
            if strict and (flow.priority != msg.priority or flow_items != items):
                continue
            if _covers(items, flow_items):
                del self.flows[key]

    def _group_mod(self, msg) -> None:
        if msg.command == ofp.OFPGC_DELETE:
            if msg.group_id == ofp.OFPG_ALL:
                self.groups.clear()
            else:
                self.groups.pop(msg.group_id, None)
        else:
            self.groups[msg.group_id] = msg

    def state(self, name: str = "s") -> SwitchState:
        """The tables as the grader's model (through ofctl_rest's JSON, as the REST API shows them)."""
        entries = [
            {
                "table_id": flow.table_id,
                "priority": flow.priority,
                "cookie": flow.cookie,
                "match": ofctl_v1_3.match_to_str(flow.match),
                "actions": ofctl_v1_3.actions_to_str(flow.instructions),
            }
            for flow in self.flows.values()
        ]
        groups = [
            {
                "group_id": group.group_id,
                "type": GROUP_TYPES[group.type],
                "buckets": [
                    {
                        "weight": bucket.weight,
                        "watch_port": bucket.watch_port,
                        "actions": [ofctl_v1_3.action_to_str(a) for a in bucket.actions],
                    }
                    for bucket in group.buckets
                ],
            }
            for group in self.groups.values()
        ]
        return SwitchState(name, parse_rest_flows(entries), parse_rest_groups(groups), dict(self.ports))

    def forward(self, in_port: int, live=None, **headers) -> set:
        """Where one packet with ``headers`` entering on ``in_port`` goes: ports, "CONTROLLER", or {}."""
        pipeline = SwitchPipeline(self.state())
        live_ports = frozenset(self.ports) if live is None else frozenset(live)
        tree = pipeline.run(Space(packet_vector(in_port=in_port, **headers), ALL_BITS), in_port, live_ports)
        return _outcomes(tree)


def _outcomes(node) -> set:
    if isinstance(node, Fork):
        return set().union(*(_outcomes(child) for child in node.children))
    if isinstance(node, Emit):
        return {node.port}
    if isinstance(node, ToController):
        return {"CONTROLLER"}
    if node is None or isinstance(node, Drop):
        return set()
    raise TypeError(f"unexpected pipeline node {node!r}")


class FakeNetwork:
    """A fake table per dpid, fed with the ``{dpid: [messages]}`` the controller logic returns."""

    def __init__(self, ports=(1, 2, 3, 4)) -> None:
        self.ports = ports
        self.tables: dict[int, FakeTable] = {}

    def apply(self, per_dpid: dict) -> None:
        for dpid, msgs in per_dpid.items():
            self.tables.setdefault(dpid, FakeTable(self.ports)).apply(msgs)

    def forward(self, dpid: int, in_port: int, live=None, **headers) -> set:
        return self.tables[dpid].forward(in_port, live, **headers)
