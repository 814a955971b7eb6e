"""DPI benchmark: our parser and DPI engine against nDPI's ``ndpiReader`` in the same run.

Measures, on this machine, in one process run:

- ``parse``: ``sdnlab.vnfs.packet.parse`` packets/s on 64-byte and 1500-byte TCP frames;
- ``engine_steady``: ``DpiEngine.process`` packets/s on flows already classified (the per-packet
  cost once the app is known), 64 and 1500 bytes;
- ``engine_new_flows``: flows/s for a stream of distinct new flows (SYNs) with LRU eviction;
- ``mixed``: one large capture (the Ethernet reference captures copied 40 times with shifted
  addresses, so every copy is a new set of flows) classified by both, in one pass;
- ``corpus``: the nDPI reference captures classified ``loops`` times, packets/s, by our engine and by
  ``ndpiReader`` (Debian ``libndpi-bin``) on the same files; the ratio ours/nDPI is reported.
  ndpiReader reports its own processing throughput (without start-up); we time ours the same way
  (reading the file is excluded: frames are read into memory first). ndpiReader times each
  small file to the millisecond, so this figure is coarse; ``mixed`` is the one to quote.

Writes ``bench/results/vnf_dpi.json``; run as ``.venv/bin/python -m bench.vnf_dpi.run``.
"""

from __future__ import annotations

import json
import platform
import re
import shutil
import struct
import subprocess
import tempfile
import time
from pathlib import Path

from sdnlab.vnfs import packet as pk
from sdnlab.vnfs.dpi import DpiConfig, DpiEngine
from sdnlab.vnfs.pcapio import read_pcap, write_pcap

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "bench" / "results" / "vnf_dpi.json"
CORPUS = ROOT.parent / "shared" / "corpus" / "ndpi" / "pcap"


def _frame(size: int) -> bytes:
    header = len(pk.build_frame(ip_src="10.0.0.1", ip_dst="10.0.0.2", ip_proto=6, l4_src=40000, l4_dst=80))
    return pk.build_frame(
        ip_src="10.0.0.1",
        ip_dst="10.0.0.2",
        ip_proto=6,
        l4_src=40000,
        l4_dst=80,
        payload=b"x" * max(size - header, 0),
        tcp_flags=pk.TCP_ACK,
    )


def _rate(count: int, seconds: float) -> float:
    return round(count / seconds, 1) if seconds > 0 else 0.0


def bench_parse(size: int, count: int = 300_000) -> dict:
    """Parser packets/s on one frame size."""
    frame = _frame(size)
    parse = pk.parse
    start = time.perf_counter()
    for _ in range(count):
        parse(frame)
    return {"frame_bytes": len(frame), "packets": count, "pps": _rate(count, time.perf_counter() - start)}


def bench_engine_steady(size: int, count: int = 200_000) -> dict:
    """Engine packets/s on an already classified flow (parse included)."""
    engine = DpiEngine()
    engine.process_frame(
        0.0,
        pk.build_frame(
            ip_src="10.0.0.1",
            ip_dst="10.0.0.2",
            ip_proto=6,
            l4_src=40000,
            l4_dst=80,
            payload=b"GET / HTTP/1.1\r\nHost: h\r\n\r\n",
        ),
    )
    engine.process_frame(
        0.0,
        pk.build_frame(
            ip_src="10.0.0.2",
            ip_dst="10.0.0.1",
            ip_proto=6,
            l4_src=80,
            l4_dst=40000,
            payload=b"HTTP/1.1 200 OK\r\n\r\n",
        ),
    )
    frame = _frame(size)
    process = engine.process_frame
    start = time.perf_counter()
    for i in range(count):
        process(i * 1e-6, frame)
    return {"frame_bytes": len(frame), "packets": count, "pps": _rate(count, time.perf_counter() - start)}


def bench_new_flows(count: int = 200_000) -> dict:
    """New flows/s with the table at its bound (every new flow evicts one)."""
    engine = DpiEngine(DpiConfig(max_flows=10_000, max_records=1_000))
    frame = bytearray(
        pk.build_frame(
            ip_src="10.0.0.1", ip_dst="10.1.0.1", ip_proto=6, l4_src=1, l4_dst=443, tcp_flags=pk.TCP_SYN
        )
    )
    frames = []
    for i in range(count):
        struct.pack_into("!I", frame, 26, 0x0A000000 | (i >> 16))
        struct.pack_into("!H", frame, 34, i & 0xFFFF)
        frames.append(bytes(frame))
    start = time.perf_counter()
    for i, f in enumerate(frames):
        engine.process_frame(i * 1e-6, f)
    elapsed = time.perf_counter() - start
    return {
        "flows": count,
        "max_flows": 10_000,
        "flows_per_s": _rate(count, elapsed),
        "evicted": engine.stats.evicted,
    }


