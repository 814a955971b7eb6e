"""``sdnlab dpi classify`` prints one JSON record per flow and turns bad input into an SdnlabError."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from sdnlab.errors import SdnlabError
from sdnlab.vnfs import pcapio
from sdnlab.vnfs.dpi.cli import register
from sdnlab.vnfs.dpi.synth import tcp_conversation, udp_exchange


def _root() -> typer.Typer:
    """A root CLI with only the DPI commands registered, as sdnlab.cli does for every part."""
    root = typer.Typer()
    register(root, typer.Typer())
    return root


def _capture(tmp_path):
    path = tmp_path / "mixed.pcap"
    frames = tcp_conversation(
        "10.0.0.1", "10.0.0.2", 40000, 8081, [("c", b"GET / HTTP/1.1\r\nHost: lab\r\n\r\n")]
    )
    frames += udp_exchange("10.0.0.3", "10.0.0.4", 5000, 7000, [("c", b"<13>Jan  1 00:00:00 host app: hi")])
    pcapio.write_pcap(path, [(1.0 + i, f) for i, f in enumerate(frames)])
    return path


def test_json_lines_one_record_per_flow(tmp_path):
    result = CliRunner().invoke(_root(), ["dpi", "classify", str(_capture(tmp_path)), "--json"])
    assert result.exit_code == 0, result.output
    records = [json.loads(line) for line in result.output.splitlines()]
    assert [(r["proto"], r["src"], r["sport"], r["dst"], r["dport"], r["app"]) for r in records] == [
        ("TCP", "10.0.0.1", 40000, "10.0.0.2", 8081, "HTTP"),
        ("UDP", "10.0.0.3", 5000, "10.0.0.4", 7000, "Syslog"),
    ]
    assert records[0]["metadata"]["host"] == "lab"
    assert {"packets", "bytes", "first_seen", "last_seen", "risks"} <= set(records[0])


def test_table_output_names_the_apps(tmp_path):
    result = CliRunner().invoke(_root(), ["dpi", "classify", str(_capture(tmp_path))], env={"COLUMNS": "200"})
    assert result.exit_code == 0 and "HTTP" in result.output and "Syslog" in result.output


def test_a_broken_capture_is_an_sdnlab_error_naming_the_file(tmp_path):
    bad = tmp_path / "bad.pcap"
    bad.write_bytes(b"definitely not a capture")
    result = CliRunner().invoke(_root(), ["dpi", "classify", str(bad)])
    assert isinstance(result.exception, SdnlabError)  # sdnlab.cli.main prints it as one line, exit code 2
    assert result.exception.exit_code == 2
    assert "bad.pcap" in str(result.exception) and "not a pcap or pcapng file" in str(result.exception)


# --- a capture cut short: every complete record counts, the cut is a warning -------------------------

QUERY = bytes.fromhex("123401000001000000000000076578616d706c6503636f6d0000010001")
FIRST = udp_exchange("10.0.0.1", "10.0.0.53", 40000, 53, [("c", QUERY)])[0]
SECOND = udp_exchange("10.0.0.2", "10.0.0.53", 40001, 53, [("c", QUERY)])[0]


def _dns_capture(path):
    pcapio.write_pcap(path, [(1.0, FIRST), (2.0, SECOND)])
    return path


def test_a_capture_cut_inside_the_second_record_header_classifies_the_first_and_warns(tmp_path):
    whole = _dns_capture(tmp_path / "whole.pcap").read_bytes()
    first_end = 24 + 16 + len(FIRST)
    cut = tmp_path / "cut.pcap"
    cut.write_bytes(whole[: first_end + 10])  # 10 of the second record's 16 header bytes
    result = CliRunner().invoke(_root(), ["dpi", "classify", str(cut), "--json"])
    assert result.exit_code == 0, result.output
    assert [json.loads(line)["src"] for line in result.stdout.splitlines()] == ["10.0.0.1"]
    assert result.stderr.strip() == (
        f"sdnlab: warning: {cut}: record 2 at byte {first_end}: truncated record header "
        f"(10 of 16 bytes); classified the 1 complete record before it"
    )


def test_a_capture_cut_inside_a_frame_warns_after_the_table(tmp_path):
    cut = tmp_path / "cut.pcap"
    cut.write_bytes(_dns_capture(tmp_path / "whole.pcap").read_bytes()[:-5])
    result = CliRunner().invoke(_root(), ["dpi", "classify", str(cut)], env={"COLUMNS": "200"})
    assert result.exit_code == 0 and "10.0.0.1:40000" in result.stdout and "10.0.0.2" not in result.stdout
    assert "cut.pcap: record 2 at byte" in result.stderr and "truncated frame" in result.stderr


def test_a_capture_cut_before_any_complete_record_is_an_error(tmp_path):
    cut = tmp_path / "cut.pcap"
    cut.write_bytes(_dns_capture(tmp_path / "whole.pcap").read_bytes()[:30])
    result = CliRunner().invoke(_root(), ["dpi", "classify", str(cut)])
    assert isinstance(result.exception, SdnlabError) and result.exception.exit_code == 2
    assert "cut.pcap: record 1 at byte 24: truncated record header" in str(result.exception)


# --- --dns-server -------------------------------------------------------------------------------


def test_dns_server_that_is_not_an_address_is_rejected_naming_the_value(tmp_path):
    result = CliRunner().invoke(
        _root(),
        ["dpi", "classify", str(_capture(tmp_path)), "--dns-server", "10.0.0.53", "--dns-server", "notanip"],
    )
    assert result.exit_code == 2
    assert "Invalid value for '--dns-server': 'notanip' is not an IPv4 or IPv6 address" in result.output


def test_dns_server_in_any_ipv6_spelling_matches_the_flows_server(tmp_path):
    path = tmp_path / "v6.pcap"
    pcapio.write_pcap(
        path, [(1.0, f) for f in udp_exchange("2001:db8::1", "2001:db8::53", 40000, 53, [("c", QUERY)])]
    )
    allowed = CliRunner().invoke(
        _root(), ["dpi", "classify", str(path), "--json", "--risks", "--dns-server", "2001:DB8:0::53"]
    )
    other = CliRunner().invoke(
        _root(), ["dpi", "classify", str(path), "--json", "--risks", "--dns-server", "2001:db8::54"]
    )
    assert allowed.exit_code == 0 and "unusual_dns_server" not in allowed.stdout
    assert other.exit_code == 0 and "unusual_dns_server" in other.stdout


# --- bad inputs are one line on stderr, never a traceback (through the real entry point) -------------


def _sdnlab(*args) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "sdnlab.cli", *args],
        capture_output=True,
        timeout=60,
        env={**os.environ, "COLUMNS": "200"},
    )


@pytest.mark.parametrize(
    "case, expected",
    [
        ("missing", b"sdnlab: error: {dir}/missing.pcap: cannot open: No such file or directory"),
        ("directory", b"sdnlab: error: {dir}: cannot open: Is a directory"),
        ("not a directory", b"sdnlab: error: {dir}/text.txt/x.pcap: cannot open: Not a directory"),
        ("unreadable", b"sdnlab: error: /proc/self/mem: cannot read: Input/output error"),
        ("latin-1 text", b"sdnlab: error: {dir}/text.txt: not a pcap or pcapng file (magic 636166e9)"),
        ("non-UTF-8 name", b"sdnlab: error: {dir}/bad\\xff\\n.pcap: cannot open: No such file or directory"),
        ("bad address", b"Error: Invalid value for '--dns-server': '\\udcff' is not an IPv4 or IPv6 address"),
    ],
)
def test_bad_input_is_one_line_on_stderr(tmp_path, case, expected):
    (tmp_path / "text.txt").write_bytes(b"caf\xe9 is not a capture\n")
    capture = _capture(tmp_path)
    arg = {
        "missing": tmp_path / "missing.pcap",
        "directory": tmp_path,
        "not a directory": tmp_path / "text.txt" / "x.pcap",
        "unreadable": Path("/proc/self/mem"),
        "latin-1 text": tmp_path / "text.txt",
        "non-UTF-8 name": os.fsencode(tmp_path) + b"/bad\xff\n.pcap",
        "bad address": capture,
    }[case]
    extra = [b"--dns-server", b"\xff"] if case == "bad address" else []
    run = _sdnlab("dpi", "classify", arg, *extra)
    assert run.returncode == 2, run.stderr
    assert b"Traceback" not in run.stderr and run.stdout == b""
    assert run.stderr.splitlines()[-1] == expected.replace(b"{dir}", os.fsencode(tmp_path))
    if case != "bad address":  # click's usage errors add a usage line; ours are exactly one line
        assert len(run.stderr.splitlines()) == 1


def test_a_capture_with_a_non_utf8_name_is_classified_and_titled_printably(tmp_path):
    path = os.fsencode(tmp_path) + b"/caf\xe9.pcap"
    Path(os.fsdecode(path)).write_bytes(_capture(tmp_path).read_bytes())
    run = _sdnlab("dpi", "classify", path)
    assert run.returncode == 0 and run.stderr == b""
    assert b"caf\\xe9.pcap: 2 flows" in run.stdout and b"Syslog" in run.stdout


def test_payload_text_is_shown_as_text_not_markup_or_terminal_escapes(tmp_path):
    request = b"GET /a[/b]x HTTP/1.1\r\nHost: [bold]\x1b]0;pwned\x07\x1b[31mred\r\nUser-Agent: [/]\r\n\r\n"
    path = tmp_path / "markup.pcap"
    pcapio.write_pcap(
        path,
        [
            (1.0 + i, f)
            for i, f in enumerate(tcp_conversation("10.0.0.1", "10.0.0.2", 40000, 80, [("c", request)]))
        ],
    )
    result = CliRunner().invoke(_root(), ["dpi", "classify", str(path)], env={"COLUMNS": "250"})
    assert result.exit_code == 0, result.output
    assert "url=/a[/b]x" in result.stdout and "host=[bold]\\x1b]0;pwned\\x07\\x1b[31mred" in result.stdout
    assert "\x1b" not in result.stdout and "\x07" not in result.stdout
