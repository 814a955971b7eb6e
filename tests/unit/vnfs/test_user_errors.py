"""What a user sees when their input or their VNF's code is wrong: one line naming the file (and
line, packet or option), a non-zero exit, never a traceback; and the live engine survives a
raising VNF. These are the QA findings on ``sdnlab vnf``, one test (or more) each."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time

import pytest
from vnf_socketpairs import drain, make_worker

from sdnlab.vnfs import manage
from sdnlab.vnfs.errors import VnfCodeError, VnfConfigError, VnfLoadError, VnfOptionError, VnfRunError
from sdnlab.vnfs.firewall.vnf import Firewall
from sdnlab.vnfs.framework import VNF, forward
from sdnlab.vnfs.framework.config import load_yaml
from sdnlab.vnfs.framework.loader import load_vnf_class
from sdnlab.vnfs.framework.offline import run_frames
from sdnlab.vnfs.framework.testing import icmp, tcp, udp
from sdnlab.vnfs.packet import TCP_ACK, TCP_SYN, build_frame
from sdnlab.vnfs.pcapio import write_pcap

RAISING_VNF = """from sdnlab.vnfs.framework import VNF, forward


class Boom(VNF):
    kind = "boom"

    def handle(self, packet):
        if packet.ip_proto == 17:
            return {}["missing"]
        return forward()
