"""A lab's access to the switches' OVSDB, and what labs leave in it.

``sdnlab up --ovsdb`` (or ``ovsdb:`` in the topology) opens Open vSwitch's database to the lab's
controller, as the Ryu book's ``ovs-vsctl set-manager ptcp:6632`` does, but on 127.0.0.1 only
and as a ``Manager`` row of its own, tagged ``external_ids:sdnlab-lab=<lab>``: other managers
are never touched, and the lab's row is removed at ``down``, on a failed start and by
``sdnlab clean``. The database is the machine's (every lab's bridges are in it) except in a
classroom ``own-ovs`` sandbox, which runs its own.

Teardown also removes the ``QoS`` and ``Queue`` rows the lab's ports referenced (rest_qos makes
them through OVSDB): they are root rows and would outlive the ports.
"""

from __future__ import annotations

import socket
import subprocess
import time
from typing import Any

from sdnlab.errors import LabError
from sdnlab.runtime.ovsdb_json import ovs_map, uuids, vsctl_rows

DEFAULT_PORT = 6632
HOST = "127.0.0.1"
TAG = "sdnlab-lab"
DB_REMOTE = "db:Open_vSwitch,Open_vSwitch,manager_options"  # ovsdb-server listens where Manager rows say


def target(port: int) -> str:
    """The Manager target that listens on ``port`` of 127.0.0.1."""
    return f"ptcp:{port}:{HOST}"


def parse_port(value: object, where: str) -> int | None:
    """``true`` -> the default port, ``false``/None -> None, an int -> that port; else LabError."""
    if value is None or value is False:
        return None
    if value is True:
        return DEFAULT_PORT
    if isinstance(value, int) and 1024 <= value <= 65535:
        return value
    raise LabError(f"{where}: expected true or a TCP port 1024-65535, got {value!r}")


def _vsctl(*args: str, check: bool = True) -> str:
    done = subprocess.run(["ovs-vsctl", "--timeout=10", *args], capture_output=True, text=True)
    if check and done.returncode != 0:
        raise LabError(f"ovs-vsctl {args[0] if args else ''}: {done.stderr.strip()[:300]}")
    return done.stdout


def managers() -> list[dict[str, Any]]:
    """Every Manager row: {uuid, target, lab (the sdnlab lab that owns it, or None)}."""
    rows = vsctl_rows(
        _vsctl("--format=json", "--columns=_uuid,target,external_ids", "list", "Manager", check=False)
    )
    return [
        {"uuid": uuids(r["_uuid"])[0], "target": r["target"], "lab": ovs_map(r["external_ids"]).get(TAG)}
        for r in rows
    ]


def listens_on(manager_target: str, port: int) -> bool:
    """Whether a Manager target (``ptcp:PORT[:IP]``, ``pssl:...``) listens on TCP ``port``."""
    kind, _, rest = manager_target.partition(":")
    return kind in ("ptcp", "pssl") and rest.split(":", 1)[0] == str(port)


def check_port(name: str, port: int, other_labs: dict[str, int]) -> None:
    """Refuse a port another lab opened, another manager listens on, or another program holds."""
    for lab, taken in sorted(other_labs.items()):
        if taken == port and lab != name:
            raise LabError(
                f"--ovsdb: port {port} is already open to the controller of lab {lab!r}; "
                f"give this lab another with --ovsdb-port (e.g. {port + 1})"
            )
    for row in managers():
        if listens_on(str(row["target"]), port):
            owner = f"lab {row['lab']!r}" if row["lab"] else "a manager set outside sdnlab"
            raise LabError(
                f"--ovsdb: OVSDB already listens on port {port} ({row['target']}, {owner}); "
                "pick another with --ovsdb-port"
            )
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((HOST, port))
        except OSError:
            raise LabError(
                f"--ovsdb: {HOST}:{port} is in use by another program; pick another with --ovsdb-port"
            ) from None


