"""The researcher API of the VNF framework.

    from sdnlab.vnfs.framework import VNF, FlowTable, forward, drop, rewrite, send_to

    class CountFlows(VNF):
        kind = "countflows"

        def apply_config(self, cfg):
            self.flows = FlowTable(max_flows=100_000, idle_timeout=60)

        def handle(self, packet):
            key = packet.bidi_key()
            seen = self.flows.get(key, self.now) or 0
            self.flows.put(key, seen + 1, self.now)
            return forward()

``VNF`` (base), ``Verdict`` and its constructors, and ``FlowTable`` are the whole API; the
engine (live or offline) is chosen by ``sdnlab vnf run`` / ``sdnlab vnf test``.
"""

from sdnlab.vnfs.framework.base import VNF
from sdnlab.vnfs.framework.flowtable import FlowTable
from sdnlab.vnfs.framework.verdict import (
    DROP,
    FORWARD,
    Action,
    Verdict,
    drop,
    forward,
    reply,
    rewrite,
    send_to,
)

__all__ = [
    "DROP",
    "FORWARD",
    "VNF",
    "Action",
    "FlowTable",
    "Verdict",
    "drop",
    "forward",
    "reply",
    "rewrite",
    "send_to",
]
