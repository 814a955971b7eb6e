"""Differential test: labs 11 and 13 give every public check the same verdict by replay and live.

Lab 11 waits for stplib's timers (``sleep: 12`` then pingall on a ring) and lab 13's hosts
route through gateways. Their reference solutions and starters are graded live on real Mininet
(``lab grade-batch --mode live`` machinery) and by ``lab check``'s replay; each public check
must score the same both ways.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from sdnlab.labs import batch
from sdnlab.labs.loader import load_lab
from sdnlab.labs.replay_check import grade_replay

pytestmark = pytest.mark.network

REPO = Path(__file__).resolve().parents[3]


@pytest.mark.parametrize(
    ("lab_id", "live_name"), [("ryubook_spanning_tree", "t-rp2-stp"), ("ryubook_router", "t-rp2-rt")]
)
def test_replay_and_live_agree_on_every_public_check(tmp_path, lab_id, live_name):
    lab = load_lab(lab_id)
    app = str(lab.controller.file)
    sources = {
        "reference": REPO / "instructor" / "labs" / lab_id / "solution" / app,
        "starter": REPO / "labs" / lab_id / "starter" / app,
    }
    for name, source in sources.items():
        (tmp_path / name).mkdir()
        shutil.copy(source, tmp_path / name / app)
    live = {r["trainee"]: r for r in batch.grade_batch(lab, tmp_path, live_name=live_name, mode="live")}
    replayed = {}
    for name in sources:
        assert not live[name]["error"], live[name]
        replayed[name] = grade_replay(lab, tmp_path / name)
        assert replayed[name].mode == "replay"
        by_replay = {i.id: i.score for i in replayed[name].items}
        by_live = {c["id"]: c["score"] for c in live[name]["checks"] if c["id"] in by_replay}
        assert by_replay == by_live, (name, replayed[name].notes, live[name]["checks"])
    # the public checks (live grading here also runs the hidden ones, which check does not)
    assert replayed["reference"].percent == 100 and replayed["starter"].percent < 100
