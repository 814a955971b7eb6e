"""Every os-ken workaround sdnlab needs, in one place; ``install()`` applies them all.

The runner calls ``install()`` once at start, before any app loads; no app module patches
os-ken itself. Each function below names the upstream behaviour it replaces:

* ``strict_header``/``strict_msg``: os-ken logs a traceback per unparsable message and skips it.
* ``serve``: ``Datapath.serve`` never finishes its teardown on the native hub.
* ``event_loop``: one failing handler silently stops a whole app; and handlers of Ryu-style apps
  run one at a time with their REST handlers, as under eventlet (``sdnlab.controller.green``).
* ``event_wait``: ``hub.Event.wait(timeout)`` ignores its timeout on the native hub.
* ``send_stats_request``: ``ofctl_utils.send_stats_request`` waits forever for a silent switch.
* ``reserved_num_to_user``: ``OFCtlUtil._reserved_num_to_user`` scans every name of the ofproto
  module on each call, several times per flow: most of the CPU time of ``GET /stats/flow``.
* ``TimedSocket``: ``Datapath._recv_loop`` retries socket timeouts forever, so a peer that sends
  half a message (or never finishes the handshake) holds its connection and thread for good.
* ``claim_dpid``: ``DPSet`` hands a dpid to the newest connection claiming it, so any local
  process could take over a lab's switch; here the first keeps it while it answers an echo.
* ``guarded_connection``: no cap on connections per peer address.
* ``install_stp_port_status``: stplib takes Open vSwitch's LIVE-bit port-status messages for
  "link up", so a cut root link never re-converges the spanning tree.
* the hub (``sdnlab.controller.hub``, installed from here): os-ken's native hub has no working
  ``Timeout`` and ``kill`` is a no-op, so Ryu apps that rely on eventlet's semantics (stplib's
  timers) never progress; that module gives ``os_ken.lib.hub`` eventlet-style behaviour.

Switch connections that misbehave are dropped with one log line; the others keep being served.
The Ryu compatibility layer is not a workaround and stays in its own modules: ``alias`` (``ryu.X``
names, and moving ``require_app`` records to the importing module) and ``appmanager`` (one load
per app whatever name asked for it).

os-ken parses whatever a switch sends: an unknown version raises deep in the receive loop
(a traceback per connection), and a message that fails to parse is logged with a traceback and
silently skipped. ``install()`` makes the OpenFlow server strict instead: a truncated, unparsable
or wrong-version message ends that switch's connection with a single warning naming the reason.

It also fixes connection teardown on the native hub: os-ken's ``Datapath.serve`` "kills" its send
thread (a no-op) and joins it while that thread blocks on an empty queue, so a closed connection
never finished: its thread leaked and apps never saw ``DEAD_DISPATCHER``. ``serve`` here wakes the
send thread with a final empty write so teardown completes. It keeps an app alive when one of
its handlers raises (``event_loop``), and makes ``hub.Event.wait(timeout)`` return after the
timeout (``event_wait``).
"""

from __future__ import annotations

import contextlib
import functools
import logging
import select
import threading
import time
import types
from typing import Any

from os_ken.exception import OSKenException

from sdnlab.controller import green

LOG = logging.getLogger("sdnlab.controller")


class MalformedOpenFlow(OSKenException):
    """A switch sent bytes that are not a valid OpenFlow message."""

    message = "%(reason)s"


def strict_header(buf):
    """Read an OpenFlow header, refusing unknown versions and impossible lengths at once.

    Checking here (before os-ken waits for the body) drops a peer that is not speaking
    OpenFlow instead of waiting for a body length it made up.
    """
    from os_ken.ofproto import ofproto_parser

    version, msg_type, msg_len, xid = ofproto_parser.header(buf)
    if version not in ofproto_parser._MSG_PARSERS:
        raise MalformedOpenFlow(reason=f"unsupported OpenFlow version 0x{version:02x} in header")
    if msg_len < 8:
        raise MalformedOpenFlow(reason=f"message length {msg_len} is shorter than a header")
    return version, msg_type, msg_len, xid


