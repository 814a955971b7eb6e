"""Verdicts on random multi-switch rule sets agree with concrete packets.

For random rules on a small ring (so loops and multiple paths happen), every verdict is checked
against concrete injections: a passing reach must deliver every sampled packet of the class, a
failing one must come with a counterexample that really is not delivered; isolation likewise.
"""

import random

import pytest

from sdnlab.grader.fields import ALL_BITS
from sdnlab.grader.grading import Grader
from sdnlab.grader.headerspace import Space
from sdnlab.grader.model import NetworkState, SwitchState
from sdnlab.grader.network import Delivered, leaves
from sdnlab.grader.ofctl_text import parse_flows
from sdnlab.grader.spec import parse_spec
from sdnlab.grader.trace import parse_packet
from sdnlab.topologies import load_topology_text

RING = """
version: 1
name: ring4
description: four switches in a ring, a host on each
nodes:
  - {name: "s{i}", kind: switch, for: "i in 1..4"}
  - {name: "h{i}", kind: host, for: "i in 1..4"}
links:
  - {a: "h{i}", b: "s{i}", for: "i in 1..4"}
  - {a: s1, b: s2}
  - {a: s2, b: s3}
  - {a: s3, b: s4}
  - {a: s4, b: s1}
"""
IPS = [f"10.0.0.{i}" for i in range(1, 5)]


def _random_rules(rng: random.Random, topo) -> dict:
    """Clockwise destination routing on the ring, perturbed by random higher-priority rules."""
    rules = {}
    for s in range(1, 5):
        clockwise = topo.port(f"s{s}", f"s{s % 4 + 1}")
        lines = [
            f"priority=5,ip,nw_dst=10.0.0.{s} actions=output:1",
            f"priority=4,ip actions=output:{clockwise}",
        ]
        for _ in range(rng.randint(0, 4)):
            match = [rng.choice(["ip", "tcp", "udp", "icmp", "arp"])]
            if rng.random() < 0.6 and match[0] != "arp":
                match.append(f"nw_dst={rng.choice(IPS)}" + rng.choice(["", "/30", "/24"]))
            if rng.random() < 0.3:
                match.append(f"in_port={rng.randint(1, 3)}")
            if match[0] in ("tcp", "udp") and rng.random() < 0.4:
                match.append(f"tp_dst={rng.choice(['80', '0x50/0xfff0', '22'])}")
            if match[0] == "arp" and rng.random() < 0.5:
                match.append(f"arp_tpa={rng.choice(IPS)}")
            actions = rng.choice(
                [
                    "output:1",
                    "output:2",
                    "output:3",
                    "FLOOD",
                    "IN_PORT",
                    "drop",
                    "output:2,output:3",
                    f"set_field:{rng.choice(IPS)}->ip_dst,output:{rng.randint(1, 3)}"
                    if match[0] != "arp"
                    else "output:1",
                ]
            )
            lines.append(f"priority={rng.choice([1, 6, 10, 20])},{','.join(match)} actions={actions}")
        rules[f"s{s}"] = "\n".join(lines)
    return rules


def _delivered_to(grader: Grader, src: str, vector: int) -> set:
    tree = grader.network().inject(src, Space(vector, ALL_BITS))
    return {leaf.host for leaf in leaves(tree) if isinstance(leaf, Delivered)}


def _sample(rng, grader, src, dst, proto):
    """A random concrete packet of the class (src -> dst, free fields random)."""
    space, _ = grader.class_space(
        src, dst, proto, {"src": None, "dst": None}, parse_spec("- reach: {src: h1, dst: h2}")[0].traffic
    )
    free = rng.getrandbits(ALL_BITS.bit_length())
    return (space.value & space.mask) | (free & ~space.mask & ALL_BITS), space


@pytest.mark.parametrize("seed", range(25))
def test_verdicts_agree_with_concrete_packets(seed):
    rng = random.Random(seed)
    topo = load_topology_text(RING, "ring4.yaml")
    state = NetworkState(
        {s: SwitchState(s, parse_flows(text, s)) for s, text in _random_rules(rng, topo).items()}
    )
    grader = Grader(topo, state)
    for proto in ("icmp", "tcp"):
        spec = parse_spec(
            f"- reach: {{src: h1, dst: h3, traffic: {proto}}}\n"
            f"- isolate: {{src: h1, dst: h2, traffic: {proto}}}\n"
        )
        reach, isolate = (grader.judge(b) for b in spec)
        _OUTCOMES.update({("reach", reach.passed), ("isolate", isolate.passed)})
        samples = []
        for _ in range(40):
            vector, space = _sample(rng, grader, "h1", "h3", proto)
            if not any(not ((vector ^ ev) & em) for ev, em in space.excluded):
                samples.append(vector)
        if reach.passed:
            assert all("h3" in _delivered_to(grader, "h1", v) for v in samples)
        else:
            witness = parse_packet("in_port=1," + reach.failures[0].packet).value & ~0xFFFFFFFF
            assert "h3" not in _delivered_to(grader, "h1", witness)
        if isolate.passed:
            for _ in range(40):
                vector, _ = _sample(rng, grader, "h1", "h2", proto)
                assert "h2" not in _delivered_to(grader, "h1", vector)
        else:
            failure = isolate.failures[0]
            witness = parse_packet("in_port=1," + failure.packet).value & ~0xFFFFFFFF
            assert "h2" in _delivered_to(grader, "h1", witness)


_OUTCOMES: set = set()


def test_both_verdicts_of_both_kinds_were_exercised():
    if len(_OUTCOMES) == 0:
        pytest.skip("needs the generative rounds to have run")
    assert {("reach", True), ("reach", False), ("isolate", True), ("isolate", False)} == _OUTCOMES
