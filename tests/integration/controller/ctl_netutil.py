"""Helpers for the controller's integration tests: real OVS (userspace) + Mininet networks.

Names use the controller's prefix (switches ``ct<N>s<M>``), OpenFlow ports 6700-6799 and REST
ports 8100-8199. Every network is stopped in a finally block.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import subprocess
import time
import urllib.error
import urllib.request

import pytest


def network_unavailable() -> str | None:
    """Why real networks cannot be built here, or None if they can."""
    if os.geteuid() != 0:
        return "needs root"
    if shutil.which("mnexec") is None:
        return "mnexec (Debian mininet) not on PATH"
    try:
        subprocess.run(["ovs-vsctl", "show"], check=True, capture_output=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return "Open vSwitch is not running (ovs-vsctl show failed)"
    return None


def skip_without_network() -> None:
    reason = network_unavailable()
    if reason:
        pytest.skip(reason)


def build_net(topo, of_port: int):
    """Start a Mininet network of userspace OVS switches pointed at 127.0.0.1:of_port."""
    from mininet.net import Mininet
    from mininet.node import OVSSwitch, RemoteController

    class Network(Mininet):
        def stop(self):
            """Mininet's stop leaves each controller node's shell running (a child of this test
            process, one more per network): end those too."""
            try:
                super().stop()
            finally:
                for controller in self.controllers:
                    controller.terminate()

    net = Network(
        topo=topo,
        switch=functools.partial(OVSSwitch, datapath="user", protocols="OpenFlow13"),
        controller=None,
        autoSetMacs=True,
        waitConnected=False,
    )
    net.addController("c0", controller=RemoteController, ip="127.0.0.1", port=of_port)
    try:
        net.start()
        for host in net.hosts:
            for intf in host.intfList():
                host.cmd(f"ethtool -K {intf} tx off rx off")
    except BaseException:
        net.stop()
        raise
    return net


def bridge_connected(name: str) -> bool:
    uuids = subprocess.run(
        ["ovs-vsctl", "get", "bridge", name, "controller"], capture_output=True, text=True
    ).stdout
    for uuid in uuids.strip("[] \n").split(","):
        uuid = uuid.strip()
        if (
            uuid
            and subprocess.run(
                ["ovs-vsctl", "get", "controller", uuid, "is_connected"], capture_output=True, text=True
            ).stdout.strip()
            == "true"
        ):
            return True
    return False


def wait_connected(net, timeout: float = 20.0) -> None:
    """Wait until every switch of ``net`` is connected to its controller."""
    deadline = time.monotonic() + timeout
    pending = [sw.name for sw in net.switches]
    while pending and time.monotonic() < deadline:
        pending = [name for name in pending if not bridge_connected(name)]
        if pending:
            time.sleep(0.1)
    assert not pending, f"switches not connected after {timeout}s: {pending}"


def reset_switches(net, of_port: int) -> None:
    """Clear flows and groups and point every switch at 127.0.0.1:of_port again (fast reconnect)."""
    for sw in net.switches:
        subprocess.run(["ovs-ofctl", "-O", "OpenFlow13", "del-flows", sw.name], capture_output=True)
        subprocess.run(["ovs-ofctl", "-O", "OpenFlow13", "del-groups", sw.name], capture_output=True)
        subprocess.run(["ovs-vsctl", "del-controller", sw.name], capture_output=True)  # forces a reconnect
        subprocess.run(
            ["ovs-vsctl", "set-controller", sw.name, f"tcp:127.0.0.1:{of_port}"], capture_output=True
        )


def http(method: str, url: str, body=None, timeout: float = 10.0):
    """(status, parsed JSON or text) of an HTTP request."""
    data = None if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
    request = urllib.request.Request(url, data=data, method=method)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            status, raw = response.status, response.read()
    except urllib.error.HTTPError as exc:
        status, raw = exc.code, exc.read()
    try:
        return status, json.loads(raw)
    except ValueError:
        return status, raw.decode(errors="replace")


def ping(src, dst, count: int = 1, timeout: int = 1) -> bool:
    """True if ``src`` gets an answer from ``dst``."""
    out = src.cmd(f"ping -c {count} -W {timeout} {dst.IP()}")
    return f" {count} received" in out


def ping_until(src, dst, seconds: float = 10.0) -> bool:
    """Ping once a second until an answer comes or ``seconds`` pass."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if ping(src, dst):
            return True
    return False


@pytest.fixture
def network_required():
    skip_without_network()


def diagnose(net, ctl=None) -> str:
    """Flows of every switch and the controller's output, for assertion messages."""
    parts = []
    for sw in net.switches:
        flows = subprocess.run(
            ["ovs-ofctl", "-O", "OpenFlow13", "dump-flows", sw.name], capture_output=True, text=True
        ).stdout
        parts.append(f"--- {sw.name}\n{flows}")
    if ctl is not None:
        parts.append(f"--- controller output\n{ctl.output()[-3000:]}")
    return "\n".join(parts)
