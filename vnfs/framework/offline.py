"""Run a VNF offline over a capture: every frame goes through ``process`` in order, with the
capture's timestamps as the clock; forwarded (and rewritten or extra) frames go to an output
capture. This is ``sdnlab vnf test MYVNF.py --pcap IN.pcap [--out OUT.pcap]``.

Offline, an exception from the VNF's own code stops the run with a one-line ``VnfCodeError``
naming the VNF, the packet number in the capture and the VNF's line that raised (the live
engine instead counts it and goes on, see ``VNF.handler_failed``). Every drop is counted under
a reason: the verdict's, or ``unspecified`` when the VNF returned a bare ``drop()``.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sdnlab.vnfs.errors import VnfCodeError, VnfError, VnfOptionError
from sdnlab.vnfs.framework.base import VNF, StageError
from sdnlab.vnfs.framework.faults import (
    ProcessExitCalled,
    TimeBudgetExceeded,
    describe,
    guarded_exits,
    source_file,
    time_budget,
)
from sdnlab.vnfs.framework.loader import close_vnf, vnf_label

#: the drop reason counted for a drop verdict that gives none
UNSPECIFIED = "unspecified"
#: seconds one call of the VNF's code (handle, tick) may take offline before the run stops
PACKET_BUDGET_S = 2.0
#: what stops an offline run when the VNF's own code raises it: exceptions, and the exits and
#: endless loops that would otherwise end or hang ``vnf test`` without naming a packet
STOPS = (Exception, SystemExit, ProcessExitCalled, TimeBudgetExceeded, KeyboardInterrupt)


@dataclass
class OfflineResult:
    """What happened to the capture's frames."""

    packets: int = 0
    forwarded: int = 0
    dropped: int = 0
    extra_frames: int = 0
    rewritten: int = 0
    #: every verdict's reason (forwards that carry one, and every drop)
    reasons: Counter = field(default_factory=Counter)
    #: why packets were dropped; the counts add up to ``dropped``
    drop_reasons: Counter = field(default_factory=Counter)
    stats: dict = field(default_factory=dict)
    log: list[dict] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly summary."""
        return {
            "packets": self.packets,
            "forwarded": self.forwarded,
            "dropped": self.dropped,
            "rewritten": self.rewritten,
            "extra_frames": self.extra_frames,
            "reasons": dict(self.reasons),
            "drop_reasons": dict(self.drop_reasons),
            "stats": self.stats,
        }


def check_in_port(vnf: VNF, in_port: str | None) -> str:
    """The ingress port to use: ``in_port`` if the VNF has it, else its first port."""
    if in_port is None:
        return vnf.ports[0]
    if in_port not in vnf.ports:
        raise VnfOptionError(
            f"--in-port {in_port!r}: the VNF has no such port (its ports: {', '.join(vnf.ports)})"
        )
    return in_port


def _code_error(vnf: VNF, what: str, exc: BaseException, budget: float | None = None) -> VnfCodeError:
    if isinstance(exc, StageError):  # a chain's stage: name it, and point at its own code
        vnf, what, exc = exc.vnf, f"stage {exc.name!r}: {what}", exc.original
    cls = type(vnf)
    verb = "raised " if isinstance(exc, Exception) else ""
    return VnfCodeError(f"{vnf_label(cls)}: {what} {verb}{describe(exc, source_file(cls), budget)}")


def run_frames(
    vnf: VNF,
    frames: list[tuple[float, bytes]],
    in_port: str | None = None,
    source: str = "the capture",
    budget_s: float | None = PACKET_BUDGET_S,
) -> tuple[OfflineResult, list[tuple[float, bytes]]]:
    """Feed (timestamp, frame) pairs to ``vnf``; returns the result and the emitted frames.

    Each call of the VNF's code gets ``budget_s`` seconds; ``sys.exit``, ``os._exit``, an endless
    loop or Ctrl-C stop the run with the packet number and the VNF's line, like an exception.
    """
    with guarded_exits():
        return _run_frames(vnf, frames, in_port, source, budget_s)


def _run_frames(
    vnf: VNF, frames: list[tuple[float, bytes]], in_port: str | None, source: str, budget_s: float | None
) -> tuple[OfflineResult, list[tuple[float, bytes]]]:
    result = OfflineResult()
    out: list[tuple[float, bytes]] = []
    port = check_in_port(vnf, in_port)
    vnf.fail_fast = True  # a chain's stage that raises stops the run, as a VNF alone would
    last_tick = None
    for number, (ts, frame) in enumerate(frames, 1):
        if last_tick is None or ts - last_tick >= 1.0:
            try:
                with time_budget(budget_s):
                    vnf.tick(ts)
            except STOPS as exc:
                raise _code_error(vnf, f"tick() before packet {number} of {source}", exc, budget_s) from None
            last_tick = ts
        try:
            with time_budget(budget_s):
                verdict = vnf.process(frame, port, ts)
        except STOPS as exc:
            raise _code_error(vnf, f"packet {number} of {source}: handle()", exc, budget_s) from None
        result.packets += 1
        if verdict.forwards:
            if verdict.reason:
                result.reasons[verdict.reason] += 1
            result.forwarded += 1
            if verdict.frame is not None:
                result.rewritten += 1
            out.append((ts, frame if verdict.frame is None else verdict.frame))
        else:
            reason = verdict.reason or UNSPECIFIED
            result.reasons[reason] += 1
            result.drop_reasons[reason] += 1
            result.dropped += 1
        for _port, extra in verdict.extra:
            result.extra_frames += 1
            out.append((ts, extra))
    try:
        with time_budget(budget_s):
            result.stats = vnf.stats()
    except STOPS as exc:
        raise _code_error(vnf, "stats()", exc, budget_s) from None
    result.log = list(vnf.log.lines)
    return result, out


def run_capture(
    vnf: VNF, pcap: str | Path, out: str | Path | None = None, in_port: str | None = None
) -> OfflineResult:
    """Run ``vnf`` over a pcap/pcapng file and optionally write what it emitted to ``out``."""
    from sdnlab.vnfs import pcapio

    check_in_port(vnf, in_port)  # before reading anything
    frames = []
    for number, record in enumerate(pcapio.read_pcap(pcap), 1):
        if record.linktype != 1:
            raise VnfError(
                f"{pcap}: packet {number}: link type {record.linktype} is not Ethernet; "
                "VNFs work on Ethernet frames"
            )
        frames.append((record.ts, record.frame))
    try:
        result, emitted = run_frames(vnf, frames, in_port, source=str(pcap))
        if out is not None:
            pcapio.write_pcap(out, emitted)
    except BaseException:
        try:
            vnf.close()
        except Exception:
            pass
        raise
    close_vnf(vnf)
    return result
