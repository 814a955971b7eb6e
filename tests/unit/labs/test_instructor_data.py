"""Reference solutions and hidden checks are instructor data: never in an installed package, merged
where this machine has them, and a trainee-side load without them hides nothing it should show."""

from __future__ import annotations

import importlib
import re
import runpy
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from rich.console import Console

from sdnlab import instructor, render
from sdnlab.labs import grading
from sdnlab.labs.loader import catalogue, lab_dirs, labs_root, load_lab
from sdnlab.labs.validate import validate

REPO = Path(__file__).resolve().parents[3]
JAPANESE = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")
LAB_IDS = [d.name for d in lab_dirs()]
# setup.py's FOLDERS: the top-level folders installed as packages
SETUP_FOLDERS = runpy.run_path(str(REPO / "tools/image/source_digest.py"))["installed_folders"](REPO)


@pytest.fixture
def trainee_machine(monkeypatch, tmp_path):
    """A machine without instructor data (an empty SDNLAB_INSTRUCTOR_DIR)."""
    empty = tmp_path / "no-instructor-data"
    empty.mkdir()
    monkeypatch.setenv(instructor.ENV, str(empty))
    return empty


def test_no_solution_folder_or_hidden_check_is_left_under_labs():
    """Misplaced instructor data (a lab added or edited the old way) fails here, before any merge."""
    misplaced = [str(p) for p in labs_root().rglob("solution") if "__pycache__" not in p.parts]
    assert misplaced == [], f"move these to instructor/labs/<id>/ (docs/labs.md): {misplaced}"
    hidden = [
        f"{path}:{n}"
        for path in labs_root().rglob("*")
        if path.is_file() and path.suffix in (".yaml", ".yml", ".py", ".md")
        for n, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1)
        if re.match(r"^\s*hidden:\s*(true|yes)\b", line)
    ]
    assert hidden == [], f"hidden checks belong in instructor/labs/<id>/hidden.yaml: {hidden}"


def test_every_catalogue_lab_has_its_instructor_part_in_the_data_folder():
    for lab_id in LAB_IDS:
        part = REPO / "instructor" / "labs" / lab_id
        assert (part / "solution").is_dir() and (part / "hidden.yaml").is_file(), lab_id
    assert not (REPO / "instructor" / "__init__.py").exists(), "instructor/ must not be a package"


@pytest.mark.parametrize("lab_id", LAB_IDS)
def test_solutions_cannot_be_imported_from_the_package(lab_id):
    with pytest.raises(ModuleNotFoundError):
        importlib.import_module(f"sdnlab.labs.{lab_id}.solution")


