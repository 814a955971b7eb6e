"""pcap and pcapng files are read in every byte order and resolution, written back, and bad files
are named."""

from __future__ import annotations

import os
import struct
from pathlib import Path

import pytest

from sdnlab.vnfs import pcapio
from sdnlab.vnfs.pcapio import PcapError, PcapRecord

CORPUS = (
    Path(__file__).resolve().parents[4] / "shared" / "corpus" / "ndpi" / "pcap"
)  # ../shared beside the repo
FRAMES = [b"\x01" * 60, b"\x02" * 1514, b"\x03" * 14]


def _classic(order: str, nanosecond: bool, records: list[tuple[int, int, bytes]], linktype: int = 1) -> bytes:
    magic = pcapio.MAGIC_NSEC if nanosecond else pcapio.MAGIC_USEC
    out = struct.pack(order + "IHHiIII", magic, 2, 4, 0, 0, 65535, linktype)
    for sec, frac, frame in records:
        out += struct.pack(order + "IIII", sec, frac, len(frame), len(frame)) + frame
    return out


def _block(order: str, block_type: int, body: bytes) -> bytes:
    body += b"\0" * (-len(body) % 4)
    total = 12 + len(body)
    return struct.pack(order + "II", block_type, total) + body + struct.pack(order + "I", total)


def _option(order: str, code: int, value: bytes) -> bytes:
    return struct.pack(order + "HH", code, len(value)) + value + b"\0" * (-len(value) % 4)


def _shb(order: str) -> bytes:
    return _block(order, 0x0A0D0D0A, struct.pack(order + "IHHq", 0x1A2B3C4D, 1, 0, -1))


def _idb(order: str, linktype: int, tsresol: int | None = None, tsoffset: int | None = None) -> bytes:
    options = b""
    if tsresol is not None:
        options += _option(order, 9, bytes([tsresol]))
    if tsoffset is not None:
        options += _option(order, 14, struct.pack(order + "q", tsoffset))
    if options:
        options += _option(order, 0, b"")
    return _block(order, 1, struct.pack(order + "HHI", linktype, 0, 65535) + options)


def _epb(order: str, if_id: int, stamp: int, frame: bytes) -> bytes:
    return _block(
        order,
        6,
        struct.pack(order + "IIIII", if_id, stamp >> 32, stamp & 0xFFFFFFFF, len(frame), len(frame)) + frame,
    )


@pytest.mark.parametrize("order", ["<", ">"])
@pytest.mark.parametrize("nanosecond", [False, True])
def test_classic_pcap_in_both_byte_orders_and_resolutions(order, nanosecond):
    frac = 123456789 if nanosecond else 123456
    data = _classic(order, nanosecond, [(1700000000, frac, f) for f in FRAMES], linktype=113)
    records = list(pcapio.read_bytes(data))
    assert [r.frame for r in records] == FRAMES
    assert all(r.linktype == 113 for r in records)
    assert records[0].ts == pytest.approx(1700000000.123456789 if nanosecond else 1700000000.123456, abs=1e-6)


@pytest.mark.parametrize("order", ["<", ">"])
def test_pcapng_with_several_interfaces_resolutions_and_simple_blocks(order):
    data = (
        _shb(order)
        + _idb(order, 1)  # default microseconds
        + _idb(order, 101, tsresol=9, tsoffset=10)  # nanoseconds, +10 s
        + _epb(order, 0, 1_700_000_000_500_000, FRAMES[0])
        + _epb(order, 1, 1_700_000_000_250_000_000, FRAMES[1])
        + _block(order, 5, b"\0" * 8)  # interface statistics: skipped
        + _block(order, 3, struct.pack(order + "I", len(FRAMES[2])) + FRAMES[2])
    )
    records = list(pcapio.read_bytes(data))
    assert [(r.linktype, r.frame) for r in records] == [(1, FRAMES[0]), (101, FRAMES[1]), (1, FRAMES[2])]
    assert records[0].ts == pytest.approx(1_700_000_000.5)
    assert records[1].ts == pytest.approx(1_700_000_010.25)
    assert records[2].ts == 0.0


def test_pcapng_binary_timestamp_resolution_and_new_sections_reset_interfaces():
    data = (
        _shb("<")
        + _idb("<", 113, tsresol=0x80 | 10)
        + _epb("<", 0, 1024 * 5, FRAMES[0])
        + _shb(">")
        + _idb(">", 276)
        + _epb(">", 0, 2_000_000, FRAMES[1])
    )
    records = list(pcapio.read_bytes(data))
    assert [(r.ts, r.linktype) for r in records] == [(5.0, 113), (2.0, 276)]


def test_written_pcap_reads_back_identically(tmp_path):
    path = tmp_path / "out.pcap"
    written = [(1700000000.25 + i, frame) for i, frame in enumerate(FRAMES)]
    assert pcapio.write_pcap(path, written) == 3
    assert list(pcapio.read_pcap(path)) == [PcapRecord(ts, frame, 1) for ts, frame in written]
    pcapio.write_pcap(tmp_path / "ns.pcap", written, nanosecond=True)
    assert [r.ts for r in pcapio.read_pcap(tmp_path / "ns.pcap")] == [ts for ts, _ in written]


