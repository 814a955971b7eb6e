"""The scored Mirai-scan scenario on a real network (lab 6, iot_dpi): with the reference chain
and DPI policy a second bot is quarantined within the bands and no clean device is; with the
starter (no chain, no quarantine) it never is and the scenario scores nothing.

The exam's last band reaches the scenario's whole wait (15 s): the test tells "quarantined in
time" from "never", not how fast a host busy with other tests quarantines (exams/iot_security.yaml
sets the bands trainees are scored on)."""

from __future__ import annotations

import json
import time
import zipfile

import pytest

from sdnlab.certification import attempt
from sdnlab.certification.exam import load_exam

pytestmark = pytest.mark.network


EXAM = """id: scan_live
title: {en: Scan, ja: スキャン}
minutes: 30
pass_percent: 50
attempts: 3
certifies: [security.threat_response]
tasks:
  - lab: iot_dpi
    scenarios:
      - id: scored-second-bot
        scan_quarantine: {src: m3, targets: [cam1, m1, m2, hes, vms], port: 23, timeout: 15}
        bands: [{max: 3000, credit: 1.0}, {max: 15000, credit: 0.5}]
        skills: {security.threat_response: 3}
"""


@pytest.fixture
def exam(tmp_path, monkeypatch):
    monkeypatch.setenv("SDNLAB_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("SDNLAB_CERT_KEYS", str(tmp_path / "keys"))
    path = tmp_path / "scan_live.yaml"
    path.write_text(EXAM)
    return load_exam(path)


def _scored(done) -> dict:
    with zipfile.ZipFile(done.data["evidence"]["path"]) as bundle:
        checks = json.loads(bundle.read("tasks/1-iot_dpi/report.json"))["checks"]
    return next(c for c in checks if c["id"] == "scored-second-bot")


def test_a_second_bot_is_quarantined_in_time_with_the_reference_and_never_with_the_starter(exam):
    started = attempt.start(exam, "Ref", time.time(), "ex-scan", seed=1, mode="live", watch=False)
    try:
        attempt.solve(started, time.time())
        done = attempt.submit(started, time.time())
    finally:
        attempt._down_all(started)
    item = _scored(done)
    assert item["score"] > 0, item["details"]
    assert "quarantined" in item["details"][0] and "false" not in item["details"][0]
    attempt.finish_session("ex-scan")

    starter = attempt.start(exam, "Starter", time.time(), "ex-scan", seed=1, mode="live", watch=False)
    try:
        done = attempt.submit(starter, time.time())
    finally:
        attempt._down_all(starter)
    item = _scored(done)
    assert item["score"] == 0.0 and "not quarantined" in item["details"][0], item["details"]
