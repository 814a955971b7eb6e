"""The ``controller_restart`` scenario: how long the network stays dark when its controller restarts.

    controller_restart: {src: h1, dst: h4, port: 5004, mode: process, wipe: true, timeout: 5}

``src`` streams one UDP datagram per millisecond to ``dst``. Half a second in, every switch of
the lab loses its controller connection and (``wipe``, the default) its flow and group tables;
then, with ``mode: process`` (the default), the lab's controller process is stopped and started
again with the same arguments (its state is lost), by the lab's watcher, which owns it; with
``mode: reconnect`` the process keeps running. Then the switches reconnect at once (they do not
wait for Open vSwitch's reconnect back-off). The value is the ms from that reconnection until
``dst`` receives the stream again (kernel receive timestamps; infinite when it does not within
``timeout`` seconds): what the app does with switches that connect empty, not how long Python
and os-ken take to start, which the text reports apart (with the whole outage). A controller
that installs its state when a switch connects brings the network back within a few hundred
milliseconds; one that set a switch up only once, or only when asked, leaves it dark.

A lab whose controller sdnlab does not run (``remote:``: a controller the trainee started
elsewhere) cannot have its process restarted: there the switches reconnect (``reconnect``) and
the text says so. A restarted controller that fails to come up is not left running; the value
is then infinite and the text gives the controller's error.
"""

from __future__ import annotations

import json
import math
import re
import subprocess
import sys
import time

ARGS = frozenset({"src", "dst", "port", "mode", "wipe", "timeout"})
MODES = ("process", "reconnect")
LEAD_S = 0.5  # stream before the restart
START_TIMEOUT_S = 45.0  # the watcher gives a controller 30 s to listen
MAX_STREAM_S = 120.0  # the stream's length bound (it is stopped once measured)
WATCHER_WAIT_S = 10.0  # a lab just made ready: its watcher starts taking requests within this

# Receive the stream until SIGTERM, then print [[seq, kernel receive time], ...]: argv = port
RECEIVE_TIMES = (
    "import socket,struct,sys,json,signal\n"
    "def stop(*_): raise KeyboardInterrupt\n"
    "signal.signal(signal.SIGTERM, stop)\n"
    "s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(('0.0.0.0', int(sys.argv[1])))\n"
    "s.setsockopt(socket.SOL_SOCKET, 35, 1); s.settimeout(0.2); got=[]\n"
    "print('ready', flush=True)\n"
    "try:\n"
    "    while True:\n"
    "        try: data, anc, _, _ = s.recvmsg(64, 64)\n"
    "        except OSError: continue\n"
    "        ts=[struct.unpack('qq', d[:16]) for l, k, d in anc if l == socket.SOL_SOCKET and k == 35]\n"
    "        try: got.append([int(data), ts[0][0] + ts[0][1] / 1e9])\n"
    "        except (ValueError, IndexError): pass\n"
    "except KeyboardInterrupt: pass\n"
    "print(json.dumps(got), flush=True)\n"
)


def arg_problems(args: dict) -> list[tuple[str, str]]:
    """(argument, problem) for each wrong argument."""
    problems = []
    for key in ("src", "dst"):
        if not isinstance(args.get(key), str) or not args.get(key):
            problems.append((key, "expected one host"))
    port = args.get("port", 5004)
    if not isinstance(port, int) or isinstance(port, bool) or not 1 <= port <= 65535:
        problems.append(("port", f"expected a UDP port 1..65535 (got {port!r})"))
    if args.get("mode", "process") not in MODES:
        problems.append(("mode", f"expected {' or '.join(MODES)} (got {args.get('mode')!r})"))
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


