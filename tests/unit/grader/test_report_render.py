"""The rich report renders its own markup and prints text from specs and dumps literally."""

import io

import pytest
from rich.console import Console

from sdnlab.grader.report import BehaviourResult, Failure, Finding, GradeReport


def _report():
    failure = Failure("h1", "h2", "delivered but must be isolated", packet="icmp,nw_dst=10.0.0.2")
    results = (
        BehaviourResult("isolate-2", "isolate", "h1 never reaches h2", 1.0, False, 1, 0, (failure,)),
        BehaviourResult(
            "[bold]sneaky[/bold]", "reach", "desc with [red]markup[/] and [link]", 1.0, False, 1, 1
        ),
        BehaviourResult("empty", "reach", "nothing", 1.0, False, 0, 0, note="selects no [case]"),
    )
    finding = Finding("reach-[1]", "h1", "h2", "icmp", "delivered to h2", "delivered to [nobody]")
    return GradeReport(results, findings=(finding,), reference=("missing: [tcp] h1 -> h2",))


@pytest.mark.parametrize("terminal", [True, False], ids=["tty", "piped"])
def test_rich_report_shows_no_raw_markup_and_keeps_user_brackets(terminal):
    out = io.StringIO()
    _report().render_rich(
        Console(file=out, force_terminal=terminal, width=200, color_system="standard" if terminal else None)
    )
    text = out.getvalue()
    if terminal:
        assert "\x1b[1;31misolate-2" in text  # bold red behaviour id
    for raw in ("[bold red]", "isolate-2[/]", "[green]", "[red]FAIL", "[yellow]", "[cyan]", "[bold]Score"):
        assert raw not in text
    for literal in (
        "isolate-2: h1 -> h2: delivered but must be isolated",
        "[bold]sneaky[/bold]",
        "[red]markup[/] and [link]",
        "selects no [case]",
        "reach-[1] h1->h2",
        "delivered to [nobody]",
        "reference missing: [tcp] h1 -> h2",
    ):
        assert literal in _strip_ansi(text), literal


def _strip_ansi(text: str) -> str:
    import re

    return re.sub(r"\x1b\[[0-9;]*m", "", text)
