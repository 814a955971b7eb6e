"""The built-in controller's flow-table layout and named priority bands, declared as data.

Table 0 (``INGRESS``) owns admission: quarantine drops, discovery (LLDP/ARP) to the
controller, service-chain classification and steering; its table-miss goes to table 1.
Table 1 (``FORWARD``) owns delivery: learned or routed destinations; its table-miss sends to
the controller. ``check_flow`` verifies a flow-mod against its table's declaration.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class TableSpec:
    """One flow table: id, name, the match fields it may use and the tables it may jump to."""

    table_id: int
    name: str
    match_fields: frozenset[str]
    next_tables: tuple[int, ...] = ()


INGRESS = TableSpec(
    0,
    "ingress",
    frozenset(
        {
            "in_port",
            "eth_src",
            "eth_dst",
            "eth_type",
            "vlan_vid",
            "ip_proto",
            "ipv4_src",
            "ipv4_dst",
            "tcp_src",
            "tcp_dst",
            "udp_src",
            "udp_dst",
            "arp_tpa",
            "arp_spa",
        }
    ),
    next_tables=(1,),
)
FORWARD = TableSpec(1, "forward", frozenset({"in_port", "eth_dst", "eth_src", "vlan_vid"}))
TABLES = {table.table_id: table for table in (INGRESS, FORWARD)}

# Priority bands, lowest first.
PRIORITY_MISS = 0
PRIORITY_L2 = 100  # learned/routed destinations
PRIORITY_BYPASS = 150  # failover bounce-back (in_port + eth_dst)
PRIORITY_DISCOVERY = 200  # ARP to the controller
PRIORITY_STEER = 300  # service chains (tagged transit and classification)
PRIORITY_OFFLOAD = 400  # one offloaded flow (exact 5-tuple) skipping the VNFs that decided it
PRIORITY_QUARANTINE = 1000  # drop a quarantined host

COOKIE_BUILTIN = 0x5D1AB000_00000000  # flows installed by the built-in app carry this cookie
COOKIE_MASK = 0xFFFFF000_00000000


def check_flow(msg) -> None:
    """Assert that a flow-mod uses only its table's match fields and allowed goto targets."""
    table = TABLES.get(msg.table_id)
    assert table is not None, f"flow for undeclared table {msg.table_id}"
    fields = {name for name, _ in msg.match.items()}
    extra = fields - table.match_fields
    assert not extra, f"table {table.name} does not match on {sorted(extra)}"
    for inst in msg.instructions:
        if type(inst).__name__ == "OFPInstructionGotoTable":
            assert inst.table_id in table.next_tables, (
                f"table {table.name} may not go to table {inst.table_id}"
            )
