"""The dissectors, one module per protocol family, and the default order they are tried in.

``DISSECTORS`` is ordered from the most to the least specific structure; a flow tries the
dissectors whose well-known ports it uses first (a hint only: every dissector still checks the
payload's structure).
"""

from __future__ import annotations

from sdnlab.vnfs.dpi.protocols.dns import Dns
from sdnlab.vnfs.dpi.protocols.ics import Dlms, Dnp3, Iec104, Modbus
from sdnlab.vnfs.dpi.protocols.infra import Ntp, Rtp, Snmp, Syslog
from sdnlab.vnfs.dpi.protocols.iot import Amqp, Coap, Mqtt
from sdnlab.vnfs.dpi.protocols.text import Ftp, Ssh, StartLine, Telnet
from sdnlab.vnfs.dpi.protocols.tls import Quic, Tls

DISSECTORS = (
    Tls(),
    StartLine(),
    Ssh(),
    Ftp(),
    Telnet(),
    Dnp3(),
    Iec104(),
    Modbus(),
    Dlms(),
    Amqp(),
    Mqtt(),
    Dns(),
    Quic(),
    Snmp(),
    Coap(),
    Ntp(),
    Syslog(),
    Rtp(),
)

__all__ = ["DISSECTORS"]
