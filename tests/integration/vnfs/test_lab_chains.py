"""Service chains on a real lab (Mininet + OVS userspace) with VNFs started by ``sdnlab vnf run``.

meters -> firewall -> DPI -> head-end and camera -> load balancer -> analytics servers, with
symmetric return paths. The controller's service-chaining app is not used here: the test
steers with static OpenFlow rules installed by ovs-ofctl (lab started with controller none).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from throughput import wait_listening
from typer.testing import CliRunner
from vnf_wait import eventually

pytestmark = pytest.mark.network

LAB = "vnchains"
TOPOLOGY = Path(__file__).parent / "topologies" / "vnf_chains.yaml"

SERVER = r"""
import socket, sys, threading
def serve(port, banner):
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("0.0.0.0", port)); s.listen(16)
    while True:
        c, _ = s.accept()
        def talk(c=c):
            try:
                if banner: c.sendall(banner)
                data = c.recv(4096)
                if port == 1883: c.sendall(b"\x20\x02\x00\x00")  # MQTT CONNACK
                elif data: c.sendall(data)
            finally:
                c.close()
        threading.Thread(target=talk, daemon=True).start()
for port, banner in ((1883, b""), (23, b"\xff\xfd\x18\xff\xfd\x20login: ")):
    threading.Thread(target=serve, args=(port, banner), daemon=True).start()
threading.Event().wait()
"""

CLIENT = r"""
import json, socket, sys
host, port, payload = sys.argv[1], int(sys.argv[2]), bytes.fromhex(sys.argv[3])
s = socket.socket(); s.settimeout(3)
try:
    s.connect((host, port))
    first = s.recv(100) if port == 23 else b""
    s.sendall(payload)
    answer = s.recv(100)
    print(json.dumps({"result": "ok", "first": first.hex(), "answer": answer.hex()}))
except ConnectionRefusedError:
    print(json.dumps({"result": "refused"}))
except OSError as exc:
    print(json.dumps({"result": "error", "detail": str(exc)}))
