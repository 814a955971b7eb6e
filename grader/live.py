"""Live confirmation: send the selected probes from lab hosts, capture at receivers, compare.

Receivers run a tiny AF_PACKET capture (incoming frames only) in each host's namespaces;
senders write raw frames from the source hosts. A probe whose observed receivers differ from the
predicted ones is retried (bounded rounds: the first packets of reactive apps may be lost);
a disagreement that persists is a *grader finding* (the model or the environment is wrong),
reported separately from the trainee's score.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterable
from dataclasses import replace
from typing import Any

from sdnlab.grader.errors import CollectError
from sdnlab.grader.grading import Grader
from sdnlab.grader.model import NetworkState
from sdnlab.grader.network import Wiring
from sdnlab.grader.probes import (
    Probe,
    expected_key,
    predict,
    probe_frame,
    probe_key,
    rules_exercised,
    select_probes,
)
from sdnlab.grader.report import Finding, GradeReport
from sdnlab.grader.spec import Behaviour

ROUNDS = 3
SETTLE_S = 0.6
CAPTURE_ALL_HOSTS_UP_TO = 40

_RECEIVER = r"""
import select, socket, sys, time
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3))
s.bind((sys.argv[1], 0))
print("ready", flush=True)
end = time.time() + float(sys.argv[2])
while time.time() < end:
    ready, _, _ = select.select([s, sys.stdin], [], [], 0.2)
    if sys.stdin in ready and not sys.stdin.readline():
        break
    if s in ready:
        data, addr = s.recvfrom(65535)
        if addr[2] == socket.PACKET_OUTGOING:
            continue
        if b"SDNLAB-PROBE-" in data or data[12:14] == b"\x08\x06" or data[16:18] == b"\x08\x06":
            print(data.hex(), flush=True)
"""

_SENDER = r"""
import json, socket, sys, time
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind((sys.argv[1], 0))
for frame in json.load(sys.stdin):
    s.send(bytes.fromhex(frame))
    time.sleep(0.003)
