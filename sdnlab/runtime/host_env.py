"""Checks of the machine a lab runs on: root, Linux, Open vSwitch, mnexec, netem."""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys

from sdnlab.errors import EnvironmentProblem


def require_lab_host() -> None:
    """Raise EnvironmentProblem unless this machine can build labs."""
    if not sys.platform.startswith("linux"):
        raise EnvironmentProblem("sdnlab labs need Linux (network namespaces and Open vSwitch)")
    if os.geteuid() != 0:
        raise EnvironmentProblem("sdnlab labs build real networks and must run as root (sudo)")
    for binary, package in (
        ("ovs-vsctl", "openvswitch-switch"),
        ("mnexec", "mininet"),
        ("ethtool", "ethtool"),
    ):
        if not shutil.which(binary):
            raise EnvironmentProblem(f"{binary} not found: run `make setup` (installs {package})")
    if not ovs_running():
        raise EnvironmentProblem(
            "Open vSwitch is not running: run `make setup` "
            "(or /usr/share/openvswitch/scripts/ovs-ctl start --no-monitor --system-id=random)"
        )


def require_root(action: str) -> None:
    """``EnvironmentProblem`` (one line) unless this process runs as root."""
    if os.geteuid() != 0:
        raise EnvironmentProblem(f"sdnlab labs belong to root: run as root (sudo) to {action}")


def ovs_running() -> bool:
    try:
        return (
            subprocess.run(["ovs-vsctl", "--timeout=5", "show"], capture_output=True, timeout=10).returncode
            == 0
        )
    except (OSError, subprocess.TimeoutExpired):
        return False


@functools.lru_cache(maxsize=1)
def netem_available() -> bool:
    """Whether the kernel has the netem qdisc (tried on a throw-away dummy interface)."""
    probe = f"sdnlabnetem{os.getpid() % 10000}"
    try:
        if subprocess.run(["ip", "link", "add", probe, "type", "dummy"], capture_output=True).returncode != 0:
            return False
        result = subprocess.run(
            ["tc", "qdisc", "add", "dev", probe, "root", "netem", "delay", "1ms"], capture_output=True
        )
        return result.returncode == 0
    except OSError:
        return False
    finally:
        subprocess.run(["ip", "link", "del", probe], capture_output=True)
