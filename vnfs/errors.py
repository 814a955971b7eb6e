"""Errors raised by the VNF framework and the VNFs, all under ``sdnlab.errors.VnfError``."""

from sdnlab.errors import LabError, VnfError


class VnfConfigError(VnfError):
    """A VNF configuration file is invalid; the message lists every problem as file:line: field."""


class VnfLoadError(VnfError):
    """A VNF kind or researcher module cannot be found or does not define a VNF."""


class VnfRunError(LabError):
    """A VNF cannot be started, stopped or queried in a running lab."""
