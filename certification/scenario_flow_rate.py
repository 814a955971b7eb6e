"""The ``flow_rate`` scenario: a thousand meters appear at once; how fast are their flows installed?

    flow_rate: {src: h1, dst: h4, meters: 1000, switch: s2, timeout: 10}

``src`` stands for a concentrator with ``meters`` devices behind it: it sends Ethernet frames
(UDP to ``dst``) from as many new MAC addresses and UDP source ports, round after round, as the
first reports of freshly installed meters. The value is flows installed per second on
``switch`` (default: the switch ``src`` is attached to): ``meters`` divided by the seconds until
that many new flows were there, or the new flows counted at ``timeout`` divided by ``timeout``
when they never were (higher is better). A controller that installs a flow per device from its
first packet scores its real rate; one that only forwards packets (every frame through the
controller, forever) installs none and scores 0.
"""

from __future__ import annotations

import subprocess
import sys
import time

ARGS = frozenset({"src", "dst", "switch", "meters", "timeout"})
POLL_S = 0.02

# Frames from ``meters`` new MACs (02:4d:..) and UDP source ports, in rounds until killed:
# argv = interface, dst MAC, src IP, dst IP, meters
SEND_METERS = (
    "import socket,struct,sys,time\n"
    "ifname,dmac,sip,dip,n=sys.argv[1],bytes.fromhex(sys.argv[2].replace(':','')),"
    "socket.inet_aton(sys.argv[3]),socket.inet_aton(sys.argv[4]),int(sys.argv[5])\n"
    "s=socket.socket(socket.AF_PACKET,socket.SOCK_RAW); s.bind((ifname,0))\n"
    "def csum(b):\n"
    "    t=sum(struct.unpack('!%dH'%(len(b)//2),b)); t=(t>>16)+(t&0xffff); t+=t>>16\n"
    "    return ~t&0xffff\n"
    "frames=[]\n"
    "for i in range(n):\n"
    "    smac=bytes([2,0x4d,(i>>16)&255,(i>>8)&255,i&255,1]); body=b'meter %d'%i\n"
    "    udp=struct.pack('!HHHH',20000+i%40000,4059,8+len(body),0)+body\n"
    "    ip=struct.pack('!BBHHHBBH4s4s',0x45,0,20+len(udp),i&0xffff,0,64,17,0,sip,dip)\n"
    "    ip=ip[:10]+struct.pack('!H',csum(ip))+ip[12:]\n"
    "    frames.append(dmac+smac+b'\\x08\\x00'+ip+udp)\n"
    "while True:\n"
    "    for k,f in enumerate(frames):\n"
    "        s.send(f)\n"
    "        if k%50==49: time.sleep(0.002)\n"
    "    time.sleep(0.3)\n"
)


def arg_problems(args: dict) -> list[tuple[str, str]]:
    """(argument, problem) for each wrong argument."""
    problems = []
    for key in ("src", "dst"):
        if not isinstance(args.get(key), str) or not args.get(key):
            problems.append((key, "expected one host"))
    if "switch" in args and (not isinstance(args["switch"], str) or not args["switch"]):
        problems.append(("switch", "expected a switch name"))
    meters = args.get("meters", 1000)
    if not isinstance(meters, int) or isinstance(meters, bool) or not 1 <= meters <= 10000:
        problems.append(("meters", f"expected a whole number 1..10000 (got {meters!r})"))
    timeout = args.get("timeout", 10)
    if not isinstance(timeout, (int, float)) or isinstance(timeout, bool) or not 0.5 <= timeout <= 120:
        problems.append(("timeout", f"expected seconds 0.5..120 (got {timeout!r})"))
    return problems


def rate(installed: int, meters: int, reached_s: float | None, timeout: float) -> float:
    """Flows per second: all ``meters`` in ``reached_s`` seconds, else what was there at ``timeout``."""
    if reached_s is not None:
        return meters / max(reached_s, POLL_S)
    return min(installed, meters) / timeout


def access_switch(topology, host: str) -> str:
    """The switch ``host`` is attached to."""
    from sdnlab.labs.errors import LabSessionError

    for link in topology.links:
        for a, b in ((link.a, link.b), (link.b, link.a)):
            if a == host and topology.nodes[b].is_switch:
                return b
    raise LabSessionError(f"{host} is attached to no switch")


def measure(args: dict, name: str, topology) -> tuple[float, str]:
    """Send the meters' first frames, count new flows on the switch; (flows per second, readable text)."""
    from sdnlab.labs.errors import LabSessionError
    from sdnlab.runtime import api

    src, dst = args["src"], args["dst"]
    for host in (src, dst):
        if host not in topology.nodes or not topology.nodes[host].interfaces:
            raise LabSessionError(f"flow_rate: no host {host!r} with an interface")
    from sdnlab.certification.scenario_restart import flow_count

    switch = args.get("switch") or access_switch(topology, src)
    bridge = api.bridge(name, switch)
    meters, timeout = int(args.get("meters", 1000)), float(args.get("timeout", 10))
    before = flow_count(bridge)
    sender = api.popen_in(
        name,
        src,
        [
            sys.executable,
            "-c",
            SEND_METERS,
            topology.nodes[src].interfaces[0].name,
            str(topology.nodes[dst].mac),
            str(topology.nodes[src].ip),
            str(topology.nodes[dst].ip),
            str(meters),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    started = time.monotonic()
    installed, reached = 0, None
    try:
        while time.monotonic() - started < timeout:
            installed = flow_count(bridge) - before
            if installed >= meters:
                reached = time.monotonic() - started
                break
            if sender.poll() is not None:
                why = sender.stderr.read() if sender.stderr else ""
                raise LabSessionError(f"flow_rate: the meters' sender on {src} failed: {why}")
            time.sleep(POLL_S)
    finally:
        if sender.poll() is None:
            sender.kill()
        sender.wait()
    value = rate(installed, meters, reached, timeout)
    if reached is None:
        return value, (
            f"{max(installed, 0)} of {meters} meters got a flow on {switch} within {timeout:g} s: "
            f"{value:.0f} flows/s"
        )
    return value, f"{meters} meters got a flow on {switch} in {reached:.2f} s: {value:.0f} flows/s"
