"""The ``sdnlab`` command line: a thin Typer layer over the library.

Each subpackage contributes its commands through a ``register(root, flows)`` function in its
own ``cli`` module, so this file only joins them and turns ``SdnlabError`` into one readable
line on stderr with a named exit code.
"""

from __future__ import annotations

import importlib
import logging
import sys

import typer

from sdnlab.errors import SdnlabError

root = typer.Typer(
    name="sdnlab",
    help="SDN/NFV training lab: real Open vSwitch networks, a Ryu-compatible controller, VNFs and an auto-grader.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
    add_completion=False,
)
flows = typer.Typer(help="Inspect and trace OpenFlow rules.", no_args_is_help=True)
root.add_typer(flows, name="flows")

# Modules that add commands; each defines register(root, flows).
COMMAND_MODULES = (
    "sdnlab.runtime.cli",
    "sdnlab.topologies.cli",
    "sdnlab.controller.cli",
    "sdnlab.grader.cli",
    "sdnlab.vnfs.cli",
    "sdnlab.vnfs.dpi.cli",
    "sdnlab.labs.cli",
    "sdnlab.classroom.cli",
)


def _register_all() -> None:
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name and (name == exc.name or name.startswith(exc.name + ".")):  # part not built yet
                continue
            raise
        module.register(root, flows)


_register_all()


def main() -> None:
    """Entry point of the ``sdnlab`` console script."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        result = root(standalone_mode=False)
        # non-standalone click returns the code of a typer.Exit instead of raising it
        if isinstance(result, int) and not isinstance(result, bool):
            sys.exit(result)
    except SdnlabError as exc:
        typer.echo(f"sdnlab: error: {exc}", err=True)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        typer.echo("sdnlab: interrupted", err=True)
        sys.exit(130)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        typer.echo("Aborted.", err=True)
        sys.exit(1)
    except Exception as exc:  # usage errors come through here in non-standalone mode
        show = getattr(exc, "show", None)
        if callable(show) and hasattr(exc, "exit_code"):  # click's ClickException (vendored by typer)
            show()
            sys.exit(exc.exit_code)
        raise


if __name__ == "__main__":
    main()
