"""The single-switch pipeline model, checked on small rule sets whose OVS behaviour is known."""

import json

from typer.testing import CliRunner

from sdnlab.grader.fields import OFPP_LOCAL
from sdnlab.grader.model import Port, SwitchState
from sdnlab.grader.ofctl_text import parse_flows, parse_groups


def _switch(flows: str, groups: str = "", ports=(1, 2, 3)) -> SwitchState:
    return SwitchState(
        "s1",
        parse_flows(flows, "flows"),
        parse_groups(groups, "groups"),
        {p: Port(p, f"p{p}", live=(p != 3)) for p in ports},
    )


def _trace(state, packet):
    from sdnlab.grader.trace import trace_packets

    return trace_packets(state, [packet])[0]


PKT = (
    "in_port=1,tcp,dl_src=00:00:00:00:00:01,dl_dst=00:00:00:00:00:02,"
    "nw_src=10.0.0.1,nw_dst=10.0.0.2,tcp_dst=80,nw_ttl=64"
)


def test_highest_priority_wins_and_table_miss_drops():
    state = _switch("priority=10,tcp actions=output:2\npriority=20,tcp,tp_dst=80 actions=output:3\n")
    assert [o["port"] for o in _trace(state, PKT)["outputs"]] == [3]
    assert _trace(state, PKT.replace("tcp_dst=80", "tcp_dst=81"))["outputs"][0]["port"] == 2
    missed = _trace(state, "in_port=1,udp,udp_dst=53")
    assert missed["drop"] and missed["outputs"] == []


def test_set_field_is_carried_to_later_tables_and_outputs():
    state = _switch(
        "table=0,tcp actions=set_field:10.9.9.9->ip_dst,goto_table:1\n"
        "table=1,tcp,nw_dst=10.9.9.9 actions=output:2\n"
    )
    out = _trace(state, PKT)["outputs"]
    assert out == [{"port": 2, "fields": {**out[0]["fields"], "nw_dst": "10.9.9.9"}}]


def test_output_to_input_port_is_skipped_but_in_port_is_not():
    state = _switch("priority=1,tcp actions=output:1,output:2\npriority=9,tcp,tp_dst=80 actions=IN_PORT\n")
    assert [o["port"] for o in _trace(state, PKT)["outputs"]] == [1]
    assert [o["port"] for o in _trace(state, PKT.replace("tcp_dst=80", "tcp_dst=8"))["outputs"]] == [2]


def test_action_set_runs_at_end_even_after_a_miss():
    state = _switch("table=0,tcp actions=write_actions(output:2),goto_table:1\n")
    assert [o["port"] for o in _trace(state, PKT)["outputs"]] == [2]


def test_clear_actions_empties_the_action_set():
    state = _switch(
        "table=0,tcp actions=write_actions(output:2),goto_table:1\ntable=1,tcp actions=clear_actions\n"
    )
    assert _trace(state, PKT)["drop"]


def test_flood_goes_everywhere_but_the_input_port():
    state = _switch("tcp actions=FLOOD", ports=(1, 2, 3, OFPP_LOCAL))
    assert sorted(o["port"] for o in _trace(state, PKT)["outputs"]) == [2, 3, OFPP_LOCAL]


def test_fast_failover_skips_dead_watch_ports():
    state = _switch(
        "tcp actions=group:7",
        "group_id=7,type=ff,bucket=watch_port:3,actions=output:3,bucket=watch_port:2,actions=output:2",
    )
    assert [o["port"] for o in _trace(state, PKT)["outputs"]] == [2]


def test_all_group_buckets_act_on_clones():
    state = _switch(
        "tcp actions=group:1,output:3",
        "group_id=1,type=all,bucket=actions=set_field:00:00:00:00:00:99->eth_dst,output:2",
    )
    out = _trace(state, PKT)["outputs"]
    assert [(o["port"], o["fields"]["dl_dst"]) for o in out] == [
        (2, "00:00:00:00:00:99"),
        (3, "00:00:00:00:00:02"),
    ]


def test_select_group_reports_each_live_bucket_as_an_alternative():
    state = _switch(
        "tcp actions=group:5", "group_id=5,type=select,bucket=actions=output:2,bucket=actions=output:3"
    )
    result = _trace(state, PKT)
    assert [[o["port"] for o in alt] for alt in result["alternatives"][0]] == [[2], [3]]


def test_set_vlan_vid_needs_an_existing_tag_and_push_vlan_adds_one():
    state = _switch(
        "priority=2,tcp,tp_dst=80 actions=set_field:4101->vlan_vid,output:2\n"
        "priority=1,tcp actions=push_vlan:0x8100,set_field:4101->vlan_vid,output:2"
    )
    assert "dl_vlan" not in _trace(state, PKT)["outputs"][0]["fields"]
    assert _trace(state, PKT.replace("tcp_dst=80", "tcp_dst=1"))["outputs"][0]["fields"]["dl_vlan"] == 5


def test_dec_ttl_exception_goes_to_controller():
    state = _switch("tcp actions=dec_ttl,output:2")
    result = _trace(state, PKT.replace("nw_ttl=64", "nw_ttl=1"))
    assert result["controller"] and result["outputs"] == []
    assert _trace(state, PKT)["outputs"][0]["fields"]["nw_ttl"] == 63


def test_trace_cli_prints_json_per_packet(tmp_path):
    from sdnlab.cli import root

    (tmp_path / "f.txt").write_text("priority=5,tcp,tp_dst=80 actions=output:2\n")
    result = CliRunner().invoke(
        root, ["flows", "trace", "--flows", str(tmp_path / "f.txt"), "--packet", PKT, "--json"]
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data[0]["outputs"][0]["port"] == 2 and data[0]["drop"] is False
    assert data[0]["trace"][0]["priority"] == 5
