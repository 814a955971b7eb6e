"""Recording the OpenFlow conversation of a running controller (the runner's side of it).

When ``SDNLAB_OF_RECORD`` names a file, ``install()`` makes os-ken's switch connections append
every message they receive and every message the apps send to that pcapng file (see
``pcapng``), with the time and the switch's dpid. Writes are flushed per message, so the file is
readable while the lab runs and complete if the controller is killed.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from types import FrameType
from typing import Any

from sdnlab.grader.replay.pcapng import TO_CONTROLLER, TO_SWITCH, OFRecord, PcapngWriter, split_messages

ENV_FILE = "SDNLAB_OF_RECORD"


class ConversationRecorder:
    """A thread-safe pcapng writer keyed by switch connection."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._out = open(path, "wb")  # noqa: SIM115  # kept open for the controller's lifetime
        self._lock = threading.Lock()
        self._writer = PcapngWriter(self._out)
        self._out.flush()

    def record(self, datapath: Any, direction: str, data: bytes, site: str | None = None) -> None:
        """Append the whole messages in ``data`` sent or received on ``datapath``'s connection."""
        address = getattr(datapath, "address", None)
        if not data or not address:
            return
        switch = (str(address[0]), int(address[1]))
        messages, _ = split_messages(bytes(data))
        with self._lock:
            now = time.time()  # stamped under the lock: the file's order is the order in time
            for message in messages:
                dpid = getattr(datapath, "id", None)
                self._writer.write(OFRecord(now, switch, direction, message, dpid, site))
            self._out.flush()

    def closed(self, datapath: Any) -> None:
        """Note that a switch connection ended."""
        address = getattr(datapath, "address", None)
        if address:
            with self._lock:
                self._writer.close_connection(time.time(), (str(address[0]), int(address[1])))
                self._out.flush()


_LIBRARY_PREFIXES = ("os_ken.", "sdnlab.", "threading", "queue", "importlib")


def app_site(frame: FrameType | None) -> str | None:
    """``file:line`` of the innermost calling frame that is app code (not os-ken, sdnlab or stdlib)."""
    stdlib = os.path.dirname(os.__file__)
    while frame is not None:
        name = str(frame.f_globals.get("__name__", ""))
        filename = frame.f_code.co_filename
        library = (
            name.startswith(_LIBRARY_PREFIXES)
            or name == "os_ken"
            or filename.startswith((stdlib, "<"))
            or "site-packages" in filename
        )
        if not library:
            return f"{filename}:{frame.f_lineno}"
        frame = frame.f_back
    return None


_RECORDER: ConversationRecorder | None = None


def install(environ: dict[str, str] | None = None) -> ConversationRecorder | None:
    """Hook os-ken's Datapath send/receive when ``SDNLAB_OF_RECORD`` is set (idempotent)."""
    global _RECORDER
    env = os.environ if environ is None else environ
    path = env.get(ENV_FILE)
    if not path or _RECORDER is not None:
        return _RECORDER
    from os_ken.controller import controller

    _RECORDER = rec = ConversationRecorder(path)
    parser = controller.ofproto_parser  # the module, or hardening's strict namespace
    parse_msg = parser.msg

    def recording_msg(datapath: Any, version: int, msg_type: int, msg_len: int, xid: int, buf: bytes) -> Any:
        rec.record(datapath, TO_CONTROLLER, bytes(buf[:msg_len]))
        return parse_msg(datapath, version, msg_type, msg_len, xid, buf)

    original_send = controller.Datapath.send

    def recording_send(self: Any, buf: bytes, close_socket: bool = False) -> bool:
        queued = original_send(self, buf, close_socket)
        if queued and buf:
            rec.record(self, TO_SWITCH, buf, app_site(sys._getframe(1)))
        return bool(queued)

    original_close = controller.Datapath.close

    def recording_close(self: Any) -> None:
        rec.closed(self)
        original_close(self)

    if isinstance(parser, type(os)):  # the plain os-ken parser module: do not patch it globally
        import types

        controller.ofproto_parser = types.SimpleNamespace(header=parser.header, msg=recording_msg)
    else:
        parser.msg = recording_msg
    controller.Datapath.send = recording_send
    controller.Datapath.close = recording_close
    return rec
