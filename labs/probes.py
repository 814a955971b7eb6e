"""Live probes: checks judged on a running lab (ping, TCP, quarantine, VNF flows, uplink share, failover).

Each probe collects outcomes on the network, then a pure function judges them
(``judge_probe``, ``judge_spread``, ``max_gap_ms``), so verdicts are testable without a network.
"""

from __future__ import annotations

import json
import math
import re
import subprocess
import sys
import time
import urllib.request

from sdnlab.controller.rest_client import auth_headers_for_url
from sdnlab.labs.errors import LabSessionError
from sdnlab.labs.live import _parallel, _run, address, controller_url, ping, resolve
from sdnlab.labs.model import LabProbe
from sdnlab.labs.results import CheckItem

STATS_PERIOD_S = 1.2


CONNECT_BUDGET_S = 3.0

# one TCP connect within a time budget: an attempt refused or unreachable at once (a listener
# not yet up, a neighbour entry still failed from an earlier probe) is retried until the budget
# is spent; a dropped SYN simply waits out the budget
CONNECT = (
    "import socket,sys,time\n"
    "end=time.monotonic()+float(sys.argv[3])\n"
    "while True:\n"
    "    left=end-time.monotonic()\n"
    "    s=socket.socket(); s.settimeout(max(left,0.05))\n"
    "    code=s.connect_ex((sys.argv[1], int(sys.argv[2]))); s.close()\n"
    "    if code==0: sys.exit(0)\n"
    "    if end-time.monotonic()<0.3: sys.exit(1)\n"
    "    time.sleep(0.2)\n"
)


LISTEN = (
    "import socket,sys,time\n"
    "s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n"
    "s.bind(('0.0.0.0', int(sys.argv[1]))); s.listen(64); s.settimeout(0.5)\n"
    "end=time.time()+float(sys.argv[2])\n"
    "while time.time()<end:\n"
    "    try: c,_=s.accept(); c.close()\n"
    "    except OSError: pass\n"
)


RECEIVE = (
    "import socket,sys,time,json\n"
    "s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(('0.0.0.0', int(sys.argv[1])))\n"
    "s.settimeout(0.2); end=time.time()+float(sys.argv[2]); seqs=[]\n"
    "while time.time()<end:\n"
    "    try: seqs.append(int(s.recv(64)))\n"
    "    except (OSError, ValueError): pass\n"
    "print(json.dumps(seqs))\n"
)


SEND = (
    "import socket,sys,time\n"
    "s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); dst=(sys.argv[1], int(sys.argv[2]))\n"
    "gap=float(sys.argv[3])/1000; n=int(sys.argv[4]); t0=time.perf_counter()\n"
    "for i in range(n):\n"
    "    s.sendto(str(i).encode(), dst)\n"
    "    wait=t0+(i+1)*gap-time.perf_counter()\n"
    "    if wait>0: time.sleep(wait)\n"
)


BURST = (
    "import socket,sys,time\n"  # one connection attempt (a SYN) per new source port
    "dst=(sys.argv[1], int(sys.argv[2])); socks=[]\n"
    "for f in range(int(sys.argv[3])):\n"
    "    s=socket.socket(); s.setblocking(False); s.connect_ex(dst); socks.append(s); time.sleep(0.002)\n"
    "time.sleep(0.3)\n"
)


def tcp_connect(name: str, src: str, ip: str, port: int) -> bool:
    """True when ``src`` connects to ``ip:port`` over TCP within ``CONNECT_BUDGET_S`` (bounded retries)."""
    argv = [sys.executable, "-c", CONNECT, ip, str(port), str(CONNECT_BUDGET_S)]
    return _run(name, src, argv, CONNECT_BUDGET_S + 5).returncode == 0


