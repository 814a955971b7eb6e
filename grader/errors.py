"""Errors raised by the grader: bad flow dumps, bad specs, states the grader cannot collect."""

from __future__ import annotations

from sdnlab.errors import GradingError, LabError


class FlowParseError(GradingError):
    """A flow, group or port dump line cannot be parsed; the message names source:line."""

    def __init__(self, source: str, line: int, problem: str, text: str = ""):
        self.source, self.line, self.problem = source, line, problem
        shown = f" in {text.strip()[:120]!r}" if text else ""
        super().__init__(f"{source}:{line}: {problem}{shown}")


class SpecError(GradingError):
    """A behaviour spec is invalid; the message names file:line and the field."""


class CollectError(LabError):
    """Flow state cannot be collected from a lab, a directory or a REST endpoint."""


class InputFileError(GradingError):
    """A file given to the grader cannot be read."""


class OutputFileError(GradingError):
    """A report file the grader was asked to write (``--junit``) cannot be written."""
