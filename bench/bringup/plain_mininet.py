"""Baseline: build a topology with a plain Mininet script (stock classes, no sdnlab runtime).

Usage: python -m bench.bringup.plain_mininet TOPOLOGY PARAMS_JSON OFP_PORT
Prints one JSON line: {"ready_s", "down_s", "connected", "switches", "hosts", "error"}.
Switches use Mininet's OVSSwitch on the userspace datapath, a RemoteController (the minimal
os-ken app in minimal_l2.py, started here), and Mininet's own waitConnected/stop.
``batch=True`` is passed explicitly: Mininet enables batched start-up only when the switch class
itself (not a ``partial``) has ``batchStartup``; unbatched, each switch's ovs-vsctl line goes
through a pty that cuts lines at 4095 characters, and a switch with ~50 ports never appears.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from functools import partial

from mininet.log import setLogLevel
from mininet.net import Mininet
from mininet.node import OVSSwitch, RemoteController
from mininet.topo import Topo

from sdnlab.topologies import load_topology


class PlainTopo(Topo):
    """The topology's graph with every switch renamed pm<name> (so it never meets a lab's bridges)."""

    def build(self, topology):
        for s in topology.switches():
            self.addSwitch(f"pm{s.name}", dpid=f"{s.dpid:016x}")
        for h in topology.hosts():
            self.addHost(h.name, ip=f"{h.ip}/{h.interfaces[0].prefixlen}", mac=h.mac)
        for link in topology.links:
            ends = [f"pm{n}" if topology.nodes[n].is_switch else n for n in (link.a, link.b)]
            self.addLink(
                *ends,
                port1=link.a_port if topology.nodes[link.a].is_switch else None,
                port2=link.b_port if topology.nodes[link.b].is_switch else None,
            )


def main() -> int:
    topology = load_topology(sys.argv[1], json.loads(sys.argv[2]))
    port = int(sys.argv[3])
    timeout = float(sys.argv[4]) if len(sys.argv) > 4 else 240.0
    setLogLevel("error")
    result = {"switches": len(topology.switches()), "hosts": len(topology.hosts()), "error": None}
    started = time.monotonic()
    app = os.path.join(os.path.dirname(__file__), "minimal_l2.py")
    ctl = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "sdnlab.controller.runner",
            "--ofp-tcp-listen-port",
            str(port),
            "--wsapi-port",
            str(port + 1000),
            app,
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    net = None
    try:
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                time.sleep(0.05)
        net = Mininet(
            topo=PlainTopo(topology=topology),
            switch=partial(OVSSwitch, datapath="user", protocols="OpenFlow13", batch=True),
            controller=partial(RemoteController, ip="127.0.0.1", port=port),
            autoSetMacs=False,
        )
        net.start()
        result["connected"] = bool(net.waitConnected(timeout=timeout))
        result["ready_s"] = round(time.monotonic() - started, 3)
        if not result["connected"]:
            result["error"] = f"switches not connected within {timeout:.0f} s"
    except Exception as exc:
        result["error"] = f"{type(exc).__name__}: {exc}"
    finally:
        stop_started = time.monotonic()
        if net is not None:
            net.stop()
        result["down_s"] = round(time.monotonic() - stop_started, 3)
        ctl.terminate()
        try:
            ctl.wait(timeout=5)
        except subprocess.TimeoutExpired:
            ctl.kill()
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
