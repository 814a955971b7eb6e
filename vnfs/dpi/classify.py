"""Flow classification as a pure function: ``step(state, payload, view) -> new state``.

A flow's ``Classification`` is an immutable value. ``step`` takes it and one payload packet
and returns the next value; nothing else is read or written, so the classifier can be tested
packet by packet and the engine only stores what ``step`` returns.

The dissectors are tried in the order ``dissector_order`` gives (dissectors whose well-known
ports the flow uses first, then the rest; all check structure). A dissector that answers "not
this protocol" is never asked again for that flow. The first ``Match`` decides the app; when
it asks for more packets, only that dissector's ``enrich`` sees the following payloads, for at
most ``Limits.enrich_packets`` of them. After ``Limits.max_payload_packets`` payloads without a
match, after ``Limits.max_packets`` packets of any kind (the engine checks that one), or when
every dissector has declined, the flow gives up: ``Unknown``, or when
``Limits.port_guess`` is on, the app whose well-known port the server uses, with confidence
``port`` (what nDPI calls "match by port").
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, NamedTuple

from sdnlab.vnfs.dpi import model as m
from sdnlab.vnfs.dpi.model import Context, Match, More
from sdnlab.vnfs.dpi.protocols import DISSECTORS

# Port-based guesses used only when payload inspection found nothing (confidence "port").
PORT_GUESSES = {
    (m.TCP, 443): m.TLS,
    (m.TCP, 8443): m.TLS,
    (m.UDP, 443): m.QUIC,
    (m.TCP, 80): m.HTTP,
    (m.TCP, 8080): m.HTTP,
    (m.TCP, 22): m.SSH,
    (m.TCP, 23): m.TELNET,
    (m.TCP, 2323): m.TELNET,
    (m.TCP, 21): m.FTP_CONTROL,
    (m.UDP, 53): m.DNS,
    (m.TCP, 53): m.DNS,
    (m.UDP, 123): m.NTP,
    (m.UDP, 161): m.SNMP,
    (m.UDP, 162): m.SNMP,
    (m.UDP, 514): m.SYSLOG,
    (m.TCP, 1883): m.MQTT,
    (m.TCP, 8883): m.MQTT,
    (m.UDP, 5683): m.COAP,
    (m.TCP, 554): m.RTSP,
    (m.TCP, 5060): m.SIP,
    (m.UDP, 5060): m.SIP,
    (m.UDP, 1900): m.SSDP,
    (m.TCP, 5672): m.AMQP,
    (m.TCP, 502): m.MODBUS,
    (m.TCP, 20000): m.DNP3,
    (m.TCP, 2404): m.IEC60870,
    (m.TCP, 4059): m.IEC62056,
    (m.UDP, 4059): m.IEC62056,
}


@dataclass(frozen=True)
class Limits:
    """Bounds on how long a flow is inspected."""

    max_payload_packets: int = 12  # payload packets inspected before giving up
    max_packets: int = 32  # packets of any kind (bare ACKs, retransmissions) before an undecided flow
    # gives up; a matched flow stops enriching after max_packets + enrich_packets packets
    enrich_packets: int = 32  # payload packets a matched flow's metadata may still use
    port_guess: bool = True  # give a port-based app (confidence "port") instead of Unknown


class Classification(NamedTuple):
    """A flow's classification so far (immutable)."""

    app: str | None = None  # None while undecided
    metadata: dict[str, Any] = {}  # noqa: RUF012  # never mutated: steps build new dicts (the engine compares identity)
    confidence: str = ""  # "dpi", "expected" (announced by another flow), "port" or "" (Unknown)
    excluded: frozenset[int] = frozenset()  # dissectors that declined
    scratch: tuple[tuple[int, Any], ...] = ()  # (dissector index, scratch) of undecided dissectors
    payloads: tuple[int, int] = (0, 0)  # payload packets seen (client->server, server->client)
    enriching: int = -1  # index of the dissector still completing metadata, or -1
    enrich_left: int = 0

    @property
    def decided(self) -> bool:
        """The app is known (possibly Unknown)."""
        return self.app is not None

    @property
    def finished(self) -> bool:
        """Nothing more to learn from later packets."""
        return self.app is not None and self.enriching < 0


