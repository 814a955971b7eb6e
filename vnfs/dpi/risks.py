"""Risk rules: per-flow flags from the classification, and a bounded scan detector.

- ``flow_risks``: a pure function from a classified flow to its risk flags: cleartext Telnet,
  and DNS sent to a server not on the allowed list (when one is configured) or to a port other
  than 53. The engine applies it only to flows classified from payload, never to port guesses.
- ``ScanDetector``: counts, per source, the distinct hosts it opens TCP connections to on the
  scan ports (23 and 2323, as Mirai does) within a sliding window; reaching the threshold raises
  one ``TELNET_SCAN`` event per source and window. Its memory is bounded: at most
  ``max_sources`` sources (least recently active evicted) and ``threshold`` hosts each.
"""

from __future__ import annotations

from collections import OrderedDict

from sdnlab.vnfs.dpi import model as m
from sdnlab.vnfs.dpi.records import CLEARTEXT_TELNET, TELNET_SCAN, UNUSUAL_DNS_SERVER, RiskEvent
from sdnlab.vnfs.packet import ip_text


def flow_risks(app: str, server_ip: str, server_port: int, dns_servers: frozenset[str]) -> tuple[str, ...]:
    """Risk flags of a flow classified as ``app`` towards ``server_ip:server_port``."""
    if app == m.TELNET:
        return (CLEARTEXT_TELNET,)
    if app == m.DNS and (server_port != 53 or (dns_servers and server_ip not in dns_servers)):
        return (UNUSUAL_DNS_SERVER,)
    return ()


class ScanDetector:
    """Detects sources opening connections to the scan ports on many distinct hosts."""

    def __init__(
        self,
        ports: frozenset[int] = frozenset({23, 2323}),
        threshold: int = 10,
        window: float = 60.0,
        max_sources: int = 65536,
    ) -> None:
        self.ports = ports
        self.threshold = threshold
        self.window = window
        self.max_sources = max_sources
        # source -> (window start, {destination: last attempt}, alerted in this window)
        self._sources: OrderedDict[int, tuple[float, dict[int, float], bool]] = OrderedDict()

    def observe(
        self, ts: float, source: int, destination: int, dport: int, version: int = 4
    ) -> RiskEvent | None:
        """Record a connection attempt (a TCP SYN) between integer addresses of ``version``.

        Returns an event when the source crosses the threshold.
        """
        if dport not in self.ports:
            return None
        start, targets, alerted = self._sources.pop(source, (ts, {}, False))
        if ts - start > self.window:
            targets = {d: t for d, t in targets.items() if ts - t <= self.window}
            start, alerted = (min(targets.values()) if targets else ts), False
        if (destination not in targets and len(targets) < self.threshold) or destination in targets:
            targets[destination] = ts
        event = None
        if len(targets) >= self.threshold and not alerted:
            alerted = True
            host = ip_text(source, version)
            event = RiskEvent(
                ts,
                TELNET_SCAN,
                host,
                "",
                f"{host} opened TCP {'/'.join(str(p) for p in sorted(self.ports))} to "
                f"{len(targets)} hosts within {self.window:g} s",
                {"hosts": [ip_text(t, version) for t in sorted(targets)], "window_s": self.window},
            )
        self._sources[source] = (start, targets, alerted)
        if len(self._sources) > self.max_sources:
            self._sources.popitem(last=False)
        return event

    def __len__(self) -> int:
        return len(self._sources)
