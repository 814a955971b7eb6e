"""A controller restart signals the lab's watcher only (``certification.scenario_restart``).

The watcher's pid comes from the lab's ``state.json``: missing, it is a clear error (not a
KeyError traceback); stale (the watcher died and the pid now belongs to another process), the
other process must not receive SIGUSR1 (whose default action kills it).
"""

import subprocess
import sys
import time

import pytest

from sdnlab.certification.scenario_restart import restart_process
from sdnlab.labs.errors import LabSessionError
from sdnlab.runtime import paths

LAB = "rvf-restart-pid"


@pytest.fixture
def lab(tmp_path, monkeypatch):
    monkeypatch.setenv("SDNLAB_RUN_DIR", str(tmp_path))
    paths.make_lab_dir(LAB)
    return paths.lab_dir(LAB)


@pytest.fixture
def process():
    """Start a process with the given argv; every one is killed at the end."""
    started = []

    def start(*argv: str) -> subprocess.Popen:
        proc = subprocess.Popen([*argv], stdin=subprocess.DEVNULL)
        started.append(proc)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:  # until its command line is the new one (after exec)
            try:
                with open(f"/proc/{proc.pid}/cmdline", "rb") as f:
                    if f.read().rstrip(b"\0").split(b"\0")[-1] == argv[-1].encode():
                        break
            except OSError:
                pass
            time.sleep(0.01)
        return proc

    yield start
    for proc in started:
        proc.kill()
        proc.wait()


def test_a_lab_state_without_a_watcher_pid_is_a_clear_error(lab):
    paths.write_json(lab / "state.json", {"name": LAB, "phase": "ready"})
    with pytest.raises(LabSessionError, match="watcher is not running"):
        restart_process(LAB, timeout=1)


def test_a_stale_watcher_pid_now_of_another_process_is_not_signalled(lab, process):
    other = process("sleep", "30")
    paths.write_json(lab / "state.json", {"name": LAB, "supervisor_pid": other.pid})
    with pytest.raises(LabSessionError, match="watcher is not running"):
        restart_process(LAB, timeout=1)
    time.sleep(0.2)
    assert other.poll() is None  # SIGUSR1 would have killed it


WATCHER_LIKE = "import time; time.sleep(30)  # from sdnlab.runtime.watcher import main"


def test_the_watcher_is_recognised_by_its_command_line_and_lab_name(lab, process):
    watcher = process(sys.executable, "-S", "-c", WATCHER_LIKE, "/root-of-sdnlab", LAB)
    building = process(
        sys.executable, "-c", "import time; time.sleep(30)", "-m", "sdnlab.runtime.supervisor", LAB
    )
    assert paths.is_lab_supervisor(watcher.pid, LAB)
    assert paths.is_lab_supervisor(building.pid, LAB)
    assert not paths.is_lab_supervisor(watcher.pid, "another-lab")
    assert not paths.is_lab_supervisor(process("sleep", "30").pid, LAB)
    assert not paths.is_lab_supervisor(None, LAB) and not paths.is_lab_supervisor("12", LAB)


def test_a_supervisor_still_building_the_lab_is_not_signalled(lab, process):
    building = process(
        sys.executable, "-c", "import time; time.sleep(30)", "-m", "sdnlab.runtime.supervisor", LAB
    )
    paths.write_json(lab / "state.json", {"name": LAB, "phase": "building", "supervisor_pid": building.pid})
    with pytest.raises(LabSessionError, match="does not take controller restart requests"):
        restart_process(LAB, timeout=1)
    time.sleep(0.2)
    assert building.poll() is None
