"""Port queues in Open vSwitch's database, through os-ken's OVSDB client (``os_ken.lib.ovs.vsctl``).

``OvsdbQos(addr)`` talks to the OVSDB server at ``addr`` (``tcp:127.0.0.1:6632``, as the book's
``rest_conf_switch`` ``ovsdb_addr``, or ``unix:/path``). Each call is one transaction run by
os-ken's ``VSCtl`` (connection, schema, commit, and waiting until ovs-vswitchd has applied it):

* ``apply(bridge, dpid, ports, setting)`` gives each port a new ``QoS`` row with its ``Queue``
  rows and destroys the rows the port had before (os-ken's ``set-qos``/``del-qos`` only re-point
  the port and leave them behind: the database is shared by every lab on the machine);
* ``clear(bridge, dpid, ports)`` removes the ports' QoS and destroys its rows;
* ``read(bridge, dpid)`` returns each port's QoS as plain dicts.

Every call first checks that ``bridge`` exists with datapath id ``dpid`` and that the ports are
its own, so a controller can only change the switch that is connected to it. A server that does
not accept connections, or does not answer within ``timeout`` seconds, raises ``OvsdbError``
instead of hanging the REST request (os-ken's client blocks in the OVS poller, which no hub
timeout interrupts, so the transaction runs in a worker thread that is given up on). A
transaction given up on makes no change if it had not reached its body yet; one already
committing may still land after the error was answered, so a client reads the queues again.
A transaction that fails inside os-ken's client closes its connection all the same.
"""

from __future__ import annotations

import os
import re
import socket
import threading
import warnings
from collections.abc import Callable

with warnings.catch_warnings():  # the OVS library's poller warns that eventlet is deprecated
    warnings.simplefilter("ignore")
    from os_ken.lib.ovs import vsctl

from sdnlab.controller.errors import ControllerError
from sdnlab.controller.qos_queues import QueueSetting

DEFAULT_TIMEOUT_S = 5.0
_TCP = re.compile(r"^tcp:(\[[0-9a-fA-F:.]+\]|[0-9.]+|localhost):(\d{1,5})$")
_UNIX = re.compile(r"^unix:(/\S+)$")
TABLES = ("Bridge", "Port", "QoS", "Queue")


class OvsdbError(ControllerError):
    """The OVSDB server cannot be reached or refused the change (the message says which)."""


def check_ovsdb_addr(addr) -> str:
    """``addr`` if it is ``tcp:IP:PORT`` or ``unix:/PATH``; else ``ValueError`` saying what is expected."""
    if isinstance(addr, str):
        tcp = _TCP.match(addr)
        if tcp and 0 < int(tcp.group(2)) < 65536:
            return addr
        if _UNIX.match(addr):
            return addr
    shown = repr(addr) if len(repr(addr)) <= 60 else repr(addr)[:57] + "..."
    raise ValueError(f'expected an OVSDB address such as "tcp:127.0.0.1:6632" or "unix:/path", got {shown}')


def reachable(addr: str, timeout: float = 1.0) -> str | None:
    """None if something accepts connections at ``addr``, else why not (one line)."""
    tcp = _TCP.match(addr)
    try:
        if tcp:
            host = tcp.group(1).strip("[]")
            with socket.create_connection((host, int(tcp.group(2))), timeout=timeout):
                return None
        path = addr[len("unix:") :]
        if not os.path.exists(path):
            return f"no such socket {path}"
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(timeout)
            sock.connect(path)
            return None
    except OSError as exc:
        return exc.strerror or str(exc)


class _Client(vsctl.VSCtl):
    """os-ken's VSCtl running commands that carry their own prerequisite and body (``_Transaction``).

    VSCtl closes its IDL (the connection) only when the transaction completes; an exception
    inside leaves it open. The client notes the IDL VSCtl's loop waits on and closes it then.
    """

    def _idl_wait(self, idl_, seqno):  # VSCtl's loop calls it first with the IDL it opened
        self._idl = idl_
        return vsctl.VSCtl._idl_wait(idl_, seqno)

    def _run_command(self, commands):
        self._idl = None
        try:
            self._do_main(commands)  # VSCtl's own loop: connect, wait for the data, commit, wait for reload
        except BaseException:
            if self._idl is not None:
                self._idl.close()
            raise
        finally:
            self._idl = None


class _Transaction(vsctl.VSCtlCommand):
    """One custom command for os-ken's VSCtl: ``body(idl, txn)`` returns a result or raises ``_Refused``."""

    def __init__(self, client: vsctl.VSCtl, body: Callable, abandoned: threading.Event) -> None:
        super().__init__("sdnlab-qos", ())
        self.failure: str | None = None

        def prerequisite(_ctx, _command) -> None:
            for table in TABLES:
                client.schema_helper.register_table(table)

        def run(ctx, command) -> None:
            if abandoned.is_set():  # the caller gave up (timeout): change nothing
                command.failure = "given up before the change was made"
                return
            try:
                command.result = body(ctx.idl, ctx.txn)
            except _Refused as exc:
                command.failure = str(exc)  # nothing was changed: the transaction commits empty

        self._prerequisite = prerequisite
        self._run = run


class _Refused(Exception):
    """A check inside the transaction failed; its text is the user-facing reason."""


