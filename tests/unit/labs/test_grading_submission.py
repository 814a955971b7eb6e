"""Grades that cannot be earned by submitting nothing (issue 11 items 3 and 4), on the real lab packages."""

from __future__ import annotations

import shutil

import pytest

from sdnlab.labs.grading import grade_static
from sdnlab.labs.loader import load_lab


@pytest.mark.parametrize("lab_id", ["static_flows", "smart_meters"])
def test_an_empty_trainee_folder_is_no_submission_and_scores_zero(tmp_path, lab_id):
    result = grade_static(load_lab(lab_id), tmp_path)
    assert result.percent == 0 and not any(i.passed for i in result.items)
    assert result.notes == (f"no submission: {tmp_path} is empty",)


def test_flow_files_with_only_comments_are_no_submission(tmp_path):
    (tmp_path / "flows").mkdir()
    (tmp_path / "flows" / "s1.flows").write_text("# my answer\n\n")
    result = grade_static(load_lab("static_flows"), tmp_path)
    assert result.percent == 0 and result.notes[0].endswith("holds no flow rules")


def test_dropping_everything_earns_nothing_for_isolation(tmp_path):
    """Isolation holds vacuously on a network that forwards nothing: the lab ties it to reachability."""
    (tmp_path / "flows").mkdir()
    for switch in ("s1", "s2", "s3"):
        (tmp_path / "flows" / f"{switch}.flows").write_text("priority=0,actions=drop\n")
    for lab_id, isolation in (("static_flows", "h2-no-telnet-h3"), ("smart_meters", "meters-isolated")):
        lab = load_lab(lab_id)
        if lab_id == "smart_meters":
            shutil.rmtree(tmp_path / "flows")
            (tmp_path / "flows").mkdir()
            (tmp_path / "flows" / "dc1.flows").write_text("priority=0,actions=drop\n")
        result = grade_static(lab, tmp_path)
        item = next(i for i in result.items if i.id == isolation)
        assert item.score == 0 and not item.passed, lab_id
        assert result.percent == 0, lab_id


def test_lab1_ping_check_says_and_checks_arp_and_icmp(tmp_path):
    """Lab 1's "h2 can ping h1 and h3 (ARP ...)" fails when ARP is not forwarded, as a real ping would."""
    lab = load_lab("static_flows")
    check = next(b for b in lab.behaviours if b.id == "h2-pings-everyone")
    assert check.kind == "ping" and "ARP" in check.description and "ICMP" in check.description
    work = tmp_path / "work"
    shutil.copytree(lab.solution_dir, work)
    for path in (work / "flows").glob("*.flows"):
        path.write_text("\n".join(x for x in path.read_text().splitlines() if "arp" not in x) + "\n")
    result = grade_static(lab, work)
    item = next(i for i in result.items if i.id == "h2-pings-everyone")
    assert not item.passed and "arp" in item.details[0]
