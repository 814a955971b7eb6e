"""Live measurements on veth pairs in ``vn*`` namespaces: packets/s through a VNF, TCP throughput
through each VNF and a 3-VNF chain on OVS, and the firewall against nftables.

Traffic comes from iperf3 (UDP with ``-b 0`` for packet rates, TCP for throughput); every
comparison is measured in the same run on the same machine.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from sdnlab.vnfs.chains.testbed import Testbed, sh

IPERF_PORT = 6870
UDP_PAYLOAD = {64: 64 - 42, 1500: 1500 - 42}  # frame size minus Ethernet+IPv4+UDP headers


def iperf(tb_run, client_ns: str, server_ip: str, seconds: float, udp_size: int | None = None) -> dict:
    """One iperf3 run (server must listen); returns bits/s and, for UDP, received packets/s."""
    argv = [
        "iperf3",
        "-c",
        server_ip,
        "-p",
        str(IPERF_PORT),
        "-t",
        str(seconds),
        "-J",
        "--connect-timeout",
        "3000",
    ]
    if udp_size:
        argv += ["-u", "-b", "0", "-l", str(udp_size)]
    try:
        proc = tb_run(client_ns, *argv, timeout=seconds + 20)
        data = json.loads(proc.stdout)
    except (subprocess.TimeoutExpired, ValueError) as exc:
        return {"error": f"iperf3 failed: {type(exc).__name__}"}
    if "error" in data:
        return {"error": data["error"]}
    end = data["end"]
    if udp_size:
        s = end["sum"]
        received = s["packets"] - s["lost_packets"]
        return {
            "sent_pps": round(s["packets"] / s["seconds"]),
            "received_pps": round(received / s["seconds"]),
            "loss_pct": round(s["lost_percent"], 2),
        }
    return {
        "mbit_s": round(end["sum_received"]["bits_per_second"] / 1e6, 1),
        "retransmits": end["sum_sent"].get("retransmits"),
    }


class Server:
    """An iperf3 server in a namespace for the duration of a block."""

    def __init__(self, tb: Testbed, ns: str):
        self.tb, self.ns = tb, ns

    def __enter__(self):
        self.proc = self.tb.popen(
            self.ns,
            "iperf3",
            "-s",
            "-p",
            str(IPERF_PORT),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(0.4)
        return self

    def __exit__(self, *exc):
        self.proc.terminate()
        self.proc.wait()


def _config(tmp: Path, name: str, text: str) -> str:
    path = tmp / f"{name}.yaml"
    path.write_text(text)
    return str(path)


def _median_run(runs: list[dict]) -> dict:
    """The run with the median throughput (errors count as 0), plus every value for the record."""
    values = [r.get("mbit_s", 0.0) for r in runs]
    ordered = sorted(range(len(runs)), key=lambda i: values[i])
    chosen = dict(runs[ordered[len(runs) // 2]])
    chosen["all_mbit_s"] = values
    return chosen


def chain_throughput(tmp: Path, seconds: float, rounds: int = 3) -> dict:
    """TCP through OVS with no VNF, each VNF alone and the 3-VNF chain firewall -> dpi -> lb,
    interleaved over ``rounds`` rounds (median reported), for each engine mode: ``recv`` and
    ``ring`` inspect every packet; ``offload`` hands decided flows to the switch (bypass for the
    firewall and DPI, NAT rules for the LB) after their first packets.

    The chain runs two ways: ``chain_fw_dpi_lb`` steers through three VNF hosts (four switch
    crossings, three processes); ``chain_host_fw_dpi_lb`` runs the same three VNFs with the same
    configs as one ``chain`` VNF on one host (two crossings, one process, each frame parsed
    once). Both inspect every packet; the chain host ignores offload, so it is not run in that
    mode."""
    from bench.vnf.offline import ruleset

    tb = Testbed(prefix="vn", net=79, vnf_names=("fw", "dpi", "lb", "chain")).build()
    results: dict = {"rounds": rounds, "seconds": seconds}
    try:
        server_mac = tb.server_mac()
        kinds = {
            "fw": ("firewall", _config(tmp, "fw", ruleset(100, IPERF_PORT))),
            "dpi": ("dpi", None),
            "lb": (
                "lb",
                _config(
                    tmp,
                    "lb",
                    "vip: 10.79.0.100\nvip_mac: 02:00:00:00:79:64\n"
                    f"backends: [{{name: a, ip: 10.79.0.2, mac: '{server_mac}'}}]\n",
                ),
            ),
        }
        chain_config = _config(
            tmp,
            "chain",
            "stages:\n"
            f"  - {{kind: firewall, name: fw, config: {kinds['fw'][1]}}}\n"
            "  - {kind: dpi}\n"
            f"  - {{kind: lb, config: {kinds['lb'][1]}}}\n",
        )
        with Server(tb, tb.server):
            tb.steer([])
            tb.run(tb.client, "ping", "-c", "3", "-i", "0.2", tb.server_ip)  # warm the switch's caches
            for mode in ("recv", "ring", "offload"):
                agent = None
                paths = {
                    "no_vnf": [],
                    "fw": ["fw"],
                    "dpi": ["dpi"],
                    "lb": ["lb"],
                    "chain_fw_dpi_lb": ["fw", "dpi", "lb"],
                }
                for name, (kind, config) in kinds.items():
                    if mode == "offload":  # same configs plus offload: true, recv engine, agent on
                        config = _config(
                            tmp,
                            f"{name}-offload",
                            (Path(config).read_text() if config else "") + "offload: true\n",
                        )
                    tb.start_vnf(name, kind, config, mode="ring" if mode == "ring" else "recv")
                if mode == "offload":
                    agent = tb.start_offload_agent()
                else:
                    tb.start_vnf("chain", "chain", chain_config, mode=mode)
                    paths["chain_host_fw_dpi_lb"] = ["chain"]
                via_vip = {
                    f"{label}_via_vip": path for label, path in paths.items() if label.startswith("chain")
                }
                runs: dict[str, list] = {label: [] for label in [*paths, *via_vip]}
                for _ in range(rounds):
                    for label, path in paths.items():
                        tb.steer(path)
                        runs[label].append(iperf(tb.run, tb.client, tb.server_ip, seconds))
                    for label, path in via_vip.items():
                        tb.steer(path)
                        runs[label].append(iperf(tb.run, tb.client, "10.79.0.100", seconds))
                section = {label: _median_run(r) for label, r in runs.items()}
                base = section["no_vnf"].get("mbit_s") or 0
                for label, row in section.items():
                    if base and label != "no_vnf" and "mbit_s" in row:
                        row["ratio_to_no_vnf"] = round(row["mbit_s"] / base, 3)
                results[f"mode_{mode}"] = section
                if agent is not None:
                    agent.stop()
                    tb.agent = None
                    section["offload_rules_installed"] = agent.installed
                for name in [*kinds, "chain"]:
                    tb.stop_vnf(name)
    finally:
        tb.close()
    return results


class Line:
    """client -- middle -- server on bare veths (no switch): the middle is a VNF or a router."""

    def __init__(self, mode: str, net: int = 80):
        self.mode, self.net = mode, net
        self.ns = {"c": f"vnl{net}c", "m": f"vnl{net}m", "s": f"vnl{net}s"}
        existing = sh("ip", "netns", "list", check=False).stdout.split()
        for ns in self.ns.values():  # leftovers of a killed run (our own names only)
            if ns in existing:
                sh("ip", "netns", "del", ns, check=False)
        for ns in self.ns.values():
            sh("ip", "netns", "add", ns)
            sh("ip", "-n", ns, "link", "set", "lo", "up")
        pairs = [("c", f"vnl{net}c0", "m", f"vnl{net}mi"), ("m", f"vnl{net}mo", "s", f"vnl{net}s0")]
        for a, ai, b, bi in pairs:
            sh(
                "ip",
                "link",
                "add",
                ai,
                "netns",
                self.ns[a],
                "type",
                "veth",
                "peer",
                "name",
                bi,
                "netns",
                self.ns[b],
            )
            for ns, dev in ((a, ai), (b, bi)):
                sh("ip", "-n", self.ns[ns], "link", "set", dev, "up")
                sh(
                    "ip",
                    "netns",
                    "exec",
                    self.ns[ns],
                    "ethtool",
                    "-K",
                    dev,
                    "tx",
                    "off",
                    "rx",
                    "off",
                    check=False,
                )
        if mode == "router":
            self.client_ip, self.server_ip = f"10.{net}.1.1", f"10.{net}.2.1"
            sh("ip", "-n", self.ns["c"], "addr", "add", f"{self.client_ip}/24", "dev", f"vnl{net}c0")
            sh("ip", "-n", self.ns["s"], "addr", "add", f"{self.server_ip}/24", "dev", f"vnl{net}s0")
            sh("ip", "-n", self.ns["m"], "addr", "add", f"10.{net}.1.254/24", "dev", f"vnl{net}mi")
            sh("ip", "-n", self.ns["m"], "addr", "add", f"10.{net}.2.254/24", "dev", f"vnl{net}mo")
            sh("ip", "-n", self.ns["c"], "route", "add", "default", "via", f"10.{net}.1.254")
            sh("ip", "-n", self.ns["s"], "route", "add", "default", "via", f"10.{net}.2.254")
            sh("ip", "netns", "exec", self.ns["m"], "sysctl", "-qw", "net.ipv4.ip_forward=1")
        else:
            self.client_ip, self.server_ip = f"10.{net}.0.1", f"10.{net}.0.2"
            sh("ip", "-n", self.ns["c"], "addr", "add", f"{self.client_ip}/24", "dev", f"vnl{net}c0")
            sh("ip", "-n", self.ns["s"], "addr", "add", f"{self.server_ip}/24", "dev", f"vnl{net}s0")
        self.vnf = None

    def run(self, ns: str, *argv: str, timeout: float = 60) -> subprocess.CompletedProcess:
        return subprocess.run(
            ["ip", "netns", "exec", ns, *argv], capture_output=True, text=True, timeout=timeout
        )

    def popen(self, ns: str, *argv: str, **kw) -> subprocess.Popen:
        return subprocess.Popen(["ip", "netns", "exec", ns, *argv], **kw)

    def start_vnf(
        self, kind: str, config: str | None, state: Path, workers: int = 1, mode: str = "recv"
    ) -> None:
        state.mkdir(parents=True, exist_ok=True)
        for old in state.glob("stats-*.json"):
            old.unlink()
        argv = [
            sys.executable,
            "-m",
            "sdnlab.vnfs.framework.runner",
            "--kind",
            kind,
            "--port",
            f"inside=vnl{self.net}mi",
            "--port",
            f"outside=vnl{self.net}mo",
            "--state-dir",
            str(state),
            "--workers",
            str(workers),
            "--mode",
            mode,
        ] + (["--config", config] if config else [])
        self.vnf = self.popen(self.ns["m"], *argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 15
        while not all((state / f"stats-w{i}.json").exists() for i in range(workers)):
            if time.monotonic() > deadline or self.vnf.poll() is not None:
                raise RuntimeError(f"VNF {kind} did not start")
            time.sleep(0.05)

    def stop_vnf(self) -> None:
        if self.vnf is not None:
            self.vnf.terminate()
            self.vnf.wait(timeout=10)
            self.vnf = None

    def close(self) -> None:
        self.stop_vnf()
        for ns in self.ns.values():
            for pid in sh("ip", "netns", "pids", ns, check=False).stdout.split():
                subprocess.run(["kill", "-9", pid], capture_output=True)
            sh("ip", "netns", "del", ns, check=False)


def live_pps(tmp: Path, seconds: float) -> dict:
    """UDP packets/s through each VNF on bare veths (64 and 1500-byte frames), and TCP throughput."""
    from bench.vnf.offline import ruleset

    results: dict = {}
    line = Line("bump", net=80)
    try:
        fw_config = _config(
            tmp,
            "fw-udp",
            ruleset(100, IPERF_PORT)
            + f"  - {{name: iperf-udp, action: accept, proto: udp, dport: {IPERF_PORT}}}\n",
        )
        setups = [
            ("direct_no_vnf", None, None, 1, "recv"),
            ("passthrough", "passthrough", None, 1, "recv"),
            ("passthrough_ring", "passthrough", None, 1, "ring"),
            ("firewall", "firewall", fw_config, 1, "recv"),
            ("firewall_2_workers", "firewall", fw_config, 2, "recv"),
            ("dpi", "dpi", None, 1, "recv"),
        ]
        with Server(line, line.ns["s"]):
            for label, kind, config, workers, mode in setups:
                if kind is None:  # a bridge-less baseline: the middle namespace bridges in the kernel
                    line.run(line.ns["m"], "ip", "link", "add", "vnlbr", "type", "bridge")
                    for dev in (f"vnl{line.net}mi", f"vnl{line.net}mo"):
                        line.run(line.ns["m"], "ip", "link", "set", dev, "master", "vnlbr")
                    line.run(line.ns["m"], "ip", "link", "set", "vnlbr", "up")
                else:
                    try:
                        line.start_vnf(kind, config, tmp / f"state-{label}", workers, mode)
                    except RuntimeError as exc:
                        results[label] = {"error": str(exc)}
                        continue
                row = {}
                for size, payload in UDP_PAYLOAD.items():
                    row[f"udp_{size}B"] = iperf(line.run, line.ns["c"], line.server_ip, seconds, payload)
                row["tcp"] = iperf(line.run, line.ns["c"], line.server_ip, seconds)
                results[label] = row
                if kind is None:
                    line.run(line.ns["m"], "ip", "link", "del", "vnlbr")
                else:
                    line.stop_vnf()
    finally:
        line.close()
    return results


def nft_ruleset(rules: int) -> str:
    """An nftables forward chain equivalent to bench.vnf.offline.ruleset(rules)."""
    lines = [
        "table inet vnbench {",
        "  chain forward {",
        "    type filter hook forward priority 0; policy drop;",
        "    ct state established,related accept",
        "    ct state invalid drop",
    ]
    for i in range(rules - 1):
        lines.append(f"    ip saddr 192.168.{i // 250}.{i % 250} tcp dport {1000 + i} drop")
    lines.append(f"    tcp dport {IPERF_PORT} accept")
    lines.append(f"    udp dport {IPERF_PORT} accept")
    lines += ["  }", "}"]
    return "\n".join(lines) + "\n"


def firewall_vs_nftables(tmp: Path, seconds: float, rules: int = 100) -> dict:
    """The same rule set as a VNF (bump in the wire) and in nftables (routing namespace)."""
    from bench.vnf.offline import ruleset

    results: dict = {"rules": rules}
    line = Line("router", net=81)
    try:
        path = tmp / "nft.conf"
        path.write_text(nft_ruleset(rules))
        proc = line.run(line.ns["m"], "nft", "-f", str(path))
        if proc.returncode != 0:
            results["nftables"] = {"error": proc.stderr.strip()}
        else:
            with Server(line, line.ns["s"]):
                results["nftables"] = {
                    "tcp": iperf(line.run, line.ns["c"], line.server_ip, seconds),
                    "udp_64B": iperf(line.run, line.ns["c"], line.server_ip, seconds, UDP_PAYLOAD[64]),
                }
    finally:
        line.close()
    line = Line("bump", net=82)
    try:
        config = _config(
            tmp,
            "fw-nft",
            ruleset(rules, IPERF_PORT)
            + f"  - {{name: iperf-udp, action: accept, proto: udp, dport: {IPERF_PORT}}}\n",
        )
        line.start_vnf("firewall", config, tmp / "state-fw-nft")
        with Server(line, line.ns["s"]):
            results["vnf_firewall"] = {
                "tcp": iperf(line.run, line.ns["c"], line.server_ip, seconds),
                "udp_64B": iperf(line.run, line.ns["c"], line.server_ip, seconds, UDP_PAYLOAD[64]),
            }
    finally:
        line.close()
    try:
        results["tcp_ratio_vnf_to_nft"] = round(
            results["vnf_firewall"]["tcp"]["mbit_s"] / results["nftables"]["tcp"]["mbit_s"], 3
        )
        results["pps_ratio_vnf_to_nft"] = round(
            results["vnf_firewall"]["udp_64B"]["received_pps"]
            / results["nftables"]["udp_64B"]["received_pps"],
            3,
        )
    except (KeyError, TypeError, ZeroDivisionError):
        pass
    return results


GENERATOR = r"""
import socket, sys, time
from sdnlab.vnfs.packet import IPPROTO_UDP, build_frame
ifname, dst, dst_mac = sys.argv[1], sys.argv[4], sys.argv[5]
seconds, size = float(sys.argv[2]), int(sys.argv[3])
frames = [
    build_frame(
        ip_src=dst.rsplit(".", 1)[0] + ".1", ip_dst=dst, ip_proto=IPPROTO_UDP, l4_src=10000 + i,
        l4_dst=9, payload=bytes(max(0, size - 42)), eth_dst=dst_mac,
    )
    for i in range(64)
]
sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0)
sock.bind((ifname, 0))
sent = failed = 0
send = sock.send
end = time.perf_counter() + seconds
while time.perf_counter() < end:
    for frame in frames:
        try:
            send(frame)
            sent += 1
        except OSError:
            failed += 1
