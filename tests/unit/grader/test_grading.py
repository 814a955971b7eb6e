"""Behaviour verdicts on a three-switch line (h1-s1-s2-s3 with h2 on s2, h3 on s3), no network needed."""

import json
from xml.etree import ElementTree as ET

import pytest
from grader_line import LINE_RULES

from sdnlab.grader.errors import SpecError
from sdnlab.grader.grading import grade
from sdnlab.grader.model import NetworkState, SwitchState
from sdnlab.grader.ofctl_text import parse_flows, parse_groups
from sdnlab.grader.spec import parse_spec
from sdnlab.topologies import load_topology


@pytest.fixture(scope="module")
def topo():
    return load_topology("linear", {"switches": 3, "hosts_per_switch": 1})


def _state(rules=LINE_RULES, groups=None):
    groups = groups or {}
    return NetworkState(
        {
            s: SwitchState(s, parse_flows(t, f"{s}.flows"), parse_groups(groups.get(s, ""), s))
            for s, t in rules.items()
        }
    )


def _grade(topo, spec, rules=LINE_RULES, groups=None):
    return grade(topo, _state(rules, groups), parse_spec(spec, "spec.yaml"))


def test_reach_holds_for_the_whole_class(topo):
    report = _grade(
        topo,
        "- reach: {src: h1, dst: h3, traffic: 'tcp dst 80'}\n- reach: {src: all, dst: all, traffic: any}\n",
    )
    assert [r.passed for r in report.results] == [True, True]
    assert report.results[1].cases == 6 and report.score == report.max_score == 2


def test_isolation_failure_names_packet_path_and_rule(topo):
    report = _grade(topo, "- isolate: {src: h1, dst: h2, traffic: icmp}\n")
    result = report.results[0]
    assert not result.passed
    failure = result.failures[0]
    assert "nw_dst=10.0.0.2" in failure.packet and failure.packet.startswith("icmp")
    assert [hop["switch"] for hop in failure.trace] == ["s1", "s2"]
    assert (
        failure.blame["switch"] == "s2"
        and failure.blame["priority"] == 10
        and "10.0.0.2" in failure.blame["match"]
    )


def test_reach_fails_on_a_single_port_and_blames_table_miss(topo):
    rules = dict(LINE_RULES, s3="priority=10,tcp,nw_dst=10.0.0.3,tp_dst=80 actions=output:1\n")
    result = _grade(topo, "- reach: {src: h1, dst: h3, traffic: tcp}\n", rules).results[0]
    failure = result.failures[0]
    assert "tcp_dst=80" not in failure.packet  # the witness is a packet the rule does not cover
    assert "table 0 miss" in failure.outcome and failure.blame["switch"] == "s3"


def test_partial_credit_counts_pairs(topo):
    rules = dict(LINE_RULES, s3="priority=5,ip actions=output:2\n")  # nothing reaches h3; h3 can still send
    result = _grade(topo, "- reach: {src: all, dst: all, traffic: ip}\n  weight: 6\n", rules).results[0]
    assert (result.cases, result.passed_cases) == (6, 4) and result.score == pytest.approx(4.0)


def test_waypoint_and_path_constraints(topo):
    report = _grade(
        topo,
        "- waypoint: {src: h1, dst: h3, via: s2, traffic: icmp}\n"
        "- path: {src: h1, dst: h3, traffic: icmp, max_hops: 2}\n"
        "- path: {src: h1, dst: h3, traffic: icmp, avoid: [s2]}\n"
        "- path: {src: h1, dst: h2, traffic: icmp, max_hops: 2, prefer: lowest_latency}\n",
    )
    assert [r.passed for r in report.results] == [True, False, False, True]


def test_loop_is_detected_with_its_path(topo):
    s1 = (
        LINE_RULES["s1"]
        + "priority=20,ip,nw_dst=10.0.0.9 actions=output:2\n"
        + "priority=21,ip,in_port=2,nw_dst=10.0.0.9 actions=IN_PORT\n"
    )
    rules = dict(LINE_RULES, s1=s1, s2=LINE_RULES["s2"] + "priority=20,ip,nw_dst=10.0.0.9 actions=IN_PORT\n")
    result = _grade(topo, "- no_loop: {src: h1}\n", rules).results[0]
    assert not result.passed and "10.0.0.9" in result.failures[0].packet
    assert result.failures[0].outcome == "loops forever"


def test_black_hole_inside_the_network_but_not_at_ingress(topo):
    rules = dict(LINE_RULES, s3="priority=5,ip,nw_src=10.0.0.2 actions=output:2\n")
    report = _grade(topo, "- no_blackhole: {src: h1, dst: h3}\n- no_blackhole: {src: h3, dst: h1}\n", rules)
    assert [r.passed for r in report.results] == [False, True]


