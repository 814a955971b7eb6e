"""Scored scenarios on real networks: the reference answers of the broadcast ring and the camera
uplinks earn credit by measurement (loss window of a fibre cut, share of each uplink); the
starters earn none. Driven through the library with the real clock."""

from __future__ import annotations

import json
import time
import zipfile

import pytest

from sdnlab.certification import attempt
from sdnlab.certification.exam import load_exam

pytestmark = pytest.mark.network

EXAM = """id: scored_live
title: {en: Scored scenarios, ja: 計測による採点}
minutes: 30
pass_percent: 50
attempts: 3
certifies: [operations.resilience, iot.camera_bandwidth]
tasks:
  - lab: broadcast_failover
    checks: [feeds-reach-receivers]
    scenarios:
      - id: window
        description: loss window when st1-st2 is cut
        failover_loss: {src: playout, dst: rx3, cut: [st1, st2], port: 5004}
        bands: [{max: 50, credit: 1.0}, {max: 200, credit: 0.5}]
        skills: {operations.resilience: 3}
  - lab: camera_4k
    checks: [streams-delivered]
    scenarios:
      - id: share
        description: both uplinks carry new streams
        uplink_share:
          {switch: acc1, over: [agg1, agg2], src: cam1, dst: "{{service_ip}}", port: 554, flows: 64}
        bands: [{min: 0.35, credit: 1.0}, {min: 0.2, credit: 0.5}]
        skills: {iot.camera_bandwidth: 3}
"""


@pytest.fixture
def exam(tmp_path, monkeypatch):
    monkeypatch.setenv("SDNLAB_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("SDNLAB_CERT_KEYS", str(tmp_path / "keys"))
    path = tmp_path / "scored_live.yaml"
    path.write_text(EXAM)
    return load_exam(path)


def _scenario_items(done) -> dict:
    items = {}
    with zipfile.ZipFile(done.data["evidence"]["path"]) as bundle:
        for name in ("tasks/1-broadcast_failover/report.json", "tasks/2-camera_4k/report.json"):
            for check in json.loads(bundle.read(name))["checks"]:
                if check["source"] == "scenario":
                    items[check["id"]] = check
    return items


def test_reference_answers_earn_credit_by_measurement_and_starters_none(exam):
    started = attempt.start(exam, "Ref", time.time(), "ex-scored", seed=5, mode="live", watch=False)
    try:
        attempt.solve(started, time.time())
        done = attempt.submit(started, time.time())
    finally:
        attempt._down_all(started)
    items = _scenario_items(done)
    assert set(items) == {"window", "share"}
    # full at <= 50 ms charged beyond the witness, loaded host or not
    assert items["window"]["score"] == items["window"]["weight"], items["window"]["details"]
    assert items["share"]["score"] >= 0.5, items["share"]["details"]
    assert "measured:" in items["window"]["details"][0] and "ms charged" in items["window"]["details"][0]
    assert done.data["reference_run"]
    attempt.finish_session("ex-scored")

    starter = attempt.start(exam, "Starter", time.time(), "ex-scored", seed=5, mode="live", watch=False)
    try:
        done = attempt.submit(starter, time.time())
    finally:
        attempt._down_all(starter)
    items = _scenario_items(done)
    assert items["window"]["score"] == 0.0 and "never came back" in items["window"]["details"][0]
    assert items["share"]["score"] == 0.0, items["share"]["details"]
