"""Errors of the lab catalogue: broken lab packages, and lab sessions that cannot do what was asked."""

from __future__ import annotations

from sdnlab.errors import LabConfigError, LabError


class LabPackageError(LabConfigError):
    """A lab package (lab.yaml, texts, starter, solution) is invalid; the message names file:line: field."""


class LabSessionError(LabError):
    """No lab session is active, or the session cannot do what was asked."""


class ProgressError(LabError):
    """The progress store cannot be read or written."""


class NoMoreHints(LabSessionError):
    """Every hint of the lab has been shown (``sdnlab lab hint`` says so and exits 0)."""
