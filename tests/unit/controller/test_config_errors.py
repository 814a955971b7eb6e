"""Golden error files (the netlab habit): every ``errors/<case>.yaml|json`` fails to load as the
built-in controller's config with exactly the lines of ``<case>.log``, in order.

Set SDNLAB_REGEN_GOLDEN=1 to rewrite the .log files after a deliberate change (review the diff).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from sdnlab.controller.config import load_config
from sdnlab.controller.errors import ControllerConfigError

ERRORS = Path(__file__).parent / "errors"
CASES = sorted(p for p in ERRORS.iterdir() if p.suffix in (".yaml", ".json"))


def test_there_are_golden_cases():
    assert len(CASES) >= 5


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_broken_controller_config_reports_exactly_the_expected_errors(case, monkeypatch):
    monkeypatch.chdir(ERRORS)
    with pytest.raises(ControllerConfigError) as info:
        load_config(case.name, host_names={"h1", "h2", "dpi1"})
    got = str(info.value)
    log = case.with_suffix(".log")
    if os.environ.get("SDNLAB_REGEN_GOLDEN"):
        log.write_text(got + "\n", encoding="utf-8")
    assert got == log.read_text(encoding="utf-8").rstrip("\n")
