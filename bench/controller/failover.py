"""Failover loss window on a ring, with and without protection.

``measure_on_lab`` runs on the catalogue topology ``broadcast_backbone`` through the lab runtime
(what the benchmark reports); ``measure`` runs the same probe on a hand-built Mininet ring
(ct5s1..ct5s4, playout on ct5s1, rx2 on ct5s2) for use without the runtime.
A constant-rate UDP probe (1000 packets/s, sequence-numbered) runs playout -> rx2 while the
link ct5s1-ct5s2 carrying it is cut; the loss window is the longest run of missing sequence
numbers times the send interval. With ``protection`` the switches fall back to the backup port
of their fast-failover groups; without it the controller reroutes on the port-status event.
"""

from __future__ import annotations

import functools
import json
import os
import subprocess
import sys
import time

from sdnlab.controller.testnet import ring_topo, topology_dump, write_json

SENDER = r"""
import socket, sys, time
dst, port, rate, duration = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])
sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
interval = 1.0 / rate
start = time.perf_counter()
n = 0
while True:
    now = time.perf_counter()
    if now - start > duration:
        break
    due = start + n * interval
    if now < due:
        if due - now > 0.0004:
            time.sleep(due - now - 0.0002)
        continue
    sock.sendto(n.to_bytes(4, "big") + b"p" * 60, (dst, port))
    n += 1
print(n, flush=True)
"""

RECEIVER = r"""
import json, socket, sys
sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
sock.bind(("0.0.0.0", int(sys.argv[1])))
sock.settimeout(float(sys.argv[2]))
seqs = []
print("ready", flush=True)
try:
    while True:
        data, _ = sock.recvfrom(2048)
        seqs.append(int.from_bytes(data[:4], "big"))
        sock.settimeout(1.0)
except socket.timeout:
    pass
print(json.dumps(sorted(set(seqs))), flush=True)
"""

RATE_PPS = 1000.0


def loss_window(seqs: list[int], sent: int, interval_ms: float) -> dict:
    """Longest run of missing sequence numbers (ms) and the total loss, from what arrived."""
    received = sorted(set(seqs))
    longest = 0
    previous = -1
    for seq in [*received, sent]:
        longest = max(longest, seq - previous - 1)
        previous = seq
    return {
        "sent": sent,
        "received": len(received),
        "lost": sent - len(received),
        "loss_window_ms": longest * interval_ms,
    }


def _wait_connected(net, timeout=20.0) -> None:
    deadline = time.monotonic() + timeout
    for sw in net.switches:
        while time.monotonic() < deadline:
            out = subprocess.run(
                ["ovs-vsctl", "--bare", "--columns=is_connected", "list", "controller"],
                capture_output=True,
                text=True,
            ).stdout
            uuid = subprocess.run(
                ["ovs-vsctl", "get", "bridge", sw.name, "controller"], capture_output=True, text=True
            ).stdout.strip("[] \n")
            if (
                uuid
                and subprocess.run(
                    ["ovs-vsctl", "get", "controller", uuid, "is_connected"], capture_output=True, text=True
                ).stdout.strip()
                == "true"
            ):
                break
            del out
            time.sleep(0.1)


