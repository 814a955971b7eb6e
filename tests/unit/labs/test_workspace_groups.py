"""A flow naming a missing group is refused with its file and line (issue 11 item 7), not OFPT_ERROR."""

from __future__ import annotations

import shutil

import pytest

from sdnlab.labs import workspace
from sdnlab.labs.errors import LabSessionError

needs_ofctl = pytest.mark.skipif(shutil.which("ovs-ofctl") is None, reason="ovs-ofctl is not installed")


@pytest.fixture
def work(tmp_path):
    flows = tmp_path / "flows"
    flows.mkdir()
    (flows / "st1.groups").write_text("group_id=1,type=all,bucket=output:1,bucket=output:2\n")
    (flows / "st1.flows").write_text(
        "# uplinks\npriority=10,in_port=1,actions=group:1\n\npriority=10,in_port=2,actions=group:9\n"
    )
    return tmp_path


@needs_ofctl
def test_installing_refuses_a_missing_group_before_touching_a_bridge(work):
    with pytest.raises(LabSessionError) as info:
        workspace.check_files(work, {"st1": "no-such-bridge-x"})
    assert str(info.value) == (
        f"{work / 'flows' / 'st1.flows'}:4: group 9 is not defined (defined: 1) "
        "(nothing was installed: the switches keep their flows)"
    )


def test_static_grading_names_the_missing_group(work):
    with pytest.raises(LabSessionError, match=r"st1.flows:4: group 9 is not defined \(defined: 1\)"):
        workspace.static_state(work, ["st1"])


def test_a_bucket_chaining_to_a_missing_group_is_named_too(work):
    (work / "flows" / "st1.groups").write_text(
        "group_id=1,type=all,bucket=output:1\ngroup_id=2,type=indirect,bucket=group:7\n"
    )
    (work / "flows" / "st1.flows").write_text("priority=10,actions=group:2\n")
    with pytest.raises(LabSessionError, match=r"st1.groups:2: group 7 is not defined \(defined: 1, 2\)"):
        workspace.static_state(work, ["st1"])
