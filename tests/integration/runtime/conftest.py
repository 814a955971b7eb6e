"""Helpers for runtime tests: what a lab may have left behind."""

from __future__ import annotations

import os
import subprocess

import pytest


def leftovers(name: str, bridges: list[str], interfaces: list[str]) -> dict:
    """Everything of lab ``name`` that still exists (empty lists mean a clean machine)."""
    from sdnlab.runtime import paths
    from sdnlab.runtime.teardown import lab_processes

    present = set(subprocess.run(["ovs-vsctl", "list-br"], capture_output=True, text=True).stdout.split())
    return {
        "bridges": [b for b in bridges if b in present],
        "interfaces": [i for i in interfaces if os.path.exists(f"/sys/class/net/{i}")],
        "processes": lab_processes(name, set()),
        "state_dir": [str(paths.lab_dir(name))] if paths.lab_dir(name).exists() else [],
    }


@pytest.fixture
def footprint():
    return lab_footprint


def lab_footprint(name: str) -> tuple[list[str], list[str]]:
    """Bridges and switch-side interfaces a running lab owns (from its spec)."""
    from sdnlab.runtime import paths

    spec = paths.read_json(paths.lab_dir(name) / "spec.json") or {}
    return spec.get("bridges", []), spec.get("switch_interfaces", [])


@pytest.fixture
def assert_gone():
    def check(name, bridges, interfaces):
        left = leftovers(name, bridges, interfaces)
        assert left == {"bridges": [], "interfaces": [], "processes": [], "state_dir": []}, left

    return check