"""

HTTP_CLIENT = r"""
import json, sys, urllib.request
url, count = sys.argv[1], int(sys.argv[2])
print(json.dumps([urllib.request.urlopen(url, timeout=3).read().decode().strip() for _ in range(count)]))
"""

MQTT_CONNECT = (b"\x10\x13\x00\x04MQTT\x04\x02\x00\x3c\x00\x07meter-1").hex()


def port_of(state, host, index=0):
    for link in state["links"]:
        for end, other in (("a", "b"), ("b", "a")):
            if link[end] == host and link[f"{end}_port"] == index:
                return link[f"{other}_port"]
    raise KeyError(host)


def static_chain_flows(state, lb_eth2: str) -> list[str]:
    """Symmetric steering for both chains on s1, by in_port and destination MAC."""
    mac = {h["name"]: h["interfaces"][0]["mac"] for h in state["hosts"]}
    p = {
        name: port_of(state, name) for name in ("m1", "m2", "hes", "cam1", "an1", "an2", "h9", "srv9", "oa1")
    }
    fw_in, fw_out = port_of(state, "fw1", 0), port_of(state, "fw1", 1)
    dpi_in, dpi_out = port_of(state, "dpi1", 0), port_of(state, "dpi1", 1)
    lb_in, lb_out, lb_hc = port_of(state, "lb1", 0), port_of(state, "lb1", 1), port_of(state, "lb1", 2)
    bcast = "ff:ff:ff:ff:ff:ff"
    flows = [
        # chain 1: meters -> fw1 -> dpi1 -> hes, and back
        f"in_port={p['m1']},actions=output:{fw_in}",
        f"in_port={p['m2']},actions=output:{fw_in}",
        f"in_port={fw_out},actions=output:{dpi_in}",
        f"in_port={dpi_out},actions=output:{p['hes']}",
        f"in_port={p['hes']},actions=output:{dpi_out}",
        f"in_port={dpi_in},actions=output:{fw_out}",
        f"in_port={fw_in},dl_dst={mac['m1']},actions=output:{p['m1']}",
        f"in_port={fw_in},dl_dst={mac['m2']},actions=output:{p['m2']}",
        f"in_port={fw_in},dl_dst={bcast},actions=output:{p['m1']},output:{p['m2']}",
        # chain 2: cam1 -> lb1 -> an1/an2, and back; lb1-eth2 reaches the servers for health checks
        f"in_port={p['cam1']},actions=output:{lb_in}",
        f"in_port={lb_in},actions=output:{p['cam1']}",
        f"in_port={lb_out},dl_dst={mac['an1']},actions=output:{p['an1']}",
        f"in_port={lb_out},dl_dst={mac['an2']},actions=output:{p['an2']}",
        f"in_port={lb_out},dl_dst={bcast},actions=output:{p['an1']},output:{p['an2']}",
        f"in_port={p['an1']},actions=output:{lb_out}",
        f"in_port={p['an2']},actions=output:{lb_out}",
        f"priority=200,in_port={p['an1']},dl_dst={lb_eth2},actions=output:{lb_hc}",
        f"priority=200,in_port={p['an2']},dl_dst={lb_eth2},actions=output:{lb_hc}",
        f"priority=200,in_port={p['an1']},dl_dst={bcast},actions=output:{lb_out},output:{lb_hc}",
        f"priority=200,in_port={p['an2']},dl_dst={bcast},actions=output:{lb_out},output:{lb_hc}",
        f"in_port={lb_hc},dl_dst={mac['an1']},actions=output:{p['an1']}",
        f"in_port={lb_hc},dl_dst={mac['an2']},actions=output:{p['an2']}",
        f"in_port={lb_hc},dl_dst={bcast},actions=output:{p['an1']},output:{p['an2']}",
        # one-armed: h9 and srv9 reach each other only through oa1, which sends back out of its one port
        f"in_port={p['h9']},actions=output:{p['oa1']}",
        f"in_port={p['srv9']},actions=output:{p['oa1']}",
        f"in_port={p['oa1']},dl_dst={mac['h9']},actions=output:{p['h9']}",
        f"in_port={p['oa1']},dl_dst={mac['srv9']},actions=output:{p['srv9']}",
        f"in_port={p['oa1']},dl_dst={bcast},actions=output:{p['h9']},output:{p['srv9']}",
    ]
    return [flow if flow.startswith("priority=") else f"priority=100,{flow}" for flow in flows]


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    from sdnlab.errors import LabError
    from sdnlab.runtime import api

    tmp = tmp_path_factory.mktemp("vnchains")
    state = api.up(str(TOPOLOGY), {}, name=LAB, controller="none")
    try:
        bridge = api.bridge(LAB, "s1")
        lb_eth2 = api.run_in(LAB, "lb1", ["cat", "/sys/class/net/lb1-eth2/address"]).stdout.strip()
        for flow in static_chain_flows(state, lb_eth2):
            subprocess.run(["ovs-ofctl", "-O", "OpenFlow13", "add-flow", bridge, flow], check=True)
        # lb1 probes the servers from eth2 only: its bump-in-the-wire ports carry no address
        api.run_in(LAB, "lb1", ["ip", "addr", "flush", "dev", "lb1-eth0"])
        api.run_in(LAB, "lb1", ["ip", "addr", "add", "10.60.9.1/16", "dev", "lb1-eth2"])
        api.run_in(LAB, "lb1", ["ip", "link", "set", "lb1-eth2", "up"])
        hosts = {h["name"]: h for h in state["hosts"]}
        (tmp / "fw.yaml").write_text(f"""
default: drop
rate_limits: [{{name: telnet-scan, proto: tcp, dport: [23, 2323], rate: 0.5, burst: 3}}]
rules:
  - {{name: ping, action: accept, proto: icmp, icmp_type: 8}}
  - {{name: mqtt, action: accept, proto: tcp, dport: 1883}}
  - {{name: iperf, action: accept, proto: tcp, dport: 6855}}
  - {{name: telnet-m1, action: accept, proto: tcp, dport: 23, src: {hosts["m1"]["ip"]}}}
  - {{name: telnet, action: reject, proto: tcp, dport: [23, 2323]}}
""")
        (tmp / "dpi.yaml").write_text("quarantine: {risks: [telnet_scan]}\n")
        an = [hosts["an1"], hosts["an2"]]
        (tmp / "lb.yaml").write_text(f"""
vip: 10.60.0.100
vip_mac: 02:00:00:00:60:64
port: 80
scheduler: round_robin
backends:
  - {{name: an1, ip: {an[0]["ip"]}, mac: "{an[0]["mac"]}"}}
  - {{name: an2, ip: {an[1]["ip"]}, mac: "{an[1]["mac"]}"}}
