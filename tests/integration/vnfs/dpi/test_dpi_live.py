"""Real traffic between two namespaces through an Open vSwitch bridge is classified live and from a capture.

Host ``sdpiA`` (10.231.0.1) talks to ``sdpiB`` (10.231.0.2) across the OVS bridge ``sdpibr0``
(userspace datapath): HTTP on port 8081, a Telnet-style login on 2323, MQTT on 18830, DNS to a
resolver not on the allowed list, and connection attempts to TCP 23 on twelve addresses (a scan), a
TLS 1.3 session with SNI on port 40443 (Python's ssl) and the OpenSSH client on port 2222.
The test reads the frames live from an AF_PACKET socket on A's link and feeds the DPI engine; a
tcpdump capture of the same traffic goes through ``sdnlab dpi classify --json``.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from sdnlab.vnfs.dpi import DpiConfig, DpiEngine

pytestmark = pytest.mark.network

NS_A, NS_B, BRIDGE = "sdpiA", "sdpiB", "sdpibr0"
IP_A, IP_B = "10.231.0.1", "10.231.0.2"
TAP = "sdpiA1"  # A's link, root-namespace end: every frame of host A passes here
ETH_P_ALL = 0x0003

SERVERS = textwrap.dedent("""
    import http.server, socket, socketserver, ssl, sys, threading

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    def http_server():
        socketserver.TCPServer.allow_reuse_address = True
        socketserver.TCPServer(("0.0.0.0", 8081), Quiet).serve_forever()

    def tcp_server(port, handle):
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("0.0.0.0", port))
        listener.listen()
        while True:
            conn, _ = listener.accept()
            threading.Thread(target=handle, args=(conn,), daemon=True).start()

    def telnet(conn):
        conn.sendall(b"\\xff\\xfd\\x18\\xff\\xfd\\x20\\xff\\xfb\\x01")
        conn.recv(100)
        conn.sendall(b"\\r\\nmeter login: ")
        typed = b""
        while b"\\r" not in typed:
            chunk = conn.recv(10)
            if not chunk:
                break
            typed += chunk
        conn.sendall(b"\\r\\nPassword: ")
        conn.recv(100)
        conn.close()

    def mqtt(conn):
        conn.recv(200)
        conn.sendall(b"\\x20\\x02\\x00\\x00")
        conn.recv(200)
        conn.close()

    def dns():
        server = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        server.bind(("0.0.0.0", 53))
        while True:
            query, peer = server.recvfrom(512)
            server.sendto(query[:2] + b"\\x81\\x83" + query[4:], peer)

    def tls(conn):
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(sys.argv[1], sys.argv[2])
        with context.wrap_socket(conn, server_side=True) as wrapped:
            wrapped.recv(100)
            wrapped.sendall(b"reading=42")

    def ssh_banner(conn):
        conn.sendall(b"SSH-2.0-sdnlab_test_server\\r\\n")
        conn.recv(200)
        conn.close()

    threading.Thread(target=tcp_server, args=(40443, tls), daemon=True).start()
    threading.Thread(target=tcp_server, args=(2222, ssh_banner), daemon=True).start()
    for target in (http_server, dns):
        threading.Thread(target=target, daemon=True).start()
    threading.Thread(target=tcp_server, args=(2323, telnet), daemon=True).start()
    threading.Thread(target=tcp_server, args=(18830, mqtt), daemon=True).start()
    print("ready", flush=True)
    threading.Event().wait()
""")

CLIENT = textwrap.dedent(
    f"""
    import socket, struct, time, urllib.request
    B = "{IP_B}"
    urllib.request.urlopen(f"http://{{B}}:8081/", timeout=5).read()
    time.sleep(0.2)
    t = socket.create_connection((B, 2323), timeout=5)
    t.recv(100)
    t.sendall(b"\\xff\\xfc\\x18\\xff\\xfc\\x20\\xff\\xfd\\x01")
    t.recv(100)
    for ch in b"admin\\r":
        t.sendall(bytes([ch]))
        time.sleep(0.02)
    t.recv(100)
    t.sendall(b"secret\\r\\n")
    t.close()
    time.sleep(0.2)
    m = socket.create_connection((B, 18830), timeout=5)
    body = b"\\x00\\x04MQTT\\x04\\x02\\x00\\x3c\\x00\\x0bmeter-00042"
    m.sendall(bytes([0x10, len(body)]) + body)
    m.recv(10)
    m.sendall(b"\\xe0\\x00")
    m.close()
    d = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    d.settimeout(2)
    question = b"\\x05meter\\x03lab\\x00" + b"\\x00\\x01\\x00\\x01"  # meter.lab, type A, class IN
    d.sendto(struct.pack("!HHHHHH", 7, 0x0100, 1, 0, 0, 0) + question, (B, 53))
    d.recv(512)
    import ssl
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    raw = socket.create_connection((B, 40443), timeout=5)
    with context.wrap_socket(raw, server_hostname="meter.lab") as tls:
        tls.sendall(b"read")
        tls.recv(100)
    for i in range(1, 13):
        s = socket.socket()
        s.setblocking(False)
        s.connect_ex((f"10.232.0.{{i}}", 23))
        time.sleep(0.01)
        s.close()
    print("done", flush=True)
