"""The queue classifier's I/O: watch a lab's queued ports and flow tables, keep tc filters in step.

Run by the lab watcher (``sdnlab.runtime.watcher``), standard library only. It keeps a replica
of the switches' OVSDB (``Bridge``, ``Port``, ``Interface``, ``QoS``) through one JSON-RPC
``monitor`` on OVS's Unix socket, so a lab without a ``linux-htb`` QoS on its ports costs
nothing but an idle socket. For each of the lab's bridges with such a port it reads the flow
table (``ovs-ofctl --no-names --no-stats dump-flows``) on every tick, and when the flows or the
ports changed it asks ``sdnlab.runtime.queues.plan_filters`` for the filters and applies the
difference with one ``tc -batch``. The filters it installed are listed in the lab's
``queues.json`` (``sdnlab status`` shows them); they are removed when the lab stops (and go with
the switch's veths at teardown anyway).
"""

from __future__ import annotations

import json
import os
import select
import socket
import subprocess
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from sdnlab.runtime.ovsdb_json import one_uuid, ovs_map, uuids

if TYPE_CHECKING:  # imported when a port has queues: an idle lab's watcher stays small
    from sdnlab.runtime.queues import FilterSpec, HtbPort, Plan

STATE_FILE = "queues.json"
RECONNECT_S = 5.0


def ovsdb_socket() -> str:
    """The OVSDB Unix socket of this machine (or of the sandbox the lab runs in)."""
    rundir = os.environ.get("OVS_RUNDIR", "/var/run/openvswitch")
    return os.path.join(rundir, "db.sock")


MONITORED = {
    "Bridge": ["name", "ports"],
    "Port": ["name", "qos", "interfaces"],
    "Interface": ["name", "ofport"],
    "QoS": ["type", "queues"],
}


class OvsdbReplica:
    """The monitored tables of OVSDB, kept current by ``poll()`` (non-blocking)."""

    def __init__(self, path: str | None = None) -> None:
        self.path = path or ovsdb_socket()
        self.tables: dict[str, dict[str, dict[str, Any]]] = {t: {} for t in MONITORED}
        self.sock: socket.socket | None = None
        self.buffer = ""
        self.next_try = 0.0
        self.generation = 0  # bumped on every change

    def _connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(5)
        sock.connect(self.path)
        request = {
            "method": "monitor",
            "params": ["Open_vSwitch", None, {t: {"columns": c} for t, c in MONITORED.items()}],
            "id": 0,
        }
        sock.sendall(json.dumps(request).encode())
        sock.setblocking(False)
        self.sock, self.buffer = sock, ""
        self.tables = {t: {} for t in MONITORED}

    def poll(self) -> None:
        """Read what OVSDB sent since the last call; reconnect after a lost connection."""
        if self.sock is None:
            if time.monotonic() < self.next_try:
                return
            try:
                self._connect()
            except OSError:
                self.next_try = time.monotonic() + RECONNECT_S
                return
        assert self.sock is not None
        while select.select([self.sock], [], [], 0)[0]:
            try:
                chunk = self.sock.recv(65536)
            except BlockingIOError:
                break
            except OSError:
                chunk = b""
            if not chunk:
                self.close()
                self.next_try = time.monotonic() + 0.5
                return
            self.buffer += chunk.decode("utf-8", "replace")
            self._drain()

    def _drain(self) -> None:
        decoder = json.JSONDecoder()
        while True:
            text = self.buffer.lstrip()
            if not text:
                self.buffer = ""
                return
            try:
                message, end = decoder.raw_decode(text)
            except ValueError:
                self.buffer = text  # incomplete: wait for more
                return
            self.buffer = text[end:]
            self._handle(message)

    def _handle(self, message: dict[str, Any]) -> None:
        if message.get("method") == "echo" and self.sock is not None:
            reply = {"result": message.get("params"), "error": None, "id": message.get("id")}
            self.sock.setblocking(True)
            self.sock.sendall(json.dumps(reply).encode())
            self.sock.setblocking(False)
        elif message.get("method") == "update":
            self._apply(message["params"][1])
        elif message.get("id") == 0 and isinstance(message.get("result"), dict):
            self._apply(message["result"])

    def _apply(self, updates: dict[str, Any]) -> None:
        for table, rows in updates.items():
            replica = self.tables.setdefault(table, {})
            for uuid, change in rows.items():
                if change.get("new") is None:
                    replica.pop(uuid, None)
                else:
                    replica[uuid] = change["new"]
        self.generation += 1

    def htb_ports(self, bridge: str) -> dict[int, HtbPort]:
        """The ports of ``bridge`` whose QoS is ``linux-htb``, by OpenFlow port number."""
        found: dict[int, tuple[str, int, frozenset[int]]] = {}
        for row in self.tables["Bridge"].values():
            if row.get("name") != bridge:
                continue
            for port_uuid in uuids(row.get("ports")):
                port = self.tables["Port"].get(port_uuid) or {}
                qos = self.tables["QoS"].get(one_uuid(port.get("qos")) or "") or {}
                if qos.get("type") != "linux-htb":
                    continue
                queues = frozenset(int(k) for k in ovs_map(qos.get("queues")))
                for intf_uuid in uuids(port.get("interfaces")):
                    intf = self.tables["Interface"].get(intf_uuid) or {}
                    ofport = intf.get("ofport")
                    if isinstance(ofport, int) and ofport > 0:
                        found[ofport] = (str(intf.get("name")), ofport, queues)
        if not found:
            return {}
        from sdnlab.runtime.queues import HtbPort

        return {ofport: HtbPort(*fields) for ofport, fields in found.items()}

    def qdisc_ids(self) -> dict[str, str]:
        """Device -> uuid of its linux-htb QoS row, for every queued port (a new row: a new qdisc)."""
        result: dict[str, str] = {}
        for port in self.tables["Port"].values():
            qos_uuid = one_uuid(port.get("qos")) or ""
            if (self.tables["QoS"].get(qos_uuid) or {}).get("type") != "linux-htb":
                continue
            for intf_uuid in uuids(port.get("interfaces")):
                name = (self.tables["Interface"].get(intf_uuid) or {}).get("name")
                if name:
                    result[str(name)] = qos_uuid
        return result

    def close(self) -> None:
        if self.sock is not None:
            try:
                self.sock.close()
            except OSError:
                pass
        self.sock = None


