"""Differential test of the static flow parser against real ``ovs-ofctl`` (issue 11 item 10).

Random add-flows and add-groups lines in the many spellings ovs-ofctl accepts for OpenFlow 1.3
(``bucket=watch_port=3,actions=output:3``, attributes after the actions, ``action=``, repeated
fields, unmet prerequisites, ...) go through ``ovs-ofctl parse-flow``/``parse-group`` and through
``sdnlab.grader.ofctl_text``. Every line OVS accepts must parse, and must mean what OVS made of it:
the grader's reading of the original line equals its reading of OVS's normalised line (table,
priority, cookie, match cube, outputs, groups, buckets with weights and watch ports).
No bridge is needed: ovs-ofctl parses offline.
"""

from __future__ import annotations

import random
import re
import shutil
import subprocess

import pytest

from sdnlab.grader.errors import FlowParseError
from sdnlab.grader.model import Flow, Group, GroupAction, Output
from sdnlab.grader.ofctl_text import parse_flow_line, parse_group_line

pytestmark = pytest.mark.skipif(shutil.which("ovs-ofctl") is None, reason="ovs-ofctl is not installed")

ROUNDS, LINES_PER_ROUND = 6, 120

MATCHES = [
    lambda r: f"in_port={r.randint(1, 64)}",
    lambda r: r.choice(["dl_src", "eth_src"]) + f"=00:00:00:00:00:{r.randint(1, 99):02d}",
    lambda r: r.choice(["dl_dst", "eth_dst"]) + "=ff:ff:ff:ff:ff:ff",
    lambda r: "dl_dst=01:00:00:00:00:00/01:00:00:00:00:00",
    lambda r: f"dl_vlan={r.randint(1, 4094)}",
    lambda r: f"vlan_vid={r.randint(1, 4094) | 0x1000}",
    lambda r: "vlan_vid=0x1000/0x1000",
    lambda r: f"dl_vlan_pcp={r.randint(0, 7)}",
    lambda r: "vlan_tci=0",
    lambda r: r.choice(["nw_src", "ip_src"]) + f"=10.0.{r.randint(0, 255)}.{r.randint(0, 255)}",
    lambda r: r.choice(["nw_dst", "ip_dst"]) + f"=10.{r.randint(0, 255)}.0.0/{r.choice([8, 16, 24, 32])}",
    lambda r: "nw_dst=10.0.0.0/255.255.0.0",
    lambda r: f"ip_dscp={r.randint(0, 63)}",
    lambda r: f"nw_tos={r.randint(0, 63) * 4}",
    lambda r: f"nw_ttl={r.randint(1, 255)}",
    lambda r: f"metadata={r.randint(0, 255)}",
    lambda r: f"metadata=0x{r.randint(0, 255):x}/0xff",
    lambda r: f"reg0={r.randint(0, 9)}",
]
L4 = {
    "tcp": [
        lambda r: r.choice(["tp_dst", "tcp_dst"]) + f"={r.randint(1, 65535)}",
        lambda r: f"tcp_src={r.randint(1, 65535)}",
        lambda r: "tcp_flags=+syn-ack",
        lambda r: f"tp_dst=0x{r.randint(0, 255) << 8:x}/0xff00",
    ],
    "udp": [
        lambda r: r.choice(["tp_src", "udp_src"]) + f"={r.randint(1, 65535)}",
        lambda r: f"udp_dst={r.randint(1, 65535)}",
    ],
    "icmp": [lambda r: f"icmp_type={r.randint(0, 20)}", lambda r: f"icmp_code={r.randint(0, 5)}"],
    "arp": [
        lambda r: f"arp_tpa=10.0.0.{r.randint(1, 9)}",
        lambda r: "arp_spa=10.0.0.0/24",
        lambda r: f"arp_op={r.randint(1, 2)}",
        lambda r: "arp_sha=00:00:00:00:00:01",
        lambda r: "arp_tha=00:00:00:00:00:00",
    ],
    "ip": [
        lambda r: f"nw_proto={r.choice([1, 6, 17, 47])}",
        lambda r: "nw_frag=no",
        lambda r: "ip_frag=first",
    ],
}
ACTIONS = [
    lambda r: f"output:{r.randint(1, 64)}",
    lambda r: f"{r.randint(1, 64)}",
    lambda r: f"output(port={r.randint(1, 9)},max_len=128)",
    lambda r: r.choice(
        [
            "NORMAL",
            "FLOOD",
            "ALL",
            "IN_PORT",
            "LOCAL",
            "normal",
            "flood",
            "in_port",
            "CONTROLLER",
            "controller",
            "controller:65535",
            "CONTROLLER:128",
        ]
    ),
    lambda r: "controller(reason=no_match)",
    lambda r: "controller(max_len=200)",
    lambda r: "mod_dl_src:00:00:00:00:00:0a",
    lambda r: "mod_dl_dst:00:00:00:00:00:0b",
    lambda r: "mod_nw_dst:10.0.0.7",
    lambda r: "mod_nw_src:10.0.0.8",
    lambda r: f"mod_nw_tos:{r.randint(0, 63) * 4}",
    lambda r: "set_field:10.0.0.9->ip_dst",
    lambda r: "set_field:00:00:00:00:00:01->eth_dst",
    lambda r: f"set_field:{r.randint(1, 4094) | 0x1000}->vlan_vid",
    lambda r: "set_field:5->ip_dscp",
    lambda r: "set_field:0x1/0x1->metadata",
    lambda r: "push_vlan:0x8100",
    lambda r: "pop_vlan",
    lambda r: "strip_vlan",
    lambda r: f"mod_vlan_vid:{r.randint(1, 4094)}",
    lambda r: f"mod_vlan_pcp:{r.randint(0, 7)}",
    lambda r: "dec_ttl",
    lambda r: f"set_queue:{r.randint(0, 7)}",
    lambda r: "note:00.01",
    lambda r: f"resubmit(,{r.randint(1, 5)})",
    lambda r: f"resubmit:{r.randint(1, 9)}",
    lambda r: "resubmit(1,2)",
    lambda r: f"load:0x{r.randint(0, 255):x}->NXM_NX_REG0[0..7]",
    lambda r: "move:NXM_OF_ETH_SRC[]->NXM_OF_ETH_DST[]",
    lambda r: "set_mpls_ttl(3)",
    lambda r: "dec_ttl(1,2)",
]