def test_failover_uses_fast_failover_liveness(topo):
    groups = {
        "s2": "group_id=1,type=ff,bucket=watch_port:3,actions=output:3,bucket=watch_port:1,actions=output:1"
    }
    rules = dict(
        LINE_RULES,
        s2=LINE_RULES["s2"].replace("nw_dst=10.0.0.3 actions=output:3", "nw_dst=10.0.0.3 actions=group:1"),
    )
    spec = (
        "- failover: {down: [[s2, s3]], behaviour: {reach: {src: h1, dst: h2, traffic: icmp}}}\n"
        "- failover: {down: [s2-s3], behaviour: {reach: {src: h1, dst: h3, traffic: icmp}}}\n"
    )
    report = _grade(topo, spec, rules, groups)
    assert [r.passed for r in report.results] == [True, False]
    assert (
        "link down" in report.results[1].failures[0].outcome
        or "delivered to h2" in report.results[1].failures[0].outcome
    )


def test_load_split_over_select_buckets(topo):
    groups = {"s1": "group_id=2,type=select,bucket=actions=output:2,bucket=actions=output:1"}
    rules = dict(LINE_RULES, s1=LINE_RULES["s1"] + "priority=30,tcp,nw_dst=10.0.0.3 actions=group:2\n")
    report = _grade(topo, "- load_split: {src: h1, dst: h3, traffic: tcp, over: [s2, h3]}\n", rules, groups)
    assert report.results[0].passed


def test_reports_render_as_json_and_junit(topo):
    report = _grade(
        topo,
        "- id: iso\n"
        "  isolate: {src: h1, dst: h2, traffic: icmp}\n"
        "  hidden: true\n"
        "- reach: {src: h1, dst: h3}\n",
    )
    data = json.loads(report.to_json())
    assert data["behaviours"][0]["failures"][0]["blame"]["switch"] == "s2"
    suite = ET.fromstring(report.to_junit_xml())
    assert suite.get("tests") == "2" and suite.get("failures") == "1"
    assert "iso" in report.render_text() and report.visible().max_score == 1


def test_spec_errors_name_line_and_field(topo):
    with pytest.raises(SpecError, match=r"spec.yaml:2: reach.dst: required"):
        parse_spec(
            "- reach: {src: h1}\n- reach: {src: h1}\n".replace(
                "- reach: {src: h1}\n", "- reach: {src: h1, dst: h2}\n", 1
            ),
            "spec.yaml",
        )
    with pytest.raises(SpecError, match=r"spec.yaml:1: reach.src: unknown node 'h9'"):
        _grade(topo, "- reach: {src: h9, dst: h2}\n")
    with pytest.raises(SpecError, match="traffic: cannot read"):
        parse_spec("- reach: {src: h1, dst: h2, traffic: 'tcp to 80'}\n", "spec.yaml")


def test_grade_cli_on_saved_dumps_with_reference_and_junit(tmp_path):
    from typer.testing import CliRunner

    from sdnlab.cli import root

    mine, ref = tmp_path / "mine", tmp_path / "ref"
    mine.mkdir()
    ref.mkdir()
    for switch, text in LINE_RULES.items():
        (ref / f"{switch}.flows").write_text(text)
        (mine / f"{switch}.flows").write_text(text if switch != "s3" else "priority=5,ip actions=output:2\n")
    (tmp_path / "spec.yaml").write_text(
        "behaviours:\n  - id: h1-h3\n    reach: {src: h1, dst: h3, traffic: icmp}\n"
    )
    args = [
        "grade",
        "--flows",
        str(mine),
        "--topology",
        "linear",
        "--spec",
        str(tmp_path / "spec.yaml"),
        "--reference",
        str(ref),
    ]
    result = CliRunner().invoke(root, [*args, "--json", "--junit", str(tmp_path / "j.xml")])
    assert result.exit_code == 1, result.output
    data = json.loads(result.output)
    assert data["behaviours"][0]["passed"] is False and data["score"] == 0
    assert any(line.startswith("missing: icmp h1 -> h3") for line in data["reference"])
    assert ET.parse(tmp_path / "j.xml").getroot().get("failures") == "1"


def test_rest_json_flows_parse_like_ofctl_text():
    from sdnlab.grader.ofctl_rest import parse_rest_flows

    data = {
        "1": [
            {
                "priority": 10,
                "table_id": 0,
                "cookie": 7,
                "match": {"in_port": 1, "dl_type": 2048, "nw_dst": "10.0.0.0/255.0.0.0"},
                "actions": [
                    "SET_FIELD: {eth_dst:00:00:00:00:00:02}",
                    "OUTPUT:2",
                    {"WRITE_ACTIONS": ["OUTPUT:CONTROLLER"]},
                    "GOTO_TABLE:1",
                ],
            }
        ]
    }
    (flow,) = parse_rest_flows(data, "flows.json")
    assert flow.match.get("ipv4_dst").mask == 0xFF000000 and flow.cookie == 7
    assert (
        flow.apply_actions[0].field == "eth_dst"
        and flow.goto_table == 1
        and flow.write_actions[0].port == 0xFFFFFFFD
    )


