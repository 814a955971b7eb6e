"""Errors raised by the VNF framework and the VNFs, all under ``sdnlab.errors.VnfError``."""

from sdnlab.errors import LabError, VnfError


class VnfConfigError(VnfError):
    """A VNF configuration file is invalid; the message lists every problem as file:line: field."""


class VnfLoadError(VnfError):
    """A VNF kind or researcher module cannot be found or does not define a VNF."""


class VnfCodeError(VnfError):
    """A VNF's own code (``handle``, ``tick``, ``parse_config``, ...) raised an exception; the
    message names the VNF file, what was being done (the packet number offline) and the line
    of the VNF's code that raised."""


class VnfOptionError(VnfError):
    """A command-line option of ``sdnlab vnf`` is invalid (``--mode``, ``--workers``, ``--in-port``, ...)."""


class VnfRunError(LabError):
    """A VNF cannot be started, stopped or queried in a running lab."""