def dump_flows(bridge: str, version: str = "OpenFlow13") -> str | None:
    """The bridge's flows as ``ovs-ofctl`` prints them (port numbers, no counters), or None."""
    done = subprocess.run(
        ["ovs-ofctl", "-O", version, "--no-names", "dump-flows", "--no-stats", bridge],
        capture_output=True,
        text=True,
        timeout=10,
    )
    return done.stdout if done.returncode == 0 else None


def tc_batch(lines: list[str]) -> str:
    """Run ``tc -force -batch``; returns its error text ('' when every line worked)."""
    if not lines:
        return ""
    done = subprocess.run(
        ["tc", "-force", "-batch", "-"], input="\n".join(lines) + "\n", capture_output=True, text=True
    )
    return done.stderr.strip() if done.returncode != 0 else ""


def changes(installed: dict[str, list[FilterSpec]], wanted: dict[str, list[FilterSpec]]) -> list[str]:
    """The ``tc -batch`` lines that turn the ``installed`` filters into the ``wanted`` ones (pure).

    Filters are grouped by (device, pref): a group that changed is deleted whole and added again.
    """
    lines: list[str] = []
    for device in sorted(set(installed) | set(wanted)):
        have = _groups(installed.get(device, []))
        want = _groups(wanted.get(device, []))
        for pref in sorted(have):
            if have[pref] != want.get(pref):
                lines.append(f"filter del dev {device} parent 1: pref {pref}")
        for pref in sorted(want):
            if have.get(pref) != want[pref]:
                lines.extend(spec.tc_command() for spec in want[pref])
    return lines


def _groups(specs: list[FilterSpec]) -> dict[int, list[FilterSpec]]:
    groups: dict[int, list[FilterSpec]] = {}
    for spec in specs:
        groups.setdefault(spec.pref, []).append(spec)
    return groups