def detach_switches(bridges: list[str], wipe: bool) -> dict[str, list[str]]:
    """Every bridge loses its controller (and, with ``wipe``, its flows and groups); returns the
    controller targets to give back with ``attach_switches``.

    One ``ovs-vsctl`` transaction for all bridges: a transaction costs about a second on the
    userspace datapath, whatever it changes.
    """
    targets = {b: _vsctl("get-controller", b).split() for b in bridges}
    _vsctl(*[arg for b in bridges for arg in ("--", "del-controller", b)])
    if wipe:
        for bridge in bridges:
            _ofctl("del-flows", bridge)
            _ofctl("del-groups", bridge)
    return targets


def attach_switches(targets: dict[str, list[str]]) -> None:
    """Give every bridge its controller back at once (``--no-wait``: the restart measures the
    app, not how long ovs-vswitchd takes to confirm a transaction)."""
    again = [arg for b, t in targets.items() if t for arg in ("--", "set-controller", b, *t)]
    if again:
        _vsctl("--no-wait", *again)


def restart_process(name: str, timeout: float = START_TIMEOUT_S) -> tuple[bool, str, float]:
    """Ask lab ``name``'s watcher to stop its controller and start it again with the same
    arguments; wait for its answer. (started, error, seconds the start took)."""
    import os
    import uuid

    from sdnlab.labs.errors import LabSessionError
    from sdnlab.runtime import paths
    from sdnlab.runtime.watcher import RESTART_CAPABILITY, RESTART_REQUEST, RESTART_SIGNAL

    lab = paths.lab_dir(name)
    state = paths.read_json(lab / "state.json") or {}
    pid = state.get("supervisor_pid")
    if not paths.is_lab_supervisor(pid, name):
        raise LabSessionError(
            f"lab {name}: its watcher is not running (state.json supervisor_pid {pid!r}); "
            "cannot restart the controller: run 'sdnlab down' and start the lab again"
        )
    assert isinstance(pid, int)
    if RESTART_CAPABILITY not in (state.get("requests") or []):  # still building: SIGUSR1 would end it
        raise LabSessionError(f"lab {name}: its watcher does not take controller restart requests (yet)")
    request = uuid.uuid4().hex
    paths.write_json(lab / RESTART_REQUEST, {"id": request})
    os.kill(pid, RESTART_SIGNAL)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        reply = (paths.read_json(lab / "state.json") or {}).get("controller_restart") or {}
        if reply.get("id") == request:
            return bool(reply.get("ok")), str(reply.get("error") or ""), float(reply.get("start_s") or 0.0)
        if not paths.is_lab_supervisor(pid, name):
            raise LabSessionError(f"lab {name}: its watcher stopped while restarting the controller")
        time.sleep(0.05)
    raise LabSessionError(f"lab {name}: the controller restart was not answered within {timeout:g} s")


def restart_mode(args: dict, status: dict) -> tuple[str, str]:
    """(mode to run, note for the text): a process restart needs a controller sdnlab runs and a
    watcher that takes the request; otherwise the switches reconnect, and the note says why."""
    from sdnlab.labs.errors import LabSessionError
    from sdnlab.runtime.watcher import RESTART_CAPABILITY

    ctl = status.get("controller") or {}
    if ctl.get("mode") not in ("builtin", "app", "remote"):
        raise LabSessionError("controller_restart needs a lab with a controller (builtin, app or remote)")
    if args.get("mode", "process") == "reconnect":
        return "reconnect", "the controller process kept running (mode reconnect)"
    if ctl.get("mode") == "remote":
        return "reconnect", (
            f"the controller at {ctl.get('host')}:{ctl.get('port')} is remote (not run by sdnlab): "
            "its process was not restarted, the switches reconnected to it"
        )
    if RESTART_CAPABILITY not in (status.get("requests") or []):
        return "reconnect", (
            "this lab's watcher predates process restarts (reset the lab): the switches reconnected"
        )
    return "process", ""


