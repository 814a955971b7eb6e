"""The project's error hierarchy: every user-facing mistake is an ``SdnlabError``.

The CLI catches ``SdnlabError`` once, prints its message on one line and exits with the
error's ``exit_code``; anything else is a bug and keeps its traceback. The exit codes are
named in ``ExitCode`` (documented for users in docs/cli.md).
"""

from enum import IntEnum


class ExitCode(IntEnum):
    """Exit codes of the ``sdnlab`` command (one list, docs/cli.md explains them)."""

    OK = 0
    FAILED = 1  # the command ran and its answer is "no": a grade below 100%, a failing check
    INVALID_INPUT = 2  # a user file, option or argument is invalid (also command-line usage errors)
    ENVIRONMENT = 3  # the machine lacks something: root, Open vSwitch, a binary
    LAB_STATE = 4  # a running lab cannot do what was asked: not running, unknown host, ...
    CONTROLLER = 5  # the controller cannot start or an app cannot be loaded
    VERIFICATION_FAILED = 6  # a certificate or evidence bundle does not verify (sdnlab cert verify)
    INTERRUPTED = 130  # Ctrl-C (what was started is cleaned up)


class SdnlabError(Exception):
    """Base of all errors caused by user input or the environment, not by bugs."""

    exit_code: int = ExitCode.FAILED


class EnvironmentProblem(SdnlabError):
    """The machine lacks something (root, Open vSwitch, a binary)."""

    exit_code = ExitCode.ENVIRONMENT


class TopologyError(SdnlabError):
    """A topology file or parameter is invalid."""

    exit_code = ExitCode.INVALID_INPUT


class LabError(SdnlabError):
    """A running lab cannot do what was asked (not running, unknown host, ...)."""

    exit_code = ExitCode.LAB_STATE


class UsageError(LabError):
    """A command-line option or argument is invalid (``--controller``, ``--protocols``, a lab name).

    A ``LabError`` for callers that catch those, with the exit code of invalid input.
    """

    exit_code = ExitCode.INVALID_INPUT


class LabConfigError(SdnlabError):
    """A lab package (lab.yaml, texts, solutions) is invalid."""

    exit_code = ExitCode.INVALID_INPUT


class ControllerError(SdnlabError):
    """The controller cannot start or an app cannot be loaded."""

    exit_code = ExitCode.CONTROLLER


class GradingError(SdnlabError):
    """Flow dumps, specs or behaviours given to the grader are invalid."""

    exit_code = ExitCode.INVALID_INPUT


class VnfError(SdnlabError):
    """A VNF config, capture or run is invalid."""

    exit_code = ExitCode.INVALID_INPUT
