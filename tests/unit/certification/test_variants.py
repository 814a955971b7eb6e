"""Per-trainee variants: every seed renders a valid lab whose reference scores 100%; copied answers fail."""

import json
from pathlib import Path

import pytest

from sdnlab.certification import variants
from sdnlab.certification.errors import VariantError
from sdnlab.labs import grading
from sdnlab.labs.loader import lab_dirs, load_lab

VARIABLE_LABS = [d for d in lab_dirs() if variants.is_variable(d)]
FLOW_LABS = [d for d in VARIABLE_LABS if load_lab(d).controller.mode == "none"]


def _flow_lab(lab) -> bool:
    return lab.controller.mode == "none" and not lab.vnfs


SEEDS = range(12)


def test_labs_1_3_4_5_6_7_and_8_are_variable():
    assert {
        "static_flows",
        "service_chain",
        "smart_meters",
        "connected_car",
        "camera_4k",
        "iot_dpi",
        "broadcast_failover",
    } <= {d.name for d in VARIABLE_LABS}


@pytest.mark.parametrize("lab_dir", VARIABLE_LABS, ids=lambda d: d.name)
def test_every_seed_renders_a_valid_lab_whose_reference_scores_100(lab_dir, tmp_path):
    seen = set()
    for seed in SEEDS:
        rendered = variants.render(lab_dir, seed, tmp_path / str(seed))
        lab = load_lab(rendered.path)  # topology, texts, behaviours all valid
        assert json.loads((rendered.path / variants.RECORD).read_text())["seed"] == seed
        text = "".join(p.read_text() for p in rendered.path.rglob("*") if p.is_file() and p.suffix != ".pyc")
        for kept in variants.RUNTIME_PLACEHOLDERS:  # filled when read (session) or run (controller_url)
            text = text.replace("{{" + kept + "}}", "")
        assert "{{" not in text
        if _flow_lab(lab):  # labs with a controller or VNFs are graded live (integration tests)
            assert grading.grade_static(lab, lab.solution_dir).percent == 100.0
            assert grading.grade_static(lab, lab.starter_dir).percent < 100.0
        seen.add(json.dumps(rendered.values, sort_keys=True))
    assert len(seen) > 1


@pytest.mark.parametrize("lab_dir", FLOW_LABS, ids=lambda d: d.name)
def test_the_solution_of_one_variant_fails_on_every_other(lab_dir, tmp_path):
    spec = variants.load_spec(lab_dir)
    by_values = {}
    for seed in SEEDS:
        rendered = variants.render(lab_dir, seed, tmp_path / str(seed))
        by_values.setdefault(json.dumps(rendered.values, sort_keys=True), load_lab(rendered.path))
    assert len(by_values) == spec.combinations
    for key_a, lab_a in by_values.items():
        for key_b, lab_b in by_values.items():
            if key_a != key_b:
                assert _copied_percent(lab_b, lab_a) < 100.0, (key_a, key_b)


def _copied_percent(lab, source) -> float:
    """lab graded on source's reference files (files for switches it does not have: 0)."""
    from sdnlab.errors import SdnlabError

    try:
        return grading.grade_static(lab, source.solution_dir).percent
    except SdnlabError:
        return 0.0


def test_same_seed_same_variant_and_default_matches_the_catalogue(tmp_path):
    for lab_dir in VARIABLE_LABS:
        spec = variants.load_spec(lab_dir)
        assert variants.pick(spec, lab_dir.name, 7) == variants.pick(spec, lab_dir.name, 7)
        assert variants.default_drift(lab_dir, tmp_path / lab_dir.name) == []


def _lab(tmp_path: Path, variables: str, template: str = "x {{port}}\n") -> Path:

    from sdnlab import instructor

    src = next(d for d in lab_dirs() if d.name == "static_flows")
    lab = instructor.copy_lab(src, tmp_path)
    (lab / "variant" / "variables.yaml").write_text(variables)
    (lab / "variant" / "templates" / "notes.txt").write_text(template)
    return lab


def test_an_unknown_placeholder_names_file_and_line(tmp_path):
    lab = _lab(
        tmp_path,
        "variables:\n  telnet_port: {choice: [23, 2323]}\ndefault: {telnet_port: 23}\n",
        "a\nb {{nope}}\n",
    )
    with pytest.raises(VariantError, match=r"notes.txt:2: unknown variable 'nope'"):
        variants.render(lab, 1, tmp_path / "out")


@pytest.mark.parametrize(
    "text, message",
    [
        (
            "variables:\n  telnet_port: {choice: []}\ndefault: {telnet_port: 23}\n",
            r"variables.yaml:2: variables.telnet_port.choice",
        ),
        (
            "variables:\n  telnet_port: {min: 5, max: 1}\ndefault: {telnet_port: 23}\n",
            r"variables.yaml:2: variables.telnet_port",
        ),
        (
            "variables:\n  telnet_port: {choice: [23]}\ndefault: {telnet_port: 99}\n",
            r"variables.yaml:3: default.telnet_port: not in its domain",
        ),
        (
            "variables:\n  telnet_port: {choice: [23]}\ndefault: {}\nextra: 1\n",
            r"variables.yaml:4: extra: unknown key",
        ),
    ],
)
def test_bad_variables_files_name_file_and_line(tmp_path, text, message):
    with pytest.raises(VariantError, match=message):
        variants.load_spec(_lab(tmp_path, text))


def test_validate_flags_a_variable_that_does_not_change_the_answer(tmp_path):
    lab = _lab(
        tmp_path,
        "variables:\n  telnet_port: {choice: [23, 2323, 2223]}\n  colour: {choice: [red, blue]}\n"
        "default: {telnet_port: 23, colour: red}\n",
        "{{colour}}\n",
    )
    problems = variants.variant_problems(lab, tmp_path / "scratch")
    assert any("scores 100% on seed" in p for p in problems)
