"""Errors of the certification package (all ``SdnlabError``: one line on the CLI)."""

from sdnlab.errors import ExitCode, SdnlabError


class CertificationError(SdnlabError):
    """A certification input (framework, exam, attempt, bundle) is invalid or missing."""

    exit_code = 2


class FrameworkError(CertificationError):
    """The skill framework file is invalid."""


class ExamError(CertificationError):
    """An exam file is invalid, or an exam attempt cannot do what was asked."""


class ExamStateError(ExamError):
    """An exam session cannot do what was asked: no exam running, one already running, ended.

    The exit code of a lab that cannot (``LAB_STATE``, like ``sdnlab lab status`` without a lab).
    """

    exit_code = ExitCode.LAB_STATE


class VerificationFailed(SdnlabError):
    """A certificate or evidence bundle does not verify (tampered, wrong key, revoked)."""

    exit_code = ExitCode.VERIFICATION_FAILED


class VariantError(CertificationError):
    """A variable lab (variables, templates, seed) is invalid."""
