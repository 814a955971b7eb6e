"""`sdnlab topo ...` and error handling of the CLI, run in-process and as a real process."""

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from sdnlab.cli import root

runner = CliRunner()
REPO = Path(__file__).resolve().parents[3]


def test_topo_list_json_names_every_catalogue_topology_with_parameters():
    result = runner.invoke(root, ["topo", "list", "--json"])
    assert result.exit_code == 0, result.output
    rows = {r["name"]: r for r in json.loads(result.output)}
    assert rows["smart_meter"]["parameters"]["meters"]["max"] == 2000
    assert {"linear", "tree", "fat_tree", "camera_4k", "connected_car", "broadcast_backbone"} <= set(rows)


def test_topo_show_json_applies_parameters():
    result = runner.invoke(root, ["topo", "show", "smart_meter", "--param", "meters=7", "--json"])
    assert result.exit_code == 0, result.output
    topo = json.loads(result.output)
    assert sum("meter" in n["roles"] for n in topo["nodes"]) == 7
    hes = next(n for n in topo["nodes"] if n["name"] == "hes")
    assert hes["ip"] == "10.2.0.1"


def test_topo_validate_reports_file_line_and_field_without_traceback(tmp_path):
    bad = tmp_path / "x.yaml"
    bad.write_text(
        "version: 1\nnodes:\n  - {name: s1, kind: switch}\n  - {name: h1}\nlinks:\n  - {a: s1, b: h9}\n"
    )
    out = subprocess.run(
        [sys.executable, "-m", "sdnlab.cli", "topo", "validate", str(bad)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert out.returncode == 2
    assert out.stderr.strip() == "sdnlab: error: x.yaml:6: link 's1'-'h9': unknown node 'h9'"


def test_unknown_topology_and_bad_param_are_one_line_errors():
    out = subprocess.run(
        [sys.executable, "-m", "sdnlab.cli", "topo", "show", "nosuch"], capture_output=True, text=True
    )
    assert out.returncode == 2 and "unknown topology 'nosuch'" in out.stderr and "Traceback" not in out.stderr
    out = subprocess.run(
        [sys.executable, "-m", "sdnlab.cli", "topo", "show", "linear", "-p", "switches"],
        capture_output=True,
        text=True,
    )
    assert out.returncode == 2 and "expected NAME=VALUE" in out.stderr


@pytest.mark.skipif(shutil.which("dot") is None, reason="graphviz not installed (make setup installs it)")
@pytest.mark.parametrize("suffix, magic", [(".svg", b"<svg"), (".png", b"\x89PNG")])
def test_topo_draw_writes_a_picture(tmp_path, suffix, magic):
    out = tmp_path / f"camera{suffix}"
    result = runner.invoke(root, ["topo", "draw", "camera_4k", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert magic in out.read_bytes()[:400]


def test_drawing_labels_capacities_and_folds_large_fanouts():
    from sdnlab.topologies import load_topology
    from sdnlab.topologies.draw import to_dot

    dot = to_dot(load_topology("smart_meter", {"meters": 300, "per_concentrator": 150}))
    assert 'label="1G 2ms"' in dot  # wan-core capacity and delay
    assert re.search(r"\+14\d more", dot)  # 150 meters behind a concentrator are summarised
    assert "shape=circle" in dot and "shape=cylinder" in dot  # meters vs head-end


def test_lab_commands_refuse_clearly_without_root(monkeypatch):
    from sdnlab.errors import EnvironmentProblem
    from sdnlab.runtime import host_env

    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    with pytest.raises(EnvironmentProblem, match="must run as root"):
        host_env.require_lab_host()


@pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("setpriv") is None, reason="needs root to drop privileges"
)
def test_setup_refuses_non_root_before_doing_anything():
    out = subprocess.run(
        ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "bash", "tools/setup.sh"],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=60,
    )
    assert out.returncode == 1
    assert "must run as root" in out.stderr