def strict_msg(datapath, version, msg_type, msg_len, xid, buf):
    """Parse one message or raise ``MalformedOpenFlow`` (never log-and-skip)."""
    from os_ken.controller.handler import HANDSHAKE_DISPATCHER
    from os_ken.ofproto import ofproto_parser

    if len(buf) < msg_len:
        raise MalformedOpenFlow(reason=f"truncated message: {len(buf)} of {msg_len} bytes")
    parser = ofproto_parser._MSG_PARSERS.get(version)
    if parser is None:
        raise MalformedOpenFlow(reason=f"unsupported OpenFlow version 0x{version:02x}")
    if datapath.state != HANDSHAKE_DISPATCHER and version != datapath.ofproto.OFP_VERSION:
        raise MalformedOpenFlow(
            reason=f"version 0x{version:02x} after negotiating 0x{datapath.ofproto.OFP_VERSION:02x}"
        )
    try:
        msg = parser(datapath, version, msg_type, msg_len, xid, buf)
    except Exception as exc:
        raise MalformedOpenFlow(
            reason=f"cannot parse message type {msg_type} ({msg_len} bytes): {type(exc).__name__}: {exc}"
        ) from None
    if type(msg).__name__ == "OFPPacketIn" and version >= 0x04 and "in_port" not in msg.match:
        raise MalformedOpenFlow(reason=f"packet-in without in_port in its match ({msg_len} bytes)")
    return msg


def event_wait(event, timeout=None) -> bool:
    """``hub.Event.wait`` that honours ``timeout`` on the native hub (os-ken's blocks forever).

    os-ken's own periodic loops depend on it: ``ryu.topology.switches`` re-sends LLDP and ages
    links out only when its ``wait(timeout)`` returns, so without this a probe lost at start-up
    meant a link that was never discovered.
    """
    if timeout is None:
        while not event._cond:
            event._ev.wait()
        return event._cond
    deadline = time.monotonic() + timeout
    while not event._cond:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        event._ev.wait(remaining)
    return event._cond


def event_loop(app) -> None:
    """``OSKenApp._event_loop`` where a failing handler is logged and the loop goes on.

    On the native hub ``hub.TaskExit`` is ``Exception``, so os-ken's loop re-raises *every*
    handler error as a "normal exit": one bug in one handler silently stops the whole app.
    """
    one_at_a_time = green.lock_for(type(app).__module__)  # Ryu-style apps: as under eventlet
    while app.is_active or not app.events.empty():
        ev, state = app.events.get()
        app._events_sem.release()
        if ev == app._event_stop:
            continue
        for handler in app.get_handlers(ev, state):
            try:
                with one_at_a_time:
                    handler(ev)
            except Exception:
                LOG.exception(
                    "%s: handler %s failed on %s; the app keeps running",
                    app.name,
                    getattr(handler, "__name__", handler),
                    type(ev).__name__,
                )


SEND_THREAD_JOIN_S = 1.0


def serve(datapath) -> None:
    """``Datapath.serve`` whose teardown finishes on the native hub."""
    from os_ken.lib import hub

    send_thread = hub.spawn(datapath._send_loop)
    datapath.send_msg(datapath.ofproto_parser.OFPHello(datapath))
    echo_thread = hub.spawn(datapath._echo_request_loop)
    try:
        datapath._recv_loop()
    finally:
        datapath.send(b"", close_socket=True)  # wakes the send loop, which then ends
        send_thread.join(SEND_THREAD_JOIN_S)
        echo_thread.join(0)
        datapath.is_active = False


STATS_TIMEOUT_S = 2.0


def send_stats_request(dp, stats, waiters, msgs, logger=None) -> None:
    """``ofctl_utils.send_stats_request`` with a timeout (upstream waits forever on the native hub).

    Same waiter protocol (``waiters[dpid][xid] = (event, msgs)``; the reply handler appends to
    ``msgs`` and sets ``event`` after the last part), with a ``threading.Event``, whose wait
    honours its timeout and cannot miss a ``set()`` that happens before it.
    """
    from os_ken.lib import ofctl_utils

    dp.set_xid(stats)
    per_dp = waiters.setdefault(dp.id, {})
    done = threading.Event()
    per_dp[stats.xid] = (done, msgs)
    ofctl_utils.send_msg(dp, stats, logger)
    with green.APP_LOCK.suspended():  # the reply handler may be the caller's own app
        answered = done.wait(STATS_TIMEOUT_S)
    if not answered:
        per_dp.pop(stats.xid, None)