def _watched(name: str, wait_s: float = WATCHER_WAIT_S) -> dict:
    """The lab's status once its watcher takes requests (it starts right after the lab is ready)
    or ``wait_s`` passed; at once for a lab whose controller sdnlab does not run."""
    from sdnlab.runtime import api
    from sdnlab.runtime.watcher import RESTART_CAPABILITY

    deadline = time.monotonic() + wait_s
    while True:
        status = api.status(name)
        if (status.get("controller") or {}).get("mode") not in ("builtin", "app"):
            return status
        if RESTART_CAPABILITY in (status.get("requests") or []) or time.monotonic() > deadline:
            return status
        time.sleep(0.1)


def recovery_ms(arrivals: list[tuple[int, float]], since: float) -> float:
    """Ms from ``since`` until the first datagram that arrived after it (infinite if none did)."""
    after = [at for _, at in arrivals if at >= since]
    return (min(after) - since) * 1000.0 if after else math.inf


def measure(args: dict, name: str, topology) -> tuple[float, str]:
    """Stream ``src`` -> ``dst``, restart the control plane; (ms until forwarding again, readable text)."""
    from sdnlab.labs.live import address
    from sdnlab.labs.probes import INTERVAL_MS, SEND, max_gap_ms
    from sdnlab.runtime import api

    status = _watched(name)
    mode, note = restart_mode(args, status)
    bridges = [s["bridge"] for s in status.get("switches", [])]
    src, dst, port = args["src"], args["dst"], int(args.get("port", 5004))
    timeout = float(args.get("timeout", 5))
    count = int(MAX_STREAM_S * 1000 / INTERVAL_MS)
    before = sum(flow_count(b) for b in bridges)
    receiver = api.popen_in(
        name,
        dst,
        [sys.executable, "-c", RECEIVE_TIMES, str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    sender = None
    started, error, reattached = True, "", 0.0
    try:
        receiver.stdout.readline()  # type: ignore[union-attr]  # "ready"
        sender = api.popen_in(
            name,
            src,
            [sys.executable, "-c", SEND, address(topology, dst), str(port), str(INTERVAL_MS), str(count)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(LEAD_S)
        dark = time.time()
        targets = detach_switches(bridges, bool(args.get("wipe", True)))
        try:
            start_s = 0.0
            if mode == "process":
                started, error, start_s = restart_process(name)
        finally:
            attach_switches(targets)
            reattached = time.time()
        time.sleep(timeout)
    finally:
        if sender is not None and sender.poll() is None:
            sender.kill()
            sender.wait()
        if receiver.poll() is None:
            receiver.terminate()
        try:
            out, _ = receiver.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            receiver.kill()
            out, _ = receiver.communicate()
    try:
        arrivals = [(int(seq), float(at)) for seq, at in json.loads((out or "").strip().splitlines()[-1])]
    except (ValueError, IndexError, TypeError):
        arrivals = []
    if not arrivals:
        return math.inf, f"{dst} received nothing from {src}, even before the restart"
    after = sum(flow_count(b) for b in bridges)
    flows = f"{after} flows on the switches afterwards ({before} before)"
    if mode == "process":
        how = f"controller process restarted in {start_s:.1f} s" if started else ""
        if not started:
            note = f"the restarted controller did not come up: {error}"
    else:
        how = "switches reconnected"
    value = recovery_ms(arrivals, reattached)
    if value > timeout * 1000.0 or not started:  # a controller that did not come up scores nothing
        value = math.inf
    seqs = [seq for seq, _ in arrivals]
    outage = max_gap_ms(seqs, max(seqs) + 1)
    facts = "; ".join(x for x in (how, note, flows) if x)
    if math.isinf(value):
        if not started:
            return value, f"{src} -> {dst}: {facts}"
        return value, f"{src} -> {dst} not forwarded again within {timeout:g} s of the reconnection; {facts}"
    return value, (
        f"{src} -> {dst} forwarded again {value:.0f} ms after the switches reconnected "
        f"({outage:.0f} ms dark in all, {(reattached - dark):.1f} s without a controller); {facts}"
    )
