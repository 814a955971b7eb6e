"""Fixtures: the sandbox and server images (built by tools/image/build.sh when missing or stale) and a
podman that runs here.

Skips with the reason when this machine cannot run containers: not root, no podman, or the
image cannot be built (no mmdebstrap/buildah and no apt to install them).
"""

from __future__ import annotations

import os
import runpy
import shutil
import subprocess
from pathlib import Path

import pytest

from sdnlab.classroom import podspec

REPO = Path(__file__).resolve().parents[3]
RUNC = ["--runtime", "runc", "--ulimit", "nofile=16384:16384", "--ulimit", "nproc=32768:32768"]
# what the image must hold for these tests: the classroom agent and the trainee shell
PROBE = "import sdnlab.classroom.agent, sdnlab.classroom.tshell"
REVISION_LABEL = '"org.opencontainers.image.revision"'  # the digest of the sources it was built from


SERVER_PROBE = "import sdnlab.classroom.app, sdnlab.classroom.backends.kubernetes"


def _image_works(image: str, probe: str = PROBE) -> bool:
    """The image exists, was built from this tree's sources and imports what ``probe`` imports."""
    label = subprocess.run(
        ["podman", "image", "inspect", image, "--format", "{{index .Labels " + REVISION_LABEL + "}}"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    digest = runpy.run_path(str(REPO / "tools/image/source_digest.py"))["digest"]
    if label.returncode != 0 or label.stdout.strip() != digest(REPO):
        return False  # missing, or stale: built from other sources than the ones under test
    done = subprocess.run(
        ["podman", "run", "--rm", *RUNC, "--network", "none", image, "/opt/sdnlab/bin/python", "-c", probe],
        capture_output=True,
        timeout=120,
    )
    return done.returncode == 0


def _built_image(image: str, build_args: list[str], probe: str) -> str:
    """``image``, built with ``tools/image/build.sh ARGS`` when it is missing, stale or broken."""
    if os.geteuid() != 0:
        pytest.skip("the images are built and run with rootful podman here")
    if not shutil.which("podman"):
        pytest.skip("podman is not installed (apt-get install podman runc; tools/image/build.sh does it)")
    if _image_works(image, probe):
        return image
    if not (shutil.which("mmdebstrap") and shutil.which("buildah")) and not shutil.which("apt-get"):
        pytest.skip(f"the image {image} is missing and mmdebstrap/buildah are not installed")
    build = subprocess.run(
        [str(REPO / "tools/image/build.sh"), *build_args],
        capture_output=True,
        text=True,
        timeout=1800,
        cwd=REPO,
    )
    if build.returncode != 0:
        pytest.fail(
            f"tools/image/build.sh {' '.join(build_args)} failed: " + (build.stderr or build.stdout)[-2000:]
        )
    assert _image_works(image, probe), f"the freshly built {image} does not import what it must ({probe})"
    return image


@pytest.fixture(scope="session")
def sandbox_image() -> str:
    """The sandbox image's name; built from this tree if it is missing, stale or lacks the agent."""
    return _built_image(podspec.SandboxSpec().image, [], PROBE)


@pytest.fixture(scope="session")
def server_image() -> str:
    """The classroom server image (``build.sh --server``); built from this tree when missing or stale."""
    from sdnlab import __version__

    return _built_image(f"localhost/sdnlab-server:{__version__}", ["--server"], SERVER_PROBE)