def reserved_num_to_user(util, num, prefix: str):
    """``OFCtlUtil._reserved_num_to_user`` answered from a table built once per prefix.

    Same answer as upstream (the first non-deprecated ofproto name with ``prefix`` whose value
    equals ``num``, without the prefix; else ``num``), without scanning the module every call.
    """
    tables = util.__dict__.setdefault("_sdnlab_reserved_names", {})
    table = tables.get(prefix)
    if table is None:
        table = {}
        for name, value in util.ofproto.__dict__.items():
            if name in util.deprecated_value or not name.startswith(prefix):
                continue
            try:
                table.setdefault(value, name.replace(prefix, ""))
            except TypeError:  # an unhashable constant can equal no number
                continue
        tables[prefix] = table
    try:
        return table.get(num, num)
    except TypeError:
        return num


class OpenFlowTimeouts:
    """How long a switch may take to finish a message it started, its handshake, and an echo check."""

    message_s: float = 5.0
    handshake_s: float = 10.0
    max_connections_per_client: int = 512
    echo_check_s: float = 1.0


class TimedSocket:
    """A switch's socket whose ``recv`` gives up on a peer that stalls mid-message or mid-handshake.

    It follows the OpenFlow framing of the bytes it hands to os-ken: once the first byte of a
    message arrived, the rest must arrive within ``OpenFlowTimeouts.message_s``; a connection
    must finish its handshake (send its features reply) within ``handshake_s``. Otherwise
    ``recv`` raises ``MalformedOpenFlow`` and the connection is closed.
    """

    def __init__(self, sock, datapath, started: float | None = None) -> None:
        self._sock = sock
        self._datapath = datapath
        self._handshake_deadline = (started or time.monotonic()) + OpenFlowTimeouts.handshake_s
        self._header = bytearray()
        self._body_left = 0
        self._message_started: float | None = None
        self.features_seen = False  # set when the switch's features reply arrives (handshake done)

    def __getattr__(self, name):
        return getattr(self._sock, name)

    def _deadline(self) -> tuple[float, str] | None:
        deadlines = []
        if not self.features_seen:
            deadlines.append(
                (self._handshake_deadline, f"no handshake within {OpenFlowTimeouts.handshake_s:g} s")
            )
        if self._message_started is not None:
            deadlines.append(
                (
                    self._message_started + OpenFlowTimeouts.message_s,
                    f"a message left unfinished for {OpenFlowTimeouts.message_s:g} s",
                )
            )
        return min(deadlines) if deadlines else None

    def recv(self, size: int) -> bytes:
        deadline = self._deadline()
        if deadline is not None:
            remaining = deadline[0] - time.monotonic()
            if remaining <= 0:
                raise MalformedOpenFlow(reason=deadline[1])
            poller = select.poll()
            poller.register(self._sock.fileno(), select.POLLIN)
            wait_s = min(remaining, self._sock.gettimeout() or remaining)
            if not poller.poll(wait_s * 1000):
                raise TimeoutError("timed out")  # os-ken's loop retries; the next call checks again
        data = self._sock.recv(size)
        self._follow(data)
        return data

    def _refuse_wrong_version(self, version: int) -> None:
        """Drop a peer whose header has another version than negotiated, before waiting for its body.

        ``strict_msg`` refuses such a message too, but only once all the bytes its header announces
        arrived: a header of the wrong version announcing a long body held the connection for
        ``message_s`` first.
        """
        from os_ken.controller.handler import HANDSHAKE_DISPATCHER

        datapath = self._datapath
        if datapath.state == HANDSHAKE_DISPATCHER or getattr(datapath, "ofproto", None) is None:
            return
        negotiated = datapath.ofproto.OFP_VERSION
        if version != negotiated:
            raise MalformedOpenFlow(reason=f"version 0x{version:02x} after negotiating 0x{negotiated:02x}")

    def _follow(self, data: bytes) -> None:
        """Track where the current message ends in the byte stream."""
        pos = 0
        while pos < len(data):
            if self._message_started is None:
                self._message_started = time.monotonic()
            if self._body_left == 0:
                take = min(8 - len(self._header), len(data) - pos)
                self._header += data[pos : pos + take]
                pos += take
                if len(self._header) == 8:
                    self._refuse_wrong_version(self._header[0])
                    self._body_left = max(int.from_bytes(self._header[2:4], "big") - 8, 0)
                    self._header.clear()
                    if self._body_left == 0:
                        self._message_started = None
            else:
                take = min(self._body_left, len(data) - pos)
                self._body_left -= take
                pos += take
                if self._body_left == 0:
                    self._message_started = None


