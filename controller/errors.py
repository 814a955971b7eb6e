"""Errors raised by the controller package (all are ``sdnlab.errors.ControllerError``)."""

from sdnlab.errors import ControllerError


class AppLoadError(ControllerError):
    """An app module or file cannot be found or imported, or defines no app class."""


class ListenError(ControllerError):
    """The OpenFlow or REST listening address cannot be bound."""


class ControllerConfigError(ControllerError):
    """The built-in app's configuration file (SDNLAB_CONTROLLER_CONFIG) is invalid."""


class OptionsError(ControllerError):
    """A ``--config-file`` is missing, unreadable, malformed or holds a bad value."""
