"""The behaviour-kind registry: one module per kind, and spec loading, judging and probes loop over it."""

from __future__ import annotations

from pathlib import Path

import pytest

from sdnlab.grader import behaviours as registry
from sdnlab.grader import grade_lab
from sdnlab.grader.behaviours.base import _REGISTRY, BehaviourKind, Verdict
from sdnlab.grader.errors import SpecError
from sdnlab.grader.grading import Grader, grade
from sdnlab.grader.model import NetworkState, SwitchState
from sdnlab.grader.ofctl_text import parse_flows
from sdnlab.grader.probes import select_probes
from sdnlab.grader.spec import parse_spec
from sdnlab.topologies import load_topology

DOCS = Path(__file__).parents[3] / "docs" / "grader.md"
BUILT_IN = {
    "reach",
    "isolate",
    "waypoint",
    "path",
    "no_loop",
    "no_blackhole",
    "load_split",
    "failover",
    "ping",
}


@pytest.fixture(scope="module")
def topo():
    return load_topology("linear", {"switches": 3, "hosts_per_switch": 1})


def _state(rules: dict[str, str]) -> NetworkState:
    return NetworkState({s: SwitchState(s, parse_flows(t, f"{s}.flows")) for s, t in rules.items()})


def test_every_built_in_kind_is_registered_with_keys_summary_and_a_judge():
    kinds = registry.kinds()
    assert set(kinds) >= BUILT_IN
    for name, kind in kinds.items():
        assert kind.name == name and kind.summary and kind.keys
        assert kind.required <= kind.keys
        assert type(kind).judge is not BehaviourKind.judge, name


def test_every_kind_is_documented():
    text = DOCS.read_text(encoding="utf-8")
    for name in registry.kinds():
        assert f"`{name}`" in text, f"docs/grader.md does not describe the {name} kind"


class _Crosses(BehaviourKind):
    """A kind defined outside the grader, as a new module would: 'src's class crosses switch X'."""

    name = "crosses_test_only"
    summary = "test kind"
    keys = frozenset({"src", "dst", "traffic", "via"})
    required = frozenset({"src", "dst", "via"})

    def judge(self, grader, b, down):
        via = set(b.via)
        verdict = grader.reach_cases(b, down, lambda leaf, s, d: bool({h.switch for h in leaf.hops} & via))
        return Verdict(verdict.cases, verdict.passed, verdict.failures, "judged by the test kind")


@pytest.fixture
def crosses():
    registry.register(_Crosses)
    yield
    del _REGISTRY[_Crosses.name]


def test_a_kind_registered_in_one_place_is_read_judged_and_probed(topo, line_rules, crosses):
    spec = parse_spec("- crosses_test_only: {src: h1, dst: h3, via: s2}\n", "spec.yaml", topo)
    assert spec[0].kind == "crosses_test_only" and spec[0].via == ("s2",)
    result = grade(topo, _state(line_rules), spec).results[0]
    assert result.passed and result.note == "judged by the test kind"
    assert result.description == "crosses_test_only for any from h1 to h3"
    probes = select_probes(Grader(topo, _state(line_rules)), spec)
    assert any(p.behaviour == "crosses_test_only-1" for p in probes)
    with pytest.raises(SpecError, match=r"spec.yaml:1: crosses_test_only.over: unknown field"):
        parse_spec("- crosses_test_only: {src: h1, dst: h3, via: s2, over: s1}\n", "spec.yaml")


def test_registering_a_name_twice_is_refused():
    with pytest.raises(ValueError, match="registered twice"):
        registry.register(type(registry.kind_named("reach")))


# ---- spec reading through sdnlab.yamlsrc ------------------------------------------------------


@pytest.mark.parametrize(
    "text, message",
    [
        ("- reach:\n    src: h1\n    dst:\n", "spec.yaml:3: reach.dst: no value given (null)"),
        ("- reach:\n", "spec.yaml:1: reach: no fields given (null; write reach: {})"),
        ("- id:\n  reach: {src: h1, dst: h2}\n", "spec.yaml:1: id: no value given (null)"),
        ("- reach: {src: h1, dst: h2}\n  colour: red\n", "spec.yaml:2: unknown key 'colour'"),
        ("- reach:\n    src: h1\n    dst: h2\n    weight: 2\n", "spec.yaml:4: reach.weight: unknown field"),
        (
            "- reach: {src: h1, dst: h2}\n  weight: -1\n",
            "spec.yaml:2: weight: expected a non-negative number",
        ),
        (
            "- reach: {src: h1, dst: " + "[" * 12 + "h2" + "]" * 12 + "}\n",
            "spec.yaml:1: reach: nested too deeply",
        ),
        (
            "behaviours:\n  - reach: {src: h1, dst: h2}\nbehaviors: []\n",
            "spec.yaml:3: unknown key 'behaviors'",
        ),
        ("behaviours:\n", "spec.yaml:1: expected a list of behaviours"),
    ],
)
def test_spec_mistakes_name_file_line_and_field(text, message):
    with pytest.raises(SpecError) as info:
        parse_spec(text, "spec.yaml")
    assert message in str(info.value)


@pytest.mark.parametrize(
    "text, where, key",
    [
        ("- reach: {src: h1, dst: h2}\n  reach: {src: h2, dst: h1}\n", "spec.yaml:2:", "reach"),
        ("- reach:\n    src: h1\n    src: h2\n    dst: h3\n", "spec.yaml:3:", "src"),
    ],
)
def test_a_key_given_twice_is_an_error_at_its_line(text, where, key):
    """The wording is the shared YAML reader's (sdnlab.yamlsrc); the line and the key are the spec's."""
    with pytest.raises(SpecError) as info:
        parse_spec(text, "spec.yaml")
    message = str(info.value)
    assert message.startswith(where) and repr(key) in message
    assert "twice" in message or "duplicate" in message