print(sent, failed)
"""

SINK_MAC = "02:00:00:00:00:99"


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process, in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _snapshot(state: Path) -> tuple[int, float]:
    """(frames sent on the outside port, CPU seconds) summed over the VNF's workers."""
    sent, cpu = 0, 0.0
    for path in state.glob("stats-w*.json"):
        stats = json.loads(path.read_text())
        sent += stats["ports"]["outside"]["tx"]
        cpu += _cpu_seconds(stats["pid"])
    return sent, cpu


def raw_pps(tmp: Path, seconds: float) -> dict:
    """Packets/s per core through each VNF on a veth pair: a raw-socket generator floods UDP
    frames (64 distinct flows) and the VNF's own counters and CPU time give forwarded packets
    per CPU-second, which stays meaningful when other processes share the two cores."""
    from bench.vnf.offline import ruleset

    net = 83
    fw_config = _config(
        tmp, "fw-raw", ruleset(100) + "  - {name: flood, action: accept, proto: udp, dport: 9}\n"
    )
    lb_config = _config(
        tmp,
        "lb-raw",
        f"vip: 10.{net}.0.100\nvip_mac: 02:00:00:00:83:64\nscheduler: maglev\n"
        f"backends: [{{name: a, ip: 10.{net}.0.2, mac: '{SINK_MAC}'}}]\n",
    )
    setups = [
        ("passthrough", "passthrough", None, 1, "recv"),
        ("passthrough_ring", "passthrough", None, 1, "ring"),
        ("firewall", "firewall", fw_config, 1, "recv"),
        ("firewall_ring", "firewall", fw_config, 1, "ring"),
        ("firewall_2_workers", "firewall", fw_config, 2, "recv"),
        ("lb", "lb", lb_config, 1, "recv"),
        ("dpi", "dpi", None, 1, "recv"),
    ]
    results: dict = {}
    line = Line("bump", net=net)
    try:
        for label, kind, config, workers, mode in setups:
            state = tmp / f"raw-{label}"
            try:
                line.start_vnf(kind, config, state, workers, mode)
            except RuntimeError as exc:
                results[label] = {"error": str(exc)}
                continue
            row = {}
            for size in (64, 1500):
                dst, mac = (
                    (f"10.{net}.0.100", "02:00:00:00:83:64") if kind == "lb" else (f"10.{net}.0.2", SINK_MAC)
                )
                time.sleep(1.2)
                tx0, cpu0 = _snapshot(state)
                start = time.monotonic()
                proc = line.run(
                    line.ns["c"],
                    sys.executable,
                    "-c",
                    GENERATOR,
                    f"vnl{net}c0",
                    str(seconds),
                    str(size),
                    dst,
                    mac,
                    timeout=seconds + 30,
                )
                time.sleep(1.2)  # the stats files are rewritten every second
                tx1, cpu1 = _snapshot(state)
                elapsed = time.monotonic() - start
                generated = int(proc.stdout.split()[0]) if proc.stdout.strip() else 0
                forwarded = tx1 - tx0
                cpu = cpu1 - cpu0
                row[f"{size}B"] = {
                    "generated": generated,
                    "forwarded": forwarded,
                    "forwarded_pps_wall": round(forwarded / elapsed),
                    "vnf_cpu_s": round(cpu, 2),
                    "pps_per_core": round(forwarded / cpu) if cpu > 0.05 else None,
                }
            results[label] = row
            line.stop_vnf()
    finally:
        line.close()
    return results
