"""``sdnlab dpi classify`` prints one JSON record per flow and turns bad input into an SdnlabError."""

from __future__ import annotations

import json

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
    frames = tcp_conversation("10.0.0.1", "10.0.0.2", 40000, 8081, [("c", b"GET / HTTP/1.1\r\nHost: lab\r\n\r\n")])
    frames += udp_exchange("10.0.0.3", "10.0.0.4", 5000, 7000, [("c", b"<13>Jan  1 00:00:00 host app: hi")])
    pcapio.write_pcap(path, [(1.0 + i, f) for i, f in enumerate(frames)])
    return path


def test_json_lines_one_record_per_flow(tmp_path):
    result = CliRunner().invoke(_root(), ["dpi", "classify", str(_capture(tmp_path)), "--json"])
    assert result.exit_code == 0, result.output
    records = [json.loads(line) for line in result.output.splitlines()]
    assert [(r["proto"], r["src"], r["sport"], r["dst"], r["dport"], r["app"]) for r in records] == [
        ("TCP", "10.0.0.1", 40000, "10.0.0.2", 8081, "HTTP"), ("UDP", "10.0.0.3", 5000, "10.0.0.4", 7000, "Syslog")]
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
