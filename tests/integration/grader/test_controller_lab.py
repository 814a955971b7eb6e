"""Grading a lab run by the built-in controller: REST and ovs-ofctl give the same flow state,
and live confirmation tolerates packets the app handles itself (packet-in / packet-out)."""

from __future__ import annotations

import pytest

from sdnlab.errors import LabError
from sdnlab.grader import collect, grade, parse_spec
from sdnlab.grader.live import confirm

pytestmark = pytest.mark.network

LAB = "grctl"


@pytest.fixture(scope="module")
def lab():
    from sdnlab.runtime import api

    status = api.up("linear", {"switches": 3}, name=LAB, controller="builtin")
    try:
        for _ in range(20):  # until the app has routed the hosts
            if api.run_in(LAB, "h1", ["ping", "-c", "1", "-W", "1", "10.0.0.3"], timeout=10).returncode == 0:
                break
        yield status
    finally:
        try:
            api.down(LAB)
        except LabError:  # already gone (e.g. removed by another suite's `sdnlab clean`)
            pass


def _flow_keys(state):
    return {
        s: sorted(
            (f.table_id, f.priority, f.match.value, f.match.mask, f.describe_actions()) for f in sw.flows
        )
        for s, sw in state.switches.items()
    }


def test_rest_and_ovs_ofctl_collect_the_same_flows(lab):
    topo = collect.lab_topology(LAB)
    url = f"http://127.0.0.1:{lab['controller']['rest_port']}"
    from_rest, from_ovs = collect.from_rest(url, topo), collect.from_lab(LAB)
    assert from_rest.rule_count > 0
    assert _flow_keys(from_rest) == _flow_keys(from_ovs)


def test_live_confirmation_agrees_on_a_controller_run_lab(lab):
    topo, state = collect.lab_topology(LAB), collect.from_lab(LAB)
    behaviours = parse_spec("- reach: {src: all, dst: all, traffic: icmp}\n- no_loop: {}\n")
    report = grade(topo, state, behaviours)
    assert report.passed, report.render_text()
    confirmed = confirm(LAB, topo, state, behaviours, report)
    assert confirmed.findings == (), confirmed.render_text()
    assert confirmed.live["agree"] == confirmed.live["probes"] > 0


def test_reference_diff_against_the_builtin_app(lab):
    from sdnlab.grader import NetworkState, SwitchState, parse_flows, reference_diff
    from sdnlab.grader.refdiff import collect_reference

    topo = collect.lab_topology(LAB)
    reference = collect_reference("app:sdnlab.controller.apps.builtin", topo)
    flood = "priority=1,ip,actions=FLOOD\npriority=1,arp,actions=FLOOD\n"
    mine = NetworkState(
        {
            "s1": SwitchState("s1", parse_flows(flood, "s1")),
            "s2": SwitchState("s2", parse_flows(flood, "s2")),
            "s3": SwitchState("s3"),
        }
    )
    diffs = reference_diff(topo, mine, reference)
    kinds = {(d.kind, d.traffic, d.src, d.dst) for d in diffs}
    assert ("missing", "icmp", "h1", "h3") in kinds and ("missing", "tcp", "h3", "h1") in kinds
    assert not any(d.kind == "missing" and d.traffic == "icmp" and "h3" not in (d.src, d.dst) for d in diffs)
    assert all(d.kind == "controller-dependent" for d in diffs if d.traffic == "arp")
