"""The backend pool as data: backends from the config plus their live state.

``Backend`` is the validated, immutable description (name, address, port, MAC, weight);
``BackendState`` carries what changes at run time (health, active connections, counters).
A backend takes new flows when it is healthy and its weight is above zero: weight 0 drains
it (existing flows stay, new ones go elsewhere).
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Backend:
    """One real server behind the virtual IP."""

    name: str
    ip: str
    port: int | None = None  # None keeps the client's destination port
    mac: bytes | None = None  # None keeps the frame's destination MAC
    weight: int = 1

    @property
    def ip_bytes(self) -> bytes:
        """The address as 4 bytes."""
        return bytes(int(part) for part in self.ip.split("."))


@dataclass(slots=True)
class BackendState:
    """A backend with its run-time health and statistics."""

    backend: Backend
    healthy: bool = True
    active: int = 0
    flows: int = 0
    packets: int = 0
    bytes: int = 0
    health_changes: int = 0
    last_check: str = ""
    extra: dict = field(default_factory=dict)

    @property
    def name(self) -> str:
        """The backend's name."""
        return self.backend.name

    @property
    def weight(self) -> int:
        """The backend's configured weight."""
        return self.backend.weight

    @property
    def available(self) -> bool:
        """True when this backend takes new flows."""
        return self.healthy and self.backend.weight > 0

    def to_dict(self) -> dict:
        """Statistics for ``sdnlab vnf status``."""
        return {
            "ip": self.backend.ip,
            "port": self.backend.port,
            "weight": self.backend.weight,
            "healthy": self.healthy,
            "active": self.active,
            "flows": self.flows,
            "packets": self.packets,
            "bytes": self.bytes,
            "health_changes": self.health_changes,
            "last_check": self.last_check,
        }
