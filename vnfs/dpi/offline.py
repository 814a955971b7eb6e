"""Offline classification of a capture file: read it, run the engine, return the flow records.

``classify_capture`` is tolerant of a capture that ends inside a record (cut short, or still
being written): it classifies every complete record and reports the cut in ``truncation``, for
the caller to show as a warning. ``classify_pcap`` is the strict form: any problem is raised.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sdnlab.vnfs.dpi.engine import DpiConfig, DpiEngine
from sdnlab.vnfs.dpi.records import FlowRecord, RiskEvent
from sdnlab.vnfs.pcapio import PcapTruncated, read_pcap


@dataclass(frozen=True)
class CaptureClassification:
    """The flows of one capture and what reading it met."""

    records: list[FlowRecord]  # in order of first packet
    risks: list[RiskEvent]
    packets: int  # capture records read (all complete ones)
    truncation: PcapTruncated | None = None  # the capture ends inside a record; the ones before it count


def classify_capture(path: str | Path, config: DpiConfig | None = None) -> CaptureClassification:
    """Classify every complete record of a pcap/pcapng file; a cut at the end is reported, not raised.

    Other problems (not a capture, unreadable, corrupt headers) raise ``PcapError``.
    """
    engine = DpiEngine(config or DpiConfig(max_records=None))
    packets = 0
    truncation = None
    try:
        for ts, frame, linktype in read_pcap(path):
            engine.process_frame(ts, frame, linktype)
            packets += 1
    except PcapTruncated as exc:
        truncation = exc
    engine.flush()
    records = sorted(engine.records(), key=lambda r: r.first_seen)
    return CaptureClassification(records, engine.risks(), packets, truncation)


def classify_pcap(
    path: str | Path, config: DpiConfig | None = None
) -> tuple[list[FlowRecord], list[RiskEvent]]:
    """Every flow of a pcap/pcapng file with its app, in order of first packet, and the risk events.

    Strict: a capture that ends inside a record raises its ``PcapTruncated`` (see ``classify_capture``).
    """
    result = classify_capture(path, config)
    if result.truncation is not None:
        raise result.truncation
    return result.records, result.risks
