"""Live VNFs on raw sockets: the firewall and the load balancer as bumps in the wire between a
client and a server namespace, steered by static OpenFlow rules on an OVS userspace bridge."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

import pytest
from throughput import wait_listening

from sdnlab.vnfs.chains.testbed import Testbed

pytestmark = pytest.mark.network

FIREWALL = """
default: drop
log: [accept, drop, reject, invalid, ratelimit]
rules:
  - {name: ping, action: accept, proto: icmp, icmp_type: 8}
  - {name: web, action: accept, proto: tcp, dport: 6860}
  - {name: telnet, action: reject, proto: tcp, dport: 23}
"""

CLIENT_SCRIPT = r"""
import json, socket, sys, urllib.request
mode, target, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
out = []
for _ in range(count):
    if mode == "connect":
        host, port = target.split(":")
        s = socket.socket(); s.settimeout(2)
        try:
            s.connect((host, int(port))); out.append("open")
        except ConnectionRefusedError:
            out.append("refused")
        except OSError:
            out.append("timeout")
        finally:
            s.close()
    else:
        try:
            out.append(urllib.request.urlopen(target, timeout=3).read().decode().strip())
        except OSError as exc:
            out.append(f"error:{exc}")
print(json.dumps(out))
"""


@pytest.fixture(scope="module")
def bed(tmp_path_factory):
    tb = Testbed(prefix="vn", net=78, vnf_names=("fw", "lb")).build()
    root = tmp_path_factory.mktemp("www")
    servers = []
    try:
        for name, port in (("web1", 8081), ("web2", 8082), ("plain", 6860), ("telnet", 23)):
            (root / name).mkdir()
            (root / name / "index.html").write_text(name)
            servers.append(
                tb.popen(
                    tb.server,
                    sys.executable,
                    "-m",
                    "http.server",
                    str(port),
                    "--bind",
                    "0.0.0.0",
                    "--directory",
                    str(root / name),
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            )
        tb.root = root
        tb.servers = dict(zip(("web1", "web2", "plain", "telnet"), servers, strict=False))
        for port in (8081, 8082, 6860, 23):
            wait_listening(lambda argv: tb.run(tb.server, *argv).stdout, port)
        yield tb
    finally:
        for proc in servers:
            proc.kill()
            proc.wait()
        tb.close()


def log_events(node) -> list[dict]:
    return [json.loads(line) for line in (node.state_dir / "log.jsonl").read_text().splitlines()]


def wait_logged(node, event: str, after: int, timeout: float = 15.0) -> None:
    """Wait until the VNF's event log has ``event`` past its first ``after`` entries."""
    deadline = time.monotonic() + timeout
    while not any(entry["event"] == event for entry in log_events(node)[after:]):
        assert time.monotonic() < deadline, f"no {event!r} logged after {timeout} s"
        time.sleep(0.1)


def client(tb, mode, target, count=1):
    proc = tb.run(tb.client, sys.executable, "-c", CLIENT_SCRIPT, mode, target, str(count), timeout=60)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def received(ping: subprocess.CompletedProcess) -> int:
    """How many echo replies a ``ping`` run got (a loaded machine may lose one)."""
    return sum(1 for line in ping.stdout.splitlines() if "bytes from" in line)


def wait_stats(tb, name, predicate, timeout=15.0):
    deadline = time.monotonic() + timeout
    while True:
        stats = tb.vnf_stats(name)
        if predicate(stats) or time.monotonic() > deadline:
            return stats
        time.sleep(0.2)


def test_firewall_live_accepts_rejects_drops_and_reloads(bed, tmp_path):
    config = tmp_path / "fw.yaml"
    config.write_text(FIREWALL)
    bed.steer(["fw"])
    bed.start_vnf("fw", "firewall", str(config))
    try:
        assert received(bed.run(bed.client, "ping", "-c", "5", "-i", "0.2", "-W", "2", bed.server_ip)) >= 4
        assert client(bed, "http", f"http://{bed.server_ip}:6860/", 3) == ["plain"] * 3
        assert client(bed, "connect", f"{bed.server_ip}:23") == ["refused"]  # RST from the firewall
        assert client(bed, "connect", f"{bed.server_ip}:8081") == ["timeout"]  # silently dropped
        stats = wait_stats(
            bed,
            "fw",
            lambda s: s["rules"]["telnet"]["packets"] >= 1 and s["rules"]["default"]["packets"] >= 1,
        )
        assert stats["rules"]["web"]["packets"] == 3 and stats["rules"]["ping"]["packets"] >= 1
        assert stats["counters"]["established"] > 10
        config.write_text(FIREWALL.replace("dport: 6860}", "dport: 8081}"))
        logged = len(log_events(bed.vnfs[0]))
        bed.signal_vnf("fw", signal.SIGHUP)
        wait_logged(bed.vnfs[0], "reload", after=logged)  # the VNF reloads at its next tick
        assert client(bed, "http", f"http://{bed.server_ip}:8081/") == ["web1"]
        assert client(bed, "connect", f"{bed.server_ip}:6860") == ["timeout"]
        log = [json.loads(line) for line in (bed.vnfs[0].state_dir / "log.jsonl").read_text().splitlines()]
        assert {"accept", "reject", "drop", "reload"} <= {entry["event"] for entry in log}
    finally:
        bed.stop_vnf("fw")