def _ensure_db_remote() -> None:
    """Make ovsdb-server honour Manager rows (``ovs-ctl`` starts it so; a sandbox's may not be)."""
    listed = subprocess.run(
        ["ovs-appctl", "-t", "ovsdb-server", "ovsdb-server/list-remotes"], capture_output=True, text=True
    )
    if DB_REMOTE in listed.stdout.split():
        return
    added = subprocess.run(
        ["ovs-appctl", "-t", "ovsdb-server", "ovsdb-server/add-remote", DB_REMOTE],
        capture_output=True,
        text=True,
    )
    if added.returncode != 0:
        raise LabError(f"--ovsdb: ovsdb-server does not read Manager rows: {added.stderr.strip()[:200]}")


def open_for(name: str, port: int, timeout: float = 10.0) -> None:
    """Add lab ``name``'s Manager row (``ptcp:PORT:127.0.0.1``) and wait until OVSDB listens."""
    _ensure_db_remote()
    _vsctl(
        "--",
        "--id=@m",
        "create",
        "Manager",
        f'target="{target(port)}"',
        f'external_ids:{TAG}="{name}"',
        "--",
        "add",
        "Open_vSwitch",
        ".",
        "manager_options",
        "@m",
    )
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection((HOST, port), timeout=0.5):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise LabError(
                    f"--ovsdb: OVSDB did not listen on {HOST}:{port} within {timeout:.0f} s"
                ) from None
            time.sleep(0.05)


def tag_bridges(name: str, bridges: dict[str, str]) -> None:
    """Mark the lab's bridges (``bridge -> topology switch``) in OVSDB for controllers that use it.

    Several labs' switches share datapath ids (``s1`` is dpid 1 in each), so in the machine's
    database ``find Bridge datapath_id=...`` (how Ryu's ``OVSBridge`` finds its bridge) can match
    another lab's; ``find Bridge datapath_id=... external_ids:sdnlab-lab=<lab>`` matches the
    lab's own (the controller has the lab's name in ``SDNLAB_LAB``).
    """
    args: list[str] = []
    for bridge, switch in bridges.items():
        args += [
            "--",
            "set",
            "Bridge",
            bridge,
            f'external_ids:{TAG}="{name}"',
            f'external_ids:sdnlab-switch="{switch}"',
        ]
    if args:
        _vsctl(*args)


def close_for(name: str) -> list[str]:
    """Remove lab ``name``'s Manager rows (only those); returns their targets."""
    mine = [row for row in managers() if row["lab"] == name]
    if not mine:
        return []
    args: list[str] = []
    for row in mine:
        args += ["--", "--if-exists", "remove", "Open_vSwitch", ".", "manager_options", row["uuid"]]
    _vsctl(*args, check=False)
    return [str(row["target"]) for row in mine]


def qos_rows_of(bridges: list[str]) -> tuple[list[str], list[str]]:
    """(QoS uuids, Queue uuids) referenced by ports of ``bridges`` and by no other port."""
    if not bridges:
        return [], []
    out = _vsctl(
        "--format=json",
        "--",
        "--columns=name,ports",
        "list",
        "Bridge",
        "--",
        "--columns=_uuid,qos",
        "list",
        "Port",
        "--",
        "--columns=_uuid,queues",
        "list",
        "QoS",
        check=False,
    ).splitlines()
    if len(out) < 3:
        return [], []
    bridge_rows, port_rows, qos_rows = (vsctl_rows(line) for line in out[:3])
    ours = {u for r in bridge_rows if r["name"] in bridges for u in uuids(r["ports"])}
    qos_of_port = {uuids(r["_uuid"])[0]: uuids(r["qos"]) for r in port_rows}
    used_elsewhere = {q for port, qs in qos_of_port.items() if port not in ours for q in qs}
    mine = {q for port, qs in qos_of_port.items() if port in ours for q in qs} - used_elsewhere
    queues_of = {uuids(r["_uuid"])[0]: uuids(r["queues"]) for r in qos_rows}
    other_queues = {q for qos, qs in queues_of.items() if qos not in mine for q in qs}
    queues = sorted({q for qos in mine for q in queues_of.get(qos, [])} - other_queues)
    return sorted(mine), queues


def destroy_qos(qos: list[str], queues: list[str]) -> None:
    """Destroy QoS and Queue rows (after the ports that referenced them are gone)."""
    args: list[str] = []
    for table, doomed in (("QoS", qos), ("Queue", queues)):
        for uuid in doomed:
            args += ["--", "--if-exists", "destroy", table, uuid]
    if args:
        _vsctl(*args, check=False)
