"""End to end on Mininet: static verdicts match the traffic the real network delivers.

A linear lab (h1-s1-s2-s3, h2 on s2, h3 on s3) runs without a controller; a hand-written rule
set (with a set-field rewrite, an isolation hole and a black hole) is installed with ovs-ofctl,
collected back from the lab, graded statically, and every selected probe is sent with raw frames
from the hosts. Every probe's observed receivers must equal the prediction, both for packets
the model says are delivered and for packets it says are dropped.
"""

from __future__ import annotations

import subprocess

import pytest

from sdnlab.errors import LabError
from sdnlab.grader import collect, grade, parse_spec
from sdnlab.grader.live import confirm

pytestmark = pytest.mark.network

LAB = "grlive"
RULES = {
    "s1": [
        "priority=10,ip,nw_dst=10.0.0.1,actions=output:1",
        "priority=5,ip,actions=output:2",
        "priority=5,arp,actions=FLOOD",
    ],
    "s2": [
        "priority=10,ip,nw_dst=10.0.0.1,actions=output:2",
        "priority=10,ip,nw_dst=10.0.0.2,actions=output:1",
        "priority=10,ip,nw_dst=10.0.0.3,actions=output:3",
        "priority=20,udp,nw_dst=10.0.0.3,tp_dst=53,actions=set_field:10.0.0.2->ip_dst,set_field:00:00:0a:00:00:02->eth_dst,output:1",
        "priority=5,arp,actions=FLOOD",
    ],
    "s3": [
        "priority=10,ip,nw_dst=10.0.0.3,actions=output:1",
        "priority=6,tcp,actions=drop",
        "priority=5,ip,actions=output:2",
        "priority=5,arp,actions=FLOOD",
    ],
}
SPEC = """
- id: h1-reaches-h3
  reach: {src: h1, dst: h3, traffic: icmp}
- id: dns-to-h3
  reach: {src: h1, dst: h3, traffic: "udp dst 53"}
- id: h1-isolated-from-h2
  isolate: {src: h1, dst: h2, traffic: icmp}
- id: h3-web-to-h1
  reach: {src: h3, dst: h1, traffic: "tcp dst 80"}
- no_loop: {}
"""


@pytest.fixture(scope="module")
def lab():
    from sdnlab.runtime import api

    api.up("linear", {"switches": 3, "hosts_per_switch": 1}, name=LAB, controller="none")
    try:
        for switch, lines in RULES.items():
            bridge = api.bridge(LAB, switch)
            subprocess.run(
                ["ovs-ofctl", "-O", "OpenFlow13", "del-flows", bridge], check=True, capture_output=True
            )
            for line in lines:
                subprocess.run(
                    ["ovs-ofctl", "-O", "OpenFlow13", "add-flow", bridge, line],
                    check=True,
                    capture_output=True,
                )
        yield LAB
    finally:
        try:
            api.down(LAB)
        except LabError:  # already gone (e.g. removed by another suite's `sdnlab clean`)
            pass


@pytest.fixture(scope="module")
def graded(lab):
    topo = collect.lab_topology(lab)
    state = collect.from_lab(lab)
    behaviours = parse_spec(SPEC, "e2e-spec")
    report = grade(topo, state, behaviours)
    return topo, state, behaviours, report


def test_static_verdicts_on_collected_flows(graded):
    _, state, _, report = graded
    assert state.rule_count == sum(len(v) for v in RULES.values())
    verdicts = {r.id: r.passed for r in report.results}
    assert verdicts == {
        "h1-reaches-h3": True,
        "dns-to-h3": False,
        "h1-isolated-from-h2": False,
        "h3-web-to-h1": False,
        "no_loop-5": True,
    }
    dns = next(r for r in report.results if r.id == "dns-to-h3").failures[0]
    assert "delivered to h2" in dns.outcome and dns.blame["priority"] == 20


def test_live_probes_land_exactly_where_predicted(lab, graded):
    topo, state, behaviours, report = graded
    confirmed = confirm(lab, topo, state, behaviours, report)
    live = confirmed.live
    assert confirmed.findings == (), confirmed.render_text()
    delivered = [p for p in live["probes_detail"] if p["predicted"]]
    dropped = [p for p in live["probes_detail"] if not p["predicted"]]
    assert delivered and dropped, "the probe set must exercise both outcomes"
    assert all(p["observed"] == p["predicted"] for p in live["probes_detail"])
    assert live["rules_exercised"] == live["rules_total"] == 12  # every rule is reachable from some host here
    assert live["behaviours"]["dns-to-h3"] == {"probes": 1, "agree": 1}
    assert "[live: 1/1 probes as predicted]" in confirmed.render_text()
    rewritten = [p for p in live["probes_detail"] if p["behaviour"] == "dns-to-h3"]
    assert rewritten and rewritten[0]["observed"] == ["h2"]


def test_grade_command_on_the_running_lab(lab, tmp_path):
    import json

    from typer.testing import CliRunner

    from sdnlab.cli import root

    (tmp_path / "spec.yaml").write_text(SPEC)
    result = CliRunner().invoke(
        root,
        [
            "grade",
            "--name",
            lab,
            "--spec",
            str(tmp_path / "spec.yaml"),
            "--live",
            "--json",
            "--junit",
            str(tmp_path / "j.xml"),
        ],
    )
    assert result.exit_code == 1, result.output  # three behaviours fail on purpose
    data = json.loads(result.output)
    assert data["score"] == 2 and data["max_score"] == 5
    assert data["findings"] == [] and data["live"]["agree"] == data["live"]["probes"] > 0
    saved = collect.save_lab(lab, tmp_path / "dumps")
    offline = CliRunner().invoke(
        root,
        [
            "grade",
            "--flows",
            str(saved),
            "--topology",
            "linear",
            "--param",
            "switches=3",
            "--spec",
            str(tmp_path / "spec.yaml"),
            "--json",
        ],
    )
    assert json.loads(offline.output)["score"] == 2


def test_trace_a_switch_of_the_running_lab(lab):
    import json

    from typer.testing import CliRunner

    from sdnlab.cli import root

    packet = "in_port=2,udp,dl_src=00:00:0a:00:00:01,nw_src=10.0.0.1,nw_dst=10.0.0.3,udp_dst=53,nw_ttl=64"
    result = CliRunner().invoke(
        root, ["flows", "trace", "--name", lab, "--switch", "s2", "--packet", packet, "--json"]
    )
    assert result.exit_code == 0, result.output
    (traced,) = json.loads(result.output)
    assert [(o["port"], o["fields"]["nw_dst"]) for o in traced["outputs"]] == [(1, "10.0.0.2")]


def test_a_network_that_differs_from_the_model_is_a_grader_finding(lab, graded):
    from sdnlab.runtime import api

    topo, state, behaviours, report = graded  # state collected before the change below
    bridge = api.bridge(lab, "s3")
    subprocess.run(
        ["ovs-ofctl", "-O", "OpenFlow13", "--strict", "del-flows", bridge, "priority=10,ip,nw_dst=10.0.0.3"],
        check=True,
        capture_output=True,
    )
    confirmed = confirm(lab, topo, state, behaviours, report)
    summary = {k: v for k, v in confirmed.live.items() if k != "probes_detail"}
    assert any(
        f.behaviour == "h1-reaches-h3" and f.observed == "delivered to nobody" for f in confirmed.findings
    ), (summary, confirmed.findings)
    assert confirmed.live["rounds"] == 3, summary  # disagreements are retried before being reported
