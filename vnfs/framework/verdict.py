"""What a VNF decides for one packet: forward, drop, rewrite or send to a named port.

A ``Verdict`` is a small immutable value. ``port`` names the egress port (``None`` means the
default egress: the other port of a bump-in-the-wire, the same port when one-armed);
``frame`` replaces the packet's bytes (a rewrite); ``extra`` lists additional frames to emit,
each as ``(port, frame)`` with ``None`` meaning "back out of the ingress port" (a TCP RST or
an ICMP unreachable answering the sender). ``reason`` is a short tag for counters and logs.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Action(enum.Enum):
    """The fate of the packet itself."""

    FORWARD = "forward"
    DROP = "drop"


@dataclass(frozen=True, slots=True)
class Verdict:
    """One decision; build it with ``forward()``, ``drop()``, ``rewrite()`` or ``send_to()``."""

    action: Action
    port: str | None = None
    frame: bytes | None = None
    extra: tuple[tuple[str | None, bytes], ...] = ()
    reason: str = ""

    @property
    def forwards(self) -> bool:
        """True when the packet (possibly rewritten) leaves the VNF."""
        return self.action is Action.FORWARD


FORWARD = Verdict(Action.FORWARD)
DROP = Verdict(Action.DROP)


def forward(reason: str = "") -> Verdict:
    """Pass the packet unchanged to the default egress port."""
    return FORWARD if not reason else Verdict(Action.FORWARD, reason=reason)


def drop(reason: str = "", reply: bytes | None = None) -> Verdict:
    """Discard the packet; ``reply`` (a RST or ICMP error) goes back out of the ingress port."""
    if reply is None:
        return DROP if not reason else Verdict(Action.DROP, reason=reason)
    return Verdict(Action.DROP, extra=((None, reply),), reason=reason)


def rewrite(frame: bytes, port: str | None = None, reason: str = "") -> Verdict:
    """Forward ``frame`` (the modified packet) instead of the original."""
    return Verdict(Action.FORWARD, port=port, frame=frame, reason=reason)


def send_to(port: str, frame: bytes | None = None, reason: str = "") -> Verdict:
    """Forward the packet (or ``frame``) out of the named port instead of the default one."""
    return Verdict(Action.FORWARD, port=port, frame=frame, reason=reason)


def reply(frame: bytes, reason: str = "") -> Verdict:
    """Consume the packet and answer it out of the ingress port (an ARP reply, say)."""
    return Verdict(Action.DROP, extra=((None, frame),), reason=reason)
