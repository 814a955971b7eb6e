"""The vocabulary shared by the DPI dissectors, the classifier and the engine.

A *dissector* recognises one application protocol from payload structure. It is a stateless
object with ``detect(payload, ctx) -> Match | More | None``:

- ``Match(app, metadata)``: this flow is that protocol (``done=False`` asks for later payloads
  through ``enrich`` to complete the metadata, e.g. the TLS version from the ServerHello);
- ``More(scratch)``: undecided; try again on the next payload packet of the flow, handing
  ``scratch`` back through ``ctx.scratch`` (a dissector's only memory, owned by the flow);
- ``None``: not this protocol; the flow never asks this dissector again.

App names are spelled as nDPI spells its protocols, so records compare with nDPI's output.
"""

from __future__ import annotations

from typing import Any, NamedTuple, Protocol

# Application names, as nDPI spells them.
HTTP = "HTTP"
TLS = "TLS"
DNS = "DNS"
MDNS = "MDNS"
LLMNR = "LLMNR"
QUIC = "QUIC"
MQTT = "MQTT"
COAP = "COAP"  # nDPI's spelling of CoAP
RTSP = "RTSP"
RTP = "RTP"
RTCP = "RTCP"
SIP = "SIP"
TELNET = "Telnet"
SSH = "SSH"
FTP_CONTROL = "FTP_CONTROL"
FTP_DATA = "FTP_DATA"
NTP = "NTP"
SNMP = "SNMP"
SYSLOG = "Syslog"
SSDP = "SSDP"
AMQP = "AMQP"
MODBUS = "Modbus"
DNP3 = "DNP3"
IEC60870 = "IEC60870"
IEC62056 = "IEC62056"
UNKNOWN = "Unknown"

# The protocols the issue asks for (the accuracy figure is computed over these).
REQUIRED_APPS = frozenset(
    {
        HTTP,
        TLS,
        DNS,
        QUIC,
        MQTT,
        COAP,
        RTSP,
        RTP,
        SIP,
        TELNET,
        SSH,
        FTP_CONTROL,
        FTP_DATA,
        NTP,
        SNMP,
        SYSLOG,
        SSDP,
        AMQP,
        MODBUS,
        DNP3,
        IEC60870,
        IEC62056,
    }
)

TCP = 6
UDP = 17


class Context(NamedTuple):
    """What a dissector may know besides the payload bytes."""

    transport: int  # 6 (TCP) or 17 (UDP)
    from_client: bool  # sent by the flow's initiator
    client_port: int
    server_port: int
    index: int  # type: ignore[assignment]  # the field shadows tuple.index; dissectors read ctx.index: 0 for the first payload packet of this direction, 1 for the next...
    scratch: Any  # what this dissector returned in ``More`` last time (None at first)
    stream: bytes  # TCP: this direction's in-order bytes so far (bounded); UDP: the payload

    @property
    def ports(self) -> tuple[int, int]:
        """(client port, server port)."""
        return self.client_port, self.server_port


class Match(NamedTuple):
    """A positive identification."""

    app: str
    metadata: dict[str, Any]
    done: bool = True  # False: call ``enrich`` on later payloads to complete the metadata
    scratch: Any = None


class More(NamedTuple):
    """Undecided: look at the next payload packet."""

    scratch: Any = None


Result = Match | More | None


class Dissector(Protocol):
    """One application protocol's recogniser (see the module docstring)."""

    name: str  # the app name it reports
    transports: frozenset[int]  # {6}, {17} or both
    ports: frozenset[int]  # well-known ports: a hint that orders the dissectors, never a verdict

    def detect(self, payload: bytes, ctx: Context) -> Result:
        """Decide from one payload whether the flow is this protocol."""

    def enrich(self, payload: bytes, ctx: Context, metadata: dict[str, Any]) -> tuple[dict[str, Any], bool]:
        """Complete the metadata of a matched flow; returns (metadata, done)."""
