"""Fixtures: the sandbox image (built by tools/image/build.sh when missing) and a podman that runs here.

Skips with the reason when this machine cannot run containers: not root, no podman, or the
image cannot be built (no mmdebstrap/buildah and no apt to install them).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from sdnlab.classroom import podspec

REPO = Path(__file__).resolve().parents[3]
RUNC = ["--runtime", "runc", "--ulimit", "nofile=16384:16384", "--ulimit", "nproc=32768:32768"]
# what the image must hold for these tests: the classroom agent and the trainee shell
PROBE = "import sdnlab.classroom.agent, sdnlab.classroom.tshell"


def _image_works(image: str) -> bool:
    done = subprocess.run(
        ["podman", "run", "--rm", *RUNC, "--network", "none", image, "/opt/sdnlab/bin/python", "-c", PROBE],
        capture_output=True,
        timeout=120,
    )
    return done.returncode == 0


@pytest.fixture(scope="session")
def sandbox_image() -> str:
    """The sandbox image's name; built from this tree if it is missing or lacks the classroom agent."""
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
