"""``check_lab``: the one place that decides how ``lab check`` grades (the CLI and the classroom call it).

A lab whose controller is the trainee's app is graded by replay when replay covers it, live
otherwise with the reason given (as ``checked_by`` and as the first note); other labs live and
silently. Gradings are recorded here instead of run (no network).
"""

from __future__ import annotations

import contextlib

import pytest

from sdnlab.labs import grading, replay_check, session
from sdnlab.labs.loader import load_lab
from sdnlab.labs.results import CheckedBy, CheckItem, LabResult

ITEM = CheckItem("ping-all", "probe", "ping all", 2.0, 2.0, False, 12, 12)


@pytest.fixture
def graded(monkeypatch, tmp_path):
    """Which grading ran: ``("replay" | "live", lab id)`` per call."""
    from sdnlab.runtime import api

    calls: list[tuple[str, str]] = []
    monkeypatch.setenv("SDNLAB_RUN_DIR", str(tmp_path / "run"))
    monkeypatch.setattr(api, "exclusive", lambda name: contextlib.nullcontext())

    def grade_replay(lab, workdir, include_hidden=False):
        calls.append(("replay", lab.id))
        assert include_hidden is False, "check never replays hidden checks"
        notes = ("graded by replay: ...",)
        return LabResult(lab.id, (ITEM,), "replay", 0.1, "t", notes, CheckedBy(True, app="a.py", notes=1))

    def grade_live(lab, name, include_hidden=True):
        calls.append(("live", lab.id))
        assert include_hidden is False, "check never grades hidden checks"
        return LabResult(lab.id, (ITEM,), "live", 0.1, "t", ("pingall: 6/6 pairs answered",))

    def grade_static(lab, workdir, include_hidden=True):
        calls.append(("static", lab.id))
        assert include_hidden is False, "check never grades hidden checks"
        return LabResult(lab.id, (ITEM,), "static", 0.1, "t")

    monkeypatch.setattr(replay_check, "grade_replay", grade_replay)
    monkeypatch.setattr(grading, "grade_live", grade_live)
    monkeypatch.setattr(grading, "grade_static", grade_static)
    return calls


def test_lab_2_is_checked_by_replay(graded, tmp_path):
    result = session.check_lab(load_lab("l2_learning"), "lab-ck1", tmp_path)
    assert graded == [("replay", "l2_learning")]
    assert result.mode == "replay" and result.checked_by is not None and result.checked_by.replay


def test_an_app_lab_replay_does_not_cover_is_checked_live_and_says_why(graded, tmp_path):
    result = session.check_lab(load_lab("ryubook_firewall"), "lab-ck2", tmp_path)
    assert graded == [("live", "ryubook_firewall")]
    assert result.checked_by == CheckedBy(
        False, reason="its probe 'live-tcp-h2-h3' (tcp) is not simulated", notes=1
    )
    assert result.notes == (
        "graded live, not by replay: its probe 'live-tcp-h2-h3' (tcp) is not simulated",
        "pingall: 6/6 pairs answered",
    )


def test_an_app_using_what_replay_lacks_falls_back_to_live(graded, tmp_path, monkeypatch):
    def not_simulated(lab, workdir, include_hidden=False):
        graded.append(("replay", lab.id))
        raise replay_check.NotSimulated("group-mod")

    monkeypatch.setattr(replay_check, "grade_replay", not_simulated)
    result = session.check_lab(load_lab("l2_learning"), "lab-ck3", tmp_path)
    assert graded == [("replay", "l2_learning"), ("live", "l2_learning")]
    assert result.mode == "live" and result.checked_by is not None and not result.checked_by.replay
    assert (
        result.notes[0]
        == "graded live, not by replay: your app uses what replay does not simulate (group-mod)"
    )


def test_labs_without_the_trainees_app_are_checked_live_without_a_word_on_replay(graded, tmp_path):
    result = session.check_lab(load_lab("static_flows"), "lab-ck4", tmp_path)
    assert graded == [("live", "static_flows")]
    assert result.checked_by is None and result.notes == ("pingall: 6/6 pairs answered",)


def test_an_app_edited_since_the_controller_started_is_said_with_the_replays_notes(
    graded, tmp_path, monkeypatch
):
    monkeypatch.setattr(session, "app_changed_note", lambda lab, workdir, name: ("a.py changed ...",))
    result = session.check_lab(load_lab("l2_learning"), "lab-ck5", tmp_path)
    assert result.notes == ("graded by replay: ...", "a.py changed ...")
    assert result.checked_by is not None and result.checked_by.app_changed and result.checked_by.notes == 2


def test_without_a_network_what_replay_does_not_cover_is_graded_from_the_files(graded, tmp_path):
    lab = load_lab("ryubook_qos")
    result = session.check_lab(lab, "lab-ck6", tmp_path, network=False)
    assert graded == [("static", "ryubook_qos")]
    assert (
        result.notes[0]
        == "graded from the files, not by replay: its probe 'limited-to-5-mbit' (rate) is not simulated"
    )
    assert session.check_lab(load_lab("l2_learning"), "lab-ck6", tmp_path, network=False).mode == "replay"
