"""Which captures count as deliveries in live grading: a bump-in-the-wire VNF sees transit packets."""

from pathlib import Path

import pytest

from sdnlab.grader.grading import Grader
from sdnlab.grader.live import counted_receivers
from sdnlab.grader.model import NetworkState, SwitchState
from sdnlab.grader.ofctl_text import parse_flows
from sdnlab.grader.probes import select_probes
from sdnlab.grader.spec import parse_spec
from sdnlab.topologies import load_topology

TOPOLOGY = Path(__file__).parent / "data" / "bump_in_wire.yaml"  # h1 - s1 - fw1 (vnf) - s2 - h2


@pytest.fixture(scope="module")
def grader():
    topo = load_topology(str(TOPOLOGY), {})
    through_fw = "priority=1,in_port=1 actions=output:2\npriority=1,in_port=2 actions=output:1\n"
    state = NetworkState(
        {
            "s1": SwitchState("s1", parse_flows(through_fw, "s1")),
            "s2": SwitchState("s2", parse_flows(through_fw, "s2")),
        }
    )
    return Grader(topo, state)


def test_a_transit_vnf_capture_is_not_a_delivery(grader):
    (probe,) = [
        p
        for p in select_probes(grader, parse_spec("- reach: {src: h1, dst: h2, traffic: icmp}\n"))
        if p.behaviour
    ]
    assert probe.predicted == {"h2"}  # the model walks through fw1
    assert counted_receivers(probe, {"fw1", "h2"}, grader.fabric) == {"h2"}


def test_a_vnf_that_is_the_destination_still_counts(grader):
    probes = select_probes(grader, parse_spec("- reach: {src: h1, dst: fw1, traffic: icmp}\n"))
    probe = next(p for p in probes if p.behaviour)
    assert probe.dst == "fw1"
    assert counted_receivers(probe, {"fw1"}, grader.fabric) == {"fw1"}


def test_ordinary_hosts_that_should_not_receive_still_count(grader):
    (probe,) = [
        p
        for p in select_probes(grader, parse_spec("- reach: {src: h1, dst: h2, traffic: icmp}\n"))
        if p.behaviour
    ]
    assert counted_receivers(probe, {"h1", "h2", "fw1"}, grader.fabric) == {"h1", "h2"}


def test_confirm_reports_no_finding_when_only_the_transit_vnf_also_saw_the_probe(grader, monkeypatch):
    """The comparison half of ``confirm``; the capture half (namespaces, sockets) is integration-tested."""
    from sdnlab.grader import live
    from sdnlab.grader.grading import grade

    behaviours = parse_spec("- reach: {src: h1, dst: h2, traffic: icmp}\n")
    report = grade(grader.topology, grader.state, behaviours)
    interfaces = {"h1": "h1-eth0", "h2": "h2-eth0", "fw1": "fw1-eth0"}
    monkeypatch.setattr(live, "_wait_connected", lambda name: None)
    monkeypatch.setattr(live, "_settle_datapath", lambda: None)
    monkeypatch.setattr(live, "_interfaces", lambda name: interfaces)
    # What the captures see on this wire: every probe crosses fw1 before it reaches h2.
    monkeypatch.setattr(
        live,
        "run_round",
        lambda name, probes, capture, intfs: {p.id: {"fw1"} | set(p.predicted) for p in probes},
    )
    confirmed = live.confirm("qa8", grader.topology, grader.state, behaviours, report, recollect=False)
    assert confirmed.findings == ()
    assert (
        confirmed.live["behaviours"]["reach-1"]["agree"]
        == confirmed.live["behaviours"]["reach-1"]["probes"]
        >= 1
    )
