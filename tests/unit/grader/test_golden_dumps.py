"""Flow state captured from the built-in controller on fat_tree (20 switches, 16 hosts, 360 rules)."""

from dataclasses import replace
from pathlib import Path

import pytest

from sdnlab.grader import collect, grade, parse_spec
from sdnlab.topologies import load_topology

DUMPS = Path(__file__).parent / "data" / "fat_tree_builtin"
SPEC = (
    "- reach: {src: all, dst: all, traffic: icmp}\n"
    "- no_loop: {}\n"
    "- no_blackhole: {src: all, dst: all, traffic: icmp}\n"
)


@pytest.fixture(scope="module")
def fat_tree():
    return load_topology("fat_tree", {}), collect.from_dir(DUMPS)


def test_the_controllers_rules_pass_every_pair(fat_tree):
    topo, state = fat_tree
    assert state.rule_count == 360
    report = grade(topo, state, parse_spec(SPEC))
    assert [(r.cases, r.passed_cases) for r in report.results] == [(240, 240), (16, 16), (240, 240)]


def test_a_missing_host_route_is_found_and_blamed(fat_tree):
    topo, state = fat_tree
    first_host = topo.hosts()[0]
    edge = next(link.other(first_host.name) for link in topo.links_of(first_host.name))
    switch = state[edge]
    victim = next(
        f
        for f in switch.flows
        if f.match.get("eth_dst") and f.match.get("eth_dst").value == int(first_host.mac.replace(":", ""), 16)
    )
    broken = replace(
        state,
        switches={
            **state.switches,
            edge: replace(switch, flows=tuple(f for f in switch.flows if f is not victim)),
        },
    )
    report = grade(topo, broken, parse_spec(SPEC))
    reach, _, holes = report.results
    assert reach.passed_cases == 240 - 15  # nobody reaches the first host any more
    failure = reach.failures[0]
    assert failure.dst == first_host.name and failure.blame["switch"] == edge
    assert failure.outcome == "sent to the controller"  # the app's table-miss rule catches them
    assert holes.passed  # ... so they are not silently dropped inside the fabric
