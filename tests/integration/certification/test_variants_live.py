"""Variants on real networks: lab 6 with another infected camera (controller + DPI quarantine)
and lab 4 with four vehicles per roadside unit are valid labs whose references score 100% live
and whose starters do not."""

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
