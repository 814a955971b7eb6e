"""The ``controller_restart`` scenario: how long the network stops forwarding when its control plane restarts.

    controller_restart: {src: h1, dst: h4, port: 5004, wipe: true, timeout: 5}

``src`` streams one UDP datagram per millisecond to ``dst``. Half a second in, every switch of
the lab loses its controller connection and (``wipe``, the default) its flow and group tables,
as a switch does when it restarts with its controller; then the switches reconnect. The value
is the longest stretch of the stream lost (ms, lower is better; infinite when the stream never
came back within ``timeout`` seconds). A controller that installs its state when a switch
connects brings the network back within a few hundred milliseconds; one that set a switch up
only once, or only when asked, leaves it dark. The text also counts the flows back on the
switches afterwards.

The controller's process keeps running (a trainee's app is never restarted by the lab): what
is judged is how the app handles switches that reconnect empty.
"""

from __future__ import annotations

import json
import math
import re
import subprocess
import sys
import time

ARGS = frozenset({"src", "dst", "port", "wipe", "timeout"})
LEAD_S = 0.5  # stream before the restart
TAIL_MARGIN_MS = 100  # the last datagrams of a stream that came back


def arg_problems(args: dict) -> list[tuple[str, str]]:
    """(argument, problem) for each wrong argument."""
    problems = []
    for key in ("src", "dst"):
        if not isinstance(args.get(key), str) or not args.get(key):
            problems.append((key, "expected one host"))
    port = args.get("port", 5004)
    if not isinstance(port, int) or isinstance(port, bool) or not 1 <= port <= 65535:
        problems.append(("port", f"expected a UDP port 1..65535 (got {port!r})"))
    if not isinstance(args.get("wipe", True), bool):
        problems.append(("wipe", "expected true or false"))
    timeout = args.get("timeout", 5)
    if not isinstance(timeout, (int, float)) or isinstance(timeout, bool) or not 0.5 <= timeout <= 60:
        problems.append(("timeout", f"expected seconds 0.5..60 (got {timeout!r})"))
    return problems


_FLOW_COUNT = re.compile(r"flow_count=(\d+)")


def flow_count(bridge: str) -> int:
    """How many flows an OVS bridge holds (``ovs-ofctl dump-aggregate``)."""
    out = _ofctl("dump-aggregate", bridge)
    match = _FLOW_COUNT.search(out)
    return int(match.group(1)) if match else 0


def _ofctl(*argv: str) -> str:
    from sdnlab.labs.errors import LabSessionError

    proc = subprocess.run(
        ["ovs-ofctl", "-O", "OpenFlow13", *argv], capture_output=True, text=True, timeout=30
    )
    if proc.returncode != 0:
        raise LabSessionError(f"ovs-ofctl {' '.join(argv)}: {proc.stderr.strip()}")
    return proc.stdout


def _vsctl(*argv: str) -> str:
    from sdnlab.labs.errors import LabSessionError

    proc = subprocess.run(["ovs-vsctl", *argv], capture_output=True, text=True, timeout=30)
    if proc.returncode != 0:
        raise LabSessionError(f"ovs-vsctl {' '.join(argv)}: {proc.stderr.strip()}")
    return proc.stdout


def restart_switches(bridges: list[str], wipe: bool) -> None:
    """Every bridge loses its controller (and, with ``wipe``, its flows and groups), then reconnects.

    One ``ovs-vsctl`` transaction for all bridges each way: a transaction costs about a second
    on the userspace datapath, whatever it changes.
    """
    targets = {b: _vsctl("get-controller", b).split() for b in bridges}
    _vsctl(*[arg for b in bridges for arg in ("--", "del-controller", b)])
    try:
        if wipe:
            for bridge in bridges:
                _ofctl("del-flows", bridge)
                _ofctl("del-groups", bridge)
    finally:
        again = [arg for b, t in targets.items() if t for arg in ("--", "set-controller", b, *t)]
        if again:
            _vsctl("--no-wait", *again)


def measure(args: dict, name: str, topology) -> tuple[float, str]:
    """Stream ``src`` -> ``dst``, restart the control plane; (longest loss in ms, readable text)."""
    from sdnlab.labs.errors import LabSessionError
    from sdnlab.labs.live import address
    from sdnlab.labs.probes import INTERVAL_MS, RECEIVE, SEND, max_gap_ms
    from sdnlab.runtime import api

    status = api.status(name)
    if (status.get("controller") or {}).get("mode") not in ("builtin", "app"):
        raise LabSessionError("controller_restart needs a lab with a controller (mode builtin or app)")
    bridges = [s["bridge"] for s in status.get("switches", [])]
    src, dst, port = args["src"], args["dst"], int(args.get("port", 5004))
    timeout = float(args.get("timeout", 5))
    seconds = LEAD_S + timeout
    count = int(seconds * 1000 / INTERVAL_MS)
    before = sum(flow_count(b) for b in bridges)
    receiver = api.popen_in(
        name,
        dst,
        [sys.executable, "-c", RECEIVE, str(port), str(seconds + 2.0)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        time.sleep(0.4)
        sender = api.popen_in(
            name,
            src,
            [sys.executable, "-c", SEND, address(topology, dst), str(port), str(INTERVAL_MS), str(count)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(LEAD_S)
        restart_switches(bridges, bool(args.get("wipe", True)))
        sender.wait(timeout=seconds * 3)
        out, _ = receiver.communicate(timeout=seconds + 10)
    finally:
        if receiver.poll() is None:
            receiver.kill()
            receiver.wait()
    try:
        seqs = json.loads(out or "[]")
    except ValueError:
        seqs = []
    after = sum(flow_count(b) for b in bridges)
    back = bool(seqs) and max(seqs) >= count - int(TAIL_MARGIN_MS / INTERVAL_MS)
    gap = max_gap_ms(seqs, count) if back else math.inf
    flows = f"{after} flows on the switches afterwards ({before} before)"
    if not back:
        return math.inf, f"{src} -> {dst} never forwarded again within {timeout:g} s; {flows}"
    return gap, f"{src} -> {dst} forwarded again after {gap:.0f} ms; {flows}"
