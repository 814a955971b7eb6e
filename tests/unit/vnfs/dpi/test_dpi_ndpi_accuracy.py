"""On real captures labelled by nDPI, the app agrees with nDPI's master protocol for >= 95% of the flows.

Flows are matched by 5-tuple in either direction; only flows whose nDPI master protocol is one
the issue lists count. The figure is printed (``pytest -s``) so it can be reported.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from sdnlab.vnfs.dpi import DpiConfig, Limits, classify_pcap
from sdnlab.vnfs.dpi.ndpi import Agreement, agreement, read_expected

CORPUS = Path(__file__).resolve().parents[5] / "shared" / "corpus" / "ndpi"  # ../shared beside the repo

pytestmark = pytest.mark.skipif(
    not (CORPUS / "expected").is_dir(), reason=f"nDPI corpus not found at {CORPUS}"
)


def corpus_agreement(port_guess: bool) -> Agreement:
    total = Agreement()
    for expected in sorted((CORPUS / "expected").glob("*.out")):
        capture = CORPUS / "pcap" / expected.name.removesuffix(".out")
        records, _ = classify_pcap(capture, DpiConfig(max_records=None, limits=Limits(port_guess=port_guess)))
        agreement(capture.name, read_expected(expected), records, total)
    return total


def test_agreement_with_ndpi_is_at_least_95_percent():
    total = corpus_agreement(port_guess=True)
    print(f"\nnDPI agreement: {total.agreed}/{total.compared} = {total.ratio:.4f}")
    for capture, flow, ours in total.mismatches:
        print(
            f"  {capture}: {flow.proto} {flow.a}:{flow.a_port} <-> {flow.b}:{flow.b_port} "
            f"nDPI {flow.label}, ours {ours}"
        )
    assert total.compared >= 100  # the corpus was read: a vacuous 100% cannot pass
    assert total.ratio >= 0.95


def test_payload_alone_without_port_guesses_still_agrees_for_90_percent():
    total = corpus_agreement(port_guess=False)
    print(f"\nnDPI agreement without port guesses: {total.agreed}/{total.compared} = {total.ratio:.4f}")
    assert total.ratio >= 0.90


def test_expected_file_parser_reads_both_arrow_forms_and_ipv6(tmp_path):
    out = tmp_path / "x.pcap.out"
    out.write_text(
        "\t1\tUDP [2001:db8::1]:5683 -> [2001:db8::2]:5683 [proto: 27/COAP][IP: 0/Unknown]\n"
        "\t2\tTCP 10.0.0.1:80 <-> 10.0.0.2:5000 [VLAN: 3][proto: 7.126/HTTP.Google][x]\n"
        "Telnet\t87\t7418\t1\n"
    )
    flows = read_expected(out)
    assert [(f.proto, f.a, f.b_port, f.master) for f in flows] == [
        ("UDP", "2001:db8::1", 5683, "COAP"),
        ("TCP", "10.0.0.1", 5000, "HTTP"),
    ]
