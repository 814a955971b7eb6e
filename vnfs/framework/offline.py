"""Run a VNF offline over a capture: every frame goes through ``process`` in order, with the
capture's timestamps as the clock; forwarded (and rewritten or extra) frames go to an output
capture. This is ``sdnlab vnf test MYVNF.py --pcap IN.pcap [--out OUT.pcap]``."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sdnlab.vnfs.framework.base import VNF


@dataclass
class OfflineResult:
    """What happened to the capture's frames."""

    packets: int = 0
    forwarded: int = 0
    dropped: int = 0
    extra_frames: int = 0
    rewritten: int = 0
    reasons: Counter = field(default_factory=Counter)
    stats: dict = field(default_factory=dict)
    log: list[dict] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly summary."""
        return {"packets": self.packets, "forwarded": self.forwarded, "dropped": self.dropped,
                "rewritten": self.rewritten, "extra_frames": self.extra_frames,
                "reasons": dict(self.reasons), "stats": self.stats}


def run_frames(vnf: VNF, frames: list[tuple[float, bytes]], in_port: str | None = None) -> tuple[OfflineResult, list[tuple[float, bytes]]]:
    """Feed (timestamp, frame) pairs to ``vnf``; returns the result and the emitted frames."""
    result = OfflineResult()
    out: list[tuple[float, bytes]] = []
    port = in_port or vnf.ports[0]
    last_tick = None
    for ts, frame in frames:
        if last_tick is None or ts - last_tick >= 1.0:
            vnf.tick(ts)
            last_tick = ts
        verdict = vnf.process(frame, port, ts)
        result.packets += 1
        if verdict.reason:
            result.reasons[verdict.reason] += 1
        if verdict.forwards:
            result.forwarded += 1
            if verdict.frame is not None:
                result.rewritten += 1
            out.append((ts, frame if verdict.frame is None else verdict.frame))
        else:
            result.dropped += 1
        for _port, extra in verdict.extra:
            result.extra_frames += 1
            out.append((ts, extra))
    result.stats = vnf.stats()
    result.log = list(vnf.log.lines)
    return result, out


def run_capture(vnf: VNF, pcap: str | Path, out: str | Path | None = None, in_port: str | None = None) -> OfflineResult:
    """Run ``vnf`` over a pcap/pcapng file and optionally write what it emitted to ``out``."""
    from sdnlab.vnfs import pcapio
    from sdnlab.vnfs.errors import VnfError

    frames = []
    for number, record in enumerate(pcapio.read_pcap(pcap), 1):
        if record.linktype != 1:
            raise VnfError(f"{pcap}: packet {number}: link type {record.linktype} is not Ethernet; "
                           "VNFs work on Ethernet frames")
        frames.append((record.ts, record.frame))
    result, emitted = run_frames(vnf, frames, in_port)
    if out is not None:
        pcapio.write_pcap(out, emitted)
    vnf.close()
    return result
