"""Workspaces: files that are not UTF-8 or not valid ovs-ofctl lines are refused before any bridge changes.

``check_files`` runs Open vSwitch's own parser (``ovs-ofctl parse-flows``), which needs the binary
but no daemon, root or bridge. Bridge commands (``_ofctl``) are recorded here, not run: the real
bridges are in tests/integration/labs/test_flow_install.py.
"""

from __future__ import annotations

import shutil

import pytest

from sdnlab.labs import workspace
from sdnlab.labs.errors import LabSessionError

needs_ofctl = pytest.mark.skipif(
    shutil.which("ovs-ofctl") is None, reason="ovs-ofctl (openvswitch-common) not installed"
)
GOOD = "# comment\npriority=100,ip,nw_dst=10.0.0.1,actions=output:2\npriority=0,actions=drop\n"


def make_workspace(tmp_path, **files):
    flows = tmp_path / "ws" / "flows"
    flows.mkdir(parents=True)
    for name, content in files.items():
        path = flows / name.replace("_", ".")
        path.write_bytes(content if isinstance(content, bytes) else content.encode())
    return tmp_path / "ws"


def test_read_text_names_the_line_of_a_non_utf8_byte(tmp_path):
    path = tmp_path / "s2.flows"
    path.write_bytes(b"priority=0,actions=drop\npriority=1,\xffactions=drop\n")
    with pytest.raises(LabSessionError, match=r"s2.flows:2: not UTF-8 text \(byte 0xff\)"):
        workspace.read_text(path)


def test_a_host_without_ovs_ofctl_gets_a_clear_error_not_a_crash(tmp_path, monkeypatch):
    ws = make_workspace(tmp_path, s1_flows=GOOD, s1_groups="group_id=1,type=all,bucket=output:1\n")
    monkeypatch.setenv("PATH", str(tmp_path))  # a server host with no Open vSwitch tools
    for check in (workspace.check_flow_file, workspace.check_group_file):
        with pytest.raises(LabSessionError, match="ovs-ofctl is not installed on this host"):
            check(ws / "flows" / ("s1.flows" if check is workspace.check_flow_file else "s1.groups"))


@needs_ofctl
def test_check_files_names_each_bad_file_and_line(tmp_path):
    ws = make_workspace(
        tmp_path,
        s1_flows=GOOD,
        s2_flows=GOOD + "priority=x,garbage actions=frob\n",
        s3_flows=b"priority=0,actions=drop\n\xff\n",
        s3_groups="group_id=1,type=selec,bucket=output:1\n",
    )
    with pytest.raises(LabSessionError) as info:
        workspace.check_files(ws, {"s1": "s1", "s2": "s2", "s3": "s3"})
    message = str(info.value)
    assert "3 invalid flow lines" in message
    assert f'{ws}/flows/s2.flows:4: invalid priority "x"' in message
    assert f"{ws}/flows/s3.flows:2: not UTF-8 text" in message
    assert f"{ws}/flows/s3.groups:1: invalid group type selec" in message
    assert "s1.flows" not in message and "nothing was installed" in message


@needs_ofctl
def test_check_files_accepts_every_catalogue_workspace():
    from sdnlab.labs import catalogue
    from sdnlab.labs.live import load_topology

    for lab in catalogue():
        switches = {s.name: s.name for s in load_topology(lab).switches()}
        for folder in (lab.starter_dir, lab.solution_dir):
            workspace.check_files(folder, switches)


@needs_ofctl
def test_a_port_name_of_the_bridge_is_not_a_syntax_error(tmp_path, monkeypatch):
    ws = make_workspace(tmp_path, s1_flows="in_port=s1-eth1,actions=output:2\n")
    monkeypatch.setattr(workspace, "_port_names", lambda bridge: frozenset({"s1-eth1"}))
    workspace.check_files(ws, {"s1": "s1"})
    monkeypatch.setattr(workspace, "_port_names", lambda bridge: frozenset())
    with pytest.raises(LabSessionError, match="s1-eth1: invalid or unknown port"):
        workspace.check_files(ws, {"s1": "s1"})


class Bridges:
    """Records ovs-ofctl bridge commands; ``fail_on`` makes one of them fail like ovs-ofctl would."""

    def __init__(self, fail_on: str | None = None):
        self.calls: list[tuple] = []
        self.fail_on = fail_on

    def __call__(self, *argv, stdin=None):
        self.calls.append(argv)
        if argv[0] == self.fail_on:  # the install fails; putting the old flows back works
            self.fail_on = None
            raise LabSessionError(f"ovs-ofctl {' '.join(argv)}: refused")
        if argv[-2:] == ("dump-flows", "s1"):
            return " priority=5 actions=drop\n"
        if argv[-2:] == ("dump-groups", "s1"):
            return "OFPST_GROUP_DESC reply (OF1.3) (xid=0x2):\n group_id=1,type=all,bucket=actions=output:1\n"
        return ""


@needs_ofctl
def test_an_invalid_file_touches_no_bridge(tmp_path, monkeypatch):
    bridges = Bridges()
    monkeypatch.setattr(workspace, "_ofctl", bridges)
    monkeypatch.setattr(workspace, "_port_names", lambda bridge: frozenset())
    ws = make_workspace(tmp_path, s1_flows=GOOD, s2_flows="priority=x,garbage actions=frob\n")
    with pytest.raises(LabSessionError, match=r's2\.flows:1: invalid priority "x"'):
        workspace.install_flows(ws, {"s1": "s1", "s2": "s2"})
    assert bridges.calls == []


@needs_ofctl
def test_a_failed_install_puts_the_previous_flows_and_groups_back(tmp_path, monkeypatch):
    bridges = Bridges(fail_on="add-flows")
    monkeypatch.setattr(workspace, "_ofctl", bridges)
    monkeypatch.setattr(workspace, "_port_names", lambda bridge: frozenset())
    ws = make_workspace(tmp_path, s1_flows=GOOD)
    with pytest.raises(LabSessionError, match="previous flows were put back"):
        workspace.install_flows(ws, {"s1": "s1"})
    restored = bridges.calls[bridges.calls.index(("add-flows", "s1", "-")) + 1 :]  # after the failed install
    assert restored[:2] == [("del-flows", "s1"), ("del-groups", "s1")]
    assert ("add-groups", "s1", "-") in restored and ("add-flows", "s1", "-") in restored


def test_copy_tree_refuses_a_file_and_an_unwritable_place(tmp_path):
    source = make_workspace(tmp_path, s1_flows=GOOD)
    (tmp_path / "afile").write_text("x")
    with pytest.raises(LabSessionError, match="afile: exists and is not a folder"):
        workspace.copy_tree(source, tmp_path / "afile")
    with pytest.raises(LabSessionError, match="/proc/lab-t-qa: cannot create the workspace"):
        workspace.copy_tree(source, __import__("pathlib").Path("/proc/lab-t-qa"))
