"""Static grading of flow files: every lab that allows it scores 100% with its solution, less with
its starter."""

from __future__ import annotations

import shutil

import pytest

from sdnlab.grader.errors import FlowParseError
from sdnlab.labs import catalogue, load_lab
from sdnlab.labs.errors import LabSessionError
from sdnlab.labs.grading import grade_static
from sdnlab.labs.validate import validate

FLOW_LABS = [lab for lab in catalogue() if lab.controller.mode == "none"]  # the solution is a flow file


def test_five_labs_have_flow_file_solutions_graded_without_a_network():
    assert len(FLOW_LABS) >= 5


@pytest.mark.parametrize("lab", FLOW_LABS, ids=lambda lab: lab.id)
def test_reference_solution_scores_100_and_starter_does_not(lab):
    """The behaviours part, for every lab whose solution is flow files (probes need a network)."""
    solution = grade_static(lab, lab.solution_dir)
    starter = grade_static(lab, lab.starter_dir)
    assert solution.percent == 100.0, [i.id for i in solution.items if not i.passed]
    assert starter.percent < 100.0


@pytest.mark.parametrize("lab", FLOW_LABS, ids=lambda lab: lab.id)
def test_validate_passes_statically(lab):
    report = validate(lab.id, mode="static")
    assert report.ok, report.problems
    assert report.mode.startswith("static") and report.solution_percent == 100.0
    assert report.mode == "static" if not lab.needs_live else "probes not run" in report.mode


def test_static_validation_skips_labs_that_need_a_controller():
    report = validate("l2_learning", mode="static")
    assert report.ok and report.solution_percent is None and report.mode.startswith("skipped")


def test_check_leaves_hidden_behaviours_out():
    lab = load_lab("smart_meters")
    public = grade_static(lab, lab.solution_dir, include_hidden=False)
    assert public.items and not any(i.hidden for i in public.items)
    assert {i.id for i in public.items} < {i.id for i in grade_static(lab, lab.solution_dir).items}


def test_a_failing_check_names_the_packet_and_the_rule_to_blame():
    lab = load_lab("static_flows")
    result = grade_static(lab, lab.starter_dir)
    failing = next(i for i in result.items if i.id == "h1-reaches-h3")
    assert not failing.passed
    assert "blame: s2" in failing.details[0] and "packet:" in failing.details[0]


def test_partial_credit_for_half_right_flows(tmp_path):
    lab = load_lab("static_flows")
    work = tmp_path / "work"
    shutil.copytree(lab.solution_dir, work)
    # forget the telnet block: every reach still passes, the isolate fails
    flows = work / "flows" / "s2.flows"
    flows.write_text("\n".join(x for x in flows.read_text().splitlines() if "tp_dst=23" not in x) + "\n")
    result = grade_static(lab, work)
    assert 0 < result.percent < 100
    assert not next(i for i in result.items if i.id == "h2-no-telnet-h3").passed


def test_flow_file_for_an_unknown_switch_is_an_error(tmp_path):
    lab = load_lab("static_flows")
    (tmp_path / "flows").mkdir()
    (tmp_path / "flows" / "s9.flows").write_text("priority=0,actions=drop\n")
    with pytest.raises(LabSessionError, match="no switch named s9"):
        grade_static(lab, tmp_path)


def test_a_broken_flow_line_names_file_and_line(tmp_path):
    lab = load_lab("static_flows")
    (tmp_path / "flows").mkdir()
    (tmp_path / "flows" / "s1.flows").write_text("# ok\npriority=10,in_port=1,actions=outptu:2\n")
    with pytest.raises(FlowParseError, match=r"s1.flows:2"):
        grade_static(lab, tmp_path)
