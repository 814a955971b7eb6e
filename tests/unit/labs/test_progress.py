"""The progress store survives concurrent writers, and the skill report weighs labs by their skills."""

from __future__ import annotations

import json
import multiprocessing

import pytest

from sdnlab.labs import catalogue
from sdnlab.labs.errors import ProgressError
from sdnlab.labs.progress import ProgressStore, lab_progress, skill_level, skill_report


def _record(lab: str, percent: float, hints: int = 0) -> dict:
    return {"lab": lab, "percent": percent, "hints_used": hints, "grader_version": "test"}


def _writer(home: str, worker: int, count: int) -> None:
    store = ProgressStore(home)
    for i in range(count):
        store.add_result(_record(f"lab{worker}", float(i)))


def test_results_are_stored_under_sdnlab_home(sdnlab_home):
    ProgressStore().add_result(_record("smart_meters", 50.0, hints=2))
    data = json.loads((sdnlab_home / "progress.json").read_text())
    assert data["labs"]["smart_meters"]["results"][0]["percent"] == 50.0
    assert data["labs"]["smart_meters"]["hints_used"] == 2


def test_concurrent_writers_lose_no_record(sdnlab_home):
    workers, count = 4, 25
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_writer, args=(str(sdnlab_home), w, count)) for w in range(workers)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(30)
        assert p.exitcode == 0
    data = ProgressStore().load()
    assert sorted(data["labs"]) == [f"lab{w}" for w in range(workers)]
    assert all(len(data["labs"][f"lab{w}"]["results"]) == count for w in range(workers))
    assert not list(sdnlab_home.glob(".progress-*")), "no temporary file left behind"


def test_a_corrupt_file_is_reported_not_overwritten(sdnlab_home):
    sdnlab_home.mkdir(parents=True)
    (sdnlab_home / "progress.json").write_text("{not json")
    with pytest.raises(ProgressError, match=r"progress\.json: unreadable progress file"):
        ProgressStore().add_result(_record("x", 1))
    assert (sdnlab_home / "progress.json").read_text() == "{not json"


def test_lab_progress_keeps_best_last_and_done():
    data = {
        "labs": {"a": {"results": [_record("a", 40), _record("a", 100), _record("a", 70)], "hints_used": 3}}
    }
    progress = lab_progress(data)["a"]
    assert (
        progress.attempts,
        progress.best_percent,
        progress.last_percent,
        progress.hints_used,
        progress.done,
    ) == (3, 100, 70, 3, True)


def test_skill_report_weights_best_scores_by_the_labs_skills():
    labs = catalogue()
    security_total = sum(lab.skills.get("security", 0) for lab in labs)
    smart = next(lab for lab in labs if lab.id == "smart_meters")
    data = {"labs": {"smart_meters": {"results": [_record("smart_meters", 100)], "hints_used": 0}}}
    report = skill_report(data, labs)
    expected = round(100.0 * smart.skills["security"] / security_total, 1)
    assert report["security"]["percent"] == expected
    assert report["security"]["labs_done"] == ["smart_meters"]
    assert report["programming"]["percent"] == 0.0 and report["programming"]["level"] == "not started"


@pytest.mark.parametrize(
    "percent,level", [(0, "not started"), (10, "beginning"), (50, "practising"), (90, "proficient")]
)
def test_skill_levels(percent, level):
    assert skill_level(percent) == level


@pytest.mark.parametrize(
    "content, field",
    [
        ({"labs": {"smart_meters": {"results": "x"}}}, "labs.smart_meters.results: expected a list"),
        ({"labs": {"smart_meters": {"results": [{"percent": "lots"}]}}}, "labs.smart_meters.results[0]"),
        ({"labs": {"smart_meters": 3}}, "labs.smart_meters: expected a mapping"),
        ({"labs": []}, "labs: expected a mapping"),
    ],
)
def test_a_corrupted_progress_file_is_named_with_its_field_and_kept(sdnlab_home, content, field):
    sdnlab_home.mkdir(parents=True)
    path = sdnlab_home / "progress.json"
    path.write_text(json.dumps(content))
    with pytest.raises(ProgressError, match=f"{path}: not a valid sdnlab progress file") as info:
        ProgressStore().load()
    assert field in str(info.value)
    with pytest.raises(ProgressError):
        ProgressStore().add_result(_record("smart_meters", 10.0))
    assert json.loads(path.read_text()) == content, "never overwritten"


def test_the_progress_command_reports_a_corrupted_file_in_one_error(sdnlab_home):
    from typer.testing import CliRunner

    from sdnlab.cli import root

    sdnlab_home.mkdir(parents=True)
    (sdnlab_home / "progress.json").write_text('{"labs": {"smart_meters": {"results": "x"}}}')
    result = CliRunner().invoke(root, ["progress"])
    assert isinstance(result.exception, ProgressError) and "progress.json" in str(result.exception)


def test_reference_runs_are_kept_but_not_scored(sdnlab_home):
    store = ProgressStore()
    store.add_result(_record("smart_meters", 40.0))
    store.add_result({**_record("smart_meters", 100.0), "solved_by_reference": True})
    progress = lab_progress(store.load())["smart_meters"]
    assert (progress.attempts, progress.best_percent, progress.last_percent, progress.done) == (
        1,
        40.0,
        40.0,
        False,
    )
    assert progress.reference_runs == 1
