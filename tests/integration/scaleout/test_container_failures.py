"""The container backend when a sandbox cannot start: one clear error, nothing left behind."""

from __future__ import annotations

import secrets
import subprocess
from dataclasses import dataclass

import pytest

from sdnlab.classroom import podspec
from sdnlab.classroom.backends.container import ContainerBackend
from sdnlab.classroom.errors import ClassroomError, Conflict, NotFound, SandboxError

pytestmark = pytest.mark.slow


@dataclass(frozen=True)
class BrokenSpec(podspec.SandboxSpec):
    """The real image with a start command that fails the way a broken OVS start would."""

    def command(self) -> list[str]:
        return ["/bin/sh", "-c", "echo 'ovs-vswitchd: cannot start' >&2; exit 70"]


def leftovers(backend: ContainerBackend, sandbox: str) -> list[str]:
    names = subprocess.run(
        ["podman", "ps", "--all", "--format", "{{.Names}}"], capture_output=True, text=True, check=True
    ).stdout.split()
    left = [n for n in names if n == podspec.dns_name(sandbox)]
    return left + [str(p) for p in (backend.state / "agents").iterdir()]


def test_a_container_that_dies_while_starting_is_reported_with_its_log_and_removed(sandbox_image, tmp_path):
    backend = ContainerBackend(tmp_path, spec=BrokenSpec(image=sandbox_image), ready_timeout=30)
    sandbox = "cf" + secrets.token_hex(3)
    with pytest.raises(SandboxError, match="stopped while starting: ovs-vswitchd: cannot start"):
        backend.start(sandbox, "smart_meters")
    assert leftovers(backend, sandbox) == []
    assert backend.sandboxes() == []


def test_a_missing_image_is_one_line_naming_podman_and_nothing_is_left(sandbox_image, tmp_path):
    backend = ContainerBackend(tmp_path, spec=podspec.SandboxSpec(image="localhost/sdnlab-no-such-image:0"))
    sandbox = "cf" + secrets.token_hex(3)
    with pytest.raises(SandboxError, match=r"^podman run: ") as failure:
        backend.start(sandbox, "smart_meters")
    assert "\n" not in str(failure.value)
    assert leftovers(backend, sandbox) == []


def test_an_unknown_lab_a_second_start_and_calls_to_a_missing_sandbox_are_refused(sandbox_image, tmp_path):
    backend = ContainerBackend(tmp_path, spec=podspec.SandboxSpec(image=sandbox_image))
    sandbox = "cf" + secrets.token_hex(3)
    with pytest.raises(NotFound, match="no-such-lab"):
        backend.start(sandbox, "no-such-lab")
    assert leftovers(backend, sandbox) == [], "the container of a refused lab is removed"
    with pytest.raises(NotFound):
        backend.status(sandbox)
    with pytest.raises(ClassroomError, match="cannot be named"):
        backend.read_file("../../etc", "passwd")
    backend.start(sandbox, "smart_meters")
    try:
        with pytest.raises(Conflict):
            backend.start(sandbox, "smart_meters")
    finally:
        backend.stop(sandbox)
    assert leftovers(backend, sandbox) == []


def test_a_sandbox_name_taken_by_another_servers_container_is_refused_and_left_alone(sandbox_image, tmp_path):
    ours = ContainerBackend(tmp_path / "a", spec=podspec.SandboxSpec(image=sandbox_image))
    theirs = ContainerBackend(tmp_path / "b", spec=podspec.SandboxSpec(image=sandbox_image))
    sandbox = "cf" + secrets.token_hex(3)
    theirs.start(sandbox, "smart_meters")
    try:
        with pytest.raises(SandboxError, match=r"podman run: .*already in use"):
            ours.start(sandbox, "smart_meters")
        assert theirs.sandboxes() == [sandbox] and theirs.status(sandbox)["state"] == "ready"
        assert ours.sandboxes() == []
    finally:
        theirs.stop(sandbox)
    assert leftovers(theirs, sandbox) == []
