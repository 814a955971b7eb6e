"""A failed live check gets a path to draw: its failing cases traced through the flow tables of the
grading (the grader's pipeline model), or a line saying the tables are not the cause; a check that
sends no packets between hosts says why nothing is drawn (``no_path``)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from sdnlab.labs import grading, live, probe_paths, workspace
from sdnlab.labs.loader import PROBE_KINDS, load_lab
from sdnlab.labs.model import LabProbe
from sdnlab.labs.results import CheckItem, LabResult


def state_of(lab, topology, folder: Path):
    return workspace.static_state(folder, [s.name for s in topology.switches()])


def setting(lab_id: str, probe_id: str, files: str):
    lab = load_lab(lab_id)
    topology = live.load_topology(lab)
    folder = lab.starter_dir if files == "starter" else lab.solution_dir
    checks = [*lab.probes, *lab.scored]
    probe = next(p for p in checks if p.id == probe_id)
    return probe, topology, state_of(lab, topology, folder)


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


def test_passed_probes_are_left_as_they_are():
    probe, topology, state = setting("static_flows", "live-ping-h1-h3", "starter")
    passed = CheckItem(probe.id, "probe", probe.description, 1.0, 1.0, False, 2, 2, ())
    assert grading.probe_paths(passed, probe, topology, state) is passed


@pytest.mark.parametrize(
    ("kind", "args", "detail", "why"),
    [
        ("quarantined", {"hosts": ["h1"]}, "h1: not quarantined", "controller's list of hosts"),
        ("rest", {"method": "GET", "path": "/x"}, "GET /x: 404", "REST call to the controller app"),
        ("vnf_seen", {"vnfs": ["fw1"]}, "fw1: tracked no IP flow", "VNF's own counters"),
    ],
)
def test_a_check_that_sends_no_packets_between_hosts_says_why_nothing_is_drawn(kind, args, detail, why):
    _, topology, state = setting("static_flows", "live-ping-h1-h3", "starter")
    check = LabProbe("c", kind, "", args)
    item = grading.probe_paths(failed(check, detail), check, topology, state)
    assert item.paths == () and why in item.no_path and "no path to draw" in item.no_path
    assert item.details == (detail,)


def test_a_check_naming_no_node_of_the_topology_is_not_traced_and_says_so():
    _, topology, state = setting("static_flows", "live-ping-h1-h3", "starter")
    rate = LabProbe("r", "rate", "", {"src": "h1", "dst": "nowhere", "port": 80})
    item = grading.probe_paths(failed(rate, "no TCP connection"), rate, topology, state)
    assert item.paths == () and "nothing the grader's model can trace" in item.no_path


def test_every_probe_and_scored_kind_is_traced_or_says_why_not():
    from sdnlab.certification.scenarios import KINDS

    for kind in [*PROBE_KINDS, *KINDS]:
        args = {"port": 1, "over": ["x"], "cut": ["a", "b"]}
        traced = probe_paths.probe_traffic(LabProbe("c", kind, "", args)) is not None
        assert traced != bool(probe_paths.PATHLESS.get(kind)), kind


def test_a_rate_check_draws_the_way_its_traffic_goes_and_the_queues_on_it(tmp_path):
    lab = load_lab("static_flows")
    topology = live.load_topology(lab)
    rate = LabProbe("rate", "rate", "", {"src": "h2", "dst": "h3", "port": 80, "max_mbit": 1})
    too_fast = failed(rate, "h2 -> h3 TCP port 80: 90.0 Mbit/s (expected <= 1 Mbit/s)")

    item = grading.probe_paths(too_fast, rate, topology, state_of(lab, topology, lab.solution_dir))
    [path] = item.paths
    assert [h["switch"] for h in path["hops"]] == ["s2", "s3"] and path["outcome"] == "delivered to h3"
    assert path["blame"] is None and item.no_path == ""
    assert item.details[-1].startswith("h2 -> h3: the flow tables at grading time carry tcp dst 80 along")
    assert "no set_queue, enqueue or meter action on it" in item.details[-1]

    queued = tmp_path / "queued"
    shutil.copytree(lab.solution_dir, queued)
    s2 = queued / "flows" / "s2.flows"
    s2.write_text(s2.read_text().replace("actions=output:", "actions=set_queue:1,output:"))
    item = grading.probe_paths(too_fast, rate, topology, state_of(lab, topology, queued))
    assert "queue and meter actions on it: set_queue:1" in item.details[-1]

    starter = state_of(lab, topology, lab.starter_dir)  # no connection at all: where it stops
    item = grading.probe_paths(
        failed(rate, "h2 -> h3 TCP port 80: no TCP connection"), rate, topology, starter
    )
    [path] = item.paths
    assert path["outcome"].startswith("dropped") and path["blame"]["switch"]


def test_a_spread_check_draws_the_one_uplink_its_streams_take_and_blames_the_rule_that_sends_them():
    probe, topology, state = setting("camera_4k", "uplinks-share-live", "starter")
    item = grading.probe_paths(failed(probe, "cam1: agg1 100%, agg2 0%"), probe, topology, state)
    [path] = item.paths
    assert (path["src"], path["dst"], path["outcome"]) == ("cam1", "10.40.0.100", "delivered to an1")
    assert [h["switch"] for h in path["hops"]] == ["acc1", "agg1", "cloud"]
    assert path["blame"]["switch"] == "acc1" and path["blame"]["where"].endswith("acc1.flows:18")
    assert item.details[-1].endswith("none of it crosses agg2")


def test_a_spread_the_tables_make_draws_both_ways_and_puts_the_failure_in_the_hashing():
    probe, topology, state = setting("camera_4k", "uplinks-share-live", "solution")
    item = grading.probe_paths(failed(probe, "cam1: agg1 90%, agg2 10%"), probe, topology, state)
    assert sorted(p["hops"][1]["switch"] for p in item.paths) == ["agg1", "agg2"]
    assert all(p["blame"] is None for p in item.paths)
    assert "spread tcp dst 554 over agg1, agg2" in item.details[-1] and "hashing" in item.details[-1]


def test_a_failover_check_is_traced_with_its_link_cut():
    scored, topology, state = setting("broadcast_failover", "cut-loss-window", "starter")
    window = CheckItem(scored.id, "scenario", "", 3.0, 0.0, False, 1, 0, ("measured: inf ms",))
    item = grading.probe_paths(window, scored, topology, state)
    [path] = item.paths
    assert (path["src"], path["dst"], path["down"]) == ("playout", "rx3", [["st1", "st2"]])
    assert path["outcome"].startswith("lost") and path["blame"]["switch"] == "st1"
    assert item.details[-1].startswith(
        "playout -> rx3: with st1-st2 cut, in the flow tables at grading time: lost"
    )

    _, _, fixed = setting("broadcast_failover", "cut-loss-window", "solution")
    item = grading.probe_paths(window, scored, topology, fixed)
    [path] = item.paths
    assert path["outcome"] == "delivered to rx3" and path["down"] == [["st1", "st2"]]
    assert "st2" not in [h["switch"] for h in path["hops"]]
    assert "the loss is the time until the traffic moved to that path" in item.details[-1]


def test_a_trainee_sees_why_a_visible_check_has_no_path_but_nothing_of_a_hidden_one():
    visible = CheckItem("v", "probe", "", 1.0, 0.0, False, 1, 0, ("x",), no_path="visible reason")
    hidden = CheckItem("h", "probe", "", 1.0, 0.0, True, 1, 0, ("y",), no_path="secret reason")
    result = LabResult("lab", (visible, hidden), "live")
    public = result.public_dict()
    assert [c["no_path"] for c in public["checks"]] == ["visible reason"]
    assert "secret reason" not in repr(public) and "secret reason" in repr(result.to_dict())
    again = LabResult.from_dict(result.to_dict())
    assert again.items[1].no_path == "secret reason"


def test_a_failed_failover_behaviour_is_drawn_with_its_links_cut():
    lab = load_lab("broadcast_failover")
    result = grading.grade_static(lab, lab.starter_dir, include_hidden=False)
    survive = next(i for i in result.items if i.id == "survive-cut-st1-st2")
    assert not survive.passed and survive.paths
    assert all(p["down"] == [["st1", "st2"]] for p in survive.paths)
    assert all(p["outcome"].startswith("lost") for p in survive.paths)
    assert all("down" not in p for i in result.items if i.id != survive.id for p in i.paths)


def test_a_failed_load_split_is_drawn_along_the_way_the_class_goes_instead():
    lab = load_lab("camera_4k")
    result = grading.grade_static(lab, lab.starter_dir, include_hidden=False)
    split = next(i for i in result.items if i.id == "streams-over-both-uplinks")
    assert not split.passed and split.paths
    path = split.paths[0]
    assert [h["switch"] for h in path["hops"]] == ["acc1", "agg1", "cloud"]
    assert path["outcome"] == "delivered to an1" and path["blame"]["switch"] == "acc1"
