"""Maps the repository's top-level folders onto the ``sdnlab`` package namespace.

``controller/`` is installed as ``sdnlab.controller``, ``vnfs/`` as ``sdnlab.vnfs`` and so on;
``controller/ryu/`` is installed as the top-level ``ryu`` package (the Ryu API alias).
Everything else is declared in pyproject.toml.
"""

from setuptools import find_packages, setup

FOLDERS = {
    "sdnlab": "sdnlab",
    "sdnlab.controller": "controller",
    "sdnlab.vnfs": "vnfs",
    "sdnlab.topologies": "topologies",
    "sdnlab.labs": "labs",
    "sdnlab.grader": "grader",
    "sdnlab.classroom": "classroom",
    "ryu": "controller/ryu",
}


def _packages() -> tuple[list[str], dict[str, str]]:
    packages, package_dir = [], {}
    for package, folder in FOLDERS.items():
        packages.append(package)
        package_dir[package] = folder
        for sub in find_packages(folder, exclude=["ryu", "ryu.*"] if folder == "controller" else []):
            packages.append(f"{package}.{sub}")
            package_dir[f"{package}.{sub}"] = f"{folder}/{sub.replace('.', '/')}"
    return packages, package_dir


PACKAGES, PACKAGE_DIR = _packages()

setup(
    packages=PACKAGES,
    package_dir=PACKAGE_DIR,
    include_package_data=True,
    package_data={"": ["*.yaml", "*.yml", "*.md", "*.txt", "*.py", "**/*"]},
)
