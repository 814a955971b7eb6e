"""Switch connections that misbehave are dropped with one log line; the others keep being served.

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
import logging
import time
import types

from os_ken.exception import OSKenException

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
    while app.is_active or not app.events.empty():
        ev, state = app.events.get()
        app._events_sem.release()
        if ev == app._event_stop:
            continue
        for handler in app.get_handlers(ev, state):
            try:
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


def guarded_connection(socket, address):
    """Serve one switch connection; a protocol violation closes only this connection."""
    from os_ken.controller import controller

    with contextlib.closing(controller.Datapath(socket, address)) as datapath:
        try:
            datapath.serve()
        except MalformedOpenFlow as exc:
            who = f"{datapath.id:016x}" if datapath.id is not None else "unidentified switch"
            LOG.warning("dropped %s at %s:%s: %s", who, address[0], address[1], exc)
        except OSError as exc:
            LOG.info("connection from %s:%s closed: %s", address[0], address[1], exc)


def install() -> None:
    """Make os-ken's OpenFlow server strict (idempotent)."""
    from os_ken.base import app_manager
    from os_ken.controller import controller
    from os_ken.lib import hub

    if controller.datapath_connection_factory is guarded_connection:
        return
    controller.Datapath.serve = serve
    app_manager.OSKenApp._event_loop = event_loop
    if hub.HUB_TYPE == "native":
        hub.Event.wait = event_wait
    controller.ofproto_parser = types.SimpleNamespace(header=strict_header, msg=strict_msg)
    controller.datapath_connection_factory = guarded_connection