def judge_probe(probe: LabProbe, outcomes: list[tuple[str, str, bool]]) -> CheckItem:
    """Score a probe from its (src, dst, succeeded) outcomes: each case passes when it matches ``expect``."""
    want = probe.args.get("expect", "reach") == "reach"
    good = [o for o in outcomes if o[2] == want]
    bad = [o for o in outcomes if o[2] != want]
    verb = {
        ("ping", True): "no echo reply",
        ("ping", False): "answered but must be blocked",
        ("tcp", True): "connection failed",
        ("tcp", False): "connected but must be blocked",
        ("quarantined", True): "not quarantined",
        ("vnf_seen", True): "tracked no IP flow (is it in the chain?)",
    }.get((probe.kind, want), "failed")
    details = tuple(f"{src} -> {dst}: {verb}" if dst else f"{src}: {verb}" for src, dst, _ in bad)
    cases = len(outcomes)
    score = probe.weight * len(good) / cases if cases else 0.0
    return CheckItem(
        probe.id,
        "probe",
        probe.description,
        probe.weight,
        round(score, 4),
        probe.hidden,
        cases,
        len(good),
        details,
    )


def run_probe(probe: LabProbe, name: str, topology, status: dict) -> CheckItem:
    args = probe.args
    if probe.kind == "quarantined":
        listed = quarantine_list(status)
        outcomes = [
            (h, "", address(topology, h) in listed or h in listed) for h in resolve(topology, args["hosts"])
        ]
        return judge_probe(probe, outcomes)
    if probe.kind == "failover_loss":
        from sdnlab.labs.failover import best_cut, measure_cut, witness_bridge

        src, dst = resolve(topology, args["src"])[0], resolve(topology, args["dst"])[0]
        limit = float(args.get("max_loss_ms", 50))
        # each cut is charged only the loss beyond a witness fast-failover bridge cut at the same
        # instant (the switch process's own delay, which load changes); the best of a few cuts
        with witness_bridge(name) as witness:
            best = best_cut(
                lambda: measure_cut(
                    name, topology, src, dst, tuple(args["cut"]), int(args.get("port", 5004)), witness
                ),
                good=limit,
            )
        if best is None:
            charged, shown = math.inf, f"the feed did not reach {dst} before the cut (nothing to judge)"
        else:
            charged, shown = best.charged_ms, best.text(args["cut"][0], dst)
        item = judge_probe(probe, [(src, dst, charged <= limit)])
        return CheckItem(
            item.id,
            item.source,
            item.description,
            item.weight,
            item.score,
            item.hidden,
            1,
            item.passed_cases,
            (f"{src} -> {dst}: {shown} when {'-'.join(args['cut'])} was cut (limit {limit:g} ms)",),
        )
    if probe.kind == "spread":
        return run_spread(probe, name, topology)
    if probe.kind == "rate":
        return run_rate(probe, name, topology)
    if probe.kind == "rest":
        return run_rest(probe, status)
    if probe.kind == "vnf_seen":
        seen = vnf_flows(name)
        return judge_probe(probe, [(v, "", seen.get(v, 0) > 0) for v in _names(args["vnfs"])])
    pairs = [(s, d) for s in resolve(topology, args["src"]) for d in resolve(topology, args["dst"]) if s != d]
    if probe.kind == "ping":
        count = int(args.get("count", 2))
        results = _parallel(ping, [(name, s, address(topology, d), count) for s, d in pairs])
    else:
        port = int(args["port"])
        servers = resolve(topology, args.get("servers") or [d for _, d in pairs if d in topology.nodes])
        listeners = start_listeners(name, servers, port)
        try:
            results = _parallel(tcp_connect, [(name, s, address(topology, d), port) for s, d in pairs])
        finally:
            for proc in listeners:
                proc.kill()
                proc.wait()
    return judge_probe(probe, [(s, d, ok) for (s, d), ok in zip(pairs, results, strict=False)])


INTERVAL_MS = 1.0  # one datagram per millisecond: the loss resolution


def max_gap_ms(seqs: list[int], sent: int, interval_ms: float = INTERVAL_MS) -> float:
    """The longest stretch of the stream that never arrived, in ms (from the first datagram received).

    Datagrams missing at the end count too (the feed never came back); nothing received at all
    is an infinite loss.
    """
    got = sorted({q for q in seqs if 0 <= q < sent})
    if not got:
        return float("inf")
    longest, previous = 0, got[0]
    for seq in [*got[1:], sent]:
        longest = max(longest, seq - previous - 1)
        previous = seq
    return longest * interval_ms