"""

FRAMES = [
    tcp("10.0.0.1", 1000, "10.0.0.2", 80, TCP_SYN),
    tcp("10.0.0.1", 1001, "10.0.0.2", 80, TCP_ACK),
    udp("10.0.0.1", 53, "10.0.0.2", 53),
]


def sdnlab(monkeypatch, capsys, *args: str) -> tuple[int, str, str]:
    """Run the real ``sdnlab`` entry point (its error handling included): (status, stdout, stderr)."""
    from sdnlab.cli import main

    monkeypatch.setattr(sys, "argv", ["sdnlab", *args])
    with pytest.raises(SystemExit) as exit_info:
        main()
        raise SystemExit(0)
    out, err = capsys.readouterr()
    return exit_info.value.code or 0, out, err


def one_line_error(status: int, err: str) -> str:
    assert status != 0
    assert "Traceback" not in err and "╭" not in err, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("sdnlab: error: "), err
    return lines[0]


@pytest.fixture
def good_pcap(tmp_path):
    path = tmp_path / "good.pcap"
    write_pcap(path, [(1.0 + i / 10, f) for i, f in enumerate(FRAMES)])
    return path


# ----- 1. unreadable user files: configs, captures, researcher files --------------------------


def test_a_config_with_non_utf8_bytes_is_one_line_naming_its_line(tmp_path, good_pcap, monkeypatch, capsys):
    config = tmp_path / "bin.yaml"
    config.write_bytes(b"default: drop\nrules: [\xff\xfe]\n")
    with pytest.raises(VnfConfigError, match=r"bin.yaml:2: not UTF-8 text \(byte 0xff\)"):
        load_yaml(config)
    status, _, err = sdnlab(
        monkeypatch, capsys, "vnf", "test", "firewall", "-c", str(config), "--pcap", str(good_pcap)
    )
    assert "bin.yaml:2: not UTF-8" in one_line_error(status, err)


@pytest.mark.parametrize(
    "make,expected",
    [
        (lambda d: d / "missing.yaml", "missing.yaml: cannot read config: No such file"),
        (lambda d: d, "cannot read config: Is a directory"),
    ],
)
def test_missing_or_directory_configs_are_one_line(tmp_path, good_pcap, monkeypatch, capsys, make, expected):
    status, _, err = sdnlab(
        monkeypatch, capsys, "vnf", "test", "firewall", "-c", str(make(tmp_path)), "--pcap", str(good_pcap)
    )
    assert expected in one_line_error(status, err)


@pytest.mark.parametrize(
    "make,expected",
    [
        (lambda d: d / "missing.pcap", "No such file"),
        (lambda d: d, "Is a directory"),
        (
            lambda d: (d / "text.pcap").write_bytes(b"\xff\xfenot a capture at all") and d / "text.pcap",
            "not a pcap",
        ),
    ],
)
def test_missing_directory_or_garbage_captures_are_one_line(tmp_path, monkeypatch, capsys, make, expected):
    status, _, err = sdnlab(monkeypatch, capsys, "vnf", "test", "firewall", "--pcap", str(make(tmp_path)))
    assert expected in one_line_error(status, err)


@pytest.mark.parametrize(
    "name,content,expected",
    [
        ("badenc.py", b'x = "\xff"\n', "badenc.py:1: syntax error"),
        ("missing.py", None, "missing.py: no such VNF file"),
        ("dir.py", "dir", "dir.py: is a directory, not a VNF .py file"),
        ("crash.py", b"import json\njson.loads('{')\n", "crash.py: importing it failed: JSONDecodeError"),
    ],
)
def test_unreadable_researcher_files_are_one_line(
    tmp_path, good_pcap, monkeypatch, capsys, name, content, expected
):
    path = tmp_path / name
    if content == "dir":
        path.mkdir()
    elif content is not None:
        path.write_bytes(content)
    status, _, err = sdnlab(monkeypatch, capsys, "vnf", "test", str(path), "--pcap", str(good_pcap))
    assert expected in one_line_error(status, err)


def test_an_import_error_names_the_researchers_line(tmp_path):
    path = tmp_path / "crash.py"
    path.write_text("import json\njson.loads('{')\n")
    with pytest.raises(VnfLoadError, match=r"crash.py:2 in <module> \(json.loads\('\{'\)\)"):
        load_vnf_class(str(path))


def test_a_researchers_parse_config_that_raises_is_one_line_with_its_line(
    tmp_path, good_pcap, monkeypatch, capsys
):
    path = tmp_path / "cfgboom.py"
    path.write_text(
        "from sdnlab.vnfs.framework import VNF\n\n\nclass A(VNF):\n"
        "    def parse_config(self, fields):\n        return fields.data['x']\n"
    )
    status, _, err = sdnlab(monkeypatch, capsys, "vnf", "test", str(path), "--pcap", str(good_pcap))
    line = one_line_error(status, err)
    assert "cfgboom.py: setting it up with its config failed: KeyError: 'x'" in line
    assert "cfgboom.py:6 in parse_config" in line


# ----- 2. a VNF whose handle() raises ---------------------------------------------------------


def test_offline_a_raising_handle_names_the_file_the_packet_and_the_line(
    tmp_path, good_pcap, monkeypatch, capsys
):
    path = tmp_path / "myvnf.py"
    path.write_text(RAISING_VNF)
    status, _out, err = sdnlab(monkeypatch, capsys, "vnf", "test", str(path), "--pcap", str(good_pcap))
    line = one_line_error(status, err)
    assert status == VnfCodeError.exit_code
    assert "myvnf.py: packet 3 of " in line and "good.pcap: handle() raised KeyError: 'missing'" in line
    assert 'myvnf.py:9 in handle (return {}["missing"])' in line


def test_offline_a_raising_tick_is_reported_too():
    class BadTick(VNF):
        def tick(self, now):
            raise RuntimeError("clock went backwards")

    with pytest.raises(
        VnfCodeError,
        match=r"tick\(\) before packet 1 of the capture raised RuntimeError: "
        r"clock went backwards at .*test_user_errors.py:\d+ in tick",
    ):
        run_frames(BadTick(), [(0.0, FRAMES[0])])


class Flaky(VNF):
    """Raises on UDP, forwards the rest."""

    def handle(self, packet):
        if packet.ip_proto == 17:
            raise ValueError("bad udp")
        return forward()


def test_live_a_raising_handle_is_counted_logged_and_dropped_and_the_worker_goes_on():
    vnf = Flaky()
    worker, peers = make_worker(vnf)
    worker.dispatch(worker.ports["inside"], [FRAMES[2], FRAMES[0], FRAMES[2]], now=1.0)
    assert drain(peers["outside"]) == [FRAMES[0]]  # only the packet handle() did not choke on
    assert vnf.counters["handler_errors"] == 2
    assert (vnf.counters["packets"], vnf.counters["forwarded"], vnf.counters["dropped"]) == (3, 1, 2)
    event = vnf.log.lines[0]
    assert event["event"] == "handler_error" and event["error"] == "ValueError: bad udp"
    assert event["at"].startswith("test_user_errors.py:") and event["policy"] == "drop"


def test_live_the_policy_can_forward_packets_whose_handle_raised():
    class Lenient(Flaky):
        on_handler_error = "forward"

    vnf = Lenient()
    worker, peers = make_worker(vnf)
    worker.dispatch(worker.ports["inside"], [FRAMES[2]], now=1.0)
    assert drain(peers["outside"]) == [FRAMES[2]] and vnf.counters["handler_errors"] == 1


def test_live_handler_error_logs_are_rate_limited():
    vnf = Flaky()
    worker, _ = make_worker(vnf)
    vnf.log.clock = lambda: 1000.5  # all 200 errors fall in one second, however slow the machine
    worker.dispatch(worker.ports["inside"], [FRAMES[2]] * 200, now=1.0)
    assert vnf.counters["handler_errors"] == 200
    assert len([e for e in vnf.log.lines if e["event"] == "handler_error"]) <= vnf.log.burst


def test_live_a_raising_tick_or_an_unknown_port_does_not_stop_the_worker():
    class Broken(VNF):
        def tick(self, now):
            raise RuntimeError("oops")

        def handle(self, packet):
            from sdnlab.vnfs.framework import send_to

            return send_to("nowhere")

    vnf = Broken()
    worker, peers = make_worker(vnf)
    worker.housekeeping(5.0)
    worker.dispatch(worker.ports["inside"], [FRAMES[0]], now=5.0)
    assert vnf.counters["tick_errors"] == 1 and vnf.counters["unknown_port_frames"] == 1
    assert {e["event"] for e in vnf.log.lines} == {"tick_error", "unknown_port"}
    assert drain(peers["outside"]) == [] and drain(peers["inside"]) == []


# ----- 3. vnf run: options validated before anything starts, failed starts leave nothing --------


def test_run_with_a_bogus_mode_is_refused_before_anything_starts(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("SDNLAB_RUN_DIR", str(tmp_path))
    status, _, err = sdnlab(
        monkeypatch,
        capsys,
        "vnf",
        "run",
        "firewall",
        "--name",
        "lab1",
        "--host",
        "fw1",
        "--vnf",
        "fwz",
        "--mode",
        "bogus",
    )
    line = one_line_error(status, err)
    assert "--mode 'bogus': expected one of recv, rxring, txring, ring" in line and status == 2
    assert "usage" not in err and "sdnlab-vnf" not in err
    assert not (tmp_path / "lab1").exists()


@pytest.mark.parametrize(
    "kwargs,problem",
    [
        ({"mode": "bogus"}, "--mode"),
        ({"workers": 0}, "--workers"),
        ({"vnf_name": "../x"}, "--vnf '../x'"),
        ({"ports": {"in side": "eth0"}}, "--port 'in side'"),
    ],
)
def test_run_options_are_checked_first(kwargs, problem):
    options = {"mode": "recv", "workers": 1, "vnf_name": None, "ports": None, **kwargs}
    with pytest.raises(VnfOptionError, match=problem):
        manage.check_options(**options)


def fake_lab(monkeypatch, tmp_path, child_code: str):
    """A lab whose host 'fw1' has two interfaces; 'starting' a VNF runs ``child_code`` instead."""
    from sdnlab.runtime import api

    monkeypatch.setenv("SDNLAB_RUN_DIR", str(tmp_path))
    (tmp_path / "lab1").mkdir()
    monkeypatch.setattr(
        api,
        "status",
        lambda lab: {"hosts": [{"name": "fw1", "interfaces": [{"name": "fw1-eth0"}, {"name": "fw1-eth1"}]}]},
    )
    started = []

    def popen_in(lab, host, argv, **kwargs):
        kwargs.pop("pass_fds", None)
        proc = subprocess.Popen([sys.executable, "-c", child_code], **kwargs)
        started.append(proc)
        return proc

    monkeypatch.setattr(api, "popen_in", popen_in)
    return started


def test_a_vnf_that_exits_at_start_leaves_no_status_row(tmp_path, monkeypatch):
    fake_lab(
        monkeypatch,
        tmp_path,
        "import sys; print('sdnlab-vnf: error: no such device', file=sys.stderr); sys.exit(2)",
    )
    with pytest.raises(VnfRunError, match=r"exited at start .*no such device"):
        manage.start("lab1", "firewall", "fw1", vnf_name="fwz")
    assert manage.status("lab1") == []


def test_a_vnf_that_never_reports_is_stopped_and_leaves_no_status_row(tmp_path, monkeypatch):
    started = fake_lab(monkeypatch, tmp_path, "import time; time.sleep(30)")
    with pytest.raises(VnfRunError, match="did not report within 1s and was stopped"):
        manage.start("lab1", "firewall", "fw1", vnf_name="fwz", timeout=1.0)
    assert manage.status("lab1") == [] and started[0].poll() is not None


# ----- 4. vnf reload: the new file is validated first ------------------------------------------


def running_vnf(tmp_path, config_text: str, on_hup: str = "reload"):
    """A lab with one 'VNF' (a stand-in process that logs ``on_hup`` when it gets SIGHUP)."""
    folder = tmp_path / "lab1" / "vnfs" / "fw1"
    folder.mkdir(parents=True)
    config = tmp_path / "fw.yaml"
    config.write_text(config_text)
    log = folder / "log.jsonl"
    code = (
        "import json, signal, time, sys\n"
        "def hup(s, f):\n"
        f"    event = {{'event': {on_hup!r}, 'error': 'x.yaml:1: bad'}}\n"
        f"    open({str(log)!r}, 'a').write(json.dumps(event) + '\\n')\n"
        "signal.signal(signal.SIGHUP, hup)\n"
        "print('ready', flush=True)\n"
        "time.sleep(30)\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline() == "ready\n"
    (folder / "record.json").write_text(
        json.dumps(
            {
                "name": "fw1",
                "kind": "firewall",
                "host": "fw1",
                "pid": proc.pid,
                "ports": {"inside": "fw1-eth0", "outside": "fw1-eth1"},
                "config": str(config),
            }
        )
    )
    return proc, config, log


@pytest.fixture
def stand_in(tmp_path, monkeypatch):
    monkeypatch.setenv("SDNLAB_RUN_DIR", str(tmp_path))
    procs = []

    def make(config_text, on_hup="reload"):
        proc, config, log = running_vnf(tmp_path, config_text, on_hup)
        procs.append(proc)
        return proc, config, log

    yield make
    for proc in procs:
        proc.kill()
        proc.wait()


def test_reload_of_an_invalid_file_fails_with_file_line_and_does_not_signal(stand_in, monkeypatch, capsys):
    proc, _config, log = stand_in("default: drop\nrules:\n  - {name: web, action: allow}\n")
    status, out, err = sdnlab(monkeypatch, capsys, "vnf", "reload", "fw1", "--name", "lab1")
    line = one_line_error(status, err)
    assert "fw.yaml:3: rules[0].action: expected one of accept, drop, reject (got 'allow')" in line
    assert "reload requested" not in out
    time.sleep(0.2)
    assert proc.poll() is None and not log.exists()  # never signalled


def test_reload_of_an_undecodable_file_is_one_line(stand_in, monkeypatch, capsys):
    _, config, _ = stand_in("default: drop\n")
    config.write_bytes(b"default: drop\n\xc3\x28\n")
    status, _, err = sdnlab(monkeypatch, capsys, "vnf", "reload", "fw1", "--name", "lab1")
    assert "fw.yaml:2: not UTF-8 text" in one_line_error(status, err)


def test_reload_of_a_valid_file_signals_and_waits_for_the_vnfs_confirmation(stand_in, monkeypatch, capsys):
    stand_in("default: accept\n")
    status, out, err = sdnlab(monkeypatch, capsys, "vnf", "reload", "fw1", "--name", "lab1")
    assert status == 0, err
    assert "VNF fw1 of lab lab1 reloaded" in out


def test_reload_reports_a_failure_the_vnf_logged(stand_in, monkeypatch, capsys):
    stand_in("default: accept\n", on_hup="reload_failed")
    status, _, err = sdnlab(monkeypatch, capsys, "vnf", "reload", "fw1", "--name", "lab1")
    assert "kept its old config: x.yaml:1: bad" in one_line_error(status, err)


# ----- 5. vnf test --in-port -------------------------------------------------------------------


def test_an_unknown_in_port_is_rejected(good_pcap, monkeypatch, capsys):
    status, _, err = sdnlab(
        monkeypatch, capsys, "vnf", "test", "firewall", "--pcap", str(good_pcap), "--in-port", "nosuch"
    )
    assert "--in-port 'nosuch': the VNF has no such port (its ports: inside, outside)" in one_line_error(
        status, err
    )
    with pytest.raises(VnfOptionError, match="no such port"):
        run_frames(VNF(), [(0.0, FRAMES[0])], in_port="nosuch")


def test_a_known_in_port_is_used(good_pcap, monkeypatch, capsys):
    status, out, _ = sdnlab(
        monkeypatch, capsys, "vnf", "test", "passthrough", "--pcap", str(good_pcap), "--in-port", "outside"
    )
    assert status == 0 and "3 packets: 3 forwarded" in out


# ----- 6. every drop carries a reason ----------------------------------------------------------

ARP = bytes.fromhex("ffffffffffff020000000001080600010800060400010200000000010a0000010000000000000a000064")


def mixed_frames():
    return [
        tcp("10.0.0.1", 1000, "10.0.0.2", 80, TCP_ACK),  # no connection: INVALID
        tcp("10.0.0.1", 1001, "10.0.0.2", 22, TCP_SYN),  # NEW, no rule
        icmp("10.0.0.1", "10.0.0.2", type_=0),  # unmatched echo reply
        ARP,  # non-IP
        build_frame(ip_src="2001:db8::1", ip_dst="2001:db8::2", l4_src=1, l4_dst=2),  # IPv6
        b"\x00" * 9,  # unparseable
        udp("10.0.0.1", 5, "10.0.0.100", 80),
    ]


@pytest.mark.parametrize(
    "kind,config",
    [
        ("firewall", "default: drop\nnon_ip: drop\n"),
        ("lb", "vip: 10.0.0.100\nproto: udp\nbackends: [{name: a, ip: 10.0.0.11, weight: 0}]\n"),
        ("dpi", None),
        ("passthrough", None),
    ],
)
def test_every_drop_of_every_builtin_vnf_has_a_reason(kind, config):
    vnf = load_vnf_class(kind)(config)
    result, _ = run_frames(vnf, [(float(i), f) for i, f in enumerate(mixed_frames())])
    assert result.dropped > 0
    assert sum(result.drop_reasons.values()) == result.dropped
    assert "unspecified" not in result.drop_reasons, result.drop_reasons


def test_the_firewalls_summary_adds_up(tmp_path, monkeypatch, capsys):
    pcap = tmp_path / "mixed.pcap"
    write_pcap(pcap, [(float(i), f) for i, f in enumerate(mixed_frames())])
    config = tmp_path / "fw.yaml"
    config.write_text("default: drop\nnon_ip: drop\n")
    status, out, _ = sdnlab(
        monkeypatch, capsys, "vnf", "test", "firewall", "-c", str(config), "--pcap", str(pcap)
    )
    assert status == 0
    assert "7 packets: 0 forwarded (0 rewritten), 7 dropped" in out
    assert "dropped because: invalid=2, ipv6=1, non_ip=1, rule=2, unparsed=1" in out


def test_a_researchers_bare_drop_is_counted_as_unspecified():
    class Silent(VNF):
        def handle(self, packet):
            from sdnlab.vnfs.framework import DROP

            return DROP

    result, _ = run_frames(Silent(), [(0.0, FRAMES[0])])
    assert dict(result.drop_reasons) == {"unspecified": 1} and result.dropped == 1


def test_firewall_invalid_drops_say_invalid():
    assert Firewall("default: drop\n").process(FRAMES[1], "inside", 1.0).reason == "invalid"


# ----- 7. a file without a VNF subclass ------------------------------------------------------------


@pytest.mark.parametrize(
    "text,expected",
    [
        (
            "class Helper:\n    pass\n",
            "found none: it defines one class, Helper, which is not a subclass of VNF",
        ),
        (
            "class A:\n    pass\n\n\nclass B:\n    pass\n",
            "found none: it defines 2 classes (A, B), none a subclass of VNF",
        ),
        ("x = 1\n", "found none: it defines no classes; subclass sdnlab.vnfs.framework.VNF"),
        ("from sdnlab.vnfs.firewall.vnf import Firewall\n", "it imports Firewall: set VNF_CLASS = Firewall"),
        (
            (
                "from sdnlab.vnfs.framework import VNF\n\n\n"
                "class A(VNF):\n    pass\n\n\nclass B(VNF):\n    pass\n"
            ),
            "found 2 (A, B); set VNF_CLASS",
        ),
    ],
)
def test_a_file_without_exactly_one_vnf_class_says_what_it_found(tmp_path, text, expected):
    path = tmp_path / "myapp.py"
    path.write_text(text)
    with pytest.raises(VnfLoadError) as info:
        load_vnf_class(str(path))
    assert expected in str(info.value)
    assert "found no;" not in str(info.value)


def test_a_raising_stats_or_close_is_one_line_too(tmp_path, good_pcap, monkeypatch, capsys):
    path = tmp_path / "leaky.py"
    path.write_text(
        "from sdnlab.vnfs.framework import VNF\n\n\nclass Leaky(VNF):\n"
        "    def close(self):\n        raise OSError('socket already closed')\n"
    )
    status, _, err = sdnlab(monkeypatch, capsys, "vnf", "test", str(path), "--pcap", str(good_pcap))
    assert "leaky.py: close() raised OSError: socket already closed at" in one_line_error(status, err)

    class BadStats(VNF):
        def stats(self):
            return 1 / 0

    with pytest.raises(VnfCodeError, match="stats\\(\\) raised ZeroDivisionError"):
        run_frames(BadStats(), [(0.0, FRAMES[0])])


# ----- exits and endless loops in a researcher's VNF (issue 11 item 20) ------------------------

EXITING_VNF = """import os
import sys

