"""Every server value the classroom's pages put into HTML goes through their escape helper.

A guard, not a parser: in classroom/static/*.js, a template literal's ``${obj.field}`` (a value
read from an API answer) on a line that builds markup must be ``${esc(obj.field)}`` (``topoEsc``
in topology.js). Layout coordinates and the page's own language are the exceptions. The browser
test tests/integration/classroom/test_drill_escaping_browser.py shows markup drawn as text.
"""

import re
from pathlib import Path

STATIC = Path(__file__).resolve().parents[3] / "classroom/static"
FIELD = re.compile(r"\$\{\s*([A-Za-z_]\w*(?:\.\w+)+)\s*(?:\?\?\s*\"[^\"]*\"\s*)?\}")
LAYOUT = {"a.x", "a.y", "b.x", "b.y", "state.lang"}
# (file, expression): why it may go in raw
ALLOWED = {
    ("app.js", "lab.task_html"): "the lab's task text, HTML the server renders from the lab's Markdown",
    ("app.js", "s.at"): "a validation step, in a string escaped as a whole (esc(job.steps.map(...)))",
    ("app.js", "s.text"): "a validation step, in a string escaped as a whole (esc(job.steps.map(...)))",
}
NOT_HTML = ("api(", "location.hash", "textContent", "toast(", "new WebSocket(")


def unescaped(text: str) -> list[str]:
    """'line N: ${expr}' for each field interpolated raw into markup."""
    found = []
    for number, line in enumerate(text.splitlines(), 1):
        if "<" not in line or any(mark in line for mark in NOT_HTML):
            continue
        found += [
            f"line {number}: ${{{m.group(1)}}}" for m in FIELD.finditer(line) if m.group(1) not in LAYOUT
        ]
    return found


def test_the_guard_finds_a_raw_field_in_markup_and_passes_an_escaped_one():
    assert unescaped('x.innerHTML = `<b>${l.a_port ?? "?"}</b>`') == ["line 1: ${l.a_port}"]
    assert unescaped("x.innerHTML = `<b>${c.passed_cases}/${esc(c.cases)}</b>`") == [
        "line 1: ${c.passed_cases}"
    ]
    assert unescaped("x.innerHTML = `<b>${esc(c.cases)} ${topoEsc(l.b_port)}</b>`") == []


def test_no_static_page_puts_a_raw_server_field_into_markup():
    problems = {
        js.name: [f for f in unescaped(js.read_text()) if (js.name, f.split("${")[1][:-1]) not in ALLOWED]
        for js in sorted(STATIC.glob("*.js"))
    }
    assert {name: found for name, found in problems.items() if found} == {}