def test_bump_in_the_wire_vnfs_are_waypoints():
    topo = load_topology("tests/integration/vnfs/topologies/vnf_chains.yaml", {})
    # m1 (port 1) -> fw1 eth0 (7) / fw1 eth1 (8) -> dpi1 eth0 (9) / dpi1 eth1 (10) -> hes (3), and back.
    chain = [(1, 7), (7, 1), (8, 9), (9, 8), (10, 3), (3, 10)]
    flows = (
        "\n".join(f"priority=300,in_port={a},actions=output:{b}" for a, b in chain)
        + "\npriority=100,ip,in_port=2,nw_dst=10.60.0.3,actions=output:3\n"
    )
    state = NetworkState({"s1": SwitchState("s1", parse_flows(flows, "s1"))})
    spec = (
        "- waypoint: {src: m1, dst: hes, via: [fw1], traffic: 'tcp dst 502'}\n"
        "- waypoint: {src: m1, dst: hes, via: dpi1, traffic: icmp}\n"
        "- waypoint: {src: m2, dst: hes, via: fw1, traffic: icmp}\n"
        "- reach: {src: hes, dst: m1, traffic: icmp}\n"
    )
    report = grade(topo, state, parse_spec(spec, "spec.yaml"))
    assert [r.passed for r in report.results] == [True, True, False, True]
    assert "not delivered through fw1" in report.results[2].failures[0].message


def test_every_unknown_node_is_reported_at_once(topo):
    spec = (
        "- reach: {src: h9, dst: h2}\n"
        "- waypoint: {src: h1, dst: h3, via: s7}\n"
        "- failover: {down: [s1-s3], behaviour: {reach: {src: h1, dst: h2}}}\n"
    )
    with pytest.raises(SpecError) as info:
        _grade(topo, spec)
    message = str(info.value)
    assert "spec.yaml:1: reach.src: unknown node 'h9'" in message
    assert "spec.yaml:2: waypoint.via: unknown node 's7'" in message
    assert "failover.down: no link s1-s3" in message


def test_trace_cli_reads_packet_files_groups_and_ports(tmp_path):
    from typer.testing import CliRunner

    from sdnlab.cli import root

    (tmp_path / "f.txt").write_text("priority=5,tcp actions=group:1\npriority=1,arp actions=FLOOD\n")
    (tmp_path / "g.txt").write_text(
        "group_id=1,type=ff,bucket=watch_port:2,actions=output:2,bucket=watch_port:3,actions=output:3\n"
    )
    (tmp_path / "p.txt").write_text(
        " 1(a): addr:00:00:00:00:00:01\n"
        "     config:     0\n"
        "     state:      LIVE\n"
        " 2(b): addr:00:00:00:00:00:02\n"
        "     config:     0\n"
        "     state:      LINK_DOWN\n"
        " 3(c): addr:00:00:00:00:00:03\n"
        "     config:     0\n"
        "     state:      LIVE\n"
    )
    (tmp_path / "pk.txt").write_text("# two packets\nin_port=1,tcp,tcp_dst=80\nin_port=2,arp,arp_op=1\n")
    args = [
        "flows",
        "trace",
        "--flows",
        str(tmp_path / "f.txt"),
        "--groups",
        str(tmp_path / "g.txt"),
        "--ports",
        str(tmp_path / "p.txt"),
        "--packets",
        str(tmp_path / "pk.txt"),
    ]
    result = CliRunner().invoke(root, [*args, "--json"])
    data = json.loads(result.output)
    assert [o["port"] for o in data[0]["outputs"]] == [3]  # port 2 is down: fast-failover takes bucket 2
    assert sorted(o["port"] for o in data[1]["outputs"]) == [1, 3]
    text = CliRunner().invoke(root, args)
    assert "=> output 3" in text.output and "group 1 (ff) bucket 1" in text.output


def test_trace_cli_names_the_bad_line(tmp_path):
    from typer.testing import CliRunner

    from sdnlab.cli import root

    (tmp_path / "f.txt").write_text(
        "priority=5,tcp actions=output:2\npriority=5,tcp,tp_dstt=1 actions=output:2\n"
    )
    result = CliRunner().invoke(
        root, ["flows", "trace", "--flows", str(tmp_path / "f.txt"), "--packet", "in_port=1,tcp"]
    )
    from sdnlab.errors import GradingError

    assert isinstance(result.exception, GradingError) and "f.txt:2: unknown field 'tp_dstt'" in str(
        result.exception
    )


