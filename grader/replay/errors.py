"""Errors of replay grading and OpenFlow recordings."""

from __future__ import annotations

from sdnlab.errors import GradingError


class ReplayError(GradingError):
    """A recording cannot be read, or a replay scenario cannot be run; the message says which and why."""
