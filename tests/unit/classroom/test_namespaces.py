"""The own-ovs sandbox's start script and process records (pure parts; live runs in tests/integration)."""

import os
from pathlib import Path

import pytest

from sdnlab.classroom.agent import main as agent_main
from sdnlab.classroom.backends.namespaces import NamespaceBackend, process_start, sandbox_script
from sdnlab.classroom.errors import ClassroomError, NotFound


def test_the_script_mounts_private_ovs_folders_before_starting_ovs_and_ends_in_the_agent():
    # no exec: the shell stays PID 1 and reaps the orphans the namespace's init inherits
    lines = sandbox_script(Path("/srv/st/ns/cr1"), Path("/srv/st"), "/opt/py/bin/python").splitlines()
    assert lines[0] == "set -eu"
    steps = ("tmpfs", "sdnlab-hidden", "mount --move", "ovsdb-server", "ovs-vswitchd", "classroom.agent")
    order = [next(i for i, line in enumerate(lines) if word in line) for word in steps]
    assert order == sorted(order)
    assert "/run/openvswitch /etc/openvswitch /run/sdnlab" in "\n".join(lines)
    assert lines[-1] == (
        "/opt/py/bin/python -m sdnlab.classroom.agent --state /srv/st/ns/cr1/state"
        " --socket /srv/st/ns/cr1/agent.sock --isolation shared"
    )
    assert not any("--mlockall" in line for line in lines)


def test_paths_with_spaces_and_quotes_stay_one_word():
    script = sandbox_script(Path("/srv/a b/ns/cr1"), Path("/srv/a b"), "/x'y/python")
    assert "mount -t tmpfs -o mode=0700,size=1m sdnlab-hidden '/srv/a b'" in script
    assert "\n'/x'\"'\"'y/python' -m" in script


def test_a_process_is_known_by_its_pid_and_start_time():
    assert process_start(os.getpid()) == process_start(os.getpid()) > 0
    assert process_start(2**22 + 7) is None


def test_a_recorded_sandbox_whose_process_is_gone_is_not_found_and_stop_removes_it(tmp_path):
    backend = NamespaceBackend(tmp_path)
    box = tmp_path / "ns" / "cr7"
    box.mkdir()
    (box / "box.json").write_text('{"sandbox": "cr7", "pid": 4194311, "start": 12}')
    assert backend.sandboxes() == ["cr7"]
    with pytest.raises(NotFound, match="no longer running"):
        backend.status("cr7")
    backend.stop("cr7")
    assert backend.sandboxes() == [] and not box.exists()
    with pytest.raises(NotFound):
        backend.list_files("cr7")


def test_a_pid_reused_by_another_process_is_not_killed(tmp_path):
    backend = NamespaceBackend(tmp_path)
    box = tmp_path / "ns" / "cr8"
    box.mkdir()
    (box / "box.json").write_text(f'{{"sandbox": "cr8", "pid": {os.getpid()}, "start": 1}}')
    backend.stop("cr8")  # our own pid with another start time: left alone
    assert not box.exists()


def test_sandbox_names_that_are_not_lab_names_are_refused(tmp_path):
    backend = NamespaceBackend(tmp_path)
    with pytest.raises(ClassroomError, match="lowercase"):
        backend.status("../etc")


def test_the_agent_refuses_an_unknown_isolation(capsys):
    with pytest.raises(SystemExit):
        agent_main(["--state", "/nonexistent", "--socket", "/nonexistent/s", "--isolation", "open"])
    assert "invalid choice: 'open'" in capsys.readouterr().err