class QueueClassifier:
    """Keeps one lab's tc filters in step with its flows (see the module docstring)."""

    def __init__(
        self,
        lab_dir: str,
        bridges: list[str],
        log: Callable[[str, str], None],
        version: str = "OpenFlow13",
        replica: OvsdbReplica | None = None,
    ) -> None:
        self.version = version  # the OpenFlow version ovs-ofctl speaks to the bridges
        self.lab_dir = lab_dir
        self.bridges = list(bridges)
        self.log = log
        self.replica = replica or OvsdbReplica()
        self.seen: dict[str, tuple[Any, str | None]] = {}  # bridge -> (ports generation, flows text)
        self.plans: dict[str, Plan] = {}
        self.installed: dict[str, list[FilterSpec]] = {}  # device -> filters in place
        self.told: set[tuple[str, str]] = set()
        self.qdisc_of: dict[str, str] = {}  # device -> the QoS row whose qdisc holds our filters
        self.resync: set[str] = set()  # devices to rewrite whole (the last batch failed on them)
        self.retry = False
        self.retry_told = False

    @property
    def active(self) -> bool:
        """True while some bridge of the lab has a queued port (the watcher then ticks faster)."""
        return bool(self.plans) or any(self.replica.htb_ports(b) for b in self.bridges)

    def tick(self) -> None:
        """Read OVSDB's news and every queued bridge's flows; apply what changed."""
        self.replica.poll()
        changed = self.retry
        for bridge in self.bridges:
            ports = self.replica.htb_ports(bridge)
            if not ports:
                if bridge in self.plans:
                    del self.plans[bridge]
                    self.seen.pop(bridge, None)
                    changed = True
                continue
            flows = dump_flows(bridge, self.version)
            key = (tuple(sorted(ports.items())), flows)
            if self.seen.get(bridge) == key:
                continue
            self.seen[bridge] = key
            if flows is None:
                continue  # the bridge is going away, or OVS is busy: next tick
            from sdnlab.runtime.queues import parse_flows, plan_filters

            plan = plan_filters(parse_flows(flows), ports)
            for skipped in plan.skipped:
                if (skipped.flow, skipped.reason) not in self.told:
                    self.told.add((skipped.flow, skipped.reason))
                    self.log("INFO", f"queues on {bridge}: no filter for '{skipped.flow}': {skipped.reason}")
            self.plans[bridge] = plan
            changed = True
        if changed:
            self.apply()

    def wanted(self) -> dict[str, list[FilterSpec]]:
        result: dict[str, list[FilterSpec]] = {}
        for plan in self.plans.values():
            for device, specs in plan.by_device().items():
                result.setdefault(device, []).extend(specs)
        return result

    def apply(self) -> None:
        """Bring the filters in place to the plans' (one ``tc -batch``); retried next tick on error.

        A device whose QoS row went away lost its qdisc and the filters with it: forgotten. A
        device with a new QoS row (a new qdisc) or a failed batch is rewritten whole.
        """
        wanted = self.wanted()
        qdiscs = self.replica.qdisc_ids()
        lines: list[str] = []
        for device in sorted(set(self.installed) | set(wanted)):
            if device not in qdiscs or not os.path.exists(f"/sys/class/net/{device}"):
                continue
            have = self.installed.get(device, [])
            if device in self.resync or self.qdisc_of.get(device) != qdiscs[device]:
                prefs = sorted({s.pref for s in have} | {s.pref for s in wanted.get(device, [])})
                lines += [f"filter del dev {device} parent 1: pref {pref}" for pref in prefs]
                lines += [spec.tc_command() for spec in wanted.get(device, [])]
            else:
                lines += changes({device: have}, {device: wanted.get(device, [])})
        error = tc_batch(lines)
        touched = {line.split(" dev ", 1)[1].split()[0] for line in lines}
        self.resync = touched if error else set()
        self.retry = bool(error)
        if error and not self.retry_told:
            self.log("WARNING", f"queues: tc (retrying): {error[:300]}")
        self.retry_told = bool(error)
        self.installed = {d: specs for d, specs in wanted.items() if d in qdiscs}
        self.qdisc_of = {d: qdiscs[d] for d in self.installed}
        self.write_state()

    def write_state(self) -> None:
        state = {
            "filters": [
                {
                    "device": s.device,
                    "pref": s.pref,
                    "classid": s.classid,
                    "flow": s.flow,
                    "tc": s.tc_command(),
                }
                for specs in self.installed.values()
                for s in specs
            ],
            "skipped": [
                {"bridge": b, "flow": s.flow, "reason": s.reason}
                for b, plan in self.plans.items()
                for s in plan.skipped
            ],
        }
        path = os.path.join(self.lab_dir, STATE_FILE)
        tmp = path + ".tmp"
        try:
            with os.fdopen(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as out:
                json.dump(state, out, indent=1, sort_keys=True)
            os.replace(tmp, path)
        except OSError:
            pass  # the lab's folder is going away

    def close(self) -> None:
        """Remove every filter this classifier installed (on devices that still have their qdisc)."""
        qdiscs = self.replica.qdisc_ids()
        present = {
            d: specs
            for d, specs in self.installed.items()
            if d in qdiscs and os.path.exists(f"/sys/class/net/{d}")
        }
        tc_batch(changes(present, {}))
        self.installed = {}
        self.plans = {}
        self.replica.close()
