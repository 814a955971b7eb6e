"""The skill framework loads into typed skills, rejects bad files with file:line, and labs name
only its skills."""

from pathlib import Path

import pytest

from sdnlab.certification.errors import FrameworkError
from sdnlab.certification.evidence import Outcome, check_skill_problems, lab_check_skills, skill_levels
from sdnlab.certification.framework import load_framework, parse_framework
from sdnlab.labs.loader import lab_dirs, load_lab
from sdnlab.yamlsrc import load_yaml

AREAS = {"openflow", "programming", "nfv", "servers_os", "security", "operations", "iot"}
IOT = {
    "iot.connected_car_latency",
    "iot.camera_bandwidth",
    "iot.smart_meter_scale",
    "iot.broadcast_resilience",
}


def test_shipped_framework_has_every_area_and_the_iot_model_cases():
    fw = load_framework()
    assert fw.version
    assert {a.id for a in fw.areas} == AREAS
    assert set(fw.skills) >= IOT
    for skill in fw.skills.values():
        assert set(skill.criteria) == set(fw.levels)


def _fw(text: str):
    return parse_framework(load_yaml(text, "fw.yaml"), "fw.yaml")


GOOD = """version: "9"
levels:
  1: {en: a, ja: あ}
areas:
  - id: net
    title: {en: N, ja: ネ}
    skills:
      - id: net.one
        title: {en: One, ja: 一}
        levels: {1: does a thing}
"""


def test_a_minimal_framework_parses():
    fw = _fw(GOOD)
    assert fw.problem("net.one", 1) is None
    assert "unknown skill" in fw.problem("net.two", 1)
    assert "unknown level" in fw.problem("net.one", 2)


@pytest.mark.parametrize(
    "change, where",
    [
        (("id: net.one", "id: other.one"), "fw.yaml:8: areas[0].skills[0].id"),
        (("levels: {1: does a thing}", "levels: {2: x}"), "fw.yaml:10: areas[0].skills[0].levels.2"),
        (('version: "9"', "version: 9"), "fw.yaml:1: version"),
        (("title: {en: One, ja: 一}", "title: One"), "fw.yaml:9: areas[0].skills[0].title"),
        (
            ("    title: {en: N, ja: ネ}", "    title: {en: N, ja: ネ}\n    colour: red"),
            "fw.yaml:7: areas[0].colour",
        ),
    ],
)
def test_a_bad_framework_names_file_line_and_field(change, where):
    with pytest.raises(FrameworkError) as info:
        _fw(GOOD.replace(*change))
    assert where in str(info.value)


def test_every_shipped_lab_check_names_known_skills():
    fw = load_framework()
    for directory in lab_dirs():
        lab = load_lab(directory)
        named = lab_check_skills(directory)
        assert {b.id for b in lab.behaviours} | {p.id for p in lab.probes + lab.scored} == set(named)
        assert check_skill_problems(directory, fw) == [], directory


def _copy_lab(tmp_path: Path, name="static_flows") -> Path:

    from sdnlab import instructor

    src = next(d for d in lab_dirs() if d.name == name)
    return instructor.copy_lab(src, tmp_path)


def test_validate_rejects_a_check_naming_an_unknown_skill(tmp_path):
    from sdnlab.labs.validate import validate

    lab = _copy_lab(tmp_path)
    text = (lab / "lab.yaml").read_text()
    (lab / "lab.yaml").write_text(
        text.replace("openflow.priorities: 1, security", "openflow.telepathy: 1, security", 1)
    )
    report = validate(str(lab), mode="static")
    bad = [p for p in report.problems if "openflow.telepathy" in p]
    assert len(bad) == 1 and "unknown skill" in bad[0] and "lab.yaml:" in bad[0]


def test_validate_rejects_a_check_without_skills_and_a_malformed_one(tmp_path):
    from sdnlab.labs.errors import LabPackageError

    lab = _copy_lab(tmp_path)
    text = (lab / "lab.yaml").read_text()
    (lab / "lab.yaml").write_text(
        text.replace(
            "skills: {openflow.match_action: 1, servers",
            "skills: [oops]\n    x_: {openflow.match_action: 1, servers",
            1,
        ).replace("    x_: ", "    #")
    )
    with pytest.raises(LabPackageError, match=r"lab.yaml:\d+: behaviours\[0\].skills: expected a mapping"):
        load_lab(lab)


def test_levels_come_from_outcomes_not_titles():
    fw = load_framework()
    skill = "security.access_control"
    level1 = Outcome("x", "a", 1.0, 1.0, {skill: 1})
    level3_failed = Outcome("x", "b", 1.0, 0.0, {skill: 3})
    level3_passed = Outcome("x", "c", 1.0, 1.0, {skill: 3})
    assert skill_levels([], fw)[skill].level == 0
    assert skill_levels([level1], fw)[skill].level == 1
    # the level-3 failure drags level 1 below the 80% bar too (it is evidence for 1..3)
    assert skill_levels([level1, level3_failed], fw)[skill].level == 0
    assert skill_levels([level1, level3_passed], fw)[skill].level == 3
    many = [Outcome("x", f"p{i}", 1.0, 1.0, {skill: 2}) for i in range(4)]
    assert skill_levels([*many, level3_failed], fw)[skill].level == 2


def test_a_check_without_skills_in_a_certified_lab_is_a_problem(tmp_path):
    lab = _copy_lab(tmp_path)
    text = (lab / "lab.yaml").read_text()
    (lab / "lab.yaml").write_text(
        text.replace("    skills: {openflow.match_action: 1, servers_os.host_networking: 1}\n", "", 1)
    )
    problems = check_skill_problems(lab, load_framework())
    assert len(problems) == 1 and "'h1-reaches-h3': names no skill" in problems[0]


def test_lab_submissions_are_skill_evidence_without_naming_checks():
    from sdnlab.certification.evidence import skill_evidence
    from sdnlab.certification.report import outcomes_from_progress, report_dict
    from sdnlab.labs import grading
    from sdnlab.labs.session import result_record

    lab = load_lab("static_flows")
    result = grading.grade_static(lab, lab.solution_dir)
    record = result_record(lab, result)
    text = str(record)
    assert not any(b.id in text for b in lab.behaviours if b.hidden)
    assert record["skill_evidence"] == skill_evidence(lab.path, result)
    dirs = {d.name: d for d in lab_dirs()}
    fw = load_framework()
    report = report_dict(
        skill_levels(outcomes_from_progress({"labs": {"static_flows": {"results": [record]}}}, dirs), fw), fw
    )
    rows = {r["skill"]: r for a in report["areas"] for r in a["skills"]}
    assert rows["security.access_control"]["level"] == 2  # the lab's checks go up to level 2
    assert (
        rows["security.access_control"]["checks_passed"]
        == rows["security.access_control"]["checks_total"]
        == 2
    )
    assert rows["nfv.service_chain"]["level"] == 0
    reference = {**record, "solved_by_reference": True}
    assert outcomes_from_progress({"labs": {"static_flows": {"results": [reference]}}}, dirs) == []