from sdnlab.vnfs.framework import VNF, forward

{at_import}


class Exits(VNF):
    def handle(self, packet):
        if packet.ip_proto == 17:
            {in_handle}
        return forward()
"""


def _vnf_file(tmp_path, at_import="pass", in_handle="pass"):
    path = tmp_path / "exits.py"
    path.write_text(EXITING_VNF.format(at_import=at_import, in_handle=in_handle))
    return path


@pytest.mark.parametrize(
    "statement, named",
    [
        ("os._exit(0)", r"it called os\._exit\(0\)"),
        ("raise SystemExit(3)", r"it called sys\.exit\(3\) \(SystemExit\)"),
    ],
)
def test_an_exit_at_import_is_reported_with_its_line_not_a_silent_exit(tmp_path, statement, named):
    path = _vnf_file(tmp_path, at_import=statement)
    with pytest.raises(
        VnfLoadError, match=rf"exits\.py: importing it failed: {named} at .*exits\.py:6 in <module>"
    ):
        load_vnf_class(str(path))


@pytest.mark.parametrize(
    "statement, named",
    [
        ("sys.exit()", r"called sys\.exit\(\) \(SystemExit\)"),
        ("os._exit(0)", r"called os\._exit\(0\)"),
        ("sys.exit(3)", r"called sys\.exit\(3\) \(SystemExit\)"),
    ],
)
def test_an_exit_in_handle_names_the_packet_and_the_line(tmp_path, statement, named):
    vnf = load_vnf_class(str(_vnf_file(tmp_path, in_handle=statement)))()
    with pytest.raises(
        VnfCodeError, match=rf"packet 3 of the capture: handle\(\) {named} at .*exits\.py:12 in handle"
    ):
        run_frames(vnf, [(1.0, f) for f in FRAMES])


def test_an_endless_loop_in_handle_stops_at_the_time_budget_with_packet_and_line(tmp_path):
    vnf = load_vnf_class(str(_vnf_file(tmp_path, in_handle="while True:\n                pass")))()
    started = time.monotonic()
    with pytest.raises(VnfCodeError) as info:
        run_frames(vnf, [(1.0, f) for f in FRAMES], budget_s=0.3)
    assert time.monotonic() - started < 5
    assert "packet 3 of the capture: handle() ran longer than its time budget of 0.3 s" in str(info.value)
    assert "exits.py:12 in handle" in str(info.value) or "exits.py:13 in handle" in str(info.value)


def test_os_exit_is_restored_after_an_offline_run(tmp_path):
    import os

    original = os._exit
    vnf = load_vnf_class(str(_vnf_file(tmp_path, in_handle="os._exit(0)")))()
    with pytest.raises(VnfCodeError):
        run_frames(vnf, [(1.0, f) for f in FRAMES])
    assert os._exit is original


# ----- a live VNF stuck in its own code (issue 11 item 19) -------------------------------------


def _stats(folder, age_s: float, handler_errors: int = 0):
    (folder / "stats-w0.json").write_text(
        json.dumps(
            {"updated": time.time() - age_s, "counters": {"packets": 7, "handler_errors": handler_errors}}
        )
    )


def test_status_flags_a_running_vnf_whose_workers_stopped_reporting(stand_in, tmp_path, monkeypatch, capsys):
    _proc, _config, log = stand_in("default: accept\n")
    folder = log.parent
    written = time.monotonic()
    _stats(folder, age_s=30, handler_errors=4)
    log.write_text(
        json.dumps({"event": "handler_error", "error": "KeyError: 'x'", "at": "myvnf.py:8"}) + "\n"
    )
    (row,) = manage.status("lab1")
    assert row["running"] and row["state"] == "stuck" and row["stuck_workers"] == [0]
    assert row["handler_errors"] == 4 and row["last_error"] == "KeyError: 'x' at myvnf.py:8"
    status, out, _err = sdnlab(monkeypatch, capsys, "vnf", "status", "--name", "lab1")
    assert status == 0
    # 30 s old when written, older by the time the status is shown (a second or more on a busy machine)
    shown = re.search(r"stopped reporting (\d+) s ago", out)
    assert "stuck" in out and shown, out
    assert 30 <= int(shown[1]) <= 30 + time.monotonic() - written + 1, out
    assert "last error: KeyError: 'x' at myvnf.py:8" in out


def test_status_of_a_vnf_that_reports_is_running(stand_in):
    _proc, _config, log = stand_in("default: accept\n")
    _stats(log.parent, age_s=0.5)
    (row,) = manage.status("lab1")
    assert row["state"] == "running" and row["stuck_workers"] == [] and row["last_error"] is None


def test_a_reload_a_stuck_vnf_never_confirms_is_an_error_that_says_why(stand_in):
    _proc, _config, log = stand_in("default: accept\n", on_hup="ignored")
    _stats(log.parent, age_s=30)
    with pytest.raises(
        VnfRunError, match=r"reload not confirmed within 0.5 s: its worker\(s\) 0 stopped reporting"
    ):
        manage.reload("lab1", "fw1", timeout=0.5)


def test_a_reload_says_when_the_vnfs_code_changed_since_it_started(stand_in, tmp_path):
    _proc, _config, log = stand_in("default: accept\n")
    code = tmp_path / "myvnf.py"
    code.write_text("from sdnlab.vnfs.firewall.vnf import Firewall\n\nVNF_CLASS = Firewall\n")
    record = json.loads((log.parent / "record.json").read_text())
    record.update(kind="myvnf.py", kind_path=str(code), code_sha256=manage.code_digest(str(code)))
    (log.parent / "record.json").write_text(json.dumps(record))
    assert manage.reload("lab1", "fw1")["code_changed"] is False
    code.write_text(code.read_text() + "# edited\n")
    assert manage.reload("lab1", "fw1")["code_changed"] is True
    assert manage.status("lab1")[0]["code_changed"] is True
