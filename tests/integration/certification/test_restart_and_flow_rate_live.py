"""The controller-restart and flow-rate scenarios on real networks (lab 2's tree, a Ryu app on
os-ken run by the lab): the lab's watcher really stops the app's process and starts it again
(its state is lost); the reference learning switch re-installs its table-miss flow when its
switches connect and installs a flow per new meter, so it earns full credit. A deliberately bad
app (it sets a switch up only the first time it ever connects, remembered in a file as a
configuration pushed once would be, and floods every packet through the controller without
installing flows) stays dark after a process restart and earns nothing on either. A restarted
app that fails to come up scores nothing and leaves no process behind."""

from __future__ import annotations

import math
import shutil
import signal
import socket
import subprocess
import sys
import time

import pytest

from sdnlab.certification.scenarios import parse, scored_item
from sdnlab.labs import live, load_lab
from sdnlab.runtime import api, teardown

pytestmark = pytest.mark.network

RESTART = {
    "id": "restart",
    "description": "the controller restarts, the switches reconnect empty: time until h1 reaches h4 again",
    "controller_restart": {"src": "h1", "dst": "h4", "timeout": 4},  # mode: process, the default
    # about 200 ms after the switches reconnect on a quiet machine; a loaded one adds up to seconds
    "bands": [{"max": 1000, "credit": 1.0}, {"max": 3500, "credit": 0.5}],
}
RECONNECT = {
    "id": "reconnect",
    "description": "the switches reconnect empty to the running controller",
    "controller_restart": {"src": "h1", "dst": "h4", "timeout": 4, "mode": "reconnect"},
    "bands": [{"max": 1000, "credit": 1.0}, {"max": 3500, "credit": 0.5}],
}
METERS = {
    "id": "meters",
    "description": "1000 meters appear behind h1: flows installed per second on its switch",
    "flow_rate": {"src": "h1", "dst": "h4", "meters": 1000, "timeout": 4},
    "bands": [{"min": 100, "credit": 1.0}, {"min": 25, "credit": 0.5}],
}

# set up a switch only the first time it ever connects (remembered in a file: a restarted
# process, or a reconnecting switch, stays empty)
ONCE = (
    "        datapath = ev.msg.datapath\n",
    (
        "        datapath = ev.msg.datapath\n"
        "        import pathlib\n"
        "        done = pathlib.Path(__file__).with_name('configured-%d' % datapath.id)\n"
        "        if done.exists():\n"
        "            return\n"
        "        done.touch()\n"
    ),
)
# an app that starts once and refuses to start a second time
ONLY_ONCE = (
    "import os as _os\n"
    "_MARK = _os.path.join(_os.path.dirname(_os.path.abspath(__file__)), 'started-once')\n"
    "if _os.path.exists(_MARK):\n"
    "    raise SystemExit('l2_switch: refusing to start a second time')\n"
    "open(_MARK, 'w').close()\n"
)


def _scenario(raw):
    problems: list[str] = []
    scenario = parse(raw, raw["id"], lambda *args: problems.append(str(args)))
    assert scenario is not None and problems == []
    return scenario


def _controllers(name: str) -> list[int]:
    """Controller processes tagged for lab ``name``."""
    found = []
    for pid in teardown.tagged_processes().get(name, []):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                if b"sdnlab.controller.runner" in f.read():
                    found.append(pid)
        except OSError:
            pass
    return found


def _blocked(pid: int) -> int:
    """A process's blocked signals (bit n-1 for signal n)."""
    with open(f"/proc/{pid}/status") as f:
        return next(int(line.split()[1], 16) for line in f if line.startswith("SigBlk:"))


def _measure(lab, workdir, name: str, raws) -> dict:
    topology = live.load_topology(lab)
    live.up(lab, workdir, name)
    try:
        live.run_scenario(lab, name, topology)  # pingall: the app has learned every host
        items = {raw["id"]: scored_item(_scenario(raw), name, topology) for raw in raws}
        items["controllers"] = _controllers(name)
        items["blocked"] = {pid: _blocked(pid) for pid in items["controllers"]}
        items["status"] = api.status(name)["controller"]
        return items
    finally:
        api.down(name)
        assert _controllers(name) == []