_claims_lock = threading.Lock()
_claimed: dict[int, Any] = {}  # dpid -> the datapath serving it
_per_client: dict[str, int] = {}


def answers_echo(datapath, timeout: float) -> bool:
    """True if ``datapath`` answers an echo request within ``timeout`` seconds."""
    try:
        echo = datapath.ofproto_parser.OFPEchoRequest(datapath, data=b"sdnlab-alive")
        datapath.set_xid(echo)
        datapath.unreplied_echo_requests.append(echo.xid)  # os-ken's echo-reply handler removes it
        if datapath.send_msg(echo) is False:
            return False
    except Exception:  # a half-closed connection: nothing to ask
        return False
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if echo.xid not in datapath.unreplied_echo_requests:
            return True
        time.sleep(0.02)
    with contextlib.suppress(ValueError):
        datapath.unreplied_echo_requests.remove(echo.xid)
    return False


def claim_dpid(datapath, dpid: int) -> None:
    """Let ``datapath`` serve ``dpid``, unless another live connection already does.

    The connection holding the dpid keeps it while it answers an echo request; a dead one
    (no answer within ``OpenFlowTimeouts.echo_check_s``) gives it up to the newcomer.
    """
    with _claims_lock:
        holder = _claimed.get(dpid)
    if holder is not None and holder is not datapath and getattr(holder, "is_active", False):
        if answers_echo(holder, OpenFlowTimeouts.echo_check_s):
            raise MalformedOpenFlow(
                reason=f"dpid {dpid:016x} is already connected from {holder.address[0]}:{holder.address[1]}"
                " and answers; refusing a second connection claiming it"
            )
        LOG.warning("dpid %016x: the previous connection does not answer; the new one takes over", dpid)
    with _claims_lock:
        _claimed[dpid] = datapath


def _release_dpid(datapath) -> None:
    with _claims_lock:
        for dpid in [d for d, holder in _claimed.items() if holder is datapath]:
            del _claimed[dpid]


def claiming_msg(datapath, version, msg_type, msg_len, xid, buf):
    """``strict_msg`` that also checks the dpid a features reply claims (``claim_dpid``)."""
    msg = strict_msg(datapath, version, msg_type, msg_len, xid, buf)
    if type(msg).__name__ == "OFPSwitchFeatures":
        claim_dpid(datapath, msg.datapath_id)
        sock = getattr(datapath, "socket", None)
        if isinstance(sock, TimedSocket):
            sock.features_seen = True
    return msg


def _admit(client: str) -> bool:
    with _claims_lock:
        count = _per_client.get(client, 0)
        if count >= OpenFlowTimeouts.max_connections_per_client:
            return False
        _per_client[client] = count + 1
        return True


def _leave(client: str) -> None:
    with _claims_lock:
        count = _per_client.get(client, 0) - 1
        if count > 0:
            _per_client[client] = count
        else:
            _per_client.pop(client, None)