def test_parsed_specs_carry_no_line_keys():
    (b,) = parse_spec("- reach:\n    src: h1\n    dst: h2\n", "spec.yaml")
    assert b.line == 1 and "__line__" not in b.src and "__line__" not in b.dst


# ---- ping: ARP and ICMP, both ways (issue 11 item 4) -----------------------------------------------


def test_ping_fails_where_arp_is_not_forwarded_though_icmp_reach_passes(topo, line_rules):
    no_arp = dict(
        line_rules, s3="priority=10,ip,nw_dst=10.0.0.3 actions=output:1\npriority=5,ip actions=output:2\n"
    )
    spec = parse_spec("- reach: {src: h1, dst: h3, traffic: icmp}\n- ping: {src: h1, dst: h3}\n", "spec.yaml")
    icmp, ping = grade(topo, _state(no_arp), spec).results
    assert icmp.passed and not ping.passed
    assert ping.failures[0].packet.startswith("arp") and ping.failures[0].message == "request not delivered"


def test_ping_needs_the_reply_path_too(topo, line_rules):
    one_way = dict(line_rules, s1="priority=5,ip actions=output:2\npriority=5,arp actions=FLOOD\n")
    (result,) = grade(topo, _state(one_way), parse_spec("- ping: {src: h1, dst: h3}\n", "s.yaml")).results
    assert not result.passed and result.failures[0].message == "reply not delivered back"
    assert (result.failures[0].src, result.failures[0].dst) == ("h3", "h1")


def test_ping_passes_on_working_flows_and_probes_both_directions(topo, line_rules):
    spec = parse_spec("- ping: {src: h1, dst: [h2, h3]}\n", "s.yaml")
    (result,) = grade(topo, _state(line_rules), spec).results
    assert result.passed and result.cases == 2
    probes = [p for p in select_probes(Grader(topo, _state(line_rules)), spec) if p.behaviour]
    assert {(p.src, p.packet.split(",")[0]) for p in probes} >= {("h1", "arp"), ("h3", "arp"), ("h1", "icmp")}
    assert any(p.src == "h3" and "icmp_type=0" in p.packet for p in probes)


# ---- requires: isolation earns points only with the reachability it protects (issue 11 item 3) ---

GUARDED = """
- id: web
  reach: {src: h1, dst: h3, traffic: tcp dst 80}
- id: no-telnet
  isolate: {src: h1, dst: h3, traffic: tcp dst 23}
  requires: web
"""


def test_isolation_on_a_network_that_forwards_nothing_earns_nothing(topo):
    report = grade(topo, _state({"s1": "", "s2": "", "s3": ""}), parse_spec(GUARDED, "s.yaml"))
    web, telnet = report.results
    assert not web.passed and telnet.cases == 1 and telnet.passed_cases == 0 and report.score == 0
    assert "only together with web" in telnet.note


def test_isolation_earns_its_points_once_the_reachability_holds(topo, line_rules):
    blocked = dict(line_rules, s1="priority=20,tcp,tp_dst=23 actions=drop\n" + line_rules["s1"])
    report = grade(topo, _state(blocked), parse_spec(GUARDED, "s.yaml"))
    assert [r.passed for r in report.results] == [True, True] and report.score == 2


HIDDEN_REQUIRED = """
- {id: a, hidden: true, reach: {src: h1, dst: h2}}
- {id: b, requires: a, isolate: {src: h1, dst: h3}}
"""


@pytest.mark.parametrize(
    "text, message",
    [
        (
            "- id: a\n  isolate: {src: h1, dst: h2}\n  requires: nope\n",
            "requires: no behaviour with id 'nope'",
        ),
        ("- id: a\n  isolate: {src: h1, dst: h2}\n  requires: a\n", "cannot require itself"),
        (
            HIDDEN_REQUIRED,
            "'a' is hidden; a public behaviour can require only public ones",
        ),
    ],
)
def test_requires_must_name_a_visible_behaviour(text, message):
    with pytest.raises(SpecError, match=message):
        parse_spec(text, "s.yaml")


# ---- grade_lab: the library entry point ------------------------------------------------------------


def test_grade_lab_judges_given_state_and_hides_hidden_behaviours(topo, line_rules):
    spec = parse_spec(
        "- reach: {src: h1, dst: h3}\n- {id: secret, hidden: true, isolate: {src: h1, dst: h2}}\n", "s"
    )
    trainee = grade_lab(topo, state=_state(line_rules), behaviours=spec)
    assert [r.id for r in trainee.results] == ["reach-1"] and trainee.passed
    instructor = grade_lab(topo, state=_state(line_rules), behaviours=spec, include_hidden=True)
    assert [r.id for r in instructor.results] == ["reach-1", "secret"] and not instructor.passed


def test_grade_lab_reads_saved_dumps_and_a_spec_file(tmp_path, line_rules):
    for switch, text in line_rules.items():
        (tmp_path / f"{switch}.flows").write_text(text)
    spec = tmp_path / "spec.yaml"
    spec.write_text("- ping: {src: all, dst: all}\n")
    report = grade_lab("linear", params={"switches": 3}, flows=tmp_path, spec=spec)
    assert report.passed and report.results[0].cases == 6


def test_grade_lab_with_nothing_to_grade_is_an_error(topo, line_rules):
    with pytest.raises(SpecError, match="nothing to grade"):
        grade_lab(topo, state=_state(line_rules))
