"""Deep packet inspection: bidirectional flows classified from their payload, with risk events.

Public API (see docs/dpi.md):

    from sdnlab.vnfs.dpi import DpiEngine, DpiConfig, FlowRecord, RiskEvent, classify_pcap, classify_capture
    engine = DpiEngine(DpiConfig(max_flows=100_000), on_risk=handle)
    record = engine.process(ts, packet)     # packet: sdnlab.vnfs.packet.Packet
    engine.records(), engine.risks(), engine.drain_risks(), engine.flush()

Modules: ``model`` (vocabulary, app names), ``protocols`` (one dissector per protocol),
``classify`` (the pure per-packet classification step), ``engine`` (flow table and bounds),
``risks`` (risk rules), ``records`` (output types), ``offline`` (captures), ``ndpi`` (comparison
with nDPI's reference output), ``cli`` (``sdnlab dpi``).
"""

from __future__ import annotations

from sdnlab.vnfs.dpi.classify import Limits
from sdnlab.vnfs.dpi.engine import DpiConfig, DpiConfigError, DpiEngine, DpiStats
from sdnlab.vnfs.dpi.offline import CaptureClassification, classify_capture, classify_pcap
from sdnlab.vnfs.dpi.records import CLEARTEXT_TELNET, TELNET_SCAN, UNUSUAL_DNS_SERVER, FlowRecord, RiskEvent

__all__ = [
    "CLEARTEXT_TELNET",
    "TELNET_SCAN",
    "UNUSUAL_DNS_SERVER",
    "CaptureClassification",
    "DpiConfig",
    "DpiConfigError",
    "DpiEngine",
    "DpiStats",
    "FlowRecord",
    "Limits",
    "RiskEvent",
    "classify_capture",
    "classify_pcap",
]
