"""Variants on real networks: lab 6 with another infected camera (controller + DPI quarantine),
lab 7 with RTSP on port 554 and lab 4 with four vehicles per roadside unit are valid labs whose
references score 100% live and whose starters do not; lab 7's reference for port 8554, copied
onto the 554 variant, leaves the cameras blocked."""

from __future__ import annotations

import pytest

from sdnlab.certification import variants
from sdnlab.labs.loader import find_lab_dir
from sdnlab.labs.validate import validate

pytestmark = pytest.mark.network


@pytest.mark.parametrize("infected", ["cam1", "cam3"])
def test_lab_6_with_another_infected_camera_validates_live(infected, tmp_path):
    rendered = variants.render_values(find_lab_dir("iot_dpi"), {"infected": infected}, tmp_path, seed=0)
    report = validate(str(rendered.path), live_name="lab-certvar", mode="live")
    assert report.ok, report.problems
    assert report.solution_percent == 100.0 and report.starter_percent < 100.0


def test_lab_4_with_four_vehicles_per_rsu_validates_live(tmp_path):
    rendered = variants.render_values(
        find_lab_dir("connected_car"), {"vehicles_per_rsu": 4}, tmp_path, seed=0
    )
    report = validate(str(rendered.path), live_name="lab-certvar", mode="live")
    assert report.ok, report.problems
    assert report.solution_percent == 100.0 and report.starter_percent < 100.0


def test_lab_7_on_another_rtsp_port_validates_live_and_a_copied_firewall_fails(tmp_path):
    from sdnlab.labs import grading, live, load_lab
    from sdnlab.runtime import api

    lab_dir = find_lab_dir("service_chain")
    rendered = variants.render_values(lab_dir, {"rtsp_port": 554}, tmp_path / "554", seed=0)
    report = validate(str(rendered.path), live_name="lab-certvar7", mode="live")
    assert report.ok, report.problems
    assert report.solution_percent == 100.0 and report.starter_percent < 100.0

    lab = load_lab(rendered.path)
    copied = load_lab(lab_dir).solution_dir  # the catalogue's reference: the 8554 variant
    assert "dport: 8554" in (copied / "fw.yaml").read_text()
    live.up(lab, copied, "lab-certvar7c")
    try:
        result = grading.grade_live(lab, "lab-certvar7c", include_hidden=True)
    finally:
        api.down("lab-certvar7c")
    assert result.percent < 100.0
    rtsp = next(i for i in result.items if i.id == "rtsp-to-service")
    assert rtsp.score == 0.0, rtsp.details