def switch_interface(name: str, topology, a: str, b: str) -> str:
    """The OVS interface of switch ``a`` on its link to ``b`` in a running lab."""
    from sdnlab.runtime import api

    for link in topology.links:
        for sw, peer, intf in ((link.a, link.b, link.a_intf), (link.b, link.a, link.b_intf)):
            if sw == a and peer == b and topology.nodes[sw].is_switch:
                return api.bridge(name, sw) + intf[len(sw) :]
    raise LabSessionError(f"no link {a}-{b} with {a} a switch in this topology")


_PORT_TX = re.compile(r"port\s+(\d+):.*?tx pkts=(\d+)", re.S)


def tx_packets(bridge: str) -> dict[int, int]:
    """Transmitted packets per OpenFlow port of an OVS bridge (``ovs-ofctl dump-ports``)."""
    out = subprocess.run(
        ["ovs-ofctl", "-O", "OpenFlow13", "dump-ports", bridge], capture_output=True, text=True, timeout=30
    )
    if out.returncode != 0:
        raise LabSessionError(f"ovs-ofctl dump-ports {bridge}: {out.stderr.strip()}")
    return {int(port): int(tx) for port, tx in _PORT_TX.findall(out.stdout)}


def judge_spread(deltas: dict[str, int], min_share: float) -> tuple[bool, str]:
    """Whether each target got at least ``min_share`` of the packets (deltas: target -> packets)."""
    total = sum(deltas.values())
    if not total:
        return False, "no packet left towards any of " + ", ".join(deltas)
    shares = {t: n / total for t, n in deltas.items()}
    text = ", ".join(f"{t} {100 * share:.0f}%" for t, share in shares.items())
    return all(share >= min_share for share in shares.values()), text


def run_spread(probe: LabProbe, name: str, topology) -> CheckItem:
    """Each source opens many TCP connections (new source ports); the ports towards ``over`` share them."""
    from sdnlab.runtime import api

    args = probe.args
    switch, over = args["switch"], _names(args["over"])
    bridge = api.bridge(name, switch)
    ports = {t: topology.port(switch, t) for t in over}
    outcomes, details = [], []
    for src in resolve(topology, args["src"]):
        before = tx_packets(bridge)
        _run(
            name,
            src,
            [
                sys.executable,
                "-c",
                BURST,
                address(topology, args["dst"]),
                str(args.get("port", 554)),
                str(args.get("flows", 32)),
            ],
            30,
        )
        time.sleep(0.2)
        after = tx_packets(bridge)
        ok, text = judge_spread(
            {t: after.get(p, 0) - before.get(p, 0) for t, p in ports.items()},
            float(args.get("min_share", 0.2)),
        )
        outcomes.append((src, str(args["dst"]), ok))
        if not ok:
            details.append(f"{src}: {text}")
    item = judge_probe(probe, outcomes)
    return CheckItem(
        item.id,
        item.source,
        item.description,
        item.weight,
        item.score,
        item.hidden,
        item.cases,
        item.passed_cases,
        tuple(details),
    )


def judge_rate(mbit: float | None, low: float | None, high: float | None) -> tuple[bool, str]:
    """Whether a measured rate lies within [low, high] Mbit/s, and the sentence saying so."""
    if mbit is None:
        return False, "no TCP connection (iperf3 could not connect)"
    bounds = " and ".join(
        text
        for text in (f">= {low:g}" if low is not None else "", f"<= {high:g}" if high is not None else "")
        if text
    )
    ok = (low is None or mbit >= low) and (high is None or mbit <= high)
    return ok, f"{mbit:.1f} Mbit/s (expected {bounds} Mbit/s)"


