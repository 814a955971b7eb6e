"""Fixtures for the lab unit tests: an isolated $SDNLAB_HOME and a factory of small lab packages."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from sdnlab import instructor
from sdnlab.labs.loader import labs_root

EN = "A task text long enough to count as a real task description for the trainee, in English."
JA = "トレーニー向けの課題文です。十分な長さがあり、実際の課題として数えられる日本語の文章です。"


@pytest.fixture(autouse=True)
def sdnlab_home(tmp_path, monkeypatch):
    home = tmp_path / "home"
    monkeypatch.setenv("SDNLAB_HOME", str(home))
    return home


@pytest.fixture(autouse=True)
def no_network(monkeypatch):
    """Unit tests never bring a network up: a lab that needs one must be tested in tests/integration."""
    from sdnlab.runtime import api

    def refuse(*args, **kwargs):
        raise AssertionError("a unit test tried to start a network (sdnlab.runtime.api.up)")

    monkeypatch.setattr(api, "up", refuse)


@pytest.fixture
def make_lab(tmp_path):
    """``make_lab(yaml_text, readme_ja=True)`` -> folder of a lab package named after its id."""

    def make(
        text: str,
        lab_id: str = "demo_lab",
        readme_ja: bool = True,
        solution: dict | None = None,
        hidden: str | None = None,
    ) -> Path:
        """The lab in ``<tmp>/labs/<id>``, its instructor part (``solution``, ``hidden``: the text
        of hidden.yaml) in ``<tmp>/labs/instructor/<id>``, where the loader finds it."""
        root = tmp_path / "labs"
        folder = root / lab_id
        part = root / "instructor" / lab_id
        (folder / "starter" / "flows").mkdir(parents=True)
        (part / "solution" / "flows").mkdir(parents=True)
        (folder / "lab.yaml").write_text(textwrap.dedent(text), encoding="utf-8")
        if hidden is not None:
            (part / "hidden.yaml").write_text(textwrap.dedent(hidden), encoding="utf-8")
        (folder / "README.md").write_text(EN, encoding="utf-8")
        if readme_ja:
            (folder / "README.ja.md").write_text(JA, encoding="utf-8")
        for name, content in (solution or {}).items():
            (part / "solution" / name).parent.mkdir(parents=True, exist_ok=True)
            (part / "solution" / name).write_text(content)
        return folder

    return make


@pytest.fixture
def lab_copy(tmp_path):
    """A copy of a catalogue lab in a temporary folder (to break it on purpose)."""

    def copy(lab_id: str) -> Path:
        return instructor.copy_lab(labs_root() / lab_id, tmp_path / "copy")

    return copy


GOOD_LAB = """\
    id: demo_lab
    number: 42
    title: {en: "A demo", ja: "デモ"}
    level: beginner
    minutes: 10
    skills: {network: 2}
    topology: {name: linear, params: {switches: 2}}
    controller: {mode: none}
    behaviours:
      - id: h1-h2
        reach: {src: h1, dst: h2, traffic: any}
    hints:
      - {en: "look at the ports", ja: "ポートを見てください"}
"""

GOOD_HIDDEN = """\
    behaviours:
      - id: h2-h1
        reach: {src: h2, dst: h1, traffic: any}
"""
