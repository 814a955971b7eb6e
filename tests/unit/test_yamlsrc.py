"""The one YAML reader: lines for every key and item, and one-line refusals naming file:line."""

from __future__ import annotations

import pytest

from sdnlab.errors import SdnlabError
from sdnlab.problems import MAX_SHOWN, Problems, render
from sdnlab.yamlsrc import YamlSyntaxError, YMap, YSeq, line_at, line_of, load_yaml


class MyError(SdnlabError):
    """A caller's own error class."""


def test_mappings_and_lists_know_their_lines_without_extra_keys():
    doc = load_yaml("a: 1\nb:\n  - x: 1\n    y: 2\n  - z\n", "f.yaml")
    assert doc == {"a": 1, "b": [{"x": 1, "y": 2}, "z"]}  # no __line__ keys in the data
    assert isinstance(doc, YMap) and isinstance(doc["b"], YSeq)
    assert line_of(doc, "b") == 2
    assert line_of(doc["b"], 1) == 5
    assert line_at(doc, ("b", 0, "y")) == 4
    assert line_at(doc, ("b", 0, "missing")) == 3  # the nearest known parent


@pytest.mark.parametrize(
    "text, message",
    [
        (
            "a: 1\ndefault: drop\nb: 2\ndefault: accept\n",
            "f.yaml:4: key 'default' given twice (first at line 2)",
        ),
        ("x: {a: 1, a: 2}\n", "f.yaml:1: key 'a' given twice (first at line 1)"),
        ("~: 1\n", "f.yaml:1: empty (null) key; give the key a name"),
        ("a:\n  ? [1, 2]\n  : 3\n", "f.yaml:2: a key must be a plain name or number, not a list or mapping"),
        ("a: [1, 2\n", "f.yaml:2: invalid YAML: expected ',' or ']', but got '<stream end>'"),
        ("a: \x08\n", "f.yaml:1: invalid YAML: character 0x8 is not allowed"),
    ],
)
def test_refusals_name_file_and_line(text, message):
    with pytest.raises(YamlSyntaxError) as info:
        load_yaml(text, "f.yaml")
    assert str(info.value) == message


@pytest.mark.parametrize(
    "text",
    [
        "[" * 3000 + "]" * 3000,
        "{a: " * 3000 + "1" + "}" * 3000,
        "".join("  " * i + "- \n" for i in range(3000)),
    ],
    ids=["flow-lists", "flow-maps", "block-lists"],
)
def test_3000_levels_are_refused_as_too_deep_not_a_recursion_error(text):
    with pytest.raises(MyError, match=r"^deep.yaml:\d+: nesting too deep \(more than 64 levels\)$"):
        load_yaml(text, "deep.yaml", MyError)


def test_errors_are_raised_as_the_callers_class_and_are_sdnlab_errors():
    with pytest.raises(MyError):
        load_yaml("a: 1\na: 2\n", "f", MyError)
    assert issubclass(YamlSyntaxError, SdnlabError)


def test_problems_are_sorted_by_line_deduplicated_and_capped():
    problems = Problems("f.yaml", MyError)
    for line in range(40, 0, -1):
        problems.add(line, f"n{line}", "bad")
    problems.add(3, "n3", "bad")
    with pytest.raises(MyError) as info:
        problems.check()
    lines = str(info.value).splitlines()
    assert lines[0] == "f.yaml:1: n1: bad"
    assert lines[MAX_SHOWN - 1] == f"f.yaml:{MAX_SHOWN}: n{MAX_SHOWN}: bad"
    assert lines[-1] == f"... and {40 - MAX_SHOWN} more problems"


def test_a_problem_without_a_line_names_only_the_file():
    assert render(["f.yaml: top: missing"]) == "f.yaml: top: missing"
    problems = Problems("f.yaml")
    problems.add(0, "", "empty file")
    assert problems.text() == "f.yaml: empty file"
