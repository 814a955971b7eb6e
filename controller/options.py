"""Command-line options shared by the runner and the REST layer (os-ken's oslo ``CONF``).

os-ken registers the OpenFlow, topology and logging options in its own modules; the options
Ryu's ``ryu.app.wsgi`` used to own (``--wsapi-host``, ``--wsapi-port``) and the positional app
list are registered here, once.
"""

from __future__ import annotations

import re

from os_ken import cfg
from oslo_config import cfg as oslo_cfg

from sdnlab import textfile
from sdnlab.controller.errors import OptionsError

DEFAULT_OFP_HOST = "127.0.0.1"
DEFAULT_OFP_PORT = 6653
DEFAULT_WSAPI_HOST = "127.0.0.1"
DEFAULT_WSAPI_PORT = 8080

WSAPI_OPTS = [
    cfg.StrOpt("wsapi-host", default=DEFAULT_WSAPI_HOST, help="REST API listen host"),
    cfg.IntOpt("wsapi-port", default=DEFAULT_WSAPI_PORT, help="REST API listen port"),
    cfg.StrOpt(
        "wsapi-token-file",
        default=None,
        help="file holding the token every REST request must carry "
        "(Authorization: Bearer TOKEN or X-Sdnlab-Token: TOKEN); unset: no token needed",
    ),
    cfg.StrOpt(
        "wsapi-server",
        default="cheroot",
        choices=["cheroot", "wsgiref"],
        help="REST HTTP server: cheroot (worker pool, limits) or wsgiref (the old one, for benchmarks)",
    ),
]
OFP_LIMIT_OPTS = [
    cfg.FloatOpt(
        "ofp-message-timeout",
        default=5.0,
        min=0.1,
        help="seconds a switch may take to finish an OpenFlow message it started (then it is dropped)",
    ),
    cfg.FloatOpt(
        "ofp-handshake-timeout",
        default=10.0,
        min=0.1,
        help="seconds a new switch connection may take to finish the OpenFlow handshake",
    ),
    cfg.IntOpt(
        "ofp-max-connections-per-client",
        default=512,
        min=1,
        help="OpenFlow connections one address may hold open (more are closed at once)",
    ),
    cfg.FloatOpt(
        "ofp-echo-check-timeout",
        default=1.0,
        min=0.1,
        help="seconds a connected switch has to answer an echo request when a second connection "
        "claims its dpid (it keeps the dpid if it answers; otherwise the newcomer takes it over)",
    ),
]
APP_OPTS = [
    cfg.MultiStrOpt("app-lists", default=[], help="application module names or .py files"),
    cfg.MultiStrOpt("app", positional=True, default=[], help="application module names or .py files"),
]


def register() -> cfg.ConfigOpts:
    """Register every option the runner understands on os-ken's CONF (idempotent)."""
    # Importing these modules registers os-ken's own options (OpenFlow, topology, logging).
    import os_ken.base.app_manager
    import os_ken.controller.controller
    import os_ken.log
    import os_ken.topology.switches  # noqa: F401  --observe-links

    conf = cfg.CONF
    for opt in WSAPI_OPTS + OFP_LIMIT_OPTS + APP_OPTS:
        if opt.dest not in conf:
            conf.register_cli_opt(opt)
    conf.set_default("ofp_listen_host", DEFAULT_OFP_HOST)
    conf.set_default("ofp_tcp_listen_port", DEFAULT_OFP_PORT)
    return conf


def _takes_value(conf: cfg.ConfigOpts, flag: str) -> bool:
    name = flag.lstrip("-").split("=", 1)[0]
    if "=" in flag or (flag.startswith("-") and not flag.startswith("--")):
        return False
    dest = name.replace("-", "_")
    info = conf._opts.get(dest)  # oslo keeps registered options here
    if info is None and dest.startswith("no"):
        info = conf._opts.get(dest[2:])
    if info is None:
        # group options such as --bgp-app-rpc-port and --config-file take a value
        return name not in ("help",)
    return not isinstance(info["opt"], cfg.BoolOpt)


def split_argv(conf: cfg.ConfigOpts, argv: list[str]) -> tuple[list[str], list[str]]:
    """Separate flags from app names so apps may come before, between or after the flags."""
    flags: list[str] = []
    apps: list[str] = []
    tokens = list(argv)
    while tokens:
        token = tokens.pop(0)
        if token == "--":
            apps.extend(tokens)
            break
        if token.startswith("-") and token != "-":
            flags.append(token)
            if _takes_value(conf, token) and tokens:
                flags.append(tokens.pop(0))
        else:
            apps.append(token)
    return flags, apps


_PARSE_PLACE = re.compile(r"^at (?P<file>.+?):(?P<line>\d+), (?P<reason>.*)$", re.DOTALL)


def config_file_message(exc: Exception) -> str:
    """One line naming the file (and line) for an oslo config-file error."""
    if isinstance(exc, oslo_cfg.ConfigFilesNotFoundError):
        return f"{', '.join(exc.config_files)}: config file not found"
    if isinstance(exc, oslo_cfg.ConfigFilesPermissionDeniedError):
        return f"{', '.join(exc.config_files)}: config file not readable (permission denied)"
    if isinstance(exc, oslo_cfg.ConfigFileParseError):
        place = _PARSE_PLACE.match(str(exc.msg))
        if place:
            return f"{place['file']}:{place['line']}: invalid ini syntax: {place['reason'].strip()}"
        return f"{exc.config_file}: invalid ini syntax: {exc.msg}"
    return " ".join(str(exc).split())


def config_files(flags: list[str]) -> list[str]:
    """The ``--config-file`` values among ``flags`` (``--config-file X`` or ``--config-file=X``)."""
    files = []
    for index, flag in enumerate(flags):
        if flag == "--config-file" and index + 1 < len(flags):
            files.append(flags[index + 1])
        elif flag.startswith("--config-file="):
            files.append(flag.split("=", 1)[1])
    return files


def check_config_file(path: str) -> None:
    """Raise ``OptionsError`` unless ``path`` is a readable UTF-8 file (oslo would show a traceback)."""
    textfile.read_text(path, OptionsError, "config file")


def parse(argv: list[str], prog: str = "ryu-manager") -> cfg.ConfigOpts:
    """Parse ``argv`` (Ryu's flags and app names in any order) into os-ken's CONF.

    A bad ``--config-file`` (missing, unreadable, malformed, or holding a value of the wrong
    type) raises ``OptionsError`` with one line naming the file; usage errors (and a config-file
    value of the wrong type, which oslo reports as ``argument --X: Invalid ... value``) exit
    with code 2 after one line.
    """
    conf = register()
    flags, apps = split_argv(conf, argv)
    for path in config_files(flags):
        check_config_file(path)
    try:
        conf(args=flags + apps, project="ryu", prog=prog, default_config_files=[])
        for name in list(conf):  # oslo checks file values on first access: check them all now
            getattr(conf, name)
    except (oslo_cfg.Error, ValueError) as exc:
        raise OptionsError(config_file_message(exc)) from None
    except SystemExit as exc:
        if exc.code == 1:  # oslo printed "argument --X: Invalid ... value: V" for a value in a file
            raise SystemExit(2) from None
        raise
    return conf
