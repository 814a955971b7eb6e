"""The registry of VNF kinds is the catalogue: every kind in it loads, builds and is described."""

from __future__ import annotations

import pytest

from sdnlab.vnfs.errors import VnfConfigError
from sdnlab.vnfs.framework import VNF
from sdnlab.vnfs.framework.loader import build_vnf, close_vnf, load_vnf_class
from sdnlab.vnfs.kinds import BUILTIN, DESCRIPTIONS, kinds_help


@pytest.mark.parametrize("kind", sorted(BUILTIN))
def test_every_registered_kind_loads_and_builds_with_its_defaults(kind):
    cls = load_vnf_class(kind)
    assert issubclass(cls, VNF)
    try:
        close_vnf(build_vnf(cls, None))
    except VnfConfigError as exc:  # kinds with required settings (lb: vip, backends; chain: stages)
        assert "is required" in str(exc) or "needs at least one" in str(exc)


def test_every_kind_is_described_in_the_help_text():
    assert set(DESCRIPTIONS) == set(BUILTIN)
    for kind in BUILTIN:
        assert kind in kinds_help()


def test_the_vnf_run_help_lists_the_registry():
    from typer.testing import CliRunner

    from sdnlab.cli import root

    result = CliRunner().invoke(root, ["vnf", "run", "--help"], env={"COLUMNS": "200"})
    assert all(kind in result.output for kind in BUILTIN)