class PacketView(NamedTuple):
    """The per-packet facts ``step`` needs besides the payload."""

    transport: int
    from_client: bool
    client_port: int
    server_port: int
    stream: bytes  # the direction's in-order bytes so far (TCP) or the payload (UDP)


@lru_cache(maxsize=4096)
def dissector_order(transport: int, client_port: int, server_port: int) -> tuple[int, ...]:
    """Indices of the dissectors for this transport, port-hinted ones first."""
    usable = [i for i, d in enumerate(DISSECTORS) if transport in d.transports]
    hinted = [i for i in usable if server_port in DISSECTORS[i].ports]
    hinted += [i for i in usable if client_port in DISSECTORS[i].ports and i not in hinted]
    return tuple(hinted + [i for i in usable if i not in hinted])


def step(
    state: Classification, payload: bytes, view: PacketView, limits: Limits = Limits()
) -> Classification:
    """The classification after one more payload packet of the flow."""
    if state.finished or not payload:
        return state
    direction = 0 if view.from_client else 1
    index = state.payloads[direction]
    payloads = (
        (state.payloads[0] + 1, state.payloads[1])
        if direction == 0
        else (state.payloads[0], state.payloads[1] + 1)
    )
    if state.enriching >= 0:
        ctx = Context(
            view.transport, view.from_client, view.client_port, view.server_port, index, None, view.stream
        )
        try:
            metadata, done = DISSECTORS[state.enriching].enrich(payload, ctx, state.metadata)
        except (IndexError, ValueError, KeyError, UnicodeError, OverflowError, struct.error):
            metadata, done = state.metadata, True
        left = state.enrich_left - 1
        return state._replace(
            metadata=metadata,
            payloads=payloads,
            enriching=-1 if done or left <= 0 else state.enriching,
            enrich_left=left,
        )
    scratch = dict(state.scratch)
    excluded = set(state.excluded)
    candidates = 0
    for i in dissector_order(view.transport, view.client_port, view.server_port):
        if i in excluded:
            continue
        ctx = Context(
            view.transport,
            view.from_client,
            view.client_port,
            view.server_port,
            index,
            scratch.get(i),
            view.stream,
        )
        try:
            result = DISSECTORS[i].detect(payload, ctx)
        except (IndexError, ValueError, KeyError, UnicodeError, OverflowError, struct.error):
            result = None  # a dissector tripping over odd input declines instead of failing the flow
        if result is None:
            excluded.add(i)
            scratch.pop(i, None)
        elif isinstance(result, More):
            scratch[i] = result.scratch
            candidates += 1
        elif isinstance(result, Match):
            enriching = -1 if result.done else i
            return Classification(
                result.app,
                result.metadata,
                "dpi",
                frozenset(excluded),
                (),
                payloads,
                enriching,
                limits.enrich_packets if enriching >= 0 else 0,
            )
    state = Classification(None, {}, "", frozenset(excluded), tuple(scratch.items()), payloads)
    if candidates == 0 or sum(payloads) >= limits.max_payload_packets:
        return give_up(state, view.transport, view.server_port, limits)
    return state


def give_up(
    state: Classification, transport: int, server_port: int, limits: Limits = Limits()
) -> Classification:
    """Close an undecided classification: a port guess (if allowed) or Unknown."""
    if state.decided:
        return state._replace(enriching=-1)
    guess = PORT_GUESSES.get((transport, server_port)) if limits.port_guess else None
    if guess is not None:
        return state._replace(app=guess, confidence="port", scratch=(), enriching=-1)
    return state._replace(app=m.UNKNOWN, confidence="", scratch=(), enriching=-1)


def expected(app: str, metadata: dict[str, Any] | None = None) -> Classification:
    """The classification of a flow another flow announced (an FTP data connection...)."""
    return Classification(app, metadata or {}, "expected")