@pytest.fixture
def lab():
    return load_lab("l2_learning")


def test_the_reference_app_comes_back_fast_after_a_restart_and_installs_a_flow_per_meter(lab, tmp_path):
    shutil.copytree(lab.solution_dir, tmp_path / "ref")
    items = _measure(lab, tmp_path / "ref", "t-rs-ref", (RESTART, RECONNECT, METERS))
    for key in ("restart", "reconnect"):
        restart, ms = items[key]
        assert restart.score >= restart.weight / 2, restart.details  # full on a quiet machine
        assert ms <= 3500 and "forwarded again" in restart.details[0]
    assert "controller process restarted in" in items["restart"][0].details[0]
    assert "kept running" in items["reconnect"][0].details[0]
    assert items["status"]["restarts"] == 1 and items["status"]["alive"]  # a new process, one only
    assert len(items["controllers"]) == 1 and items["controllers"][0] == items["status"]["pid"]
    # the restarted runner does not keep the watcher's blocked restart signal
    assert not items["blocked"][items["status"]["pid"]] & (1 << (signal.SIGUSR1 - 1))
    meters, per_second = items["meters"]
    assert meters.score >= meters.weight / 2, meters.details  # full on a quiet machine
    assert per_second >= 25


def test_an_app_that_forgets_reconnecting_switches_and_installs_no_flows_earns_nothing(lab, tmp_path):
    shutil.copytree(lab.starter_dir, tmp_path / "bad")
    app = tmp_path / "bad" / "l2_switch.py"
    text = app.read_text()
    assert ONCE[0] in text
    app.write_text(text.replace(ONCE[0], ONCE[1], 1))
    items = _measure(lab, tmp_path / "bad", "t-rs-bad", (RESTART, METERS))
    restart, ms = items["restart"]
    assert restart.score == 0.0 and ms == math.inf, restart.details
    assert "not forwarded again" in restart.details[0]
    assert "controller process restarted" in restart.details[0]  # the process did restart: the app stays dark
    meters, per_second = items["meters"]
    assert meters.score == 0.0 and per_second == 0.0, meters.details
    assert "0 of 1000 meters" in meters.details[0]


def test_a_restarted_app_that_fails_to_come_up_scores_nothing_and_leaves_no_process(lab, tmp_path):
    shutil.copytree(lab.solution_dir, tmp_path / "once")
    app = tmp_path / "once" / "l2_switch.py"
    app.write_text(ONLY_ONCE + app.read_text())
    items = _measure(lab, tmp_path / "once", "t-rs-fail", (RESTART,))
    restart, ms = items["restart"]
    assert restart.score == 0.0 and ms == math.inf, restart.details
    assert "the restarted controller did not come up" in restart.details[0]
    assert "exited with code" in restart.details[0]
    assert items["controllers"] == [] and not items["status"]["alive"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _listening(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def test_a_remote_controller_is_not_restarted_and_the_text_says_so(lab, tmp_path):
    """A ``remote:`` controller is the trainee's own process: the switches reconnect to it."""
    shutil.copytree(lab.solution_dir, tmp_path / "remote")
    port = _free_port()
    argv = [sys.executable, "-m", "sdnlab.controller.runner", "--ofp-tcp-listen-port", str(port)]
    argv += ["--wsapi-port", str(_free_port()), str(tmp_path / "remote" / "l2_switch.py")]
    controller = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while not _listening(port):
            assert controller.poll() is None and time.monotonic() < deadline, "the controller did not start"
            time.sleep(0.2)
        name = "t-rs-remote"
        remote = f"remote:127.0.0.1:{port}"
        api.up(lab.topology.source, dict(lab.topology.params), name=name, controller=remote)
        try:
            topology = live.load_topology(lab)
            live.run_scenario(lab, name, topology)
            item, ms = scored_item(_scenario(RESTART), name, topology)
        finally:
            api.down(name)
        assert ms <= 3500 and "forwarded again" in item.details[0], item.details
        assert f"127.0.0.1:{port} is remote (not run by sdnlab)" in item.details[0]
        assert "not restarted" in item.details[0]
        assert controller.poll() is None  # the trainee's own process kept running
    finally:
        controller.terminate()
        controller.wait(timeout=10)
