"""The trainee terminal's rules: own switches only, network tools only, workspace files only."""

import pytest

from sdnlab.classroom.tshell import Refused, check_host_command, check_ofctl, refused_option, workspace_file

BRIDGES = {"s1": "lab7-s1", "core": "lab7-core"}


def test_ovs_ofctl_reaches_only_the_sandboxs_own_switches(tmp_path):
    assert check_ofctl(["dump-flows", "core"], BRIDGES, tmp_path) == [
        "ovs-ofctl", "-O", "OpenFlow13", "dump-flows", "lab7-core",
    ]  # fmt: skip
    assert check_ofctl(["--names", "add-flow", "s1", "priority=1,actions=drop"], BRIDGES, tmp_path)[-2:] == [
        "lab7-s1",
        "priority=1,actions=drop",
    ]
    for bad, problem in [
        (["dump-flows", "lab8-s1"], "no switch 'lab8-s1'"),  # another trainee's bridge
        (["dump-flows", "br-int"], "no switch"),
        (["--remote", "dump-flows", "s1"], "options allowed"),
        (["monitor", "s1"], "not available"),
        (["dump-flows"], "usage"),
        (["add-flows", "s1", "/etc/passwd"], "not a file of your workspace"),
        (["add-flows", "s1", "../../etc/passwd"], "not a file of your workspace"),
    ]:
        with pytest.raises(Refused, match=problem):
            check_ofctl(bad, BRIDGES, tmp_path)


def test_flow_files_for_ovs_ofctl_come_from_the_workspace_only(tmp_path):
    (tmp_path / "flows").mkdir()
    (tmp_path / "flows" / "s1.flows").write_text("priority=0,actions=drop\n")
    (tmp_path / "flows" / "evil").symlink_to("/etc/passwd")
    assert workspace_file(tmp_path, "flows/s1.flows") == (tmp_path / "flows" / "s1.flows").resolve()
    with pytest.raises(Refused):
        workspace_file(tmp_path, "flows/evil")


@pytest.mark.parametrize(
    "argv",
    [
        ["ping", "-c1", "10.0.0.2"],
        ["iperf3", "-c", "10.0.0.2", "-t", "2"],
        ["curl", "-sS", "http://10.0.0.3/"],
        ["ip", "addr"],
        ["ip", "route", "show"],
        ["ip", "-br", "link", "show", "dev", "h1-eth0"],
        ["tcpdump", "-nn", "-c", "5", "-i", "h1-eth0"],
    ],
)
def test_network_tools_run_in_hosts(argv):
    assert check_host_command(argv) == argv


@pytest.mark.parametrize(
    ("argv", "problem"),
    [
        (["sh", "-c", "id"], "not available"),
        (["bash"], "not available"),
        (["cat", "/etc/shadow"], "not available"),
        (["curl", "file:///etc/passwd"], "only http"),
        (["curl", "-o", "/root/x", "http://a/"], "not allowed"),
        (["curl", "-sSo", "/root/x", "http://a/"], "not allowed"),
        (["curl", "--output=/root/x", "http://a/"], "not allowed"),
        (["curl", "-d", "@/etc/passwd", "http://a/"], "not allowed"),
        (["tcpdump", "-w", "/tmp/x"], "not allowed"),
        (["tcpdump", "-nw", "/tmp/x"], "not allowed"),
        (["iperf3", "--logfile", "/root/.bashrc", "-s"], "not allowed"),
        (["ip", "netns", "exec", "x", "sh"], "only `ip"),
        (["ip", "link", "set", "h1-eth0", "down"], "only `ip"),
        (["ip", "addr", "show", "; sh"], "only `ip"),
    ],
)
def test_anything_else_is_refused(argv, problem):
    with pytest.raises(Refused, match=problem):
        check_host_command(argv)


def test_short_option_clusters_are_checked_flag_by_flag():
    assert refused_option("-sSo", {"-o"})
    assert not refused_option("-sS", {"-o"})
    assert refused_option("--output=x", {"--output"})
    assert not refused_option("value", {"-o"})
