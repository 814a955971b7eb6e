"""Bad user input to the grader commands gives one readable error naming the file, never a traceback.

Covers binary (non-UTF-8) and missing input files for ``sdnlab flows trace`` and ``sdnlab grade``,
an unwritable ``--junit`` path, ``--down`` in static grading, hidden behaviours staying hidden
from trainees by default, and every spec mistake being reported at once.
"""

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from sdnlab.cli import root
from sdnlab.errors import SdnlabError
from sdnlab.grader import collect
from sdnlab.grader.errors import CollectError, InputFileError, OutputFileError, SpecError
from sdnlab.grader.spec import load_spec, parse_spec
from sdnlab.topologies import load_topology

BINARY = b"priority=1 actions=drop\n\x89PNG\r\n\x1a\n\x00\xff\xfe"  # bad byte 0x89 on line 2
PACKET = "in_port=1"


def _invoke(args):
    return CliRunner().invoke(root, [str(a) for a in args])


@pytest.fixture
def saved(tmp_path, line_rules):
    """A directory of saved dumps of the three-switch line, and a one-behaviour spec."""
    flows = tmp_path / "flows"
    flows.mkdir()
    for switch, text in line_rules.items():
        (flows / f"{switch}.flows").write_text(text)
    spec = tmp_path / "ok.yaml"
    spec.write_text(
        "- id: reach-h3\n"
        "  reach: {src: h1, dst: h3, traffic: icmp}\n"
        "- id: secret\n"
        "  hidden: true\n"
        "  reach: {src: h1, dst: h2, traffic: icmp}\n"
    )
    return flows, spec


def _grade_args(flows, spec, *extra):
    return [
        "grade",
        "--flows",
        flows,
        "--topology",
        "linear",
        "--param",
        "switches=3",
        "--spec",
        spec,
        *extra,
    ]


@pytest.mark.parametrize("option", ["--flows", "--groups", "--ports", "--packets"])
def test_trace_names_the_binary_file_line_and_byte(tmp_path, option):
    good = tmp_path / "good.flows"
    good.write_text("priority=1 actions=drop\n")
    binary = tmp_path / "bin.dump"
    binary.write_bytes(BINARY)
    args = ["flows", "trace", "--flows", good, "--packet", PACKET]
    if option == "--flows":
        args[3] = binary
    elif option == "--packets":
        args[-2:] = ["--packets", binary]
    else:
        args += [option, binary]
    result = _invoke(args)
    assert isinstance(result.exception, InputFileError), result.exception
    assert str(result.exception) == f"{binary}:2: not UTF-8 text (byte 0x89); save it as UTF-8"


@pytest.mark.parametrize("make", ["missing", "directory"])
def test_trace_names_a_missing_or_directory_flows_file(tmp_path, make):
    path = tmp_path / "x.flows"
    if make == "directory":
        path.mkdir()
    result = _invoke(["flows", "trace", "--flows", path, "--packet", PACKET])
    assert isinstance(result.exception, InputFileError) and str(result.exception).startswith(
        f"{path}: cannot read flows"
    )


def test_grade_names_a_binary_spec(saved, tmp_path):
    flows, _ = saved
    spec = tmp_path / "bin.yaml"
    spec.write_bytes(b"- reach: {src: h1, dst: h2}\n\xff\n")
    result = _invoke(_grade_args(flows, spec))
    assert isinstance(result.exception, SpecError)
    assert str(result.exception) == f"{spec}:2: not UTF-8 text (byte 0xff); save it as UTF-8"


def test_grade_names_a_missing_spec(saved, tmp_path):
    flows, _ = saved
    result = _invoke(_grade_args(flows, tmp_path / "nope.yaml"))
    assert isinstance(result.exception, SpecError) and "nope.yaml: cannot read spec: No such file" in str(
        result.exception
    )


@pytest.mark.parametrize("name", ["s2.flows", "s2.groups", "s2.ports", "s9.json"])
def test_saved_dump_directory_names_a_binary_file(saved, name):
    flows, _ = saved
    (flows / name).write_bytes(BINARY)
    with pytest.raises(CollectError, match=rf"{name}:2: not UTF-8 text \(byte 0x89\)"):
        collect.from_dir(flows)


def test_saved_dump_directory_that_is_missing_or_a_file(tmp_path):
    with pytest.raises(CollectError, match="no such directory"):
        collect.from_dir(tmp_path / "nope")
    (tmp_path / "s1.flows").write_text("priority=1 actions=drop\n")
    with pytest.raises(CollectError, match="not a directory"):
        collect.from_dir(tmp_path / "s1.flows")


