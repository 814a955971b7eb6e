"""Shared pytest fixtures: real-network gating and labs that are always taken down."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def network_unavailable_reason() -> str | None:
    """Why real-network tests cannot run here, or None when they can."""
    if not sys.platform.startswith("linux"):
        return "needs Linux"
    if os.geteuid() != 0:
        return "needs root (network namespaces, Open vSwitch)"
    for binary in ("ovs-vsctl", "mnexec"):
        if not shutil.which(binary):
            return f"{binary} not installed (run `make setup`)"
    try:
        if (
            subprocess.run(["ovs-vsctl", "--timeout=5", "show"], capture_output=True, timeout=10).returncode
            != 0
        ):
            return "Open vSwitch is not running (run `make setup`)"
    except (OSError, subprocess.TimeoutExpired):
        return "Open vSwitch is not answering"
    return None


def pytest_collection_modifyitems(config, items):
    reason = network_unavailable_reason()
    if reason is None:
        return
    skip = pytest.mark.skip(reason=f"real-network test skipped: {reason}")
    for item in items:
        if "network" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session", autouse=True)
def labs_left_by_killed_runs_are_cleared():
    """A test run killed mid-lab leaves its lab's directory (and perhaps its network): clear what
    dead labs left before the first test, so a fixed test lab name is free again. Labs whose
    supervisor is alive are left alone (``sdnlab clean`` without ``--all``)."""
    if network_unavailable_reason() is None:
        from sdnlab.runtime import api

        api.clean()
    yield


@pytest.fixture(scope="session", autouse=True)
def exam_watchers_end_with_the_run(tmp_path_factory):
    """An exam a test started and did not submit keeps its watcher (a detached process that
    submits at the deadline, 20 minutes later): end the watchers of this run's attempts."""
    yield
    base = str(tmp_path_factory.getbasetemp())
    for pid in (int(p) for p in os.listdir("/proc") if p.isdigit()):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as file:
                argv = file.read().decode(errors="replace").split("\0")
        except OSError:
            continue
        if "sdnlab.certification.watch" in argv and any(a.startswith(base) for a in argv):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)


@pytest.fixture
def lab_factory():
    """Bring labs up with ``lab_factory(topology, name=..., **kwargs)``; all are taken down afterwards."""
    from sdnlab.runtime import api

    started: list[str] = []

    def make(topology, params=None, name="t-lab", controller="builtin", **kwargs):
        started.append(name)
        return api.up(topology, params or {}, name=name, controller=controller, **kwargs)

    yield make
    for name in started:
        try:
            api.down(name)
        except Exception:
            pass