def test_load_balancer_live_balances_translates_and_fails_over(bed, tmp_path):
    lb = next(node for node in bed.vnfs if node.name == "lb")
    bed.run(lb.netns, "ip", "addr", "add", "10.78.0.50/24", "dev", lb.outside)  # for health checks
    mac = bed.server_mac()
    config = tmp_path / "lb.yaml"
    config.write_text(f"""
vip: 10.78.0.100
vip_mac: 02:00:00:00:78:64
port: 80
scheduler: round_robin
backends:
  - {{name: web1, ip: {bed.server_ip}, port: 8081, mac: "{mac}"}}
  - {{name: web2, ip: {bed.server_ip}, port: 8082, mac: "{mac}"}}
health_check: {{type: http, interval: 0.3, timeout: 2, fall: 2, rise: 1}}
""")
    bed.steer(["lb"])
    bed.start_vnf("lb", "lb", str(config))
    try:
        bodies = client(bed, "http", "http://10.78.0.100/", 6)
        assert sorted(bodies) == ["web1"] * 3 + ["web2"] * 3  # the client only ever talked to the VIP
        bed.servers["web2"].kill()
        bed.servers["web2"].wait()
        stats = wait_stats(bed, "lb", lambda s: not s["backends"]["web2"]["healthy"])
        assert stats["backends"]["web2"]["healthy"] is False
        assert client(bed, "http", "http://10.78.0.100/", 4) == ["web1"] * 4
        stats = wait_stats(bed, "lb", lambda s: s["backends"]["web1"]["flows"] >= 7)
        assert stats["backends"]["web1"]["flows"] >= 7 and stats["counters"]["arp_replies"] >= 1
    finally:
        bed.stop_vnf("lb")


@pytest.mark.parametrize("mode", ["rxring", "txring", "ring"])
def test_ring_modes_carry_tcp_and_ping(bed, mode):
    bed.steer(["fw"])
    bed.start_vnf("fw", "passthrough", mode=mode)
    try:
        assert received(bed.run(bed.client, "ping", "-c", "5", "-i", "0.2", "-W", "2", bed.server_ip)) >= 4
        assert client(bed, "http", f"http://{bed.server_ip}:6860/", 3) == ["plain"] * 3
        stats = wait_stats(bed, "fw", lambda s: s["ports"]["outside"]["tx"] >= 10)
        assert stats["ports"]["outside"]["tx"] >= 10 and stats["ports"]["inside"]["tx_errors"] == 0
    finally:
        bed.stop_vnf("fw")