def test_saved_rest_groups_that_are_not_json_name_the_file(tmp_path):
    (tmp_path / "s1.json").write_text(json.dumps([]))
    (tmp_path / "s1.groups.json").write_text("{not json")
    with pytest.raises(SdnlabError, match=r"s1.groups.json:1: invalid JSON"):
        collect.from_dir(tmp_path)


def test_binary_flows_through_the_real_console_script_is_one_line(tmp_path):
    binary = tmp_path / "bin.flows"
    binary.write_bytes(BINARY)
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            "from sdnlab.cli import main; main()",
            "flows",
            "trace",
            "--flows",
            str(binary),
            "--packet",
            PACKET,
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines() == [
        f"sdnlab: error: {binary}:2: not UTF-8 text (byte 0x89); save it as UTF-8"
    ]


def test_junit_into_a_missing_directory_is_refused_before_grading(saved):
    flows, spec = saved
    result = _invoke(_grade_args(flows, spec, "--junit", "/nonexistdir/x.xml"))
    assert isinstance(result.exception, OutputFileError)
    assert str(result.exception) == "--junit /nonexistdir/x.xml: directory /nonexistdir does not exist"


def test_junit_write_failure_is_an_error_not_a_traceback(saved, tmp_path, monkeypatch):
    flows, spec = saved

    def refuse(self, *args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(Path, "write_text", refuse)
    result = _invoke(_grade_args(flows, spec, "--json", "--junit", tmp_path / "j.xml"))
    assert isinstance(
        result.exception, OutputFileError
    ) and "cannot write the JUnit report: Permission denied" in str(result.exception)


def test_down_without_live_grades_the_failure_scenario(saved):
    flows, spec = saved
    healthy = json.loads(_invoke(_grade_args(flows, spec, "--json")).output)
    assert healthy["passed"] is True and healthy["down"] == []
    result = _invoke(_grade_args(flows, spec, "--json", "--down", "s1-s2"))
    assert result.exit_code == 1, result.output
    failed = json.loads(result.output)
    assert failed["down"] == ["s1-s2"] and failed["behaviours"][0]["passed"] is False
    assert "link down" in failed["behaviours"][0]["failures"][0]["outcome"]
    assert "Graded with links down: s1-s2" not in result.output  # JSON only
    text = _invoke(_grade_args(flows, spec, "--down", "s1-s2")).output
    assert "graded with links down: s1-s2" in text


@pytest.mark.parametrize(
    "down, problem", [("s1-s9", "down: no link s1-s9 in the topology"), ("s1", "--down 's1': expected A-B")]
)
def test_down_must_name_a_link_of_the_topology(saved, down, problem):
    flows, spec = saved
    result = _invoke(_grade_args(flows, spec, "--down", down))
    assert isinstance(result.exception, SpecError) and problem in str(result.exception)


def test_hidden_behaviours_are_left_out_unless_asked_for(saved):
    flows, spec = saved
    trainee = json.loads(_invoke(_grade_args(flows, spec, "--json")).output)
    assert [b["id"] for b in trainee["behaviours"]] == ["reach-h3"]
    for flag in ("--hidden", "--include-hidden"):
        instructor = json.loads(_invoke(_grade_args(flows, spec, "--json", flag)).output)
        assert [b["id"] for b in instructor["behaviours"]] == ["reach-h3", "secret"]


def test_hidden_behaviours_do_not_appear_in_the_text_report(saved):
    flows, spec = saved
    result = _invoke(_grade_args(flows, spec))
    assert result.exit_code == 0, result.output
    assert "reach-h3" in result.output and "secret" not in result.output


def test_every_spec_mistake_is_reported_at_once(tmp_path):
    topo = load_topology("linear", {"switches": 3, "hosts_per_switch": 1})
    spec = tmp_path / "spec.yaml"
    spec.write_text(
        "- reach: {src: h1, dst: h2, traffic: 'tcp to 80'}\n"
        "- reach: {src: h9, dst: h2}\n"
        "- isolate: {src: h1, dst: 'role:nosuch', colour: red}\n"
        "- reach: {src: h1}\n"
    )
    with pytest.raises(SpecError) as info:
        load_spec(spec, topology=topo)
    lines = str(info.value).splitlines()
    assert lines == [
        (
            f"{spec}:1: reach: traffic: cannot read 'tcp to 80' "
            "(expected any, ip, icmp, arp, tcp, udp, 'tcp dst 80', or an ovs match)"
        ),
        f"{spec}:2: reach.src: unknown node 'h9'",
        f"{spec}:3: isolate.colour: unknown field (allowed: dst, src, traffic)",
        f"{spec}:3: isolate.dst: 'role:nosuch' selects no node",
        f"{spec}:4: reach.dst: required",
    ]


def test_grade_refuses_two_behaviours_with_one_id_at_the_second_ones_line(saved, tmp_path):
    flows, _ = saved
    spec = tmp_path / "dup.yaml"
    spec.write_text(
        "behaviours:\n"
        "  - id: web\n"
        "    reach: {src: h1, dst: h3, traffic: 'tcp dst 80'}\n"
        "  - description: telnet is blocked\n"
        "    id: web\n"
        "    isolate: {src: h1, dst: h3, traffic: 'tcp dst 23'}\n"
    )
    result = _invoke(_grade_args(flows, spec))
    assert isinstance(result.exception, SpecError)  # exit code 2 through main (INVALID_INPUT)
    assert str(result.exception) == f"{spec}:5: id: duplicate behaviour id 'web' (first used at line 2)"


def test_a_broken_spec_is_named_before_the_lab_is_looked_for(tmp_path):
    spec = tmp_path / "dup.yaml"
    spec.write_text("- id: web\n  reach: {src: h1, dst: h3}\n- id: web\n  reach: {src: h1, dst: h2}\n")
    result = _invoke(["grade", "--name", "t-no-such-lab", "--spec", spec])
    assert isinstance(result.exception, SpecError), result.output  # not "no lab t-no-such-lab"
    assert str(result.exception) == f"{spec}:3: id: duplicate behaviour id 'web' (first used at line 1)"


def test_an_id_that_repeats_an_automatic_one_is_named_as_such():
    with pytest.raises(SpecError) as info:
        parse_spec("- id: reach-2\n  reach: {src: h1, dst: h2}\n- reach: {src: h1, dst: h3}\n", "s.yaml")
    assert (
        str(info.value) == "s.yaml:3: id: duplicate automatic behaviour id 'reach-2' (first used at line 1)"
    )


def test_spec_without_topology_still_checks_syntax_only():
    assert parse_spec("- reach: {src: h9, dst: h2}\n")[0].src == ("h9",)


def test_live_confirmation_gets_no_hidden_behaviours_unless_asked_for(saved, monkeypatch):
    from sdnlab.grader import live

    flows, spec = saved
    probed = []

    def fake_confirm(name, topo, state, behaviours, report, down=()):
        probed.append([b.id for b in behaviours])
        return report

    monkeypatch.setattr(live, "confirm", fake_confirm)
    assert _invoke(_grade_args(flows, spec, "--json", "--live", "--name", "nolab")).exit_code == 0
    assert _invoke(_grade_args(flows, spec, "--json", "--live", "--name", "nolab", "--hidden")).exit_code == 0
    assert probed == [["reach-h3"], ["reach-h3", "secret"]]


def test_a_lab_file_as_spec_grades_its_public_behaviours(tmp_path):
    """A lab.yaml holds public checks only (hidden ones are instructor data, instructor/labs/)."""
    lab = Path(__file__).parents[3] / "labs" / "smart_meters" / "lab.yaml"
    behaviours = load_spec(lab)
    assert behaviours and not any(b.hidden for b in behaviours)
    flows = tmp_path / "flows"
    flows.mkdir()
    import yaml

    declared = yaml.safe_load(lab.read_text())["topology"]
    params = declared.get("params") or {}
    topo = load_topology(declared["name"], params)
    for switch in topo.switches():
        (flows / f"{switch.name}.flows").write_text("priority=0 actions=drop\n")
    param_args = [arg for k, v in params.items() for arg in ("--param", f"{k}={v}")]
    result = _invoke(
        ["grade", "--flows", flows, "--topology", declared["name"], *param_args, "--spec", lab, "--json"]
    )
    shown = [b["id"] for b in json.loads(result.output)["behaviours"]]
    assert shown == [b.id for b in behaviours if not b.hidden]


def test_skills_on_a_check_belong_to_lab_files_only():
    lab_check = "title: {en: t, ja: t}\nbehaviours:\n  - reach: {src: h1, dst: h2}\n    skills: {x: 1}\n"
    assert [b.kind for b in parse_spec(lab_check)] == ["reach"]
    with pytest.raises(SpecError, match=r"<spec>:2: unknown key 'skills'"):
        parse_spec("- reach: {src: h1, dst: h2}\n  skills: {x: 1}\n")
