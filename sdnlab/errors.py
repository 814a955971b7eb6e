"""The project's error hierarchy: every user-facing mistake is an ``SdnlabError``.

The CLI catches ``SdnlabError`` once, prints its message on one line and exits with the
error's ``exit_code``; anything else is a bug and keeps its traceback.
"""


class SdnlabError(Exception):
    """Base of all errors caused by user input or the environment, not by bugs."""

    exit_code = 1


class EnvironmentProblem(SdnlabError):
    """The machine lacks something (root, Open vSwitch, a binary)."""

    exit_code = 3


class TopologyError(SdnlabError):
    """A topology file or parameter is invalid."""

    exit_code = 2


class LabError(SdnlabError):
    """A running lab cannot do what was asked (not running, unknown host, ...)."""

    exit_code = 4


class LabConfigError(SdnlabError):
    """A lab package (lab.yaml, texts, solutions) is invalid."""

    exit_code = 2


class ControllerError(SdnlabError):
    """The controller cannot start or an app cannot be loaded."""

    exit_code = 5


class GradingError(SdnlabError):
    """Flow dumps, specs or behaviours given to the grader are invalid."""

    exit_code = 2


class VnfError(SdnlabError):
    """A VNF config, capture or run is invalid."""

    exit_code = 2
