"""The lab package format: the catalogue loads, and broken packages fail with file:line: field messages."""

from __future__ import annotations

import pytest

from sdnlab.labs import catalogue, load_lab
from sdnlab.labs.errors import LabPackageError
from sdnlab.labs.model import SKILLS

from .conftest import GOOD_HIDDEN, GOOD_LAB


def test_catalogue_has_at_least_eight_labs_with_unique_numbers():
    labs = catalogue()
    assert len(labs) >= 8
    assert len({lab.number for lab in labs}) == len(labs)
    assert [lab.number for lab in labs] == sorted(lab.number for lab in labs)


@pytest.mark.parametrize("lab", catalogue(), ids=lambda lab: lab.id)
def test_every_catalogue_lab_is_complete(lab):
    assert lab.title.en and lab.title.ja
    assert lab.readme("en").is_file() and lab.readme("ja").is_file()
    assert lab.hidden_count >= 1, "submit must check more than check"
    assert any(not b.hidden for b in lab.behaviours) or any(not p.hidden for p in lab.probes)
    assert len(lab.hints) >= 2
    assert set(lab.skills) <= set(SKILLS)
    assert lab.starter_dir.is_dir() and lab.solution_dir.is_dir()


def test_labs_are_found_by_id_number_and_path():
    by_id = load_lab("smart_meters")
    assert load_lab("3") == by_id
    assert load_lab(str(by_id.path)) == by_id


def test_unknown_lab_lists_the_known_ones():
    with pytest.raises(LabPackageError, match=r"no lab 'nope' \(labs: .*smart_meters"):
        load_lab("nope")


def test_a_good_package_loads(make_lab):
    lab = load_lab(make_lab(GOOD_LAB, hidden=GOOD_HIDDEN))
    assert lab.id == "demo_lab" and lab.number == 42
    assert [b.id for b in lab.behaviours] == ["h1-h2", "h2-h1"]
    assert lab.hidden_count == 1 and not lab.needs_live


def test_every_problem_is_reported_with_its_line_and_field(make_lab):
    broken = (
        GOOD_LAB.replace("level: beginner", "level: expert")
        .replace("controller: {mode: none}", "controller: {mode: ryu}")
        .replace('ja: "デモ"', 'ja: ""')
    )
    with pytest.raises(LabPackageError) as info:
        load_lab(make_lab(broken))
    message = str(info.value)
    assert len(message.splitlines()) == 3
    assert "lab.yaml:4: level: expected one of beginner, intermediate, advanced (got 'expert')" in message
    assert "lab.yaml:8: controller.mode: expected one of none, builtin, app (got 'ryu')" in message
    assert "lab.yaml:3: title.ja: missing text" in message


def test_bad_behaviours_are_reported_through_the_grader_spec_format(make_lab):
    broken = GOOD_LAB.replace(
        "reach: {src: h1, dst: h2, traffic: any}", "reach: {src: h1, dst: h2, traffic: smtp}"
    )
    with pytest.raises(LabPackageError, match=r"lab.yaml:11: .*traffic"):
        load_lab(make_lab(broken))


def test_probe_and_scenario_arguments_are_checked(make_lab):
    text = (
        GOOD_LAB
        + """\
    scenario:
      - telnet_scan: {targets: all}
      - dance: {}
    probes:
      - ping: {src: h1, dst: h2, expect: maybe}
      - tcp: {src: h1, dst: h2}
      - ping: {src: h1, dst: h2, colour: red}
"""
    )
    with pytest.raises(LabPackageError) as info:
        load_lab(make_lab(text))
    message = str(info.value)
    assert "scenario[0].telnet_scan.src: required" in message
    assert "scenario[1]: expected exactly one of" in message
    assert "probes[0].ping.expect: expected one of reach, blocked (got 'maybe')" in message
    assert "probes[1].tcp.port: expected a TCP port number" in message
    assert "probes[2].ping.colour: unknown argument" in message


def test_settle_needs_a_stable_time_and_a_timeout_no_shorter(make_lab):
    text = (
        GOOD_LAB
        + """\
    scenario:
      - settle: {timeout_s: 30}
      - settle: {stable_s: 8, timeout_s: 5}
      - settle: {stable_s: 8, timeout_s: 40}
"""
    )
    with pytest.raises(LabPackageError) as info:
        load_lab(make_lab(text))
    message = str(info.value)
    assert "scenario[0].settle.stable_s: expected a number of seconds >= 0.5 (got None)" in message
    assert "scenario[1].settle.timeout_s: expected a number of seconds >= stable_s (got 5)" in message
    assert "scenario[2]" not in message


def test_missing_japanese_text_and_workspace_files_are_reported(make_lab):
    text = GOOD_LAB.replace("controller: {mode: none}", "controller: {mode: app, app: switch.py}")
    with pytest.raises(LabPackageError) as info:
        load_lab(make_lab(text, readme_ja=False))
    message = str(info.value)
    assert "README.ja.md (ja task text) is missing or empty" in message
    assert "controller.app: starter/switch.py is missing" in message
    assert "controller.app: " in message and "instructor/demo_lab/solution/switch.py is missing" in message


def test_id_must_match_the_folder(make_lab):
    with pytest.raises(LabPackageError, match="id: 'demo_lab' differs from the folder name 'other_lab'"):
        load_lab(make_lab(GOOD_LAB, lab_id="other_lab"))


def test_invalid_yaml_names_the_line(make_lab):
    with pytest.raises(LabPackageError, match=r"lab.yaml:\d+: invalid YAML"):
        load_lab(make_lab(GOOD_LAB + "hints: [unclosed\n"))


def test_lab_start_reports_every_mistake_against_the_topology_before_any_network_starts(make_lab):
    """Issue 11 item 11: a selector that matches nothing, an unknown node and a field's own line,
    all in one error, and no network is brought up (the no_network fixture fails the test if one is)."""
    from typer.testing import CliRunner

    from sdnlab.cli import root
    from tests.unit.labs.conftest import GOOD_LAB

    broken = GOOD_LAB.replace(
        "    hints:",
        "    probes:\n      - ping: {src: 'role:kamera', dst: h9}\n        weight: -1\n    hints:",
    )
    folder = make_lab(broken)
    result = CliRunner().invoke(root, ["lab", "start", str(folder), "--name", "yh-unit"])
    assert result.exit_code != 0 and isinstance(result.exception, LabPackageError)
    lab_yaml = folder / "lab.yaml"
    lines = lab_yaml.read_text(encoding="utf-8").splitlines()
    probe = 1 + next(i for i, line in enumerate(lines) if "role:kamera" in line)
    weight = 1 + next(i for i, line in enumerate(lines) if "weight: -1" in line)
    assert str(result.exception).splitlines() == [
        f"{lab_yaml}:{probe}: probes[0].ping.src: 'role:kamera' selects no node",
        f"{lab_yaml}:{probe}: probes[0].ping.dst: unknown node 'h9'",
        f"{lab_yaml}:{weight}: probes[0].weight: expected a positive number",
    ]