class OvsdbQos:
    """Queues of one switch's ports through the OVSDB server at ``addr``."""

    def __init__(self, addr: str, timeout: float = DEFAULT_TIMEOUT_S) -> None:
        self.addr = check_ovsdb_addr(addr)
        self.timeout = timeout

    # -- the three operations -----------------------------------------------------------------
    def apply(self, bridge: str, dpid: int, ports: list[str], setting: QueueSetting) -> None:
        """Give each of ``ports`` a fresh QoS row built from ``setting``; old rows are destroyed."""

        def body(idl, txn):
            rows = _bridge_ports(idl, bridge, dpid, ports)
            for port in rows:
                old = list(port.qos)
                qos = txn.insert(idl.tables["QoS"])
                qos.type = setting.type
                qos.other_config = setting.other_config()
                queues = {}
                for queue_id, queue in enumerate(setting.queues):
                    row = txn.insert(idl.tables["Queue"])
                    row.other_config = queue.other_config()
                    queues[queue_id] = row
                qos.queues = queues
                port.qos = [qos]
                _destroy_unused(idl, old, leaving=port)

        self._run(body, wait_for_reload=True)

    def clear(self, bridge: str, dpid: int, ports: list[str]) -> list[str]:
        """Remove the QoS of ``ports`` and destroy its rows; the ports that had one."""

        def body(idl, _txn):
            cleared = []
            for port in _bridge_ports(idl, bridge, dpid, ports):
                old = list(port.qos)
                if old:
                    port.qos = []
                    _destroy_unused(idl, old, leaving=port)
                    cleared.append(port.name)
            return cleared

        return self._run(body, wait_for_reload=True) or []

    def read(self, bridge: str, dpid: int) -> dict[str, dict]:
        """``{port: {"type", "other_config", "queues": {id: other_config}}}`` for ports with a QoS."""

        def body(idl, _txn):
            found = {}
            for port in _bridge_ports(idl, bridge, dpid, None):
                for qos in port.qos:
                    found[port.name] = {
                        "type": qos.type,
                        "other_config": dict(qos.other_config),
                        "queues": {int(qid): dict(row.other_config) for qid, row in qos.queues.items()},
                    }
            return found

        return self._run(body, wait_for_reload=False) or {}

    # -- running one transaction --------------------------------------------------------------
    def _run(self, body: Callable, wait_for_reload: bool):
        problem = reachable(self.addr)
        if problem:
            raise OvsdbError(
                f"ovsdb_addr {self.addr}: cannot connect ({problem}); is an OVSDB manager listening "
                "there (ovs-vsctl set-manager ptcp:6632)?"
            )
        client = _Client(self.addr)
        client.wait_for_reload = wait_for_reload
        abandoned = threading.Event()
        command = _Transaction(client, body, abandoned)
        outcome: dict = {}

        def work() -> None:
            try:
                client.run_command([command])
            except Exception as exc:  # os-ken's vsctl_fatal and OVS library errors
                outcome["error"] = exc

        worker = threading.Thread(target=work, name="sdnlab-ovsdb", daemon=True)
        worker.start()
        worker.join(self.timeout)
        if worker.is_alive():
            # the worker cannot be interrupted: it makes no change if it has not started the
            # body yet, but a change it already made may still be committed after this error
            abandoned.set()
            raise OvsdbError(
                f"ovsdb_addr {self.addr}: no answer within {self.timeout:g} s "
                "(a change already sent may still be applied: read the queues again)"
            )
        if "error" in outcome:
            raise OvsdbError(f"ovsdb_addr {self.addr}: {outcome['error']}")
        if command.failure:
            raise OvsdbError(command.failure)
        return command.result


def _bridge_ports(idl, bridge: str, dpid: int, ports: list[str] | None) -> list:
    """The Port rows of ``bridge`` named in ``ports`` (all but the bridge's own port for None)."""
    rows = [row for row in idl.tables["Bridge"].rows.values() if row.name == bridge]
    if not rows:
        raise _Refused(f"bridge {bridge}: not in the database at this ovsdb_addr")
    datapath_id = (rows[0].datapath_id or [""])[0]
    if datapath_id != f"{dpid:016x}":
        raise _Refused(
            f"bridge {bridge}: its datapath id is {datapath_id or 'unknown'}, not {dpid:016x} "
            "(this ovsdb_addr is another switch's database)"
        )
    by_name = {port.name: port for port in rows[0].ports}
    if ports is None:
        return [port for name, port in sorted(by_name.items()) if name != bridge]
    missing = [name for name in ports if name not in by_name]
    if missing:
        raise _Refused(f"port_name: bridge {bridge} has no port {missing[0]}")
    return [by_name[name] for name in ports]


def _destroy_unused(idl, old_qos: list, leaving) -> None:
    """Delete QoS rows (and their Queue rows) that no other port or QoS row refers to any more."""
    for qos in old_qos:
        if any(qos in port.qos for port in idl.tables["Port"].rows.values() if port is not leaving):
            continue
        for queue in qos.queues.values():
            others = [row for row in idl.tables["QoS"].rows.values() if row is not qos]
            if not any(queue in row.queues.values() for row in others):
                queue.delete()
        qos.delete()
