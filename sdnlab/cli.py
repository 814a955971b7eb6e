"""The ``sdnlab`` command line: a thin Typer layer over the library.

Each subpackage contributes its commands through a ``register(root, flows)`` function in its
own ``cli`` module, so this file only joins them, sets the global options (``--version``,
``-v/-q``, shell completion) and reports errors in one place, ``main``: an ``SdnlabError``
becomes one line on stderr (or ``{"error": ..., "code": ...}`` on stdout when the command line
has ``--json``) and the exit code of its class (``sdnlab.errors.ExitCode``, docs/cli.md).
"""

from __future__ import annotations

import importlib
import logging
import sys
from typing import Annotated

import typer

from sdnlab.errors import ExitCode, SdnlabError


def report_error(message: str, code: int, as_json: bool) -> None:
    """Print an error for people (one line on stderr) or for machines (JSON on stdout)."""
    if as_json:
        from sdnlab.jsonio import dumps

        typer.echo(dumps({"error": message, "code": int(code)}))
    else:
        typer.echo(f"sdnlab: error: {message}", err=True)


ABOUT = "SDN/NFV training lab: real Open vSwitch networks, a Ryu-compatible controller, VNFs, an auto-grader."
EXAMPLES = """\b
Examples:
  sdnlab lab list ; sdnlab lab start 3 ; sdnlab lab check
  sdnlab up linear -p switches=3 ; sdnlab status ; sdnlab down
  sdnlab grade --spec behaviours.yaml --json
Exit codes (docs/cli.md): 0 ok, 1 failed, 2 invalid input, 3 environment,
4 lab state, 5 controller, 6 certificate not verified
"""

root = typer.Typer(
    name="sdnlab",
    help=ABOUT,
    epilog=EXAMPLES,
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)
flows = typer.Typer(help="Inspect and trace OpenFlow rules.", no_args_is_help=True)
root.add_typer(flows, name="flows")

# Modules that add commands; each defines register(root, flows).
COMMAND_MODULES = (
    "sdnlab.runtime.cli",
    "sdnlab.topologies.cli",
    "sdnlab.controller.cli",
    "sdnlab.grader.cli",
    "sdnlab.grader.replay.cli",
    "sdnlab.vnfs.cli",
    "sdnlab.vnfs.dpi.cli",
    "sdnlab.labs.cli",
    "sdnlab.schema",
    "sdnlab.certification.cli",
    "sdnlab.classroom.cli",
)


def version() -> str:
    """The installed sdnlab version (package metadata: the one version string)."""
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as package_version

    try:
        return package_version("sdnlab")
    except PackageNotFoundError:  # run from a source tree that is not installed
        import sdnlab

        return sdnlab.__version__


def _show_version(value: bool) -> None:
    if value:
        typer.echo(f"sdnlab {version()}")
        raise typer.Exit()


@root.callback()
def _global_options(
    show_version: Annotated[
        bool | None,
        typer.Option("--version", help="Print the version and exit.", callback=_show_version, is_eager=True),
    ] = None,
    verbose: Annotated[
        int, typer.Option("--verbose", "-v", count=True, help="More log output (-v info, -vv debug).")
    ] = 0,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Only errors in the log output.")] = False,
) -> None:
    """SDN/NFV training lab: real Open vSwitch networks, a Ryu-compatible controller, VNFs, an auto-grader."""
    level = logging.ERROR if quiet else {0: logging.WARNING, 1: logging.INFO}.get(verbose, logging.DEBUG)
    logging.getLogger().setLevel(level)


for _name in COMMAND_MODULES:
    importlib.import_module(_name).register(root, flows)


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``sdnlab`` console script."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    args = sys.argv[1:] if argv is None else argv
    as_json = "--json" in args[: args.index("--")] if "--" in args else "--json" in args
    try:
        result = root(args=args, prog_name="sdnlab", standalone_mode=False)
        # non-standalone click returns the code of a typer.Exit instead of raising it
        if isinstance(result, int) and not isinstance(result, bool):
            sys.exit(result)
    except KeyboardInterrupt:
        report_error("interrupted", ExitCode.INTERRUPTED, as_json)
        sys.exit(int(ExitCode.INTERRUPTED))
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        report_error("aborted", ExitCode.FAILED, as_json)
        sys.exit(int(ExitCode.FAILED))
    except SdnlabError as exc:
        logging.getLogger("sdnlab").debug("error details", exc_info=True)
        report_error(str(exc), exc.exit_code, as_json)
        sys.exit(int(exc.exit_code))
    except Exception as exc:  # usage errors (bad option, missing argument) in non-standalone mode
        show = getattr(exc, "show", None)
        code = getattr(exc, "exit_code", None)
        if not callable(show) or not isinstance(code, int):  # a bug: keep its traceback
            raise
        if as_json:
            report_error(exc.format_message() if hasattr(exc, "format_message") else str(exc), code, True)
        else:
            show()
        sys.exit(code)


if __name__ == "__main__":
    main()
