"""Golden error files: every ``broken/<case>.yaml`` fails to load with exactly the lines of
``<case>.log``, in order.

The lab folder is named after the id, has both task texts and the starter/solution folders, so
only what the YAML gets wrong is reported. Paths are shown relative to the lab folder.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from sdnlab.labs import load_lab
from sdnlab.labs.errors import LabPackageError

BROKEN = Path(__file__).parent / "broken"
CASES = sorted(p.stem for p in BROKEN.glob("*.yaml"))


def test_there_are_golden_cases():
    assert len(CASES) >= 4


@pytest.mark.parametrize("case", CASES)
def test_broken_package_reports_exactly_the_expected_errors(case, make_lab):
    folder = make_lab((BROKEN / f"{case}.yaml").read_text(encoding="utf-8"))
    with pytest.raises(LabPackageError) as info:
        load_lab(folder)
    prefix = str(folder) + "/"
    got = [line.replace(prefix, "") for line in str(info.value).splitlines()]
    if os.environ.get("SDNLAB_REGEN_GOLDEN"):  # rewrite the .log files; review them with git diff
        (BROKEN / f"{case}.log").write_text("\n".join(got) + "\n", encoding="utf-8")
    expected = (BROKEN / f"{case}.log").read_text(encoding="utf-8").splitlines()
    assert got == expected
