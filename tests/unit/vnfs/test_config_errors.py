"""Golden error files (the netlab habit): every ``errors/<kind>-<case>.yaml`` fails to configure a VNF
of that kind with exactly the lines of ``<case>.log``, in order.

Set SDNLAB_REGEN_GOLDEN=1 to rewrite the .log files after a deliberate change (review the diff).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from sdnlab.vnfs.errors import VnfConfigError
from sdnlab.vnfs.framework.config import load_yaml
from sdnlab.vnfs.framework.loader import BUILTIN, build_vnf, load_vnf_class

ERRORS = Path(__file__).parent / "errors"
CASES = sorted(ERRORS.glob("*.yaml"))


def test_there_are_golden_cases_and_each_names_a_known_kind():
    assert len(CASES) >= 6
    for case in CASES:
        assert case.stem.partition("-")[0] in BUILTIN, case.name


@pytest.mark.parametrize("case", CASES, ids=[c.stem for c in CASES])
def test_broken_vnf_config_reports_exactly_the_expected_errors(case, monkeypatch):
    monkeypatch.chdir(ERRORS)
    kind = case.stem.partition("-")[0]
    with pytest.raises(VnfConfigError) as info:
        build_vnf(load_vnf_class(kind), load_yaml(case.name), source=case.name)
    got = str(info.value)
    log = case.with_suffix(".log")
    if os.environ.get("SDNLAB_REGEN_GOLDEN"):
        log.write_text(got + "\n", encoding="utf-8")
    assert got == log.read_text(encoding="utf-8").rstrip("\n")
