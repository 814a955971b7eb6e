"""A failed live probe gets a path to draw: its failing cases traced through the flow tables of the
grading (the grader's pipeline model), or a line saying the tables are not the cause."""

from __future__ import annotations

from sdnlab.labs import grading, live, workspace
from sdnlab.labs.loader import load_lab
from sdnlab.labs.results import CheckItem


def setting(lab_id: str, probe_id: str, files: str):
    lab = load_lab(lab_id)
    topology = live.load_topology(lab)
    folder = lab.starter_dir if files == "starter" else lab.solution_dir
    state = workspace.static_state(folder, [s.name for s in topology.switches()])
    probe = next(p for p in lab.probes if p.id == probe_id)
    return probe, topology, state


def failed(probe, *details: str) -> CheckItem:
    return CheckItem(probe.id, "probe", probe.description, 1.0, 0.0, False, len(details), 0, details)


def test_a_failed_ping_is_traced_to_the_rule_that_drops_it():
    probe, topology, state = setting("static_flows", "live-ping-h1-h3", "starter")
    item = grading.probe_paths(
        failed(probe, "h1 -> h3: no echo reply", "h3 -> h1: no echo reply"), probe, topology, state
    )
    first, second = item.paths
    assert (first["src"], first["dst"]) == ("h1", "h3")
    assert first["hops"] == [
        {"switch": "s1", "in_port": 1, "out_port": 2},
        {"switch": "s2", "in_port": 2, "out_port": None},
    ]
    assert first["outcome"].startswith("dropped") and first["blame"]["where"].endswith("flows/s2.flows:3")
    assert (second["src"], second["blame"]["switch"]) == ("h3", "s3")
    assert "h1 -> h3: in the flow tables at grading time: dropped" in "\n".join(item.details)


def test_a_failed_tcp_probe_is_traced_as_that_connection():
    probe, topology, state = setting("static_flows", "live-web", "starter")
    item = grading.probe_paths(failed(probe, "h2 -> h3: connection failed"), probe, topology, state)
    [path] = item.paths
    assert (path["src"], path["dst"]) == ("h2", "h3") and path["outcome"].startswith("dropped")


def test_a_ping_that_must_be_blocked_shows_where_it_got_through():
    probe, topology, state = setting("smart_meters", "ping-meters-blocked", "starter")
    answered = failed(probe, "m1 -> m2: answered but must be blocked")
    item = grading.probe_paths(answered, probe, topology, state)
    [path] = item.paths
    assert path["src"] == "m1" and "delivered to m2" in path["outcome"]
    assert path["blame"]["switch"] == "dc1"


def test_when_the_tables_carry_the_traffic_the_failure_is_said_to_lie_elsewhere():
    probe, topology, state = setting("static_flows", "live-ping-h1-h3", "solution")
    item = grading.probe_paths(failed(probe, "h1 -> h3: no echo reply"), probe, topology, state)
    assert item.paths == ()
    assert item.details[-1].startswith("h1 -> h3: the switches' flow tables at grading time carry it")


def test_passed_probes_and_other_kinds_are_left_as_they_are():
    probe, topology, state = setting("static_flows", "live-ping-h1-h3", "starter")
    passed = CheckItem(probe.id, "probe", probe.description, 1.0, 1.0, False, 2, 2, ())
    assert grading.probe_paths(passed, probe, topology, state) is passed
    other = type(probe)("q", "quarantined", "", {"hosts": ["h1"]})
    item = failed(other, "h1: not quarantined")
    assert grading.probe_paths(item, other, topology, state) is item
