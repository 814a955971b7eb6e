"""nDPI's reference output (``expected/*.out`` of its test suite) and agreement with it.

``read_expected(path)`` returns the labelled flows of one ``.out`` file; ``agreement`` matches
our records to them by 5-tuple in either direction and counts, over the flows whose nDPI
master protocol is one of ``REQUIRED_APPS``, how many got the same app.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from sdnlab.errors import VnfError
from sdnlab.vnfs.dpi.model import REQUIRED_APPS
from sdnlab.vnfs.dpi.records import FlowRecord

_FLOW = re.compile(
    r"^\t\d+\t(TCP|UDP) (\[[0-9a-fA-F:.]+\]|[0-9.]+):(\d+) (<->|->) "
    r"(\[[0-9a-fA-F:.]+\]|[0-9.]+):(\d+) .*?\[proto: [0-9.]+/([^\]]+)\]"
)


@dataclass(frozen=True)
class ExpectedFlow:
    """One flow as nDPI labelled it."""

    proto: str
    a: str
    a_port: int
    b: str
    b_port: int
    label: str  # e.g. "TLS.Google"

    @property
    def master(self) -> str:
        """The master protocol (the part before the dot)."""
        return self.label.split(".", 1)[0]

    def key(self) -> tuple[str, frozenset[tuple[str, int]]]:
        """Direction-independent 5-tuple."""
        return self.proto, frozenset({(self.a, self.a_port), (self.b, self.b_port)})


def read_expected(path: str | Path) -> list[ExpectedFlow]:
    """The labelled flows of an nDPI ``.out`` file."""
    path = Path(path)
    try:
        lines = path.read_text(errors="replace").splitlines()
    except OSError as exc:
        raise VnfError(f"{path}: cannot read: {exc.strerror}") from None
    flows = []
    for line in lines:
        found = _FLOW.match(line)
        if found:
            proto, a, a_port, _arrow, b, b_port, label = found.groups()
            flows.append(
                ExpectedFlow(
                    proto, _address(a.strip("[]")), int(a_port), _address(b.strip("[]")), int(b_port), label
                )
            )
    return flows


def _address(text: str) -> str:
    """One canonical text per address (nDPI and Python compress IPv6 zero groups differently)."""
    try:
        return ipaddress.ip_address(text).compressed
    except ValueError:
        return text


def record_key(record: FlowRecord) -> tuple[str, frozenset[tuple[str, int]]]:
    """Direction-independent 5-tuple of one of our records."""
    return record.proto, frozenset(
        {(_address(record.src), record.sport), (_address(record.dst), record.dport)}
    )


@dataclass
class Agreement:
    """Counts of agreement with nDPI over the required protocols."""

    compared: int = 0
    agreed: int = 0
    mismatches: list[tuple[str, ExpectedFlow, str]] = field(
        default_factory=list
    )  # (capture, nDPI flow, ours)

    @property
    def ratio(self) -> float:
        """Fraction of compared flows with the same app (1.0 when none were compared)."""
        return self.agreed / self.compared if self.compared else 1.0


def agreement(
    capture: str,
    expected: Iterable[ExpectedFlow],
    records: Iterable[FlowRecord],
    into: Agreement | None = None,
) -> Agreement:
    """Compare our records with nDPI's flows for one capture, adding to ``into``."""
    result = into or Agreement()
    ours = {record_key(r): r.app for r in records}
    for flow in expected:
        if flow.master not in REQUIRED_APPS:
            continue
        result.compared += 1
        app = ours.get(flow.key(), "<no flow>")
        if app == flow.master:
            result.agreed += 1
        else:
            result.mismatches.append((capture, flow, app))
    return result