def test_flooding_a_cyclic_topology_is_a_loop_not_a_hang():
    fat = load_topology("fat_tree", {})
    state = NetworkState(
        {s.name: SwitchState(s.name, parse_flows("priority=1,actions=FLOOD", s.name)) for s in fat.switches()}
    )
    hosts = [h.name for h in fat.hosts()]
    report = grade(
        fat,
        state,
        parse_spec(
            f"- no_loop: {{src: {hosts[0]}}}\n- reach: {{src: {hosts[0]}, dst: {hosts[-1]}, traffic: icmp}}\n"
        ),
    )
    assert [r.passed for r in report.results] == [False, True]
    assert "forwarding loop" in report.results[0].failures[0].message


def test_saved_rest_json_directory_is_graded_like_ofctl_text(tmp_path, topo):
    from sdnlab.grader import collect

    def entry(priority, match, actions):
        return {"priority": priority, "table_id": 0, "cookie": 0, "match": match, "actions": actions}

    ip = 2048
    rest = {
        "s1": [
            entry(10, {"dl_type": ip, "nw_dst": "10.0.0.1"}, ["OUTPUT:1"]),
            entry(5, {"dl_type": ip}, ["GROUP:1"]),
        ],
        "s2": [entry(10, {"dl_type": ip, "nw_dst": "10.0.0.3"}, ["OUTPUT:3"])],
        "s3": [entry(10, {"dl_type": ip, "nw_dst": "10.0.0.3"}, ["OUTPUT:1"])],
    }
    for switch, entries in rest.items():
        (tmp_path / f"{switch}.json").write_text(json.dumps({"1": entries}))
    groups = {"1": [{"group_id": 1, "type": "FF", "buckets": [{"watch_port": 2, "actions": ["OUTPUT:2"]}]}]}
    (tmp_path / "s1.groups.json").write_text(json.dumps(groups))
    state = collect.from_dir(tmp_path)
    assert set(state.switches) == {"s1", "s2", "s3"} and state["s1"].groups[1].type == "ff"
    report = grade(
        topo,
        state,
        parse_spec(
            "- reach: {src: h1, dst: h3, traffic: icmp}\n- reach: {src: h3, dst: h1, traffic: icmp}\n"
        ),
    )
    assert [r.passed for r in report.results] == [True, False]


def test_a_bad_packet_line_is_named(tmp_path):
    from typer.testing import CliRunner

    from sdnlab.cli import root
    from sdnlab.errors import GradingError

    (tmp_path / "f.txt").write_text("priority=5,tcp actions=output:2\n")
    (tmp_path / "pk.txt").write_text("# comment\nin_port=1,tcp\nin_port=1,tcp,tcp_dst=http\n")
    result = CliRunner().invoke(
        root, ["flows", "trace", "--flows", str(tmp_path / "f.txt"), "--packets", str(tmp_path / "pk.txt")]
    )
    assert isinstance(result.exception, GradingError) and "pk.txt:3: bad number 'http'" in str(
        result.exception
    )


def test_grading_with_links_down_judges_every_behaviour_in_that_scenario():
    ring = load_topology(
        "tests/integration/grader/topologies/gr_ring.yaml", {}
    )  # s1: 1=h1 2=s2 3=s3; s2: 1=h2 2=s1 3=s3
    rules = {
        "s1": "priority=10,ip,nw_dst=10.0.0.2 actions=group:1\n",
        "s2": "priority=10,ip,nw_dst=10.0.0.2 actions=output:1\n",
        "s3": "priority=10,ip,in_port=1,nw_dst=10.0.0.2 actions=output:2\n",
    }
    groups = {
        "s1": "group_id=1,type=ff,bucket=watch_port:2,actions=output:2,bucket=watch_port:3,actions=output:3\n"
    }
    spec = parse_spec(
        "- reach: {src: h1, dst: h2, traffic: icmp}\n"
        "- failover: {down: [s1-s2], behaviour: {reach: {src: h1, dst: h2, traffic: icmp}}}\n"
    )
    state = _state(rules, groups)
    assert [r.passed for r in grade(ring, state, spec).results] == [True, True]
    assert [r.passed for r in grade(ring, state, spec, down=[("s1", "s2")]).results] == [
        True,
        True,
    ]  # the backup bucket
    report = grade(ring, state, spec, down=[("s1", "s3")])
    assert [r.passed for r in report.results] == [
        True,
        False,
    ]  # both paths gone once the failover link fails too
    assert report.down == (("s1", "s3"),) and report.to_dict()["down"] == ["s1-s3"]
    with pytest.raises(SpecError, match="down: no link s1-h2"):
        grade(ring, state, spec, down=[("s1", "h2")])