def test_offloaded_flows_bypass_the_firewall_and_the_switch_does_the_lb_nat(bed, tmp_path):
    """With offload on, the VNFs see only the first packets of a flow; the switch carries the
    rest (doing the LB's NAT itself), and the client notices nothing."""
    fw_config = tmp_path / "fw.yaml"
    fw_config.write_text("default: accept\noffload: true\n")
    lb_config = tmp_path / "lb.yaml"
    lb_config.write_text(
        f"vip: 10.78.0.101\nvip_mac: 02:00:00:00:78:65\nport: 6861\noffload: true\n"
        f"backends: [{{name: iperf, ip: {bed.server_ip}, port: 6862, mac: '{bed.server_mac()}'}}]\n"
    )
    bed.steer(["fw", "lb"])
    bed.start_vnf("fw", "firewall", str(fw_config))
    bed.start_vnf("lb", "lb", str(lb_config))
    agent = bed.start_offload_agent()
    server = bed.popen(
        bed.server, "iperf3", "-s", "-1", "-p", "6862", stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        wait_listening(lambda argv: bed.run(bed.server, *argv).stdout, 6862)
        run = bed.run(bed.client, "iperf3", "-c", "10.78.0.101", "-p", "6861", "-t", "3", "-J", timeout=30)
        result = json.loads(run.stdout)
        assert "error" not in result, result.get("error")
        assert result["end"]["sum_received"]["bytes"] > 10_000_000  # the client talked to the VIP throughout
        # the VNFs write their stats files once a second (when they get the CPU)
        wait_stats(bed, "fw", lambda s: s["counters"].get("offloaded", 0) >= 2)
        wait_stats(bed, "lb", lambda s: s["counters"].get("offloaded", 0) >= 2)
        fw, lb = bed.vnf_stats("fw"), bed.vnf_stats("lb")
        assert (
            fw["counters"]["offloaded"] == 2 and lb["counters"]["offloaded"] == 2
        )  # control + data connection

        def rule_packets() -> tuple[str, int]:
            flows = subprocess.run(
                ["ovs-ofctl", "-O", "OpenFlow13", "dump-flows", bed.bridge], capture_output=True, text=True
            ).stdout
            return flows, sum(
                int(line.split("n_packets=")[1].split(",")[0])
                for line in flows.splitlines()
                if "priority=400" in line
            )

        def by_vnfs() -> int:
            return max(bed.vnf_stats(name)["counters"]["packets"] for name in ("fw", "lb"))

        # OVS credits datapath packets to its rules within a second or so (later on a busy machine)
        deadline = time.monotonic() + 10
        flows, by_switch = rule_packets()
        while by_switch <= by_vnfs() and time.monotonic() < deadline:
            time.sleep(0.2)
            flows, by_switch = rule_packets()
        assert f"set_field:{bed.server_ip}->ip_dst" in flows and agent.installed > 0
        # the VNFs saw only what went by before the rules landed: most packets took the switch rules
        assert by_switch > by_vnfs(), (by_switch, bed.vnf_stats("fw"), bed.vnf_stats("lb"))
    finally:
        server.kill()
        server.wait()
        agent.stop()
        bed.agent = None
        bed.stop_vnf("fw")
        bed.stop_vnf("lb")


def test_two_workers_share_the_ports_and_keep_each_connection_on_one_worker(bed, tmp_path):
    """PACKET_FANOUT hash is symmetric: a stateful firewall split over two processes still sees
    both directions of every connection (otherwise the SYN-ACKs would be INVALID and dropped)."""
    config = tmp_path / "fw.yaml"
    config.write_text(FIREWALL)
    bed.steer(["fw"])
    bed.start_vnf("fw", "firewall", str(config), workers=2)
    try:
        assert client(bed, "http", f"http://{bed.server_ip}:6860/", 12) == ["plain"] * 12
        stats = wait_stats(bed, "fw", lambda s: s["rules"]["web"]["packets"] >= 12)
        assert stats["workers"] == 2 and stats["rules"]["web"]["packets"] == 12
        assert stats["counters"]["invalid"] == 0
        per_worker = [
            json.loads(p.read_text())["counters"]["new"]
            for p in sorted(bed.vnfs[0].state_dir.glob("stats-w*.json"))
        ]
        assert len(per_worker) == 2 and all(n > 0 for n in per_worker), per_worker  # both workers took flows
    finally:
        bed.stop_vnf("fw")


FUZZER = r"""
import random, socket, struct, sys, time
from sdnlab.vnfs.packet import IPPROTO_TCP, IPPROTO_UDP, TCP_SYN, build_frame
ifname, dst, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
rng = random.Random(5)
base = [
    build_frame(
        ip_src="10.78.0.1", ip_dst=dst, ip_proto=IPPROTO_TCP, l4_src=999, l4_dst=6860, tcp_flags=TCP_SYN
    ),
    build_frame(
        ip_src="10.78.0.1", ip_dst=dst, ip_proto=IPPROTO_UDP, l4_src=999, l4_dst=53, payload=b"q" * 40
    ),
]
sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0)
sock.bind((ifname, 0))
sent = 0
for n in range(count):
    if n % 20 == 0:
        time.sleep(0.01)  # about 2000 frames a second: what the VNF counts must not depend on its speed
    frame = bytearray(rng.choice(base))
    kind = rng.randrange(5)
    if kind == 0:
        frame = frame[: rng.randrange(15, len(frame))]
    elif kind == 1:
        struct.pack_into("!H", frame, 16, rng.randrange(65536))
    elif kind == 2:
        frame[14] = rng.randrange(256)
    elif kind == 3:
        struct.pack_into("!H", frame, 20, rng.choice([0x2000, 0x0001, 0x3FFF]))
    else:
        frame = frame[:14] + bytearray(rng.randbytes(rng.randrange(1, 120)))
    try:
        sock.send(bytes(frame)); sent += 1
    except OSError:
        pass
print(sent)
"""


def test_live_firewall_survives_fuzzed_frames_and_keeps_forwarding(bed, tmp_path):
    config = tmp_path / "fw.yaml"
    config.write_text(FIREWALL)
    bed.steer(["fw"])
    node = bed.start_vnf("fw", "firewall", str(config))
    try:
        fuzz = bed.run(
            bed.client, sys.executable, "-c", FUZZER, f"{bed.tag}c0", bed.server_ip, "5000", timeout=60
        )
        assert fuzz.returncode == 0 and int(fuzz.stdout) > 4000, fuzz.stderr
        # (the stats file is rewritten once a second while the VNF works through the frames: wait
        # for the counts asserted, not for the first write that shows any)
        stats = wait_stats(
            bed, "fw", lambda s: s["counters"]["parse_errors"] > 100 and s["counters"]["packets"] > 1000
        )
        # OVS drops some broken frames itself; hundreds of the rest are unparsable at the VNF
        assert stats["counters"]["parse_errors"] > 100 and stats["counters"]["packets"] > 1000
        assert node.proc.poll() is None  # still running
        assert client(bed, "http", f"http://{bed.server_ip}:6860/", 3) == ["plain"] * 3
    finally:
        bed.stop_vnf("fw")


RAISING_VNF = """from sdnlab.vnfs.framework import VNF, forward


class Fragile(VNF):
    kind = "fragile"

    def handle(self, packet):
        if packet.ip_proto == 6 and 8082 in (packet.l4_src, packet.l4_dst):
            raise ValueError("cannot cope with port 8082")
        return forward()
"""


def test_a_researcher_vnf_whose_handle_raises_keeps_running_and_drops_only_those_packets(bed, tmp_path):
    path = tmp_path / "fragile.py"
    path.write_text(RAISING_VNF)
    bed.steer(["fw"])
    node = bed.start_vnf("fw", str(path))
    try:
        assert client(bed, "connect", f"{bed.server_ip}:8082") == ["timeout"]  # its SYNs raised: dropped
        assert client(bed, "http", f"http://{bed.server_ip}:6860/", 3) == ["plain"] * 3
        stats = wait_stats(bed, "fw", lambda s: s["counters"].get("handler_errors", 0) >= 1)
        assert stats["counters"]["handler_errors"] >= 1 and node.proc.poll() is None
        log = [json.loads(line) for line in (node.state_dir / "log.jsonl").read_text().splitlines()]
        errors = [entry for entry in log if entry["event"] == "handler_error"]
        assert errors and errors[0]["error"] == "ValueError: cannot cope with port 8082"
        assert errors[0]["at"] == "fragile.py:9" and errors[0]["policy"] == "drop"
    finally:
        bed.stop_vnf("fw")


def test_a_chain_host_runs_firewall_and_load_balancer_in_one_process(bed, tmp_path):
    """One waypoint, two stages: the firewall rejects telnet and lets the VIP through, the load
    balancer translates to two servers, and replies come back translated and allowed."""
    mac = bed.server_mac()
    (tmp_path / "fw.yaml").write_text(FIREWALL.replace("dport: 6860}", "dport: 80}"))
    config = tmp_path / "chain.yaml"
    config.write_text(f"""
stages:
  - {{kind: firewall, name: fw, config: fw.yaml}}
  - kind: lb
    config:
      vip: 10.78.0.102
      vip_mac: "02:00:00:00:78:66"
      port: 80
      scheduler: round_robin
      backends:
        - {{name: web1, ip: {bed.server_ip}, port: 8081, mac: "{mac}"}}
        - {{name: plain, ip: {bed.server_ip}, port: 6860, mac: "{mac}"}}
""")
    bed.steer(["fw"])
    node = bed.start_vnf("fw", "chain", str(config))
    try:
        # (web2 may be gone: the LB test above kills it; these two servers stay up)
        assert sorted(client(bed, "http", "http://10.78.0.102/", 4)) == ["plain"] * 2 + ["web1"] * 2
        assert client(bed, "connect", f"{bed.server_ip}:23") == ["refused"]  # the firewall stage's RST
        assert client(bed, "connect", f"{bed.server_ip}:6860") == ["timeout"]  # default drop
        stats = wait_stats(
            bed,
            "fw",
            lambda s: (
                s["stages"]["lb"]["backends"]["plain"]["flows"] >= 2
                and s["stages"]["fw"]["rules"]["telnet"]["packets"] >= 1
            ),
        )
        fw, lb = stats["stages"]["fw"], stats["stages"]["lb"]
        assert fw["rules"]["web"]["packets"] == 4 and fw["counters"]["established"] > 10
        assert lb["backends"]["web1"]["flows"] == 2 and lb["counters"]["arp_replies"] >= 1
        events = {json.loads(line)["vnf"] for line in (node.state_dir / "log.jsonl").read_text().splitlines()}
        assert "fw/fw" in events  # the firewall stage's accept/reject/drop lines carry CHAIN/STAGE
    finally:
        bed.stop_vnf("fw")