"""


def counted_receivers(probe: Probe, hosts: Iterable[str], fabric: Wiring) -> frozenset[str]:
    """The hosts whose capture of ``probe`` counts as a delivery.

    A VNF host (kind ``vnf``) sits in the path as a bump in the wire and sees transit packets by
    design, so its capture is not a delivery unless the VNF is the probe's destination or the
    model itself predicts delivery to it.
    """
    return frozenset(
        h
        for h in hosts
        if h == probe.dst or h in probe.predicted or h not in fabric.hosts or fabric.hosts[h].kind != "vnf"
    )


def _wait_connected(name: str, timeout: float = 30.0) -> None:
    """Wait until every switch of a controller-run lab is connected (probes would go nowhere)."""
    from sdnlab.runtime import api

    deadline = time.monotonic() + timeout
    while True:
        status = api.status(name)
        if (status.get("controller") or {}).get("mode") in (None, "none"):
            return
        if all(s.get("connected") for s in status.get("switches", [])) or time.monotonic() > deadline:
            return
        time.sleep(0.5)


def _settle_datapath() -> None:
    """Wait until OVS has revalidated its datapath flow cache, so probes meet the current rules."""
    import subprocess

    try:
        subprocess.run(["ovs-appctl", "revalidator/wait"], capture_output=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        pass  # best effort: stale cache entries are retried by the probe rounds anyway


def _interfaces(name: str) -> dict[str, str]:
    from sdnlab.runtime import api

    out = {}
    for host in api.status(name).get("hosts", []):
        intfs = host.get("interfaces") or []
        first = intfs[0] if intfs else None
        out[host["name"]] = (
            first.get("name") if isinstance(first, dict) else first
        ) or f"{host['name']}-eth0"
    return out


def run_round(
    name: str,
    probes: list[Probe],
    capture_hosts: list[str],
    interfaces: dict[str, str],
    timeout: float = 20.0,
) -> dict[int, set[str]]:
    """Send every probe once; return probe id -> hosts that received it."""
    import subprocess

    from sdnlab.runtime import api

    receivers = {}
    try:
        for host in capture_hosts:
            proc = api.popen_in(
                name,
                host,
                [sys.executable, "-c", _RECEIVER, interfaces[host], str(timeout)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                text=True,
            )
            receivers[host] = proc
        for host, proc in receivers.items():
            assert proc.stdout is not None  # stdout=PIPE
            line = proc.stdout.readline()
            if line.strip() != "ready":
                raise CollectError(f"live: capture on {host} did not start")
        senders = []
        by_src: dict[str, list[str]] = {}
        for probe in probes:
            by_src.setdefault(probe.src, []).append(probe_frame(probe).hex())
        for src, frames in by_src.items():
            proc = api.popen_in(
                name,
                src,
                [sys.executable, "-c", _SENDER, interfaces[src]],
                stdin=subprocess.PIPE,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                text=True,
            )
            assert proc.stdin is not None  # stdin=PIPE
            proc.stdin.write(json.dumps(frames))
            proc.stdin.close()
            senders.append((src, proc))
        for src, proc in senders:
            if proc.wait(timeout=timeout) != 0:
                problem = proc.stderr.read().strip()[:200] if proc.stderr else ""
                raise CollectError(f"live: sending probes from {src} failed: {problem}")
        time.sleep(SETTLE_S)
    finally:
        outputs = {}
        for host, proc in receivers.items():
            try:
                out, _ = proc.communicate(input="", timeout=timeout)
            except Exception:
                proc.kill()
                out = ""
            outputs[host] = out
    keys = {expected_key(p): p for p in probes}
    seen: dict[int, set[str]] = {p.id: set() for p in probes}
    for host, out in outputs.items():
        for line in out.splitlines():
            try:
                key = probe_key(bytes.fromhex(line.strip()))
            except ValueError:
                continue
            found = keys.get(key) if key is not None else None
            if found is not None and host != found.src:
                seen[found.id].add(host)
    return seen


def confirm(
    name: str,
    topology: Any,
    state: NetworkState,
    behaviours: Iterable[Behaviour],
    report: GradeReport,
    max_probes: int = 200,
    recollect: bool = True,
    down: Iterable[Iterable[str]] = (),
) -> GradeReport:
    """Probe the running lab and attach live results and grader findings to ``report``.

    Probes the model sends to the controller (reactive apps) are re-predicted from freshly
    collected flow state between rounds; if the controller still handles them at the end, their
    delivery is the app's decision and is not reported as a disagreement. ``down`` lists links
    that are down in the lab right now (an instructor's failure drill): predictions use that
    scenario and failover behaviours with exactly that scenario are probed too.
    """
    grader = Grader(topology, state)
    probes = [p for p in select_probes(grader, behaviours, max_probes, down) if p.vector is not None]
    _wait_connected(name)
    interfaces = _interfaces(name)
    hosts = list(grader.fabric.hosts)
    if len(hosts) <= CAPTURE_ALL_HOSTS_UP_TO:
        capture = hosts
    else:
        capture = sorted(
            {h for p in probes for h in p.predicted} | {p.dst for p in probes if p.dst in grader.fabric.hosts}
        )
    capture = [h for h in capture if h in interfaces]
    pending = [p for p in probes if p.src in interfaces]
    _settle_datapath()
    observed: dict[int, set[str]] = {}
    rounds = 0
    started = time.perf_counter()
    captured = frozenset(capture)
    while pending and rounds < ROUNDS:
        rounds += 1
        by_id = {p.id: p for p in pending}
        seen = {
            pid: set(counted_receivers(by_id[pid], hosts_seen, grader.fabric))
            for pid, hosts_seen in run_round(name, pending, capture, interfaces).items()
        }
        observed.update(seen)
        still = []
        for p in pending:
            got = frozenset(seen[p.id]) & captured
            if got == p.predicted & captured:
                continue
            still.append(p)
        pending = still
        if pending and recollect and any(p.controller for p in pending):
            # A reactive app may have installed flows for these packets: predict again from the new state.
            from sdnlab.grader import collect

            grader = Grader(topology, collect.from_lab(name))
            pending = [
                replace(p, predicted=predicted, controller=controller)
                for p in pending
                for predicted, controller in [predict(grader, p.src, p.vector, down)]
            ]
    findings = []
    for p in pending:
        if p.controller:
            continue  # still handled by the controller: its packet-outs are not a model disagreement
        findings.append(
            Finding(
                p.behaviour or "rule-coverage",
                p.src,
                p.dst or ",".join(sorted(p.predicted)) or "-",
                p.packet,
                "delivered to " + (", ".join(sorted(p.predicted & captured)) or "nobody"),
                "delivered to " + (", ".join(sorted(observed.get(p.id, set()))) or "nobody"),
            )
        )
    disagreeing = {p.id for p in pending if not p.controller}
    per_behaviour: dict[str, dict[str, int]] = {}
    for p in probes:
        if p.behaviour:
            entry = per_behaviour.setdefault(p.behaviour, {"probes": 0, "agree": 0})
            entry["probes"] += 1
            entry["agree"] += p.id not in disagreeing
    live = {
        "probes": len(probes),
        "behaviours": per_behaviour,
        "agree": len(probes) - len(findings),
        "rounds": rounds,
        "captured_hosts": len(capture),
        "rules_exercised": len(rules_exercised(Grader(topology, state), probes, down)),
        "rules_total": state.rule_count,
        "handled_by_controller": sorted(p.id for p in pending if p.controller),
        "elapsed_s": round(time.perf_counter() - started, 2),
        "probes_detail": [
            {
                "id": p.id,
                "src": p.src,
                "behaviour": p.behaviour,
                "packet": p.packet,
                "predicted": sorted(p.predicted),
                "observed": sorted(observed.get(p.id, set())),
            }
            for p in probes
        ],
    }
    return replace(report, findings=tuple(findings), live=live)
