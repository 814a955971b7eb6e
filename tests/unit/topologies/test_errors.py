"""Every broken topology in errors/ fails with exactly the lines in its .log file (netlab style)."""

from pathlib import Path

import pytest

from sdnlab.errors import TopologyError
from sdnlab.topologies import load_topology

ERRORS = Path(__file__).parent / "errors"
CASES = sorted(ERRORS.glob("*.yaml"))


@pytest.mark.parametrize("case", CASES, ids=[c.stem for c in CASES])
def test_broken_topology_reports_expected_errors(case, monkeypatch):
    monkeypatch.chdir(ERRORS)
    with pytest.raises(TopologyError) as err:
        load_topology(case.name)
    assert str(err.value).strip() == case.with_suffix(".log").read_text().strip()


def test_every_error_case_has_a_log():
    assert CASES, "no error cases found"
    for case in CASES:
        assert case.with_suffix(".log").is_file(), f"{case.name} has no expected .log"
