"""The meter chain steered by the builtin controller's service-chaining app, the DPI VNF
asking that controller to quarantine a Telnet scanner (POST /sdnlab/quarantine), and the
firewall and the load balancer handing decided flows (the LB with its NAT) to the switch through
the controller (POST /sdnlab/offload)."""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from throughput import wait_listening
from vnf_wait import eventually

pytestmark = pytest.mark.network


def _rest(lab: dict, path: str) -> urllib.request.Request:
    """A request to the lab controller's REST API, carrying the lab's token."""
    from sdnlab.controller.rest_client import auth_headers_for_url

    return urllib.request.Request(lab["rest"] + path, headers=auth_headers_for_url(lab["rest"]))


LAB = "vnsfc"
TOPOLOGY = Path(__file__).parent / "topologies" / "vnf_sfc.yaml"

TELNET_SERVER = r"""
import socket, threading
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", 23)); s.listen(16)
while True:
    c, _ = s.accept()
    c.sendall(b"\xff\xfd\x18login: "); c.close()
"""

CONNECT = r"""
import json, socket, sys
out = []
for host in sys.argv[1:]:
    s = socket.socket(); s.settimeout(2)
    try:
        s.connect((host, 23)); out.append("open")
    except ConnectionRefusedError:
        out.append("refused")
    except OSError:
        out.append("timeout")
    finally:
        s.close()
print(json.dumps(out))
"""


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    from sdnlab.errors import LabError
    from sdnlab.runtime import api

    tmp = tmp_path_factory.mktemp("vnsfc")
    ctl = tmp / "ctl.yaml"
    ctl.write_text(
        "chains:\n  - name: meters\n    match: {src: 'role:meter'}\n    vnfs: [fw1, dpi1]\n"
        "    symmetric: true\n  - name: cameras\n    match: {src: 'role:camera'}\n    vnfs: [lb1]\n"
        "    symmetric: true\n"
    )
    state = api.up(str(TOPOLOGY), {}, name=LAB, controller="builtin", controller_config=str(ctl))
    try:
        rest = f"http://127.0.0.1:{state['controller']['rest_port']}"
        (tmp / "fw.yaml").write_text(
            "default: accept\nrules: [{name: telnet, action: accept, proto: tcp, dport: 23}]\n"
        )
        (tmp / "dpi.yaml").write_text(
            f"scan_threshold: 2\nquarantine: {{risks: [telnet_scan], local: false, "
            f"controller_url: '{rest}'}}\n"
        )
        for host in ("hes", "m1"):
            api.popen_in(
                LAB,
                host,
                [sys.executable, "-c", TELNET_SERVER],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        yield {"state": state, "tmp": tmp, "rest": rest, "hosts": {h["name"]: h for h in state["hosts"]}}
    finally:
        try:
            api.down(LAB)
        except LabError:
            pass


def test_controller_steers_meter_traffic_through_both_vnfs(lab):
    from sdnlab.runtime import api
    from sdnlab.vnfs import manage

    manage.start(LAB, "firewall", "fw1", str(lab["tmp"] / "fw.yaml"))
    manage.start(LAB, "dpi", "dpi1", str(lab["tmp"] / "dpi.yaml"))
    hes = lab["hosts"]["hes"]["ip"]
    api.run_in(LAB, "m1", ["ping", "-c", "2", "-W", "2", hes])  # warm up: ARP and the controller's flows
    ping = api.run_in(LAB, "m1", ["ping", "-c", "4", "-i", "0.3", "-W", "2", hes])
    assert sum(1 for line in ping.stdout.splitlines() if "bytes from" in line) >= 3, ping.stdout
    proc = api.run_in(LAB, "m1", [sys.executable, "-c", CONNECT, hes], timeout=30)
    assert json.loads(proc.stdout) == ["open"]
    stats = eventually(
        lambda: {row["name"]: row["stats"] for row in manage.status(LAB)},
        lambda st: (
            all(
                st[vnf]["ports"]["inside"]["rx"] > 0 and st[vnf]["ports"]["outside"]["rx"] > 0
                for vnf in ("fw1", "dpi1")
            )
            and st["fw1"]["counters"]["established"] > 0
        ),
    )
    for vnf in ("fw1", "dpi1"):  # both directions crossed both VNFs
        assert stats[vnf]["ports"]["inside"]["rx"] > 0 and stats[vnf]["ports"]["outside"]["rx"] > 0, stats[
            vnf
        ]
    assert stats["fw1"]["counters"]["established"] > 0


def scan_and_read_log(lab) -> list[dict]:
    """Let m2 scan TCP 23 on two hosts (once per module) and return the DPI VNF's log."""
    from sdnlab.runtime import api
    from sdnlab.vnfs import manage

    hosts = lab["hosts"]
    targets = [hosts["hes"]["ip"], hosts["m1"]["ip"]]

    def read() -> list[dict]:
        return [
            json.loads(line)
            for line in (manage.vnfs_dir(LAB) / "dpi1" / "log.jsonl").read_text().splitlines()
        ]

    for attempt in range(2):  # a loaded machine may lose the very first SYNs of a new path
        if not lab.get("scanned") or attempt:
            for target in targets:  # warm up: ARP and the controller's flows for m2
                api.run_in(LAB, "m2", ["ping", "-c", "1", "-W", "2", target])
            api.run_in(LAB, "m2", [sys.executable, "-c", CONNECT, *targets], timeout=30)
            lab["scanned"] = True
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            log = read()
            if any(e["event"] == "quarantine_result" for e in log):
                return log
            time.sleep(0.3)
    return read()


def test_dpi_sends_the_quarantine_request_to_the_controller(lab):
    log = scan_and_read_log(lab)
    m2 = lab["hosts"]["m2"]["ip"]
    assert any(e["event"] == "risk" and e["kind"] == "telnet_scan" and e["host"] == m2 for e in log)
    assert any(e["event"] == "quarantine" and e["host"] == m2 for e in log)
    results = [e for e in log if e["event"] == "quarantine_result"]
    # the REST call crossed from the lab host's namespace to the controller and got an HTTP answer
    # (the controller currently answers 500 although it installs the drop: see the VNF report)
    assert results and results[0]["host"] == m2 and results[0]["detail"].startswith("HTTP"), results


def test_the_controller_quarantines_the_scanner(lab):
    from sdnlab.runtime import api

    scan_and_read_log(lab)
    hosts = lab["hosts"]
    with urllib.request.urlopen(_rest(lab, "/sdnlab/quarantine"), timeout=3) as resp:
        quarantined = [entry.get("ip") for entry in json.loads(resp.read())["quarantined"]]
    assert hosts["m2"]["ip"] in quarantined
    blocked = api.run_in(LAB, "m2", ["ping", "-c", "2", "-W", "1", hosts["hes"]["ip"]])
    assert " 100% packet loss" in blocked.stdout


HTTP_CLIENT = r"""
import json, sys, urllib.request
url, count = sys.argv[1], int(sys.argv[2])
print(json.dumps([urllib.request.urlopen(url, timeout=3).read().decode().strip() for _ in range(count)]))
"""


def test_controller_steers_camera_traffic_through_the_load_balancer(lab):
    """cam1 -> lb1 -> an1/an2 with the controller's symmetric chain: the LB rewrites the VIP to a
    server, the controller routes it on, and the replies come back through the LB (un-NAT)."""
    from sdnlab.runtime import api
    from sdnlab.vnfs import manage

    hosts, tmp = lab["hosts"], lab["tmp"]
    for name in ("an1", "an2"):
        www = tmp / name
        www.mkdir(exist_ok=True)
        (www / "index.html").write_text(name)
        api.popen_in(
            LAB,
            name,
            [sys.executable, "-m", "http.server", "80", "--directory", str(www)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    (tmp / "lb.yaml").write_text(
        "vip: 10.61.0.100\nvip_mac: 02:00:00:00:61:64\nport: 80\nscheduler: round_robin\nbackends:\n"
        + "".join(
            f"  - {{name: {n}, ip: {hosts[n]['ip']}, mac: '{hosts[n]['mac']}'}}\n" for n in ("an1", "an2")
        )
    )
    manage.start(LAB, "lb", "lb1", str(tmp / "lb.yaml"))
    # the VIP is no lab host, so the controller's proxy ARP does not know it: give cam1 its MAC
    api.run_in(
        LAB,
        "cam1",
        ["ip", "neigh", "replace", "10.61.0.100", "lladdr", "02:00:00:00:61:64", "dev", "cam1-eth0"],
    )
    time.sleep(1.0)
    proc = api.run_in(
        LAB, "cam1", [sys.executable, "-c", HTTP_CLIENT, "http://10.61.0.100/", "4"], timeout=60
    )
    assert proc.returncode == 0, proc.stderr[-500:]
    assert sorted(json.loads(proc.stdout)) == ["an1", "an1", "an2", "an2"]
    stats = eventually(
        lambda: manage.status(LAB, "lb1")[0]["stats"],
        lambda st: st["counters"]["balanced"] > 0 and st["counters"]["reverse"] > 0,
    )
    assert (
        stats["counters"]["balanced"] > 0 and stats["counters"]["reverse"] > 0
    )  # both directions crossed lb1


OFFLOAD_COOKIE = "0x5d1ab5f080000000/0xffffffff80000000"  # every per-flow offload rule (docs/controller.md)


def offload_rules(lab_name: str) -> list[dict]:
    """The offload rules on the lab's switches with their counters (ovs-ofctl dump-flows)."""
    from sdnlab.runtime import api

    rules = []
    for switch in ("s1", "s2"):
        dump = subprocess.run(
            [
                "ovs-ofctl",
                "-O",
                "OpenFlow13",
                "dump-flows",
                api.bridge(lab_name, switch),
                f"cookie={OFFLOAD_COOKIE}",
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for line in dump.splitlines():
            counters = dict(re.findall(r"(n_packets|n_bytes)=(\d+)", line))
            if counters:
                rules.append(
                    {
                        "switch": switch,
                        "n_packets": int(counters["n_packets"]),
                        "n_bytes": int(counters["n_bytes"]),
                        "text": line.strip(),
                    }
                )
    return rules


def restart_vnf(lab, kind: str, host: str, config_text: str) -> None:
    """(Re)start a VNF of the lab with this config (earlier tests may have started it otherwise)."""
    from sdnlab.vnfs import manage

    path = lab["tmp"] / f"{host}-offload.yaml"
    path.write_text(config_text)
    if any(row["name"] == host and row["running"] for row in manage.status(LAB)):
        manage.stop(LAB, host)
    manage.start(LAB, kind, host, str(path))


def test_the_firewall_hands_a_long_transfer_to_the_switch_through_the_controller(lab):
    """fw1 (offload: true) sees the first packets of an iperf3 transfer and asks the controller to
    take the flow over; the rest crosses the switch's per-flow rules straight to dpi1, which still
    inspects it. A short Telnet attempt still meets the firewall and is rejected."""
    from sdnlab.runtime import api
    from sdnlab.vnfs import manage

    hosts = lab["hosts"]
    hes = hosts["hes"]["ip"]
    restart_vnf(
        lab,
        "firewall",
        "fw1",
        "default: accept\noffload: true\nrules: [{name: no-telnet, action: reject, proto: tcp, dport: 23}]\n",
    )
    if not any(row["name"] == "dpi1" and row["running"] for row in manage.status(LAB)):
        manage.start(LAB, "dpi", "dpi1", str(lab["tmp"] / "dpi.yaml"))
    server = api.popen_in(
        LAB, "hes", ["iperf3", "-s", "-1"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        api.run_in(LAB, "m1", ["ping", "-c", "2", "-W", "2", hes])  # warm up: ARP and the controller's flows
        wait_listening(lambda argv: api.run_in(LAB, "hes", argv).stdout, 5201)
        proc = api.run_in(LAB, "m1", ["iperf3", "-c", hes, "-t", "3", "-J"], timeout=60)
        assert proc.returncode == 0, proc.stdout[-800:] + proc.stderr[-500:]
        sent_bytes = json.loads(proc.stdout)["end"]["sum_sent"]["bytes"]
        # OVS credits datapath packets to its rules within a second or so, later on a busy machine
        rules = eventually(
            lambda: offload_rules(LAB), lambda rs: sum(r["n_bytes"] for r in rs) > 0.8 * sent_bytes
        )
        with urllib.request.urlopen(_rest(lab, "/sdnlab/offload"), timeout=3) as resp:
            offloads = json.loads(resp.read())["offloads"]
    finally:
        server.kill()
        server.wait()
    offloaded_packets = sum(r["n_packets"] for r in rules)
    stats = eventually(  # the VNFs' stats files are rewritten once a second
        lambda: {row["name"]: row["stats"] for row in manage.status(LAB)},
        lambda st: (
            st["fw1"]["counters"].get("offload_accepted", 0) >= 1
            and st["dpi1"]["ports"]["inside"]["rx"] + st["dpi1"]["ports"]["outside"]["rx"]
            > 0.5 * offloaded_packets
        ),
    )
    fw_seen = stats["fw1"]["ports"]["inside"]["rx"] + stats["fw1"]["ports"]["outside"]["rx"]
    dpi_seen = stats["dpi1"]["ports"]["inside"]["rx"] + stats["dpi1"]["ports"]["outside"]["rx"]
    offloaded_bytes = sum(r["n_bytes"] for r in rules)
    report = (
        f"sent {sent_bytes} bytes; offload rules {offloaded_packets} packets / {offloaded_bytes} bytes; "
        f"fw1 saw {fw_seen} frames, dpi1 {dpi_seen}; fw1 counters {stats['fw1']['counters']}"
    )
    print(report)
    # the controller accepted fw1's requests and lists the transfer as offloaded past fw1
    assert stats["fw1"]["counters"].get("offload_accepted", 0) >= 1, report
    assert any(
        o["chain"] == "meters" and o["bypassed"] == ["fw1"] and o["dport"] == 5201 and o["dst"] == hes
        for o in offloads
    ), offloads
    # the switch carried the bulk of the transfer; the firewall saw only its first packets
    assert offloaded_bytes > 0.8 * sent_bytes, report
    assert fw_seen * 20 < offloaded_packets, report
    assert dpi_seen > 0.5 * offloaded_packets, report  # dpi1 did not ask: it still inspects the flow
    # a new, short flow still meets the firewall
    refused = api.run_in(LAB, "m1", [sys.executable, "-c", CONNECT, hes], timeout=30)
    assert json.loads(refused.stdout) == ["refused"]


DOWNLOAD = r"""
import hashlib, json, sys, urllib.request
print(json.dumps([hashlib.sha256(urllib.request.urlopen(sys.argv[1], timeout=30).read()).hexdigest()
                  for _ in range(int(sys.argv[2]))]))
"""


def test_the_load_balancer_hands_its_nat_to_the_switch_through_the_controller(lab):
    """lb1 (offload: true) balances a download from the VIP, then asks the controller to take the
    flow over with its NAT (rewrite): the switch rewrites VIP <-> backend both ways and the bytes
    arrive intact, while lb1 saw only the first packets."""
    from sdnlab.runtime import api
    from sdnlab.vnfs import manage

    hosts, tmp = lab["hosts"], lab["tmp"]
    content = bytes(range(256)) * (20_000_000 // 256)
    for name in ("an1", "an2"):
        www = tmp / f"{name}-big"
        www.mkdir(exist_ok=True)
        (www / "big.bin").write_bytes(content)
        api.popen_in(
            LAB,
            name,
            [sys.executable, "-m", "http.server", "8080", "--directory", str(www)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    backends = "".join(
        f"  - {{name: {n}, ip: {hosts[n]['ip']}, mac: '{hosts[n]['mac']}', port: 8080}}\n"
        for n in ("an1", "an2")
    )
    restart_vnf(
        lab,
        "lb",
        "lb1",
        "vip: 10.61.0.100\nvip_mac: 02:00:00:00:61:64\nport: 80\nscheduler: round_robin\n"
        "offload: true\nbackends:\n" + backends,
    )
    api.run_in(
        LAB,
        "cam1",
        ["ip", "neigh", "replace", "10.61.0.100", "lladdr", "02:00:00:00:61:64", "dev", "cam1-eth0"],
    )
    time.sleep(1.0)
    proc = api.run_in(
        LAB, "cam1", [sys.executable, "-c", DOWNLOAD, "http://10.61.0.100/big.bin", "2"], timeout=120
    )
    assert proc.returncode == 0, proc.stderr[-800:]
    # OVS credits datapath packets to its rules within a second or so; the VNF's stats file is
    # rewritten once a second: both later on a busy machine
    rules = eventually(
        lambda: offload_rules(LAB),
        lambda rs: sum(r["n_bytes"] for r in rs if "10.61.0.100" in r["text"]) > len(content),
    )
    with urllib.request.urlopen(_rest(lab, "/sdnlab/offload"), timeout=3) as resp:
        offloads = json.loads(resp.read())["offloads"]
    stats = eventually(
        lambda: manage.status(LAB, "lb1")[0]["stats"],
        lambda st: st["counters"].get("offload_accepted", 0) >= 2,
    )
    lb_seen = stats["ports"]["inside"]["rx"] + stats["ports"]["outside"]["rx"]
    nat_rules = [r for r in rules if "10.61.0.100" in r["text"]]  # they match the VIP or write it back
    offloaded_bytes = sum(r["n_bytes"] for r in nat_rules)
    report = (
        f"lb1 saw {lb_seen} frames, counters {stats['counters']}; NAT rules carried {offloaded_bytes} bytes"
    )
    print(report)
    assert json.loads(proc.stdout) == [hashlib.sha256(content).hexdigest()] * 2  # both downloads intact
    assert any(
        o["chain"] == "cameras" and o["bypassed"] == ["lb1"] and "lb1" in o["rewrites"] for o in offloads
    ), offloads
    assert stats["counters"].get("offload_accepted", 0) >= 2, report
    assert offloaded_bytes > len(content), (
        report
    )  # the switch carried (and rewrote) most of the two downloads
    assert lb_seen * 20 < sum(r["n_packets"] for r in nat_rules), report


def test_a_bad_vnf_config_is_named_as_the_trainee_wrote_it(lab, tmp_path):
    """A lab renders the trainee's dpi.yaml into its state folder; errors still name the trainee's file."""
    from sdnlab.errors import SdnlabError
    from sdnlab.vnfs import manage

    rendered = tmp_path / "rendered-dpi1-dpi.yaml"
    rendered.write_text("quarantine:\n  risks: [telnet_scan, 7]\n")
    with pytest.raises(SdnlabError) as caught:
        manage.start(LAB, "dpi", "dpi1", str(rendered), vnf_name="dpibad", config_name="work/dpi.yaml")
    message = str(caught.value)
    assert message.startswith("work/dpi.yaml:2") and "rendered" not in message, message