def tcp_rate_mbit(name: str, src: str, dst_ip: str, dst: str, port: int, seconds: float) -> float | None:
    """Receiver-side TCP throughput from src to dst (iperf3), or None when no connection was made."""

    from sdnlab.runtime import api

    server = api.popen_in(
        name,
        dst,
        ["iperf3", "-s", "-1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(30):  # the server takes a moment to listen
            done = api.run_in(
                name,
                src,
                [
                    "iperf3",
                    "-c",
                    dst_ip,
                    "-p",
                    str(port),
                    "-t",
                    f"{seconds:g}",
                    "-J",
                    "--connect-timeout",
                    "2000",
                ],
                timeout=seconds + 15,
            )
            try:
                report = json.loads(done.stdout)
            except ValueError:
                report = {}
            if "error" not in report and done.returncode == 0:
                return float(report["end"]["sum_received"]["bits_per_second"]) / 1e6
            if "refused" not in str(report.get("error", "")):
                return None
            time.sleep(0.1)
        return None
    finally:
        server.kill()
        server.wait()


def run_rate(probe: LabProbe, name: str, topology) -> CheckItem:
    """TCP from src to dst on ``port`` for ``seconds``: the rate must lie within the bounds."""
    args = probe.args
    src, dst = resolve(topology, args["src"])[0], resolve(topology, args["dst"])[0]
    port, seconds = int(args.get("port", 5201)), float(args.get("seconds", 2))
    mbit = tcp_rate_mbit(name, src, address(topology, dst), dst, port, seconds)
    low, high = args.get("min_mbit"), args.get("max_mbit")
    ok, text = judge_rate(mbit, None if low is None else float(low), None if high is None else float(high))
    item = judge_probe(probe, [(src, dst, ok)])
    return CheckItem(
        item.id,
        item.source,
        item.description,
        item.weight,
        item.score,
        item.hidden,
        item.cases,
        item.passed_cases,
        () if ok else (f"{src} -> {dst} TCP port {port}: {text}",),
    )


def run_rest(probe: LabProbe, status: dict) -> CheckItem:
    """One REST call to the lab's controller app: its status and (optionally) what its answer holds."""
    from sdnlab.labs import rest_calls

    args = probe.args
    method, path = args["method"], args["path"]
    code, answer = rest_calls.call(controller_url(status), method, path, args.get("body"))
    ok, text = rest_calls.judge_rest(
        method, path, code, answer, int(args.get("status", 200)), args.get("contains")
    )
    item = judge_probe(probe, [("controller", "", ok)])
    return CheckItem(
        item.id,
        item.source,
        item.description,
        item.weight,
        item.score,
        item.hidden,
        item.cases,
        item.passed_cases,
        () if ok else (text,),
    )


def _names(value) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


def vnf_flows(name: str) -> dict[str, int]:
    """IP flows (connections) each VNF of the lab has tracked, from its stats files.

    Frames every VNF bridges anyway (LLDP, ARP) do not count: only flows or connections do.
    """
    from sdnlab.vnfs import manage

    time.sleep(STATS_PERIOD_S)  # VNFs rewrite their stats files about once a second
    out = {}
    for record in manage.status(name):
        stats = record.get("stats") or {}
        counters = stats.get("counters") or {}
        out[record["name"]] = int(stats.get("flows") or stats.get("connections") or counters.get("new") or 0)
    return out


def start_listeners(name: str, hosts: list[str], port: int, seconds: float = 30.0) -> list:
    from sdnlab.runtime import api

    procs = [
        api.popen_in(
            name,
            h,
            [sys.executable, "-c", LISTEN, str(port), str(seconds)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for h in hosts
    ]
    time.sleep(0.4)
    return procs


def quarantine_list(status: dict) -> set[str]:
    """IPs and MACs the builtin controller has quarantined (empty when it has no REST API)."""
    url = controller_url(status)
    if not url:
        return set()
    try:
        request = urllib.request.Request(url + "/sdnlab/quarantine", headers=auth_headers_for_url(url))
        with urllib.request.urlopen(request, timeout=5) as answer:
            data = json.load(answer)
    except (OSError, ValueError):
        return set()
    out: set[str] = set()
    for entry in data.get("quarantined", []):
        out.update(str(entry.get(k)) for k in ("ip", "mac", "host", "name") if entry.get(k))
    return out
