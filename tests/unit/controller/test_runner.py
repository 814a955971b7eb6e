"""The runner as users meet it: one-line errors, fast exit on SIGTERM, apps loaded once.

These start the runner as a subprocess on a localhost port (no root, no switches).
"""

import signal
import subprocess
import sys
import textwrap
import time

from sdnlab.controller.process import ControllerProcess

RUNNER = [sys.executable, "-m", "sdnlab.controller.runner"]


def run(*args, timeout=20):
    return subprocess.run(RUNNER + list(args), capture_output=True, text=True, timeout=timeout)


def test_unknown_app_is_one_line_and_exit_code_5():
    result = run("--ofp-tcp-listen-port", "6781", "no.such.app")
    assert result.returncode == 5
    assert result.stderr.strip().splitlines()[-1].startswith("sdnlab.controller.runner: error: no.such.app:")
    assert "Traceback" not in result.stderr


def test_syntax_error_in_an_app_file_names_file_and_line(tmp_path):
    app = tmp_path / "broken_app.py"
    app.write_text("from ryu.base import app_manager\nclass A(app_manager.RyuApp)\n    pass\n")
    result = run("--ofp-tcp-listen-port", "6782", str(app))
    assert result.returncode == 5 and f"{app}:2: syntax error" in result.stderr


def test_port_in_use_is_reported():
    with ControllerProcess(["ryu.controller.ofp_handler"], 6783):
        result = run("--ofp-tcp-listen-port", "6783", "ryu.controller.ofp_handler")
    assert result.returncode == 5 and "6783: cannot listen" in result.stderr


def test_sigterm_and_ctrl_c_stop_it_within_two_seconds_even_with_busy_app_threads(tmp_path):
    app = tmp_path / "busy_app.py"
    app.write_text(
        textwrap.dedent("""
        from ryu.base import app_manager
        from ryu.lib import hub

        class Busy(app_manager.RyuApp):
            def __init__(self, *args, **kwargs):
                super().__init__(*args, **kwargs)
                hub.spawn(self.forever)

            def forever(self):
                while True:
                    hub.sleep(1)
    """)
    )
    for sig in (signal.SIGTERM, signal.SIGINT):
        ctl = ControllerProcess([str(app), "ryu.controller.ofp_handler"], 6784).start()
        elapsed = ctl.stop(sig, timeout=30)
        assert ctl.proc.returncode == 0  # it exited by itself (a kill at the timeout gives -9)
        assert elapsed < 10, f"{signal.Signals(sig).name}: {elapsed:.1f} s to stop"  # not stuck until a kill
        assert "Traceback" not in ctl.output()


def test_an_app_required_under_both_names_loads_once():
    ctl = ControllerProcess(["ryu.topology.switches", "os_ken.topology.switches"], 6785).start()
    time.sleep(0.3)
    ctl.stop()
    assert ctl.output().count("of Switches") == 1, ctl.output()


def test_an_app_that_crashes_in_init_shows_its_traceback_and_exits(tmp_path):
    app = tmp_path / "crashing_app.py"
    app.write_text(
        textwrap.dedent("""
        from ryu.base import app_manager

        class Crashing(app_manager.RyuApp):
            def __init__(self, *args, **kwargs):
                super().__init__(*args, **kwargs)
                raise KeyError('missing setting')
    """)
    )
    result = run("--ofp-tcp-listen-port", "6786", str(app), "ryu.controller.ofp_handler")
    assert result.returncode == 1
    assert "an app failed while starting" in result.stderr and "KeyError: 'missing setting'" in result.stderr


def test_a_missing_config_file_is_one_line_and_exit_code_5(tmp_path):
    result = run("--config-file", str(tmp_path / "nonexist.ini"), "--ofp-tcp-listen-port", "6783")
    assert result.returncode == 5 and "Traceback" not in result.stderr
    missing = tmp_path / "nonexist.ini"
    assert result.stderr.strip().splitlines() == [
        f"sdnlab.controller.runner: error: {missing}: cannot read config file: No such file or directory"
    ]


def test_an_ini_syntax_error_names_file_and_line(tmp_path):
    ini = tmp_path / "ctl.ini"
    ini.write_text("[DEFAULT]\nwsapi_port = 8080\nthis is bad\n")
    result = run("--config-file", str(ini), "--ofp-tcp-listen-port", "6784")
    assert result.returncode == 5 and "Traceback" not in result.stderr
    [line] = result.stderr.strip().splitlines()
    assert line.startswith(f"sdnlab.controller.runner: error: {ini}:3: invalid ini syntax"), line


def test_a_non_utf8_or_unreadable_config_file_is_one_line(tmp_path):
    ini = tmp_path / "bin.ini"
    ini.write_bytes(b"[DEFAULT]\nwsapi_port = \xff\n")
    for path, words in (
        (ini, f"{ini}:2: not UTF-8 text (byte 0xff)"),
        (tmp_path, f"{tmp_path}: cannot read config file: Is a directory"),
    ):
        result = run("--config-file", str(path), "--ofp-tcp-listen-port", "6785")
        assert result.returncode == 5 and "Traceback" not in result.stderr and words in result.stderr


def test_a_config_file_value_of_the_wrong_type_is_a_usage_error(tmp_path):
    ini = tmp_path / "ctl.ini"
    ini.write_text("[DEFAULT]\nwsapi_port = abc\n")
    result = run("--config-file", str(ini), "--ofp-tcp-listen-port", "6786")
    assert result.returncode == 2 and "Traceback" not in result.stderr and "wsapi_port" in result.stderr
