"""The symbolic pipeline partitions a header space exactly as concrete traces of its packets do.

Random multi-table rule sets (masks, prefixes, set-field, VLAN push/pop, write-actions,
metadata, goto_table, ALL/INDIRECT/FAST_FAILOVER groups) are run once on a wide header space and
then on many concrete packets inside it: each packet must fall in exactly the leaves whose spaces
contain it, and those leaves must emit the same copies (port and rewritten header) as the
concrete run. Also checks the witness search against brute force on small cubes.
"""

import random

import pytest

from sdnlab.grader.fields import ALL_BITS, FIELDS
from sdnlab.grader.headerspace import Space, covers, intersects, witness
from sdnlab.grader.model import Port, SwitchState
from sdnlab.grader.ofctl_text import parse_flows, parse_groups
from sdnlab.grader.pipeline import Emit, Fork, SwitchPipeline

IPS = ["10.0.0.1", "10.0.0.2", "10.0.1.7", "192.168.5.9"]
MACS = ["00:00:00:00:00:01", "00:00:00:00:00:02", "00:00:00:00:00:aa"]


def _rules(rng: random.Random) -> str:
    lines = []
    for _ in range(30):
        table = rng.choice([0, 0, 1, 2])
        match = [rng.choice(["ip", "tcp", "udp", "arp"])]
        if rng.random() < 0.5:
            match.append(f"in_port={rng.randint(1, 4)}")
        if rng.random() < 0.5:
            match.append(f"dl_dst={rng.choice(MACS)}")
        if match[0] != "arp" and rng.random() < 0.6:
            match.append(f"nw_dst={rng.choice(IPS)}{rng.choice(['', '/24', '/8', '/31'])}")
        if match[0] in ("tcp", "udp") and rng.random() < 0.5:
            match.append(f"tp_dst={rng.choice(['80', '0x50/0xfff0', '443', '0x1000/0x1000'])}")
        if rng.random() < 0.2:
            match.append(rng.choice(["vlan_tci=0x1000/0x1000", "vlan_tci=0x0000/0x1000"]))
        if table and rng.random() < 0.3:
            match.append(f"metadata={rng.randint(1, 2)}/0xf")
        actions = []
        for _ in range(rng.randint(0, 3)):
            kind = rng.choice(["out", "out", "mac", "ip", "vlan", "pop", "group", "in_port", "flood"])
            if kind == "out":
                actions.append(f"output:{rng.randint(1, 4)}")
            elif kind == "mac":
                actions.append(f"set_field:{rng.choice(MACS)}->eth_dst")
            elif kind == "ip" and match[0] != "arp":
                actions.append(f"set_field:{rng.choice(IPS)}->ip_dst")
            elif kind == "vlan":
                actions.append("push_vlan:0x8100,set_field:4101->vlan_vid")
            elif kind == "pop":
                actions.append("pop_vlan")
            elif kind == "group":
                actions.append(f"group:{rng.randint(1, 3)}")
            elif kind == "in_port":
                actions.append("IN_PORT")
            elif kind == "flood":
                actions.append("FLOOD")
        if rng.random() < 0.2:
            actions.append(f"write_actions(output:{rng.randint(1, 4)})")
        if table < 2 and rng.random() < 0.3:
            actions.append(f"write_metadata:{rng.randint(1, 2)}/0xf")
        if table < 2 and rng.random() < 0.4:
            actions.append(f"goto_table:{rng.randint(table + 1, 2)}")
        priority = rng.choice([1, 5, 10, 20])
        actions_text = ",".join(actions) or "drop"
        lines.append(f"table={table},priority={priority},{','.join(match)} actions={actions_text}")
    return "\n".join(lines)


GROUPS = "\n".join(
    [
        "group_id=1,type=all,bucket=actions=output:1,bucket=actions=set_field:00:00:00:00:00:99->eth_src,output:2",
        "group_id=2,type=indirect,bucket=actions=output:3",
        "group_id=3,type=ff,bucket=watch_port:4,actions=output:4,bucket=watch_port:2,actions=output:2",
    ]
)


def _contains(space: Space, vector: int) -> bool:
    if (vector ^ space.value) & space.mask:
        return False
    return not any(not ((vector ^ ev) & em) for ev, em in space.excluded)


