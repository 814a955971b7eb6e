"""Scored scenarios: partial credit from measured values and score bands; exam files validate them."""

import math

import pytest

from sdnlab.certification.errors import ExamError
from sdnlab.certification.exam import load_exam, parse_exam
from sdnlab.certification.scenarios import Band, credit
from sdnlab.yamlsrc import load_yaml

LOSS = (Band(50, 1.0), Band(200, 0.5))
SHARE = (Band(0.35, 1.0), Band(0.2, 0.5))


@pytest.mark.parametrize(
    "ms, expected",
    [(0, 1.0), (50, 1.0), (50.1, 0.5), (200, 0.5), (201, 0.0), (math.inf, 0.0), (math.nan, 0.0)],
)
def test_loss_window_credit_is_full_half_or_none(ms, expected):
    assert credit(ms, LOSS, lower_is_better=True) == expected


@pytest.mark.parametrize(
    "share, expected", [(0.5, 1.0), (0.35, 1.0), (0.3, 0.5), (0.2, 0.5), (0.1, 0.0), (0.0, 0.0)]
)
def test_uplink_share_credit_is_full_half_or_none(share, expected):
    assert credit(share, SHARE, lower_is_better=False) == expected


def test_the_security_exam_scores_how_fast_a_second_bot_is_quarantined():
    exam = load_exam("iot_security")
    scan = next(t for t in exam.tasks if t.lab == "iot_dpi").scenarios[0]
    assert scan.kind == "scan_quarantine" and scan.lower_is_better and scan.args["src"] == "m3"


def test_the_practitioner_exam_scores_two_tasks_by_measurement():
    exam = load_exam("iot_practitioner")
    scored = {t.lab: t.scenarios for t in exam.tasks if t.scenarios}
    assert set(scored) == {"camera_4k", "broadcast_failover"}
    window = scored["broadcast_failover"][0]
    assert window.kind == "failover_loss" and window.lower_is_better
    assert window.bands == (Band(50.0, 1.0), Band(200.0, 0.5))


EXAM = """id: s_exam
title: {en: S, ja: エス}
minutes: 30
pass_percent: 70
certifies: [operations.resilience]
tasks:
  - lab: broadcast_failover
    checks: [feeds-reach-receivers]
    scenarios:
      - id: window
        failover_loss: {src: playout, dst: rx3, cut: [st1, st2]}
        bands: [{max: 50, credit: 1.0}, {max: 200, credit: 0.5}]
        skills: {operations.resilience: 3}
"""


@pytest.mark.parametrize(
    "change, message",
    [
        (("{max: 200, credit: 0.5}", "{min: 200, credit: 0.5}"), "e.yaml:12: tasks[0].scenarios[0].bands[1]"),
        (("credit: 1.0}", "credit: 1.5}"), "e.yaml:12: tasks[0].scenarios[0].bands[0].credit"),
        (("cut: [st1, st2]", "cut: st1"), "tasks[0].scenarios[0].failover_loss.cut"),
        (
            ("id: window", "id: feeds-reach-receivers"),
            "e.yaml:10: tasks[0].scenarios[0].id: 'feeds-reach-receivers' is",
        ),
        (
            ("{operations.resilience: 3}", "{operations.nope: 3}"),
            "scenarios[0].skills.operations.nope: unknown skill",
        ),
        (
            ("failover_loss:", "teleport:"),
            "expected exactly one of failover_loss, scan_quarantine, uplink_share",
        ),
        (
            (
                "failover_loss: {src: playout, dst: rx3, cut: [st1, st2]}",
                "scan_quarantine: {src: rx3, targets: rx2}",
            ),
            "tasks[0].scenarios[0].scan_quarantine.targets: expected a list",
        ),
    ],
)
def test_bad_scenarios_name_file_line_and_field(change, message):
    with pytest.raises(ExamError) as info:
        parse_exam(load_yaml(EXAM.replace(*change), "e.yaml"), "e.yaml")
    assert message in str(info.value)


def test_a_scenario_can_be_the_only_evidence_of_a_certified_skill():
    exam = parse_exam(load_yaml(EXAM, "e.yaml"), "e.yaml")
    assert exam.tasks[0].scenarios[0].skills == {"operations.resilience": 3}


def test_scenario_arguments_follow_the_task_variant():
    from sdnlab.certification.errors import VariantError
    from sdnlab.certification.scenarios import for_variant

    camera = next(t for t in load_exam("iot_practitioner").tasks if t.lab == "camera_4k").scenarios[0]
    assert for_variant(camera, {"service_ip": "10.40.0.200"}).args["dst"] == "10.40.0.200"
    with pytest.raises(VariantError, match="unknown variable 'service_ip'"):
        for_variant(camera, {})
