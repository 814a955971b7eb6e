"""Fixtures: the sandbox image (built by tools/image/build.sh when missing) and a podman that runs here.

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


def _image_works(image: str) -> bool:
    """The image exists, was built from this tree's sources and imports the classroom agent."""
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
        ["podman", "run", "--rm", *RUNC, "--network", "none", image, "/opt/sdnlab/bin/python", "-c", PROBE],
        capture_output=True,
        timeout=120,
    )
    return done.returncode == 0


@pytest.fixture(scope="session")
def sandbox_image() -> str:
    """The sandbox image's name; built from this tree if it is missing, stale or lacks the agent."""
    if os.geteuid() != 0:
        pytest.skip("sandbox containers need root (rootful podman: network namespaces inside)")
    if not shutil.which("podman"):
        pytest.skip("podman is not installed (apt-get install podman runc; tools/image/build.sh does it)")
    image = podspec.SandboxSpec().image
    if _image_works(image):
        return image
    if not (shutil.which("mmdebstrap") and shutil.which("buildah")) and not shutil.which("apt-get"):
        pytest.skip("the sandbox image is missing and mmdebstrap/buildah are not installed")
    build = subprocess.run(
        [str(REPO / "tools/image/build.sh")], capture_output=True, text=True, timeout=1800, cwd=REPO
    )
    if build.returncode != 0:
        pytest.fail("tools/image/build.sh failed: " + (build.stderr or build.stdout)[-2000:])
    assert _image_works(image), "the freshly built image does not import the classroom agent"
    return image
