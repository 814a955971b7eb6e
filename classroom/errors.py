"""Errors of the classroom server; the API turns each into a JSON ``{"error": ...}`` with its HTTP status."""

from sdnlab.errors import SdnlabError


class ClassroomError(SdnlabError):
    """A classroom request or command that cannot be done as asked."""

    exit_code = 2
    status = 400


class AccountError(ClassroomError):
    """A user, role, class or password that is not acceptable."""


class NotFound(ClassroomError):
    """The thing asked for does not exist (or is not the caller's)."""

    status = 404


class Conflict(ClassroomError):
    """The request does not fit the current state (no running lab, one already running)."""

    status = 409


class ClassFull(ClassroomError):
    """The host runs as many sandboxes as it may."""

    status = 503


class PrintUnavailable(ClassroomError):
    """The server cannot print a PDF now (no Chromium, it failed or took too long, or it is busy)."""

    status = 503


class SandboxError(ClassroomError):
    """The sandbox backend or its agent failed to do what was asked."""

    exit_code = 4
    status = 502


class HttpError(ClassroomError):
    """An error with an explicit HTTP status."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