"""
)


def sh(*argv: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(argv, capture_output=True, text=True, check=check, timeout=30)


def _teardown() -> None:
    sh("ovs-vsctl", "--if-exists", "del-br", BRIDGE, check=False)
    for ns in (NS_A, NS_B):
        sh("ip", "netns", "del", ns, check=False)
    for link in ("sdpiA1", "sdpiB1"):
        sh("ip", "link", "del", link, check=False)


@pytest.fixture(scope="module")
def network(tmp_path_factory):
    """Two namespaces on an OVS bridge, servers running in B; torn down afterwards."""
    _teardown()
    workdir = tmp_path_factory.mktemp("dpi-live")
    servers = None
    try:
        sh("ovs-vsctl", "add-br", BRIDGE, "--", "set", "bridge", BRIDGE, "datapath_type=netdev")
        sh("ip", "link", "set", BRIDGE, "up")
        for ns, ip, inner, outer in ((NS_A, IP_A, "sdpiA0", "sdpiA1"), (NS_B, IP_B, "sdpiB0", "sdpiB1")):
            sh("ip", "netns", "add", ns)
            sh("ip", "link", "add", inner, "type", "veth", "peer", "name", outer)
            sh("ip", "link", "set", inner, "netns", ns)
            sh("ip", "netns", "exec", ns, "ip", "addr", "add", f"{ip}/24", "dev", inner)
            sh("ip", "netns", "exec", ns, "ip", "link", "set", inner, "up")
            sh("ip", "netns", "exec", ns, "ip", "link", "set", "lo", "up")
            sh("ip", "netns", "exec", ns, "ethtool", "-K", inner, "tx", "off", "rx", "off", check=False)
            sh("ethtool", "-K", outer, "tx", "off", "rx", "off", check=False)
            sh("ip", "link", "set", outer, "up")
            sh("ovs-vsctl", "add-port", BRIDGE, outer)
        sh("ip", "netns", "exec", NS_A, "ip", "route", "add", "10.232.0.0/24", "via", IP_B)
        script = workdir / "servers.py"
        script.write_text(SERVERS)
        cert, key = workdir / "cert.pem", workdir / "key.pem"
        sh(
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            str(key),
            "-out",
            str(cert),
            "-days",
            "1",
            "-subj",
            "/CN=meter.lab",
        )
        servers = subprocess.Popen(
            ["ip", "netns", "exec", NS_B, sys.executable, str(script), str(cert), str(key)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        if servers.stdout.readline().strip() != "ready":
            servers.kill()
            pytest.fail(f"servers in {NS_B} did not start: {servers.communicate(timeout=10)[1]}")
        ping = sh("ip", "netns", "exec", NS_A, "ping", "-c", "1", "-W", "5", IP_B, check=False)
        assert ping.returncode == 0, f"no connectivity across {BRIDGE}: {ping.stdout} {ping.stderr}"
        yield workdir
    finally:
        if servers is not None:
            servers.kill()
            servers.wait(timeout=10)
        _teardown()


@pytest.fixture(scope="module")
def traffic(network):
    """Run the client once: live engine results plus the tcpdump capture of the same traffic."""
    engine = DpiEngine(DpiConfig(dns_servers=frozenset({"10.231.0.53"}), scan_threshold=10))
    sniffer = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    sniffer.bind((TAP, 0))
    sniffer.settimeout(0.2)
    stop = threading.Event()

    def sniff() -> None:
        while not stop.is_set():
            try:
                frame = sniffer.recv(65535)
            except TimeoutError:
                continue
            engine.process_frame(time.time(), frame)

    capture = network / "live.pcap"
    tcpdump = None
    if shutil.which("tcpdump"):
        tcpdump = subprocess.Popen(
            ["tcpdump", "-i", TAP, "-U", "-w", str(capture), "-s", "0"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(1.0)
    thread = threading.Thread(target=sniff, daemon=True)
    thread.start()
    try:
        client = network / "client.py"
        client.write_text(CLIENT)
        run = subprocess.run(
            ["ip", "netns", "exec", NS_A, sys.executable, str(client)],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert run.returncode == 0 and "done" in run.stdout, run.stderr
        if shutil.which("ssh"):  # the real OpenSSH client against a server that only sends its banner
            subprocess.run(
                [
                    "ip",
                    "netns",
                    "exec",
                    NS_A,
                    "ssh",
                    "-p",
                    "2222",
                    "-o",
                    "BatchMode=yes",
                    "-o",
                    "StrictHostKeyChecking=no",
                    "-o",
                    "UserKnownHostsFile=/dev/null",
                    "-o",
                    "ConnectTimeout=5",
                    f"probe@{IP_B}",
                    "true",
                ],
                capture_output=True,
                timeout=30,
            )
        time.sleep(0.5)
    finally:
        stop.set()
        thread.join(timeout=5)
        sniffer.close()
        if tcpdump is not None:
            tcpdump.terminate()
            tcpdump.wait(timeout=10)
    engine.flush()
    return engine, (capture if tcpdump is not None else None)


def _by_port(records, port):
    found = [r for r in records if r.dport == port]
    assert found, f"no flow to port {port} in {[(r.dst, r.dport, r.app) for r in records]}"
    return found[0]


def test_http_on_a_non_standard_port_is_http_with_its_host(traffic):
    engine, _ = traffic
    record = _by_port(engine.records(), 8081)
    assert (record.src, record.dst, record.app) == (IP_A, IP_B, "HTTP")
    assert record.metadata["host"] == f"{IP_B}:8081"
    assert record.metadata["user_agent"].startswith("Python-urllib")
    assert record.packets_c2s > 0 and record.packets_s2c > 0


def test_telnet_login_is_telnet_with_user_and_a_cleartext_risk(traffic):
    engine, _ = traffic
    record = _by_port(engine.records(), 2323)
    assert (record.app, record.metadata.get("username")) == ("Telnet", "admin")
    assert "cleartext_telnet" in record.risks
    assert any(e.kind == "cleartext_telnet" and e.host == IP_A and e.peer == IP_B for e in engine.risks())


def test_mqtt_on_a_non_standard_port_gives_the_client_id(traffic):
    engine, _ = traffic
    record = _by_port(engine.records(), 18830)
    assert (record.app, record.metadata["client_id"]) == ("MQTT", "meter-00042")


def test_dns_to_a_resolver_off_the_list_is_flagged(traffic):
    engine, _ = traffic
    record = _by_port(engine.records(), 53)
    assert (record.app, record.metadata["query"], record.metadata["rcode"]) == ("DNS", "meter.lab", 3)
    assert any(e.kind == "unusual_dns_server" and e.host == IP_A and e.peer == IP_B for e in engine.risks())


def test_connection_attempts_to_telnet_on_many_hosts_are_a_scan(traffic):
    engine, _ = traffic
    scans = [e for e in engine.risks() if e.kind == "telnet_scan"]
    assert len(scans) == 1 and scans[0].host == IP_A
    assert len(scans[0].evidence["hosts"]) == 10


def test_a_real_tls_handshake_gives_sni_and_tls13(traffic):
    engine, _ = traffic
    record = _by_port(engine.records(), 40443)
    assert record.app == "TLS"
    assert (record.metadata["sni"], record.metadata["version"]) == ("meter.lab", "TLSv1.3")


def test_the_openssh_client_is_ssh(traffic):
    if not shutil.which("ssh"):
        pytest.skip("no ssh client")
    engine, _ = traffic
    record = _by_port(engine.records(), 2222)
    assert record.app == "SSH"
    assert record.metadata["client"].startswith("SSH-2.0-OpenSSH")
    assert record.metadata["server"] == "SSH-2.0-sdnlab_test_server"


def test_the_capture_classifies_the_same_through_the_cli(traffic):
    _engine, capture = traffic
    if capture is None:
        pytest.skip("tcpdump not installed")
    run = subprocess.run(
        [
            sys.executable,
            "-c",
            "from sdnlab.vnfs.dpi.cli import app; app()",
            "classify",
            str(capture),
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "COLUMNS": "200"},
    )
    assert run.returncode == 0, run.stderr
    offline = {(r["proto"], r["dport"]): r["app"] for r in map(json.loads, run.stdout.splitlines())}
    for port, app in ((8081, "HTTP"), (2323, "Telnet"), (18830, "MQTT"), (53, "DNS")):
        assert offline[("UDP" if port == 53 else "TCP", port)] == app
    assert Path(capture).stat().st_size > 0


def test_ndpi_labels_the_live_capture_as_we_do(traffic, tmp_path):
    """An independent classifier (nDPI's ndpiReader, Debian libndpi-bin) on the same capture agrees."""
    from sdnlab.vnfs.dpi.ndpi import agreement, read_expected
    from sdnlab.vnfs.dpi.offline import classify_pcap

    _engine, capture = traffic
    reader = shutil.which("ndpiReader")
    if capture is None or reader is None:
        pytest.skip("needs tcpdump and ndpiReader (Debian package libndpi-bin)")
    run = subprocess.run([reader, "-i", str(capture), "-v", "2"], capture_output=True, text=True, timeout=60)
    report = tmp_path / "live.out"
    report.write_text(run.stdout)
    expected = read_expected(report)
    records, _ = classify_pcap(capture)
    result = agreement("live.pcap", expected, records)
    labelled = {flow.master for flow in expected}
    print(f"\nnDPI {sorted(labelled)}: {result.agreed}/{result.compared} flows agree")
    assert {"HTTP", "MQTT", "DNS"} <= labelled, run.stdout[-2000:]
    assert result.compared >= 3 and result.ratio == 1.0, result.mismatches
