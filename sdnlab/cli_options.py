"""The options every ``sdnlab`` command shares, defined once: ``--name/-n``, ``--json``, ``--lang``.

``--name`` left out means the trainee's current session (``lab_name``); ``--json`` also makes
errors JSON (``sdnlab.cli.main`` sees it on the command line); ``--lang`` left out follows the
locale (``language``).
"""

from __future__ import annotations

import os
from typing import Annotated

import typer


def _check_lang(value: str | None) -> str | None:
    if value is not None and value not in ("en", "ja"):
        raise typer.BadParameter(f"{value!r}: expected en or ja")
    return value


NameOpt = Annotated[
    str | None,
    typer.Option(
        "--name",
        "-n",
        help="Lab (session) name; default: your current session, else 'default'.",
        show_default=False,
    ),
]
JsonOpt = Annotated[
    bool,
    typer.Option("--json", help="Machine-readable JSON output (errors too)."),
]
LangOpt = Annotated[
    str | None,
    typer.Option(
        "--lang", help="en or ja (default: from the locale).", callback=_check_lang, show_default=False
    ),
]


def lab_name(name: str | None) -> str:
    """The lab a command acts on: ``--name`` if given, else the trainee's current session."""
    if name:
        return name
    from sdnlab.labs.session import current_name

    return current_name(None)


def language(lang: str | None) -> str:
    """``--lang``, else the locale (LC_ALL, LC_MESSAGES, LANG): ja for Japanese, en otherwise."""
    if lang:
        return lang
    for var in ("LC_ALL", "LC_MESSAGES", "LANG"):
        value = os.environ.get(var)
        if value:
            return "ja" if value.lower().startswith("ja") else "en"
    return "en"
