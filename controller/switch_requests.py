"""Waiting for a switch's answers to REST-driven requests: barriers, errors and statistics.

A REST handler runs in a server thread; the switch's replies arrive as os-ken events in the
app's thread. ``SwitchRequests`` joins the two: ``send_and_wait`` sends a message and a barrier
and returns the OpenFlow errors the switch reported for the message (``type/code`` names),
``send_checked`` turns them into ``BadRequest``; ``waiters`` is the dict os-ken's
``ofctl_v1_3`` helpers and ``request_stats`` use to wait for multipart replies. The app's event
handlers feed it with ``barrier_reply``, ``error`` and ``stats_reply``.
"""

from __future__ import annotations

import threading

from sdnlab.controller.ofctl_values import BadRequest

BARRIER_TIMEOUT_S = 2.0
STATS_TIMEOUT_S = 2.0


class SwitchRequests:
    """Tracks replies from switches: stats waiters, barrier replies and errors by xid."""

    def __init__(self) -> None:
        self.waiters: dict = {}
        self._barriers: dict[tuple[int, int], threading.Event] = {}
        self._errors: dict[tuple[int, int], list] = {}
        self._lock = threading.Lock()

    def send_and_wait(self, dp, msg) -> list[str]:
        """Send ``msg`` then a barrier; the errors the switch reported for ``msg`` (none: [])."""
        if getattr(msg, "datapath", None) is None:
            msg.datapath = dp  # built offline (sdnlab.controller.ofmsg style)
        dp.set_xid(msg)
        barrier = dp.ofproto_parser.OFPBarrierRequest(dp)
        dp.set_xid(barrier)
        done = threading.Event()
        with self._lock:
            self._errors[(dp.id, msg.xid)] = []
            self._barriers[(dp.id, barrier.xid)] = done
        try:
            dp.send_msg(msg)
            dp.send_msg(barrier)
            done.wait(BARRIER_TIMEOUT_S)
        finally:
            with self._lock:
                errors = self._errors.pop((dp.id, msg.xid), [])
                self._barriers.pop((dp.id, barrier.xid), None)
        return errors

    def send_checked(self, dp, msg) -> None:
        """Send ``msg`` then a barrier; raise BadRequest if the switch rejects ``msg``."""
        errors = self.send_and_wait(dp, msg)
        if errors:
            raise BadRequest(f"switch {dp.id} rejected the request: {errors[0]}")

    def request_stats(self, dp, msg) -> list:
        """Send a multipart request and return its reply messages ([] if none came in time)."""
        if getattr(msg, "datapath", None) is None:
            msg.datapath = dp
        dp.set_xid(msg)
        done = threading.Event()
        replies: list = []
        self.waiters.setdefault(dp.id, {})[msg.xid] = (done, replies)
        try:
            dp.send_msg(msg)
            done.wait(STATS_TIMEOUT_S)
        finally:
            self.waiters.get(dp.id, {}).pop(msg.xid, None)
        return replies

    def stats_reply(self, msg) -> None:
        """Hand a multipart reply to the request waiting for it."""
        dp = msg.datapath
        per_dp = self.waiters.get(dp.id)
        if not per_dp or msg.xid not in per_dp:
            return
        done, msgs = per_dp[msg.xid]
        msgs.append(msg)
        if msg.flags & dp.ofproto.OFPMPF_REPLY_MORE:
            return
        del per_dp[msg.xid]
        done.set()

    def barrier_reply(self, dpid: int, xid: int) -> None:
        with self._lock:
            done = self._barriers.get((dpid, xid))
        if done is not None:
            done.set()

    def error(self, dpid: int, xid: int, text: str) -> None:
        with self._lock:
            if (dpid, xid) in self._errors:
                self._errors[(dpid, xid)].append(text)
                return
        per_dp = self.waiters.get(dpid, {})
        if xid in per_dp:  # a stats request the switch refused: stop waiting
            lock, _msgs = per_dp.pop(xid)
            lock.set()


ERROR_CODE_PREFIXES = {
    "OFPET_BAD_REQUEST": "OFPBRC_",
    "OFPET_BAD_ACTION": "OFPBAC_",
    "OFPET_BAD_INSTRUCTION": "OFPBIC_",
    "OFPET_BAD_MATCH": "OFPBMC_",
    "OFPET_FLOW_MOD_FAILED": "OFPFMFC_",
    "OFPET_GROUP_MOD_FAILED": "OFPGMFC_",
    "OFPET_METER_MOD_FAILED": "OFPMMFC_",
}


def error_text(dp, msg) -> str:
    """``type/code`` names of an OpenFlow error message."""
    ofp = dp.ofproto
    types = {v: k for k, v in vars(ofp).items() if k.startswith("OFPET_") and isinstance(v, int)}
    type_name = types.get(msg.type, str(msg.type))
    prefix = ERROR_CODE_PREFIXES.get(type_name)
    code_name = str(msg.code)
    if prefix:
        codes = {v: k for k, v in vars(ofp).items() if k.startswith(prefix) and isinstance(v, int)}
        code_name = codes.get(msg.code, code_name)
    return f"{type_name}/{code_name}"
