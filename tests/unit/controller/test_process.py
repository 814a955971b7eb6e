"""ControllerProcess leaves nothing behind: its log file goes when it stops, its output stays readable."""

import os

import pytest

from sdnlab.controller.errors import ListenError
from sdnlab.controller.process import ControllerProcess


def test_stop_removes_the_log_file_and_keeps_the_output():
    ctl = ControllerProcess(["ryu.controller.ofp_handler"], 6786).start()
    path = ctl.log_path
    assert path is not None and os.path.basename(path).startswith("sdnlab-ctl-") and os.path.exists(path)
    ctl.stop()
    assert not os.path.exists(path) and ctl.log_path is None
    assert "Traceback" not in ctl.output() and isinstance(ctl.output(), str)


def test_a_process_that_never_started_creates_no_log_file():
    ctl = ControllerProcess(["ryu.controller.ofp_handler"], 6787)
    ctl.stop()
    assert ctl.log_path is None


def test_the_context_manager_removes_the_log_file_too():
    with ControllerProcess(["ryu.controller.ofp_handler"], 6788) as ctl:
        path = ctl.log_path
    assert path is not None and not os.path.exists(path)


def test_a_process_that_fails_to_start_removes_its_log_file_and_reports_the_output():
    ctl = ControllerProcess(["no.such.app"], 6789)
    with pytest.raises(ListenError, match=r"no\.such\.app"):
        ctl.start()
    assert ctl.log_path is None and "no.such.app" in ctl.output()
