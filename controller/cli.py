"""``sdnlab controller ...``: run Ryu-style apps on the sdnlab controller."""

from __future__ import annotations

from typing import Annotated

import typer

from sdnlab.cli_options import JsonOpt
from sdnlab.jsonio import dumps

controller_app = typer.Typer(help="Run the Ryu-compatible controller (os-ken).", no_args_is_help=True)


@controller_app.command(
    "run",
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
)
def run(
    ctx: typer.Context,
    apps: Annotated[
        list[str] | None,
        typer.Argument(
            help="App modules or .py files, then Ryu flags "
            "(--ofp-tcp-listen-port, --observe-links, --wsapi-port, ...)."
        ),
    ] = None,
) -> None:
    """Run apps like ryu-manager does (listens on 127.0.0.1:6653 unless told otherwise)."""
    from sdnlab.controller.runner import main

    main(list(apps or []) + list(ctx.args), prog="sdnlab controller run")


@controller_app.command("check-config")
def check_config(
    path: Annotated[
        str, typer.Argument(help="The built-in app's YAML/JSON config (SDNLAB_CONTROLLER_CONFIG).")
    ],
    as_json: JsonOpt = False,
) -> None:
    """Validate a built-in controller config file; errors name the file, line and field."""
    from sdnlab.controller.config import load_config

    config = load_config(path)
    if as_json:
        typer.echo(dumps(config.to_dict()))
    else:
        typer.echo(
            f"{path}: ok (mode {config.mode}, weight {config.weight}, protection "
            f"{'on' if config.protection else 'off'}, {len(config.chains)} chain(s))"
        )


def register(root: typer.Typer, flows: typer.Typer) -> None:
    """Add the ``controller`` command group to the ``sdnlab`` CLI."""
    root.add_typer(controller_app, name="controller")