def bench_corpus(loops: int) -> dict:
    """Ours and ndpiReader on every reference capture, ``loops`` times each."""
    captures = sorted(p for p in CORPUS.iterdir() if p.is_file()) if CORPUS.is_dir() else []
    if not captures:
        return {"skipped": f"no captures in {CORPUS}"}
    ours_packets = 0
    ours_seconds = 0.0
    for capture in captures:
        records = list(read_pcap(capture))
        start = time.perf_counter()
        for _ in range(loops):
            engine = DpiEngine(DpiConfig(max_records=None))
            for ts, frame, linktype in records:
                engine.process_frame(ts, frame, linktype)
            engine.flush()
        ours_seconds += time.perf_counter() - start
        ours_packets += loops * len(records)
    result: dict = {
        "captures": len(captures),
        "loops": loops,
        "ours": {
            "packets": ours_packets,
            "seconds": round(ours_seconds, 4),
            "pps": _rate(ours_packets, ours_seconds),
        },
    }
    reader = shutil.which("ndpiReader")
    if reader is None:
        result["ndpi"] = {"skipped": "ndpiReader not installed (Debian package libndpi-bin)"}
        return result
    ndpi_packets = 0
    ndpi_seconds = 0.0
    banner = subprocess.run([reader, "-h"], capture_output=True, text=True, timeout=30)
    version = next(iter(re.findall(r"nDPI (\d+\.\d+[.\d]*)", banner.stdout + banner.stderr)), "")
    for capture in captures:
        run = subprocess.run(
            [reader, "-i", str(capture), "-l", str(loops), "-v", "1"],
            capture_output=True,
            text=True,
            timeout=300,
        )
        output = run.stdout + run.stderr
        total = re.search(r"IP packets:\s+(\d+)\s+of\s+(\d+)", output)
        rates = re.findall(r"nDPI throughput:\s+([\d.]+) ([KM]?) ?pps", output)
        if not total or not rates:
            continue
        packets = int(total.group(2))
        for value, unit in rates:  # one line per loop
            pps = float(value) * {"K": 1e3, "M": 1e6, "": 1.0}[unit]
            if pps > 0:
                ndpi_packets += packets
                ndpi_seconds += packets / pps
    result["ndpi"] = {
        "version": version,
        "packets": ndpi_packets,
        "seconds": round(ndpi_seconds, 4),
        "pps": _rate(ndpi_packets, ndpi_seconds),
    }
    if ndpi_seconds > 0:
        result["ours_over_ndpi"] = round(result["ours"]["pps"] / result["ndpi"]["pps"], 4)
    return result


def _ndpi_throughput(reader: str, capture: Path, loops: int = 1) -> tuple[int, float]:
    """(packets, seconds) of ndpiReader's own processing-time report for one capture."""
    run = subprocess.run(
        [reader, "-i", str(capture), "-l", str(loops), "-v", "1"], capture_output=True, text=True, timeout=600
    )
    output = run.stdout + run.stderr
    total = re.search(r"IP packets:\s+(\d+)\s+of\s+(\d+)", output)
    rates = re.findall(r"nDPI throughput:\s+([\d.]+) ([KM]?) ?pps", output)
    if not total or not rates:
        return 0, 0.0
    packets, seconds = 0, 0.0
    for value, unit in rates:  # one line per loop
        pps = float(value) * {"K": 1e3, "M": 1e6, "": 1.0}[unit]
        if pps > 0:
            packets += int(total.group(2))
            seconds += int(total.group(2)) / pps
    return packets, seconds


def bench_mixed(copies: int = 40) -> dict:
    """A capture of many distinct flows: the Ethernet reference captures copied with shifted addresses."""
    captures = sorted(p for p in CORPUS.iterdir() if p.is_file()) if CORPUS.is_dir() else []
    base = [
        (ts, frame)
        for capture in captures
        for ts, frame, linktype in read_pcap(capture)
        if linktype == pk.LINKTYPE_ETHERNET
    ]
    if not base:
        return {"skipped": f"no captures in {CORPUS}"}
    frames: list[tuple[float, bytes]] = []
    for copy in range(copies):
        for ts, frame in base:
            try:
                packet = pk.parse(frame)
                if packet.ip_version:
                    frame = pk.rewrite(
                        packet, ip_src=packet.ip_src ^ (copy << 8), ip_dst=packet.ip_dst ^ (copy << 8)
                    )
            except pk.PacketError:
                pass
            frames.append((ts + copy, frame))
    engine = DpiEngine(DpiConfig(max_records=None))
    start = time.perf_counter()
    for ts, frame in frames:
        engine.process_frame(ts, frame)
    engine.flush()
    elapsed = time.perf_counter() - start
    result: dict = {
        "packets": len(frames),
        "flows": engine.stats.flows,
        "ours": {"seconds": round(elapsed, 4), "pps": _rate(len(frames), elapsed)},
    }
    reader = shutil.which("ndpiReader")
    if reader is None:
        result["ndpi"] = {"skipped": "ndpiReader not installed (Debian package libndpi-bin)"}
        return result
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "mixed.pcap"
        write_pcap(path, frames)
        packets, seconds = _ndpi_throughput(reader, path)
    if seconds > 0:
        result["ndpi"] = {"seconds": round(seconds, 4), "pps": _rate(packets, seconds)}
        result["ours_over_ndpi"] = round(result["ours"]["pps"] / result["ndpi"]["pps"], 4)
    return result


def main() -> dict:
    """Run every measurement and write bench/results/vnf_dpi.json."""
    results = {
        "machine": {"python": platform.python_version(), "cpu": platform.processor() or platform.machine()},
        "parse": {"64": bench_parse(64), "1500": bench_parse(1500)},
        "engine_steady": {"64": bench_engine_steady(64), "1500": bench_engine_steady(1500)},
        "engine_new_flows": bench_new_flows(),
        "corpus": bench_corpus(loops=10),
        "mixed": bench_mixed(),
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=1) + "\n")
    print(json.dumps(results, indent=1))
    return results


if __name__ == "__main__":
    main()
