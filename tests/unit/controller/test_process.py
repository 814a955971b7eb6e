"""ControllerProcess leaves nothing behind: its log file goes when it stops, its output stays readable."""

import glob
import os
import tempfile

from sdnlab.controller.process import ControllerProcess


def _logs() -> set[str]:
    return set(glob.glob(os.path.join(tempfile.gettempdir(), "sdnlab-ctl-*.log")))


def test_stop_removes_the_log_file_and_keeps_the_output():
    before = _logs()
    ctl = ControllerProcess(["ryu.controller.ofp_handler"], 6786).start()
    assert ctl.log_path is not None and os.path.exists(ctl.log_path)
    path = ctl.log_path
    ctl.stop()
    assert not os.path.exists(path) and _logs() <= before
    assert "Traceback" not in ctl.output() and isinstance(ctl.output(), str)


def test_a_process_that_never_started_creates_no_log_file():
    before = _logs()
    ControllerProcess(["ryu.controller.ofp_handler"], 6787).stop()
    assert _logs() <= before


def test_the_context_manager_removes_the_log_file_too():
    with ControllerProcess(["ryu.controller.ofp_handler"], 6788) as ctl:
        path = ctl.log_path
    assert path is not None and not os.path.exists(path)