def random_flow(r: random.Random, groups: tuple[int, ...] = (1, 2)) -> str:
    """A random add-flows line in one of the many spellings ovs-ofctl accepts."""
    parts = []
    if r.random() < 0.5:
        parts.append(f"table={r.randint(0, 4)}")
    if r.random() < 0.7:
        parts.append(f"priority={r.randint(0, 65535)}")
    if r.random() < 0.2:
        parts.append(f"cookie=0x{r.randint(0, 999):x}")
    if r.random() < 0.2:
        parts.append(f"idle_timeout={r.randint(0, 99)}")
    if r.random() < 0.1:
        parts.append("hard_timeout=30")
    proto = r.choice([None, "ip", "tcp", "udp", "icmp", "arp"])
    if proto:
        parts.append(
            proto
            if r.random() < 0.7
            else {
                "ip": "dl_type=0x0800",
                "arp": "dl_type=0x0806",
                "tcp": "ip,nw_proto=6",
                "udp": "ip,nw_proto=17",
                "icmp": "ip,nw_proto=1",
            }[proto]
        )
    for m in r.sample(MATCHES, r.randint(0, 3)):
        parts.append(m(r))
    if proto and proto in L4 and r.random() < 0.7:
        parts.append(r.choice(L4[proto])(r))
    acts = [a(r) for a in r.sample(ACTIONS, r.randint(0, 3))]
    insn = []
    if r.random() < 0.15:
        insn.append(f"meter:{r.randint(1, 5)}")
    insn += acts
    if r.random() < 0.15:
        insn.append(f"group:{r.choice(groups)}")
    if r.random() < 0.1:
        insn.append("clear_actions")
    if r.random() < 0.15:
        insn.append(f"write_actions(output:{r.randint(1, 9)})")
    if r.random() < 0.1:
        insn.append("write_metadata:0x1/0x1")
    if r.random() < 0.2:
        insn.append(f"goto_table:{r.randint(5, 9)}")
    act = ",".join(insn) or "drop"
    sep = r.choice([",", ", ", " "])
    kw = r.choice(["actions=", "actions=", "action="])
    return sep.join(parts) + (sep if parts else "") + kw + act


