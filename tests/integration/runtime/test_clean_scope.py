"""`sdnlab clean` removes what dead labs of this machine's runtime left, and nothing of a
classroom sandbox's labs: those run in their own PID namespace with their own runtime folder,
and their tagged processes are not strays of ours."""

from __future__ import annotations

import os
import subprocess
import time

import pytest

from sdnlab.runtime import api, paths, teardown

pytestmark = pytest.mark.network


def tagged(argv: list[str], lab: str) -> subprocess.Popen:
    return subprocess.Popen(argv, env=dict(os.environ, SDNLAB_LAB=lab))


def gone(proc: subprocess.Popen, within: float = 5.0) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return True
        time.sleep(0.05)
    return False


def test_clean_kills_a_stray_of_a_vanished_lab_and_leaves_a_sandboxs_lab_alone():
    assert "rt-stray" not in paths.lab_names() and "rt-boxed" not in paths.lab_names()
    stray = tagged(["sleep", "120"], "rt-stray")  # its lab's directory is gone: a leftover
    # a sandbox's lab process: tagged inside a PID namespace of its own (the unshare itself is not)
    boxed = subprocess.Popen(
        [
            "unshare",
            "--pid",
            "--fork",
            "--kill-child",
            "--mount-proc",
            "env",
            "SDNLAB_LAB=rt-boxed",
            "sleep",
            "120",
        ]
    )
    try:
        deadline = time.monotonic() + 5
        while "rt-boxed" not in _tags_seen_from_inside(boxed.pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        found = teardown.tagged_processes()
        assert found.get("rt-stray") == [stray.pid]
        assert "rt-boxed" not in found
        api.clean()
        assert gone(stray), "the stray of a vanished lab survived sdnlab clean"
        assert boxed.poll() is None and "rt-boxed" in _tags_seen_from_inside(boxed.pid)
    finally:
        for proc in (stray, boxed):
            proc.kill()
            proc.wait(timeout=10)


def _tags_seen_from_inside(unshare_pid: int) -> set[str]:
    """SDNLAB_LAB tags of the processes under ``unshare_pid`` (read through the host's /proc)."""
    tags = set()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                parent = int(f.read().rsplit(")", 1)[1].split()[1])
            if parent != unshare_pid:
                continue
            with open(f"/proc/{entry}/environ", "rb") as f:
                environ = f.read().split(b"\0")
        except (OSError, ValueError):
            continue
        tags |= {item[11:].decode() for item in environ if item.startswith(b"SDNLAB_LAB=")}
    return tags
