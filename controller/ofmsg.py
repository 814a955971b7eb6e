"""Small pure builders of OpenFlow 1.3 messages, matches and actions.

Nothing here sends anything: messages are built with ``datapath=None`` and the os-ken app
attaches the datapath when it sends them (``sdnlab.controller.apps.builtin``), so the logic
that decides which messages to send can be unit-tested without a switch.
"""

from __future__ import annotations

from os_ken.ofproto import ofproto_v1_3 as ofp
from os_ken.ofproto import ofproto_v1_3_parser as parser

OFPP_CONTROLLER = ofp.OFPP_CONTROLLER
OFPP_FLOOD = ofp.OFPP_FLOOD
OFPP_IN_PORT = ofp.OFPP_IN_PORT
OFPP_ANY = ofp.OFPP_ANY
OFPG_ANY = ofp.OFPG_ANY
NO_BUFFER = ofp.OFP_NO_BUFFER
ETH_TYPE_IP = 0x0800
ETH_TYPE_ARP = 0x0806
ETH_TYPE_LLDP = 0x88CC
ETH_TYPE_IPV6 = 0x86DD
VLAN_PRESENT = ofp.OFPVID_PRESENT


def match(**fields) -> parser.OFPMatch:
    """An OXM match from os-ken field names (``in_port``, ``eth_dst``, ``ipv4_src``, ...)."""
    return parser.OFPMatch(**{name: value for name, value in fields.items() if value is not None})


def output(port_no: int, max_len: int = ofp.OFPCML_NO_BUFFER) -> parser.OFPActionOutput:
    """Send the packet out of ``port_no`` (whole packet when sent to the controller)."""
    return parser.OFPActionOutput(port_no, max_len)


def group(group_id: int) -> parser.OFPActionGroup:
    """Process the packet through group ``group_id``."""
    return parser.OFPActionGroup(group_id)


def push_vlan(vid: int) -> list:
    """Push an 802.1Q tag carrying ``vid``."""
    return [parser.OFPActionPushVlan(0x8100), parser.OFPActionSetField(vlan_vid=VLAN_PRESENT | vid)]


def pop_vlan() -> parser.OFPActionPopVlan:
    """Remove the outer 802.1Q tag."""
    return parser.OFPActionPopVlan()


def set_field(**field) -> parser.OFPActionSetField:
    """Rewrite one header field."""
    return parser.OFPActionSetField(**field)


def apply_actions(actions: list) -> parser.OFPInstructionActions:
    """An apply-actions instruction."""
    return parser.OFPInstructionActions(ofp.OFPIT_APPLY_ACTIONS, list(actions))


def goto(table_id: int) -> parser.OFPInstructionGotoTable:
    """A goto-table instruction."""
    return parser.OFPInstructionGotoTable(table_id)


def flow_add(
    table_id: int,
    priority: int,
    match_,
    instructions: list,
    *,
    idle_timeout: int = 0,
    hard_timeout: int = 0,
    cookie: int = 0,
    buffer_id: int = NO_BUFFER,
    send_flow_rem: bool = False,
) -> parser.OFPFlowMod:
    """Add (or replace) one flow entry."""
    flags = ofp.OFPFF_SEND_FLOW_REM if send_flow_rem else 0
    return parser.OFPFlowMod(
        datapath=None,
        cookie=cookie,
        table_id=table_id,
        command=ofp.OFPFC_ADD,
        idle_timeout=idle_timeout,
        hard_timeout=hard_timeout,
        priority=priority,
        buffer_id=buffer_id,
        out_port=OFPP_ANY,
        out_group=OFPG_ANY,
        flags=flags,
        match=match_,
        instructions=instructions,
    )


def flow_delete(
    table_id: int = ofp.OFPTT_ALL,
    match_=None,
    *,
    cookie: int = 0,
    cookie_mask: int = 0,
    priority: int | None = None,
    out_port: int = OFPP_ANY,
) -> parser.OFPFlowMod:
    """Delete flows (strictly, at ``priority``, when a priority is given)."""
    command = ofp.OFPFC_DELETE if priority is None else ofp.OFPFC_DELETE_STRICT
    return parser.OFPFlowMod(
        datapath=None,
        cookie=cookie,
        cookie_mask=cookie_mask,
        table_id=table_id,
        command=command,
        priority=priority or 0,
        out_port=out_port,
        out_group=OFPG_ANY,
        match=match_ if match_ is not None else parser.OFPMatch(),
    )


def group_delete_all() -> parser.OFPGroupMod:
    """Delete every group on the switch."""
    return parser.OFPGroupMod(
        datapath=None, command=ofp.OFPGC_DELETE, type_=ofp.OFPGT_ALL, group_id=ofp.OFPG_ALL, buckets=[]
    )


def fast_failover_group(
    group_id: int, ports: list[int], *, command: int = ofp.OFPGC_ADD
) -> parser.OFPGroupMod:
    """A fast-failover group: the first live port of ``ports`` gets the packet."""
    buckets = [
        parser.OFPBucket(watch_port=port, watch_group=OFPG_ANY, actions=[output(port)]) for port in ports
    ]
    return parser.OFPGroupMod(
        datapath=None, command=command, type_=ofp.OFPGT_FF, group_id=group_id, buckets=buckets
    )


def packet_out(
    in_port: int, actions: list, data: bytes | None, buffer_id: int = NO_BUFFER
) -> parser.OFPPacketOut:
    """Send a packet (``data`` unless the switch buffered it) with ``actions``."""
    return parser.OFPPacketOut(
        datapath=None,
        buffer_id=buffer_id,
        in_port=in_port,
        actions=list(actions),
        data=None if buffer_id != NO_BUFFER else data,
    )


def barrier() -> parser.OFPBarrierRequest:
    """A barrier request."""
    return parser.OFPBarrierRequest(datapath=None)


def is_flow_add(msg) -> bool:
    """True for a flow-mod that adds a flow."""
    return isinstance(msg, parser.OFPFlowMod) and msg.command == ofp.OFPFC_ADD


def output_ports(msg) -> list[int]:
    """The output ports named by a flow-mod's or packet-out's actions, in order."""
    actions = []
    if isinstance(msg, parser.OFPPacketOut):
        actions = msg.actions
    elif isinstance(msg, parser.OFPFlowMod):
        for inst in msg.instructions:
            actions.extend(getattr(inst, "actions", []))
    return [action.port for action in actions if isinstance(action, parser.OFPActionOutput)]
