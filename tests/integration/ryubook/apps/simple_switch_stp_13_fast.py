"""The spanning tree chapter's switch with short timers, so a test converges in seconds.

hello 1 s, max age 6 s, forward delay 3 s: a port reaches FORWARD 6 s after it starts listening.
"""

from simple_switch_stp_13 import SpanningTreeSwitch13


class FastSpanningTreeSwitch13(SpanningTreeSwitch13):
    """``SpanningTreeSwitch13`` with 1/6/3-second STP timers."""

    TIMERS = (1, 6, 3)