def guarded_connection(socket, address):
    """Serve one switch connection; a protocol violation or a stall closes only this connection."""
    from os_ken.controller import controller

    started = time.monotonic()
    client = str(address[0])
    if not _admit(client):
        LOG.warning(
            "refused a switch connection from %s: %d already open",
            client,
            OpenFlowTimeouts.max_connections_per_client,
        )
        socket.close()
        return
    try:
        with contextlib.closing(controller.Datapath(socket, address)) as datapath:
            datapath.socket = TimedSocket(datapath.socket, datapath, started)
            # Room in the send queue is made by the send loop, never by app code: an app handler
            # waiting for it keeps the app lock (sdnlab.controller.green), so a REST call cannot
            # change the app's tables in the middle of the handler's loop.
            datapath._send_q_sem = threading.BoundedSemaphore(datapath.send_q.maxsize)
            try:
                datapath.serve()
            except MalformedOpenFlow as exc:
                who = f"{datapath.id:016x}" if datapath.id is not None else "unidentified switch"
                LOG.warning("dropped %s at %s:%s: %s", who, address[0], address[1], exc)
            except OSError as exc:
                LOG.info("connection from %s:%s closed: %s", address[0], address[1], exc)
            finally:
                _release_dpid(datapath)
    finally:
        _leave(client)


def install() -> None:
    """Apply every workaround above to os-ken (idempotent)."""
    from os_ken import cfg
    from os_ken.base import app_manager
    from os_ken.controller import controller
    from os_ken.lib import hub, ofctl_utils

    from sdnlab.controller import hub as sdnlab_hub
    from sdnlab.controller import options

    if controller.datapath_connection_factory is guarded_connection:
        return
    options.register()
    conf = cfg.CONF
    OpenFlowTimeouts.message_s = conf.ofp_message_timeout
    OpenFlowTimeouts.handshake_s = conf.ofp_handshake_timeout
    OpenFlowTimeouts.max_connections_per_client = conf.ofp_max_connections_per_client
    OpenFlowTimeouts.echo_check_s = conf.ofp_echo_check_timeout
    controller.Datapath.serve = serve
    app_manager.OSKenApp._event_loop = event_loop
    if hub.HUB_TYPE == "native":
        hub.Event.wait = event_wait
    ofctl_utils.send_stats_request = send_stats_request
    ofctl_utils.OFCtlUtil._reserved_num_to_user = reserved_num_to_user
    controller.ofproto_parser = types.SimpleNamespace(header=strict_header, msg=claiming_msg)
    controller.datapath_connection_factory = guarded_connection
    sdnlab_hub.install()  # after event_wait above, which targets os-ken's own Event
    install_stp_port_status()


def _link_down(state: int) -> bool:
    return bool(state & 0x1)  # OFPPS_LINK_DOWN in OpenFlow 1.0, 1.2 and 1.3


def install_stp_port_status() -> None:
    """Wrap ``Stp.port_status_handler`` (idempotent); apps instantiated afterwards get the fix.

    Ryu's STP library treats every port-status MODIFY whose state differs from the last one as a
    link change, and anything without LINK_DOWN as "link up". Open vSwitch on OpenFlow 1.3 also
    reports the LIVE bit and clears it in a message of its own just before LINK_DOWN: stplib took
    that for "link up" and never recalculated the tree when the root link was cut. A change that
    leaves LINK_DOWN alone now only updates the recorded state.
    """
    from os_ken.lib import stplib

    original = stplib.Stp.port_status_handler
    if getattr(original, "sdnlab_fixed", False):
        return

    @functools.wraps(original)  # keeps the set_ev_cls registration (its ``callers`` attribute)
    def port_status_handler(self: Any, ev: Any) -> None:
        msg = ev.msg
        bridge = self.bridge_list.get(msg.datapath.id)
        port = msg.desc
        if bridge is not None and msg.reason == msg.datapath.ofproto.OFPPR_MODIFY:
            before = bridge.ports_state.get(port.port_no)
            if before is not None and _link_down(before) == _link_down(port.state):
                bridge.ports_state[port.port_no] = port.state  # e.g. only LIVE changed
                return
        original(self, ev)

    port_status_handler.sdnlab_fixed = True  # type: ignore[attr-defined]  # marker attribute on a function
    stplib.Stp.port_status_handler = port_status_handler
