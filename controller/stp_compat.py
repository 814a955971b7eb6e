"""Ryu's STP library (``ryu.lib.stplib``, os-ken's copy) reading OpenFlow 1.3 port states right.

stplib treats every port-status MODIFY whose state differs from the last one as a link change,
and anything without the LINK_DOWN bit as "link up". Open vSwitch on OpenFlow 1.3 also reports
the LIVE bit, and clears it in a message of its own just before LINK_DOWN: stplib took that for
"link up", made the root port a designated port, and so never recalculated the tree when the
root link was cut (the blocked port of the ring stayed blocked forever). ``install()`` wraps the
handler so a change that leaves the LINK_DOWN bit alone only updates the recorded state.
"""

from __future__ import annotations

import functools
from typing import Any


def _link_down(state: int) -> bool:
    return bool(state & 0x1)  # OFPPS_LINK_DOWN in OpenFlow 1.0, 1.2 and 1.3


def install() -> None:
    """Wrap ``Stp.port_status_handler`` (idempotent); apps instantiated afterwards get the fix."""
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