def random_group(r: random.Random) -> str:
    """A random add-groups line: bucket attributes with ':' or '=', before or after the actions."""
    t = r.choice(["all", "select", "indirect", "ff", "fast_failover"])
    n = 1 if t == "indirect" else r.randint(1, 3)
    buckets = []
    for _ in range(n):
        attrs = []
        if t == "select" and r.random() < 0.7:
            attrs.append("weight" + r.choice([":", "="]) + str(r.randint(1, 100)))
        if t in ("ff", "fast_failover"):
            attrs.append(r.choice(["watch_port:", "watch_port="]) + str(r.randint(1, 9)))
        if t in ("ff", "fast_failover") and r.random() < 0.2:
            attrs.append("watch_group=" + str(r.randint(1, 9)))
        if r.random() < 0.1:
            attrs.append(f"bucket_id:{r.randint(0, 9)}")
        acts = [a(r) for a in r.sample(ACTIONS[:25], r.randint(1, 2))]
        acts = [a for a in acts if not a.startswith(("resubmit", "goto"))] or ["output:1"]
        if r.random() < 0.7:
            acts[0] = "actions=" + acts[0]
        tokens = attrs + acts
        if r.random() < 0.2 and attrs:
            tokens = acts + attrs  # attributes after the actions
        buckets.append("bucket=" + ",".join(tokens))
    sep = r.choice([",", ", "])
    head = [f"group_id={r.randint(1, 99)}", f"type={t}"]
    if r.random() < 0.5:
        head.reverse()
    return sep.join(head + buckets)


def _ovs_normalised(kind: str, line: str) -> str | None:
    """OVS's own reading of the line in add-flows/add-groups syntax, or None if OVS rejects it."""
    proc = subprocess.run(
        ["ovs-ofctl", "-O", "OpenFlow13", f"parse-{kind}", line], capture_output=True, text=True, timeout=30
    )
    if proc.returncode != 0:
        return None
    last = [text for text in proc.stdout.splitlines() if text.strip()][-1]
    if kind == "group":
        return last.strip().removeprefix("ADD ")
    body = last.split(": ADD ", 1)[1]
    body = re.sub(r"\btable:(\d+)", r"table=\1", body)
    body = re.sub(r"\bcookie:(\w+)", r"cookie=\1", body)
    return re.sub(r"\b(idle|hard):(\d+)", r"\1_timeout=\2", body)


def _forwarding(actions: tuple) -> tuple:
    return tuple(
        ("output", a.port) if isinstance(a, Output) else ("group", a.group_id)
        for a in actions
        if isinstance(a, (Output, GroupAction))
    )


def _flow_meaning(f: Flow) -> tuple:
    return (
        f.table_id, f.priority, f.cookie, f.match.value, f.match.mask, _forwarding(f.apply_actions),
        _forwarding(f.write_actions), f.goto_table, f.meter_id, f.clear_actions, f.write_metadata,
    )  # fmt: skip


def _group_meaning(g: Group) -> tuple:
    return (
        g.group_id,
        g.type,
        tuple((b.weight, b.watch_port, b.watch_group, _forwarding(b.actions)) for b in g.buckets),
    )


@pytest.mark.parametrize("seed", range(ROUNDS))
def test_every_line_ovs_accepts_parses_to_what_ovs_made_of_it(seed):
    rng = random.Random(seed)
    compared, problems = 0, []
    for _ in range(LINES_PER_ROUND):
        kind = rng.choice(["flow", "group"])
        line = random_flow(rng) if kind == "flow" else random_group(rng)
        normalised = _ovs_normalised(kind, line)
        if normalised is None:
            continue  # OVS rejects it too (e.g. a prerequisite it refuses)
        compared += 1
        parse, meaning = (
            (parse_flow_line, _flow_meaning) if kind == "flow" else (parse_group_line, _group_meaning)
        )
        try:
            ours, theirs = meaning(parse(line, "t", 1)), meaning(parse(normalised, "t", 1))
        except FlowParseError as exc:
            problems.append(f"{kind} rejected: {line!r}: {exc.problem}")
            continue
        if ours != theirs:
            problems.append(f"{kind} read differently: {line!r}; ovs-ofctl reads it as {normalised!r}")
    assert compared > LINES_PER_ROUND // 2
    assert problems == []


@pytest.mark.parametrize(
    "line",
    [
        "group_id=1,type=ff,bucket=watch_port=3,actions=output:3",
        "group_id=1,type=select,bucket=output:3,weight:5",
        "group_id=1, type=select , bucket=weight=5,actions=output:3",
        "group_id=1,type=ff,bucket=actions=output:3,watch_port:3,bucket=watch_port=4,output:4",
    ],
)
def test_bucket_attributes_in_any_spelling(line):
    assert _ovs_normalised("group", line) is not None
    group = parse_group_line(line, "t.groups", 1)
    assert all(b.actions for b in group.buckets)
    assert group.buckets[0].weight == 5 or group.buckets[0].watch_port == 3
