"""Maps the repository's top-level folders onto the ``sdnlab`` package namespace.

``controller/`` is installed as ``sdnlab.controller``, ``vnfs/`` as ``sdnlab.vnfs`` and so on;
``controller/ryu/`` is installed as the top-level ``ryu`` package (the Ryu API alias).
Folders that hold only data (lab packages, topology catalogue, starters) are listed as
packages too, so that setuptools installs their files without warnings. Everything else is
declared in pyproject.toml.
"""

from pathlib import Path

from setuptools import setup

FOLDERS = {
    "sdnlab": "sdnlab",
    "sdnlab.controller": "controller",
    "sdnlab.vnfs": "vnfs",
    "sdnlab.topologies": "topologies",
    "sdnlab.labs": "labs",
    "sdnlab.grader": "grader",
    "sdnlab.certification": "certification",
    "sdnlab.classroom": "classroom",
    "sdnlab.exams": "exams",  # the exam catalogue and the skill framework: data the server reads
    "sdnlab.skills": "skills",  # (certification/paths.py), installed so a server from the wheel has them
    "ryu": "controller/ryu",
}

SKIP = {"__pycache__"}


def _subfolders(folder: Path) -> list[Path]:
    """Every folder below ``folder`` (code or data), except caches and folders mapped elsewhere."""
    others = [Path(f) for f in FOLDERS.values() if folder in Path(f).parents]
    found = []
    for path in sorted(folder.rglob("*")):
        if not path.is_dir() or SKIP & set(path.parts):
            continue
        if any(path == other or other in path.parents for other in others):
            continue
        found.append(path)
    return found


def _packages() -> tuple[list[str], dict[str, str]]:
    packages, package_dir = [], {}
    for package, folder in FOLDERS.items():
        packages.append(package)
        package_dir[package] = folder
        for sub in _subfolders(Path(folder)):
            relative = sub.relative_to(folder)
            name = ".".join((package, *relative.parts))
            packages.append(name)
            package_dir[name] = sub.as_posix()
    return packages, package_dir


PACKAGES, PACKAGE_DIR = _packages()

setup(
    packages=PACKAGES,
    package_dir=PACKAGE_DIR,
    include_package_data=True,
    package_data={
        "": [
            "*.yaml",
            "*.yml",
            "*.md",
            "*.txt",
            "*.json",
            "*.flows",
            "*.groups",
            "*.py",
            "*.html",
            "*.css",
            "*.js",
        ]
    },
)