health_check: {{type: http, interval: 0.5, timeout: 2, fall: 2, rise: 1}}
""")
        for name in ("an1", "an2"):
            www = tmp / name
            www.mkdir()
            (www / "index.html").write_text(name)
            api.popen_in(
                LAB,
                name,
                [sys.executable, "-m", "http.server", "80", "--directory", str(www)],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        api.popen_in(
            LAB, "hes", [sys.executable, "-c", SERVER], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        for host, port in (("an1", 80), ("an2", 80), ("hes", 1883), ("hes", 23)):
            wait_listening(lambda argv, host=host: api.run_in(LAB, host, argv).stdout, port)
        yield {"state": state, "tmp": tmp, "hosts": hosts}
    finally:
        try:
            api.down(LAB)
        except LabError:
            pass  # the last test already took it down


def replies(ping) -> int:
    """Echo replies in a ping's output (a loaded machine may lose one)."""
    return sum(1 for line in ping.stdout.splitlines() if "bytes from" in line)


def run_json(host, argv):
    from sdnlab.runtime import api

    proc = api.run_in(LAB, host, argv, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_vnf_run_starts_vnfs_in_lab_hosts(lab):
    from sdnlab.cli import root
    from sdnlab.vnfs import manage

    tmp = lab["tmp"]
    result = CliRunner().invoke(
        root, ["vnf", "run", "firewall", "--name", LAB, "--host", "fw1", "--config", str(tmp / "fw.yaml")]
    )
    assert result.exit_code == 0, result.output
    assert "ports inside=fw1-eth0, outside=fw1-eth1" in result.output
    manage.start(LAB, "dpi", "dpi1", str(tmp / "dpi.yaml"))
    manage.start(LAB, "lb", "lb1", str(tmp / "lb.yaml"), ports={"inside": "lb1-eth0", "outside": "lb1-eth1"})
    assert {row["name"]: row["running"] for row in manage.status(LAB)} == {
        "fw1": True,
        "dpi1": True,
        "lb1": True,
    }


def test_bad_config_fails_at_start_with_a_clear_error(lab, tmp_path):
    from sdnlab.cli import root

    bad = tmp_path / "bad.yaml"
    bad.write_text("rules:\n  - {action: accept, proto: tcp, dport: 99999}\n")
    result = CliRunner().invoke(
        root, ["vnf", "run", "firewall", "--name", LAB, "--host", "m2", "--config", str(bad)]
    )
    assert result.exit_code != 0 and "bad.yaml:2: rules[0].dport" in str(result.exception or result.output)


def test_bad_run_options_are_refused_before_anything_starts(lab):
    from sdnlab.cli import root
    from sdnlab.vnfs import manage

    def vnfs() -> list[tuple]:
        """Which VNFs run, as which process, with which config (not their stats: rewritten every second)."""
        return [(row["name"], row["pid"], row["running"], row["config"]) for row in manage.status(LAB)]

    before = vnfs()
    result = CliRunner().invoke(
        root, ["vnf", "run", "firewall", "--name", LAB, "--host", "m2", "--vnf", "fwz", "--mode", "bogus"]
    )
    assert result.exit_code != 0 and "--mode 'bogus': expected one of" in str(result.exception)
    assert "usage" not in result.output
    after = vnfs()
    assert after == before and not any(name == "fwz" for name, *_ in after)


def test_reload_checks_the_new_file_before_signalling(lab):
    from sdnlab.cli import root
    from sdnlab.vnfs import manage

    config = lab["tmp"] / "fw.yaml"
    good = config.read_text()
    log = manage.vnfs_dir(LAB) / "fw1" / "log.jsonl"
    events_before = len(manage.log_events(log))
    try:
        config.write_text(good + "  - {name: oops, action: allow}\n")
        bad_line = len(good.splitlines()) + 1
        result = CliRunner().invoke(root, ["vnf", "reload", "fw1", "--name", LAB])
        assert result.exit_code != 0
        assert f"fw.yaml:{bad_line}: rules[5].action: expected one of accept, drop, reject" in str(
            result.exception
        )
        assert not [e for e in manage.log_events(log)[events_before:] if e["event"].startswith("reload")]
    finally:
        config.write_text(good)
    result = CliRunner().invoke(root, ["vnf", "reload", "fw1", "--name", LAB])
    assert result.exit_code == 0 and "VNF fw1 of lab vnchains reloaded" in result.output
    assert manage.status(LAB, "fw1")[0]["running"]


def test_meter_traffic_crosses_firewall_and_dpi_both_ways(lab):
    from sdnlab.runtime import api
    from sdnlab.vnfs import manage

    hes = lab["hosts"]["hes"]["ip"]
    ping = api.run_in(LAB, "m1", ["ping", "-c", "4", "-i", "0.2", "-W", "2", hes])
    assert replies(ping) >= 3, ping.stdout
    mqtt = run_json("m1", [sys.executable, "-c", CLIENT, hes, "1883", MQTT_CONNECT])
    assert mqtt == {"result": "ok", "first": "", "answer": "20020000"}
    telnet = run_json("m1", [sys.executable, "-c", CLIENT, hes, "23", b"root\r\n".hex()])
    assert telnet["result"] == "ok" and telnet["first"].startswith("fffd18")
    refused = run_json("m2", [sys.executable, "-c", CLIENT, hes, "23", "00"])
    assert refused == {"result": "refused"}  # the firewall's RST
    stats = eventually(
        lambda: {row["name"]: row["stats"] for row in manage.status(LAB)},
        lambda st: (
            st["fw1"]["rules"]["mqtt"]["packets"] >= 1
            and st["fw1"]["rules"]["telnet"]["packets"] >= 1
            and st["dpi1"]["apps"].get("MQTT", 0) >= 1
            and st["dpi1"]["apps"].get("Telnet", 0) >= 1
        ),
    )
    assert stats["fw1"]["rules"]["mqtt"]["packets"] == 1 and stats["fw1"]["rules"]["telnet"]["packets"] == 1
    assert stats["dpi1"]["apps"].get("MQTT") == 1 and stats["dpi1"]["apps"].get("Telnet") == 1
    log = [
        json.loads(line) for line in (manage.vnfs_dir(LAB) / "dpi1" / "log.jsonl").read_text().splitlines()
    ]
    mqtt_flow = next(e for e in log if e["event"] == "flow" and e["app"] == "MQTT")
    assert mqtt_flow["metadata"].get("client_id") == "meter-1"
    assert any(e["event"] == "risk" and e["kind"] == "cleartext_telnet" for e in log)


def test_iperf_through_the_meter_chain(lab):
    from sdnlab.runtime import api

    hes = lab["hosts"]["hes"]["ip"]
    server = api.popen_in(
        LAB, "hes", ["iperf3", "-s", "-1", "-p", "6855"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    wait_listening(lambda argv: api.run_in(LAB, "hes", argv).stdout, 6855)
    proc = api.run_in(LAB, "m1", ["iperf3", "-c", hes, "-p", "6855", "-t", "3", "-J"], timeout=40)
    server.wait(timeout=10)
    mbit = json.loads(proc.stdout)["end"]["sum_received"]["bits_per_second"] / 1e6
    print(f"TCP m1 -> fw1 -> dpi1 -> hes: {mbit:.0f} Mbit/s")
    # TCP crosses the chain (a broken path stalls at 0); the speed is bench/vnf's business: on the
    # shared 2-core machine at load 19 with other labs' iperf3 this measured 5.5 Mbit/s
    assert mbit > 1


def test_camera_requests_are_balanced_over_analytics_servers(lab):
    from sdnlab.vnfs import manage

    bodies = run_json("cam1", [sys.executable, "-c", HTTP_CLIENT, "http://10.60.0.100/", "6"])
    assert sorted(bodies) == ["an1"] * 3 + ["an2"] * 3
    lb = eventually(
        lambda: manage.status(LAB, "lb1")[0]["stats"],
        lambda st: st["backends"]["an1"]["flows"] >= 3 and st["counters"]["reverse"] > 0,
    )
    assert lb["backends"]["an1"]["healthy"] and lb["backends"]["an2"]["healthy"]
    assert lb["backends"]["an1"]["flows"] >= 3 and lb["counters"]["reverse"] > 0


def test_one_armed_vnf_sends_traffic_back_out_of_its_only_port(lab):
    from sdnlab.cli import root
    from sdnlab.runtime import api
    from sdnlab.vnfs import manage

    srv9 = lab["hosts"]["srv9"]["ip"]
    api.run_in(LAB, "oa1", ["ip", "addr", "flush", "dev", "oa1-eth0"])  # a pure bump: the kernel stays out
    result = CliRunner().invoke(root, ["vnf", "run", "passthrough", "--name", LAB, "--host", "oa1"])
    assert result.exit_code == 0 and "ports arm=oa1-eth0" in result.output, result.output
    ping = api.run_in(LAB, "h9", ["ping", "-c", "4", "-i", "0.2", "-W", "2", srv9])
    assert replies(ping) >= 3, ping.stdout
    arm = eventually(
        lambda: manage.status(LAB, "oa1")[0]["stats"]["ports"]["arm"],
        lambda ports: ports["rx"] >= 6 and ports["tx"] >= 6,
    )
    assert arm["rx"] >= 6 and arm["tx"] >= 6  # requests and replies, in and back out of one port
    manage.stop(LAB, "oa1")
    lost = api.run_in(LAB, "h9", ["ping", "-c", "2", "-i", "0.2", "-W", "1", srv9])
    assert " 100% packet loss" in lost.stdout  # nothing reaches srv9 without the VNF


def test_status_cli_shows_counters_and_stop_ends_a_vnf(lab):
    from sdnlab.cli import root
    from sdnlab.vnfs import manage

    result = CliRunner().invoke(root, ["vnf", "status", "--name", LAB, "--json"])
    assert result.exit_code == 0, result.output
    rows = {row["name"]: row for row in json.loads(result.output)}
    assert rows["fw1"]["stats"]["counters"]["packets"] > 0
    result = CliRunner().invoke(root, ["vnf", "stop", "lb1", "--name", LAB])
    assert result.exit_code == 0 and not manage.status(LAB, "lb1")[0]["running"]


def test_a_chain_host_runs_firewall_and_dpi_in_one_process(lab):
    """fw1 swaps its firewall for a chain VNF (firewall + DPI stages, the firewall settings in
    their own file); traffic still crosses dpi1 after it, and status shows each stage."""
    from sdnlab.cli import root
    from sdnlab.vnfs import manage

    tmp = lab["tmp"]
    (tmp / "chain.yaml").write_text(
        "stages:\n  - {kind: firewall, name: fw, config: fw.yaml}\n  - {kind: dpi}\n"
    )
    manage.stop(LAB, "fw1")
    result = CliRunner().invoke(
        root,
        [
            "vnf",
            "run",
            "chain",
            "--name",
            LAB,
            "--host",
            "fw1",
            "--vnf",
            "fwchain",
            "--config",
            str(tmp / "chain.yaml"),
        ],
    )
    assert result.exit_code == 0, result.output
    hes = lab["hosts"]["hes"]["ip"]
    assert run_json("m1", [sys.executable, "-c", CLIENT, hes, "1883", MQTT_CONNECT])["result"] == "ok"
    assert run_json("m2", [sys.executable, "-c", CLIENT, hes, "23", "00"]) == {"result": "refused"}
    stages = eventually(
        lambda: manage.status(LAB, "fwchain")[0]["stats"]["stages"],
        lambda st: (
            st["fw"]["rules"]["mqtt"]["packets"] >= 1
            and st["fw"]["rules"]["telnet"]["packets"] >= 1
            and st["dpi"]["apps"].get("MQTT", 0) >= 1
        ),
    )
    assert stages["fw"]["rules"]["mqtt"]["packets"] == 1 and stages["fw"]["rules"]["telnet"]["packets"] == 1
    assert (
        stages["dpi"]["apps"].get("MQTT") == 1 and "Telnet" not in stages["dpi"]["apps"]
    )  # the RST came first
    result = CliRunner().invoke(root, ["vnf", "status", "fwchain", "--name", LAB], env={"COLUMNS": "200"})
    assert result.exit_code == 0 and "fwchain/fw " in result.output and "fwchain/dpi " in result.output
    assert 'fwchain/fw rules: {"ping"' in result.output


def test_lab_down_stops_the_vnfs(lab):
    from sdnlab.runtime import api
    from sdnlab.vnfs import manage

    pids = [row["pid"] for row in manage.status(LAB) if row["running"]]
    assert pids
    api.down(LAB)
    deadline = time.monotonic() + 10
    while any(os.path.exists(f"/proc/{pid}") for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not any(
        os.path.exists(f"/proc/{pid}") and "Z" not in Path(f"/proc/{pid}/stat").read_text().split(")")[-1][:3]
        for pid in pids
    )
