"""Links down and up, and captures (issue 11 item 24), on a real lab."""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest

from sdnlab.runtime import api, links
from sdnlab.runtime.shell import LabShell

pytestmark = pytest.mark.network

SDNLAB = [sys.executable, "-m", "sdnlab.cli"]


def _started(proc: subprocess.Popen, word: str) -> str:
    """Read the capture's stderr until it says it is capturing (tcpdump: listening, tshark: Capturing)."""
    seen = ""
    while word not in seen:
        line = proc.stderr.readline()
        if not line:
            break
        seen += line
    return seen


def _ping(name: str) -> bool:
    return api.run_in(name, "h1", ["ping", "-c1", "-w3", "10.0.0.3"], timeout=10).returncode == 0


def test_a_link_taken_down_stops_traffic_until_it_is_brought_back(lab_factory, capsys):
    lab_factory("linear", {"switches": 3}, name="rt-link")
    assert _ping("rt-link")
    proc = subprocess.run(
        [*SDNLAB, "link", "s1", "s2", "down", "--name", "rt-link"], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    assert not _ping("rt-link")
    assert api.status("rt-link")["links_down"] == [["s1", "s2"]]
    shell = LabShell("rt-link")
    shell.onecmd("link s2 s1 up")  # the Mininet-style shell has it too, either order
    assert "link s2-s1 up" in capsys.readouterr().out
    assert api.status("rt-link")["links_down"] == []
    assert _ping("rt-link")
    links.set_link("rt-link", "h3", "s3", up=False)  # a host's end is set down inside the host
    assert not _ping("rt-link")
    assert links.restore_links("rt-link") == [["h3", "s3"]]
    assert _ping("rt-link")
    with pytest.raises(api.LabError, match="no link between 's1' and 's3'"):
        links.set_link("rt-link", "s1", "s3", up=False)


def test_capture_on_a_switch_port_writes_pcapng_for_wireshark(lab_factory, tmp_path):
    lab_factory("linear", {"switches": 2}, name="rt-capture")
    out = tmp_path / "s1.pcapng"
    proc = subprocess.Popen(
        [*SDNLAB, "capture", "s1-eth1", "--name", "rt-capture", "-w", str(out), "-c", "4"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert "Capturing on" in _started(proc, "Capturing on")
    api.run_in("rt-capture", "h1", ["ping", "-c4", "-i0.2", "-w10", "10.0.0.2"], timeout=20)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert out.read_bytes()[:4] == b"\x0a\x0d\x0d\x0a"  # a pcapng section header block
    if shutil.which("tshark"):
        text = subprocess.run(["tshark", "-r", str(out)], capture_output=True, text=True).stdout
        assert "ICMP" in text or "ARP" in text
    host = subprocess.Popen(  # on a host: tcpdump inside its namespace, printed
        [*SDNLAB, "capture", "h2", "--name", "rt-capture", "-c", "2"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert "listening on" in _started(host, "listening on")
    api.run_in("rt-capture", "h1", ["ping", "-c3", "-i0.2", "-w10", "10.0.0.2"], timeout=20)
    printed, err = host.communicate(timeout=60)
    assert host.returncode == 0, err
    assert "10.0.0.2" in printed and ("ICMP" in printed or "ARP" in printed), printed