def test_the_built_wheel_holds_no_solution_or_hidden_check(tmp_path):
    """What pip installs (and the sandbox image gets, tools/image/build.sh): no instructor data,
    although instructor/ sits beside the packages in the tree the wheel is built from."""
    import shutil

    source = tmp_path / "src"  # a copy: the build's scratch folders stay out of the checkout
    source.mkdir()
    for name in ("setup.py", "pyproject.toml", "LICENSE", "README.md"):
        shutil.copy2(REPO / name, source / name)
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info", "node_modules")
    for folder in (*SETUP_FOLDERS, "instructor"):
        shutil.copytree(REPO / folder, source / folder, ignore=ignore)
    build = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "-q",
            "--no-deps",
            "--no-build-isolation",
            "-w",
            tmp_path,
            source,
        ],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
    )
    assert build.returncode == 0, build.stderr
    wheel = next(tmp_path.glob("sdnlab-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    assert any(n.startswith("sdnlab/labs/static_flows/starter/") for n in names)
    # what a server installed from the wheel needs for exams (certification/paths.py): public data
    assert {"sdnlab/exams/quick_openflow.yaml", "sdnlab/skills/framework.yaml"} <= set(names)
    leaked = [
        n for n in names if "/solution/" in n or n.endswith("hidden.yaml") or n.startswith("instructor/")
    ]
    assert leaked == []
    for name in (n for n in names if n.endswith("lab.yaml")):
        text = zipfile.ZipFile(wheel).read(name).decode()
        assert not re.search(r"^\s*hidden:\s*true", text, re.M), name


def test_the_image_build_installs_the_wheel_not_the_source_tree():
    """The sandbox image gets sdnlab from its wheel (checked above), never a copy of the checkout."""
    script = (REPO / "tools" / "image" / "build.sh").read_text()
    assert "pip wheel" in script and "pip install -q --no-index --find-links /opt/wheels" in script
    assert "instructor" not in script and "copy-in $OUT/wheels /opt" in script
    assert not re.search(r"copy-in (\.|\$ROOT)\b", script)


def test_a_trainee_side_load_shows_every_public_check_and_nothing_hidden(trainee_machine):
    assert instructor.root() is not None and instructor.lab_part(labs_root() / "static_flows") is None
    for lab in catalogue():
        with_data = None
        assert lab.hidden_count == 0 and not lab.hidden_available and lab.instructor_path is None
        with pytest.raises(instructor.InstructorDataMissing, match="not available on this machine"):
            _ = lab.solution_dir
        assert lab.public_summary()["checks"] == len(lab.behaviours) + len(lab.probes) + len(lab.scored)
        with_data = _with_instructor_data(lab.id)
        public = (
            [b.id for b in with_data.behaviours if not b.hidden]
            + [p.id for p in with_data.probes if not p.hidden]
            + [s.id for s in with_data.scored if not s.hidden]
        )
        assert [b.id for b in lab.behaviours] + [p.id for p in lab.probes] + [
            s.id for s in lab.scored
        ] == public
        assert lab.public_summary() == with_data.public_summary()


def _with_instructor_data(lab_id: str):
    import os

    saved = os.environ.pop(instructor.ENV)
    try:
        return load_lab(lab_id)
    finally:
        os.environ[instructor.ENV] = saved


def test_submit_grading_without_the_data_says_so_and_instructor_commands_refuse(trainee_machine):
    lab = load_lab("static_flows")
    result = grading.grade_static(lab, lab.starter_dir, include_hidden=True)
    assert f"{instructor.NOT_AVAILABLE}: public checks only" in result.notes
    assert not any(i.hidden for i in result.items)
    report = validate("static_flows", mode="static")
    assert not report.ok and "not available on this machine" in report.problems[0]


def test_the_env_variable_points_the_catalogue_at_another_data_folder(monkeypatch, tmp_path):
    import shutil

    shutil.copytree(REPO / "instructor" / "labs" / "static_flows", tmp_path / "labs" / "static_flows")
    (tmp_path / "labs" / "static_flows" / "hidden.yaml").write_text(
        "behaviours:\n  - id: only-this\n    description: {en: one, ja: ひとつ}\n"
        "    reach: {src: h1, dst: h3}\n    requires: [h1-reaches-h3]\n"
    )
    monkeypatch.setenv(instructor.ENV, str(tmp_path))
    lab = load_lab("static_flows")
    assert [b.id for b in lab.behaviours if b.hidden] == ["only-this"]
    assert lab.solution_dir == tmp_path / "labs" / "static_flows" / "solution"


def test_a_hidden_check_in_lab_yaml_or_a_public_one_in_hidden_yaml_names_file_and_line(lab_copy):
    from sdnlab.labs.errors import LabPackageError

    folder = lab_copy("static_flows")
    text = (folder / "lab.yaml").read_text()
    (folder / "lab.yaml").write_text(text.replace("    weight: 2\n", "    weight: 2\n    hidden: true\n", 1))
    hidden = folder.parent / "instructor" / "static_flows" / "hidden.yaml"
    hidden.write_text(
        hidden.read_text() + "  - id: extra\n    hidden: false\n    reach: {src: h1, dst: h2}\n"
    )
    with pytest.raises(LabPackageError) as caught:
        load_lab(folder)
    message = str(caught.value)
    assert re.search(r"lab.yaml:\d+: behaviours\[0\].hidden: hidden checks are instructor data", message)
    assert re.search(r"hidden.yaml:\d+: hidden: every behaviour in hidden.yaml is hidden", message)


def test_a_solution_folder_inside_a_lab_package_is_refused(lab_copy):
    from sdnlab.labs.errors import LabPackageError

    folder = lab_copy("static_flows")
    (folder / "solution").mkdir()
    with pytest.raises(LabPackageError, match="the reference solution is instructor data"):
        load_lab(folder)


def test_the_scaffold_creates_the_instructor_part_too(tmp_path):
    from sdnlab.labs.scaffold import new_lab

    folder = new_lab("fresh_lab", tmp_path)
    part = tmp_path / "instructor" / "fresh_lab"
    assert not (folder / "solution").exists()
    assert (part / "solution" / "flows" / "s1.flows").is_file() and (part / "hidden.yaml").is_file()
    lab = load_lab(folder)
    assert lab.hidden_count == 1 and lab.solution_dir == part / "solution"


@pytest.mark.parametrize("lab_id", LAB_IDS)
def test_with_lang_ja_every_check_is_described_in_japanese(lab_id):
    lab = load_lab(lab_id, against_topology=False)
    ids = [b.id for b in lab.behaviours] + [p.id for p in lab.probes]
    assert all(JAPANESE.search(lab.describe(i, "ja")) for i in ids), lab_id
    if lab.needs_live:
        return  # graded live in tests/integration/labs/test_trainee_session.py (lab check --lang ja)
    result = grading.grade_static(lab, lab.starter_dir, include_hidden=False)
    console = Console(width=200, record=True, file=open("/dev/null", "w"))  # noqa: SIM115
    render.lab_result(console, result, "check", "ja")
    shown = console.export_text()
    for item in result.items:
        row = next(line for line in shown.splitlines() if item.id in line)
        assert JAPANESE.search(row) and item.description not in shown, row


def test_grade_batch_refuses_to_grade_a_class_without_the_hidden_checks(trainee_machine, tmp_path):
    from sdnlab.labs import batch

    (tmp_path / "class" / "alice").mkdir(parents=True)
    with pytest.raises(instructor.InstructorDataMissing, match="nothing was graded"):
        batch.grade_batch(load_lab("static_flows"), tmp_path / "class", mode="static")


def _hidden_checks(lab_id: str) -> list[dict]:
    import yaml

    text = (REPO / "instructor" / "labs" / lab_id / "hidden.yaml").read_text(encoding="utf-8")
    groups = [group for group in (yaml.safe_load(text) or {}).values() if isinstance(group, list)]
    return [check for group in groups for check in group if isinstance(check, dict)]


@pytest.mark.parametrize("lab_id", LAB_IDS)
def test_a_lab_s_public_texts_do_not_name_its_hidden_checks(lab_id):
    """The task text states the requirements and may say hidden checks exist, never which ones are hidden."""
    public = {
        path.name: path.read_text(encoding="utf-8")
        for path in (labs_root() / lab_id).iterdir()
        if path.is_file() and path.suffix in (".md", ".yaml")
    }
    ids = [str(check["id"]) for check in _hidden_checks(lab_id) if check.get("id")]
    assert ids, f"{lab_id} has no hidden checks"
    assert [f"{name}: {i}" for i in ids for name, body in public.items() if i in body] == []
