"""``sdnlab controller ...``: run Ryu-style apps on the sdnlab controller."""

from __future__ import annotations

from typing import Annotated

import typer

controller_app = typer.Typer(help="Run the Ryu-compatible controller (os-ken).", no_args_is_help=True)


@controller_app.command(
    "run",
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
)
def run(
    ctx: typer.Context,
    apps: Annotated[list[str] | None, typer.Argument(help="App modules or .py files, then Ryu flags "
                                                    "(--ofp-tcp-listen-port, --observe-links, --wsapi-port, ...).")] = None,
) -> None:
    """Run apps like ryu-manager does (listens on 127.0.0.1:6653 unless told otherwise)."""
    from sdnlab.controller.runner import main

    main(list(apps or []) + list(ctx.args), prog="sdnlab controller run")


def register(root: typer.Typer, flows: typer.Typer) -> None:
    """Add the ``controller`` command group to the ``sdnlab`` CLI."""
    root.add_typer(controller_app, name="controller")
