"""Sessions on a real network: topology port names work in a prefixed slot (issue 11 item 17) and
a reset brings a downed network back (item 12)."""

from __future__ import annotations

import shutil

import pytest

from sdnlab.labs import session
from sdnlab.labs.loader import load_lab
from sdnlab.runtime import api

pytestmark = pytest.mark.network

NAME = "rt-recover"


def test_port_names_in_a_prefixed_slot_and_a_reset_after_the_network_went_down(
    tmp_path, monkeypatch, lab_factory
):
    monkeypatch.setenv("SDNLAB_HOME", str(tmp_path / "home"))
    lab_factory("linear", {"switches": 1}, name="rt-recover-holder", controller="none")  # slot 0 is not ours
    lab = load_lab("static_flows")
    work = tmp_path / "work"
    shutil.copytree(lab.solution_dir, work)
    flows = work / "flows" / "s2.flows"
    flows.write_text(flows.read_text().replace("in_port=1,", "in_port=s2-eth1,"))
    _, status = session.start(lab, NAME, work)
    try:
        assert status["slot"] != 0 and status["switches"][1]["bridge"] != "s2"
        assert session.check(NAME).percent == 100.0
        api.down(NAME)  # crashed, stopped or an interrupted reset: the network is gone
        assert not session.describe(NAME)["network_up"]
        session.reset(NAME)
        assert session.describe(NAME)["network_up"]
        assert session.check(NAME).percent == 100.0
    finally:
        session.stop(NAME)
