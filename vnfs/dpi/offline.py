"""Offline classification of a capture file: read it, run the engine, return the flow records."""

from __future__ import annotations

from pathlib import Path

from sdnlab.vnfs.dpi.engine import DpiConfig, DpiEngine
from sdnlab.vnfs.dpi.records import FlowRecord, RiskEvent
from sdnlab.vnfs.pcapio import read_pcap


def classify_pcap(path: str | Path, config: DpiConfig | None = None) -> tuple[list[FlowRecord], list[RiskEvent]]:
    """Every flow of a pcap/pcapng file with its app, in order of first packet, and the risk events."""
    config = config or DpiConfig(max_records=None)
    engine = DpiEngine(config)
    for ts, frame, linktype in read_pcap(path):
        engine.process_frame(ts, frame, linktype)
    engine.flush()
    records = sorted(engine.records(), key=lambda r: r.first_seen)
    return records, engine.risks()