def _emits_for(node, vector):
    """Copies a concrete packet makes according to the symbolic tree (None: not covered)."""
    if isinstance(node, Fork):
        if node.kind == "split":
            parts = [r for child in node.children if (r := _emits_for(child, vector)) is not None]
            assert len(parts) <= 1, "a packet fell in two parts of a partition"
            return parts[0] if parts else None
        parts = [_emits_for(child, vector) for child in node.children]
        if all(p is None for p in parts):
            return None
        return [e for p in parts if p for e in p]
    if node is None or not _contains(node.space, vector):
        return None
    if isinstance(node, Emit):
        header = (vector & ~node.space.set_mask) | node.space.set_value
        return [(node.port, header & ~FIELDS["metadata"].mask & ~FIELDS["in_port"].mask)]
    return []


def _concrete_emits(pipeline, vector, in_port):
    out = []

    def walk(node):
        if isinstance(node, Fork):
            for child in node.children:
                walk(child)
        elif isinstance(node, Emit):
            out.append(
                (node.port, node.space.current_value() & ~FIELDS["metadata"].mask & ~FIELDS["in_port"].mask)
            )

    walk(pipeline.run(Space(vector, ALL_BITS), in_port, frozenset({1, 2, 3})))
    return out


def _class_cube(rng):
    """A wide class: IPv4 or ARP from one port, most fields free."""
    triples = [("eth_type", rng.choice([0x0800, 0x0806]), 0xFFFF), ("nw_frag", 0, 3)]
    value = mask = 0
    for name, v, m in triples:
        value |= FIELDS[name].put(v)
        mask |= FIELDS[name].put(m)
    return value, mask


def _random_member(rng, value, mask):
    fields = {
        "eth_dst": rng.choice([0x000000000001, 0x000000000002, 0x0000000000AA, rng.getrandbits(48)]),
        "eth_src": rng.getrandbits(48),
        "vlan_vid": rng.choice([0, 0x1005, 0x1007]),
        "ip_proto": rng.choice([6, 17, 1]),
        "ipv4_dst": rng.choice(
            [0x0A000001, 0x0A000002, 0x0A000107, 0x0A0000FE, 0xC0A80509, rng.getrandbits(32)]
        ),
        "ipv4_src": rng.getrandbits(32),
        "tp_dst": rng.choice([80, 81, 0x5A, 443, 0x1234, rng.getrandbits(16)]),
        "tp_src": rng.getrandbits(16),
        "ip_ttl": 64,
    }
    vector = 0
    for name, v in fields.items():
        vector |= FIELDS[name].put(v)
    return (vector & ~mask) | (value & mask)


@pytest.mark.parametrize("seed", range(12))
def test_partition_matches_concrete_runs(seed):
    rng = random.Random(seed)
    state = SwitchState(
        "s", parse_flows(_rules(rng), "rules"), parse_groups(GROUPS), {p: Port(p) for p in (1, 2, 3, 4)}
    )
    pipeline = SwitchPipeline(state)
    for _ in range(3):
        value, mask = _class_cube(rng)
        in_port = rng.randint(1, 4)
        tree = pipeline.run(Space(value, mask), in_port, frozenset({1, 2, 3}))
        for _ in range(60):
            vector = _random_member(rng, value, mask)
            symbolic = _emits_for(tree, vector)
            assert symbolic is not None, "a packet of the class is in no part of the partition"
            assert sorted(symbolic) == sorted(_concrete_emits(pipeline, vector, in_port))


def test_witness_search_is_exact_on_small_cubes():
    rng = random.Random(3)
    bits = 6
    universe = range(1 << bits)
    for _ in range(300):
        cube_mask = rng.getrandbits(bits)
        cube = (rng.getrandbits(bits) & cube_mask, cube_mask)
        excluded = []
        for _ in range(rng.randint(0, 6)):
            m = rng.getrandbits(bits)
            excluded.append((rng.getrandbits(bits) & m, m))
        members = [
            x for x in universe if not ((x ^ cube[0]) & cube[1]) and all((x ^ ev) & em for ev, em in excluded)
        ]
        found = witness(cube[0], cube[1], excluded)
        if members:
            assert found in members
        else:
            assert found is None


def test_cube_relations():
    assert covers(0b0000, 0b0000, 0b1010, 0b1111)
    assert not covers(0b1000, 0b1000, 0b0000, 0b0000)
    assert intersects(0b10, 0b10, 0b11, 0b01) and not intersects(0b10, 0b10, 0b00, 0b10)