def test_scapy_reads_what_we_write(tmp_path):
    from scapy.utils import rdpcap

    path = tmp_path / "s.pcap"
    pcapio.write_pcap(path, [(1.5, FRAMES[0]), (2.5, FRAMES[1])])
    assert [bytes(p) for p in rdpcap(str(path))] == FRAMES[:2]


def test_truncated_record_names_file_record_and_offset(tmp_path):
    path = tmp_path / "cut.pcap"
    path.write_bytes(_classic("<", False, [(1, 0, f) for f in FRAMES])[:-5])
    with pytest.raises(PcapError, match=r"cut\.pcap: record 3 at byte \d+: truncated frame"):
        list(pcapio.read_pcap(path))


@pytest.mark.parametrize(
    "data, complete, where",
    [
        (
            _classic("<", False, [(1, 0, f) for f in FRAMES[:2]])[:-5],
            1,
            "truncated frame (1509 of 1514 bytes)",
        ),
        (
            _classic("<", False, [(1, 0, f) for f in FRAMES[:2]]) + b"\0" * 7,
            2,
            "truncated record header (7 of 16 bytes)",
        ),
    ],
)
def test_a_pcap_cut_short_yields_its_complete_records_then_says_where_it_was_cut(data, complete, where):
    records = []
    with pytest.raises(pcapio.PcapTruncated) as cut_short:
        records.extend(pcapio.read_bytes(data, "cut.pcap"))
    assert [r.frame for r in records] == FRAMES[:complete] and cut_short.value.complete == complete
    offset = 24 + sum(16 + len(f) for f in FRAMES[:complete])
    assert str(cut_short.value) == f"cut.pcap: record {complete + 1} at byte {offset}: {where}"
    assert isinstance(cut_short.value, PcapError)  # callers that only know PcapError still stop there


def test_a_pcapng_cut_inside_a_block_yields_the_packets_before_it():
    data = _shb("<") + _idb("<", 1) + _epb("<", 0, 0, FRAMES[0]) + _epb("<", 0, 0, FRAMES[2])
    records = []
    with pytest.raises(
        pcapio.PcapTruncated, match=r"x\.pcapng: block 4 at byte \d+: truncated block"
    ) as cut_short:
        records.extend(pcapio.read_bytes(data[:-3], "x.pcapng"))
    assert [r.frame for r in records] == FRAMES[:1] and cut_short.value.complete == 1


def test_corrupt_lengths_are_errors_not_truncation():
    data = _classic("<", False, [(1, 0, FRAMES[0])]) + struct.pack("<IIII", 1, 0, 2**30, 2**30)
    with pytest.raises(
        PcapError, match=r"record 2 at byte .*captured length 1073741824 is not plausible"
    ) as bad:
        list(pcapio.read_bytes(data))
    assert not isinstance(bad.value, pcapio.PcapTruncated)


def test_a_read_that_fails_is_a_pcap_error_naming_the_file():
    if not Path("/proc/self/mem").exists():
        pytest.skip("needs Linux /proc/self/mem (reading offset 0 fails with EIO)")
    with pytest.raises(PcapError, match=r"^/proc/self/mem: cannot read: Input/output error$"):
        list(pcapio.read_pcap("/proc/self/mem"))


def test_file_names_in_errors_are_one_printable_line(tmp_path):
    name = os.fsdecode(os.fsencode(tmp_path) + b"/bad\xff\n.pcap")
    with pytest.raises(PcapError) as missing:
        list(pcapio.read_pcap(name))
    assert str(missing.value) == f"{tmp_path}/bad\\xff\\n.pcap: cannot open: No such file or directory"


def test_not_a_capture_and_missing_file(tmp_path):
    junk = tmp_path / "junk.pcap"
    junk.write_bytes(b"hello world, not a capture")
    with pytest.raises(PcapError, match=r"junk.pcap: not a pcap or pcapng file"):
        list(pcapio.read_pcap(junk))
    with pytest.raises(PcapError, match=r"missing.pcap: cannot open"):
        list(pcapio.read_pcap(tmp_path / "missing.pcap"))


def test_pcapng_packet_on_undeclared_interface_is_an_error():
    data = _shb("<") + _idb("<", 1) + _epb("<", 3, 0, FRAMES[0])
    with pytest.raises(PcapError, match=r"block 3 at byte .*undeclared interface 3"):
        list(pcapio.read_bytes(data, "x.pcapng"))


@pytest.mark.parametrize("cut", [30, 50, 70, 90])
def test_truncated_pcapng_is_an_error_not_a_crash(cut):
    data = _shb("<") + _idb("<", 1) + _epb("<", 0, 0, FRAMES[0])
    with pytest.raises(PcapError, match="truncated"):
        list(pcapio.read_bytes(data[:cut]))


@pytest.mark.skipif(not CORPUS.is_dir(), reason="nDPI corpus not present")
def test_corpus_captures_of_both_formats_read_completely():
    counts = {
        name: sum(1 for _ in pcapio.read_pcap(CORPUS / name))
        for name in ("telnet.pcap", "dnp3.pcap", "rtsp.pcap", "http.pcapng")
    }
    # Packet counts as tshark reports them for these files.
    assert counts == {"telnet.pcap": 92, "dnp3.pcap": 543, "rtsp.pcap": 568, "http.pcapng": 10}
