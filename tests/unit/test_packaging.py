"""Packaging: every installed folder is declared, and the version has one source."""

import ast
import runpy
import tomllib
from pathlib import Path

import setuptools

import sdnlab

ROOT = Path(__file__).resolve().parents[2]


def _setup_packages(monkeypatch) -> dict[str, str]:
    monkeypatch.setattr(setuptools, "setup", lambda **kwargs: None)
    monkeypatch.chdir(ROOT)
    namespace = runpy.run_path(str(ROOT / "setup.py"))
    return namespace["PACKAGE_DIR"]


def test_every_folder_with_files_is_a_declared_package(monkeypatch):
    """A folder of data that is not a package makes setuptools warn ("would be ignored")."""
    declared = {Path(folder) for folder in _setup_packages(monkeypatch).values()}
    for top in ("sdnlab", "controller", "vnfs", "topologies", "labs", "grader"):
        for path in (ROOT / top).rglob("*"):
            if path.is_file() and "__pycache__" not in path.parts:
                assert path.parent.relative_to(ROOT) in declared, f"{path.parent} is not packaged"


def test_the_version_comes_from_pyproject_only():
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert sdnlab.__version__ == pyproject["project"]["version"]
    tree = ast.parse((ROOT / "sdnlab" / "__init__.py").read_text())
    literals = [n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)]
    assert pyproject["project"]["version"] not in literals