def measure(
    protection: bool,
    of_port: int = 6770,
    rest_port: int = 8170,
    duration_s: float = 3.0,
    cut_at_s: float = 1.0,
) -> dict:
    """Build the ring, run the probe, cut the link, return the loss figures."""
    from mininet.net import Mininet
    from mininet.node import OVSSwitch, RemoteController

    from sdnlab.controller.process import ControllerProcess

    net = Mininet(
        topo=ring_topo(),
        switch=functools.partial(OVSSwitch, datapath="user", protocols="OpenFlow13"),
        controller=None,
        autoSetMacs=True,
        waitConnected=False,
    )
    net.addController("c0", controller=RemoteController, ip="127.0.0.1", port=of_port)
    ctl = None
    try:
        net.start()
        for host in net.hosts:
            host.cmd(f"ethtool -K {host.defaultIntf()} tx off rx off")
        env = {
            "SDNLAB_TOPOLOGY_JSON": write_json(topology_dump(net)),
            "SDNLAB_CONTROLLER_CONFIG": write_json({"protection": protection}),
        }
        ctl = ControllerProcess(["sdnlab.controller.apps.builtin"], of_port, rest_port, env=env).start()
        for sw in net.switches:  # reconnect now that the controller listens
            subprocess.run(["ovs-vsctl", "del-controller", sw.name], capture_output=True)
            subprocess.run(
                ["ovs-vsctl", "set-controller", sw.name, f"tcp:127.0.0.1:{of_port}"], capture_output=True
            )
        _wait_connected(net)
        playout, rx2 = net.get("playout", "rx2")
        for _ in range(20):
            if " 1 received" in playout.cmd(f"ping -c 1 -W 1 {rx2.IP()}"):
                break
        receiver = rx2.popen([sys.executable, "-c", RECEIVER, "9999", "5"], stdout=subprocess.PIPE, text=True)
        receiver.stdout.readline()
        sender = playout.popen(
            [sys.executable, "-c", SENDER, rx2.IP(), "9999", str(RATE_PPS), str(duration_s)],
            stdout=subprocess.PIPE,
            text=True,
        )
        time.sleep(cut_at_s)
        net.configLinkStatus("ct5s1", "ct5s2", "down")
        sent = int(sender.stdout.read().strip() or 0)
        sender.wait()
        seqs = json.loads(receiver.stdout.read().strip().splitlines()[-1])
        receiver.wait()
        result = loss_window(seqs, sent, 1000.0 / RATE_PPS)
        result["protection"] = protection
        if os.environ.get("BENCH_FAILOVER_DEBUG"):
            result["flows"] = {
                sw.name: sw.cmd(f"ovs-ofctl -O OpenFlow13 dump-flows {sw.name}") for sw in net.switches
            }
            result["controller_log"] = ctl.output()[-3000:]
            result["first_missing"] = next((i for i in range(sent) if i not in set(seqs)), None)
        return result
    finally:
        if ctl is not None:
            ctl.stop()  # also removes its log file
        net.stop()


def _interface_of(bridge: str, port_no: int) -> str:
    """The OVS interface of ``bridge`` with OpenFlow port ``port_no``."""
    for intf in subprocess.run(
        ["ovs-vsctl", "list-ports", bridge], capture_output=True, text=True
    ).stdout.split():
        ofport = subprocess.run(
            ["ovs-vsctl", "get", "Interface", intf, "ofport"], capture_output=True, text=True
        ).stdout.strip()
        if ofport == str(port_no):
            return intf
    raise RuntimeError(f"{bridge}: no interface with OpenFlow port {port_no}")


def measure_on_lab(protection: bool, duration_s: float = 3.0, cut_at_s: float = 1.0) -> dict:
    """The same probe on the catalogue topology ``broadcast_backbone`` brought up by the runtime."""
    from sdnlab.runtime import api

    name = "ctfailover"
    config = write_json({"protection": protection})
    state = api.up("broadcast_backbone", {"stations": 4}, name=name, controller_config=config)
    try:
        link = next(k for k in state["links"] if {k["a"], k["b"]} == {"st1", "st2"})
        ends = [
            (api.bridge(name, node), p)
            for node, p in ((link["a"], link["a_port"]), (link["b"], link["b_port"]))
        ]
        interfaces = [_interface_of(bridge, port) for bridge, port in ends]
        hosts = {h["name"]: h for h in state["hosts"]}
        for _ in range(20):
            if (
                api.run_in(name, "playout", ["ping", "-c", "1", "-W", "1", hosts["rx2"]["ip"]]).returncode
                == 0
            ):
                break
        receiver = api.popen_in(
            name, "rx2", [sys.executable, "-c", RECEIVER, "9999", "5"], stdout=subprocess.PIPE, text=True
        )
        receiver.stdout.readline()
        sender = api.popen_in(
            name,
            "playout",
            [sys.executable, "-c", SENDER, hosts["rx2"]["ip"], "9999", str(RATE_PPS), str(duration_s)],
            stdout=subprocess.PIPE,
            text=True,
        )
        time.sleep(cut_at_s)
        for intf in interfaces:
            subprocess.run(["ip", "link", "set", intf, "down"], check=True)
        sent = int(sender.stdout.read().strip() or 0)
        sender.wait()
        seqs = json.loads(receiver.stdout.read().strip().splitlines()[-1])
        receiver.wait()
        result = loss_window(seqs, sent, 1000.0 / RATE_PPS)
        result["protection"] = protection
        result["topology"] = "broadcast_backbone (stations=4), cut st1-st2"
        if os.environ.get("BENCH_FAILOVER_DEBUG"):
            from sdnlab.runtime import paths

            result["flows"] = api.dump_flows(name)
            result["controller_log"] = (paths.lab_dir(name) / "controller.log").read_text()[-4000:]
            result["first_missing"] = next((i for i in range(sent) if i not in set(seqs)), None)
        return result
    finally:
        api.down(name)
