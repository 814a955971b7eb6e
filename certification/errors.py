"""Errors of the certification package (all ``SdnlabError``: one line on the CLI)."""

from sdnlab.errors import ExitCode, SdnlabError


class CertificationError(SdnlabError):
    """A certification input (framework, exam, attempt, bundle) is invalid or missing."""

    exit_code = 2


class FrameworkError(CertificationError):
    """The skill framework file is invalid."""


class ExamError(CertificationError):
    """An exam file is invalid, or an exam attempt cannot do what was asked."""


class VerificationFailed(SdnlabError):
    """A certificate or evidence bundle does not verify (tampered, wrong key, revoked)."""

    exit_code = ExitCode.VERIFICATION_FAILED


class VariantError(CertificationError):
    """A variable lab (variables, templates, seed) is invalid."""
