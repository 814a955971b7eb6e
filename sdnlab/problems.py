"""The one error collector of sdnlab's validators: every mistake in a user file, reported at once.

Validators of topologies, lab.yaml, VNF and controller configs (and the grader's specs) add
problems as they find them and raise once at the end, so a user sees every mistake in one run.
Every message has the form ``file:line: field: message``; ``render`` sorts them by line (stable
for one line), drops repeats and shows at most ``MAX_SHOWN`` followed by
``... and N more problems``.
"""

from __future__ import annotations

import re
from typing import Any, NoReturn

from sdnlab.errors import SdnlabError
from sdnlab.yamlsrc import Where, line_of

MAX_SHOWN = 25
_LINE = re.compile(r"^[^\n]*?:(\d+):")


def located(source: str, line: int | None, field: str, message: str) -> str:
    """One problem as ``file:line: field: message`` (no line or no field: that part is left out)."""
    where = Where(source, line or 0)
    return f"{where}: {field}: {message}" if field else f"{where}: {message}"


def line_in(message: str) -> int:
    """The line number a ``file:line: ...`` message names (0 when it names none)."""
    match = _LINE.match(message)
    return int(match.group(1)) if match else 0


def render(messages: list[str], limit: int = MAX_SHOWN) -> str:
    """Messages sorted by line, repeats dropped, at most ``limit`` shown, one per line."""
    unique = list(dict.fromkeys(messages))
    ordered = sorted(unique, key=line_in)
    shown = ordered[:limit]
    more = len(ordered) - len(shown)
    return "\n".join(shown) + (f"\n... and {more} more problems" if more > 0 else "")


class Problems:
    """Collects located problems of one file and raises them together as one ``error``."""

    def __init__(self, source: str, error: type[SdnlabError] = SdnlabError) -> None:
        self.source = source
        self.error = error
        self.items: list[str] = []

    def __len__(self) -> int:
        return len(self.items)

    def __bool__(self) -> bool:
        return bool(self.items)

    def add(self, line: int | None, field: str, message: str) -> None:
        """Record one problem at ``line`` about ``field`` (a dotted path such as ``links[3].b``)."""
        self.items.append(located(self.source, line, field, message))

    def at(self, container: Any, key: Any, field: str, message: str) -> None:
        """Record a problem about ``container[key]`` at that key's line (see ``yamlsrc.line_of``)."""
        self.add(line_of(container, key), field, message)

    def add_located(self, message: str) -> None:
        """Record a message that already names its file and line (``file:line: ...``)."""
        self.items.append(message)

    def extend_located(self, text: str) -> None:
        """Record every line of an error raised by another validator (one problem per line)."""
        for message in text.splitlines():
            if message and not message.startswith("... and "):
                self.items.append(message)

    def text(self) -> str:
        """Every problem so far, as ``render`` shows them."""
        return render(self.items)

    def fail(self) -> NoReturn:
        """Raise every problem so far (there must be at least one)."""
        raise self.error(self.text())

    def check(self, since: int = 0) -> None:
        """Raise every problem so far if one was added after the first ``since`` ones."""
        if len(self.items) > since:
            self.fail()
