"""Static chain steering rules and the bookkeeping behind ``sdnlab vnf status``."""

from __future__ import annotations

import pytest

from sdnlab.vnfs.chains.steering import chain_flows, chain_hops
from sdnlab.vnfs.errors import VnfRunError
from sdnlab.vnfs.manage import default_ports, merge_stats


def test_chain_hops_are_symmetric_and_visit_every_vnf_in_order():
    hops = chain_hops(1, 2, [(10, 11), (12, 13)])
    forward = dict(hops)
    # follow a packet from the client: 1 -> vnf1 (10..11) -> vnf2 (12..13) -> server
    assert forward[1] == 10 and forward[11] == 12 and forward[13] == 2
    # and the reply from the server goes back the same way in reverse
    assert forward[2] == 13 and forward[12] == 11 and forward[10] == 1
    assert len(forward) == len(hops)  # one rule per input port, no conflicts


def test_no_vnf_chain_connects_client_and_server_directly():
    assert chain_hops(1, 2, []) == [(1, 2), (2, 1)]


def test_chain_flows_are_ovs_ofctl_specs():
    flows = chain_flows(1, 2, [(10, 11)], priority=300)
    assert flows[0] == "cookie=0x5d1ab5f0,priority=300,in_port=1,actions=output:10"
    assert len(flows) == 4


def test_default_ports_one_armed_or_bump_in_the_wire():
    assert default_ports(["h1-eth0"]) == {"arm": "h1-eth0"}
    assert default_ports(["f-eth0", "f-eth1", "f-eth2"]) == {"inside": "f-eth0", "outside": "f-eth1"}
    with pytest.raises(VnfRunError):
        default_ports([])


def test_worker_stats_are_summed():
    w0 = {
        "pid": 1,
        "kind": "firewall",
        "ports": {"inside": {"interface": "e0", "rx": 5}},
        "counters": {"packets": 5},
        "rules": {"web": {"packets": 2}},
        "updated": 10.0,
    }
    w1 = {
        "pid": 2,
        "kind": "firewall",
        "ports": {"inside": {"interface": "e0", "rx": 7}},
        "counters": {"packets": 7},
        "rules": {"web": {"packets": 3}},
        "updated": 11.0,
    }
    merged = merge_stats([w0, w1])
    assert merged["workers"] == 2 and merged["counters"]["packets"] == 12
    assert merged["ports"]["inside"] == {"interface": "e0", "rx": 12}
    assert merged["rules"]["web"]["packets"] == 5 and merged["updated"] == 11.0 and "pid" not in merged


def test_backend_settings_are_not_summed_across_workers_even_inside_a_chain():
    def worker(flows):
        backend = {
            "ip": "10.0.0.12",
            "port": 8080,
            "weight": 2,
            "healthy": True,
            "flows": flows,
            "last_check": 12.5,
        }
        return {
            "pid": 1,
            "counters": {"packets": flows},
            "backends": {"web2": backend},
            "stages": {"lb": {"backends": {"web2": dict(backend)}}},
        }

    merged = merge_stats([worker(3), worker(4)])
    for backends in (merged["backends"], merged["stages"]["lb"]["backends"]):
        assert backends["web2"] == {
            "ip": "10.0.0.12",
            "port": 8080,
            "weight": 2,
            "healthy": True,
            "flows": 7,
            "last_check": 12.5,
        }


def test_status_cli_reads_the_lab_state_files(tmp_path, monkeypatch):
    import json
    import os

    from typer.testing import CliRunner

    from sdnlab.cli import root

    monkeypatch.setenv("SDNLAB_RUN_DIR", str(tmp_path))
    folder = tmp_path / "lab1" / "vnfs" / "fw1"
    folder.mkdir(parents=True)
    (folder / "record.json").write_text(
        json.dumps({"name": "fw1", "kind": "firewall", "host": "h3", "pid": os.getpid()})
    )
    (folder / "stats-w0.json").write_text(
        json.dumps(
            {
                "pid": os.getpid(),
                "ports": {"inside": {"rx": 4, "tx": 3}},
                "counters": {"packets": 4, "forwarded": 3, "dropped": 1},
                "rules": {"web": {"packets": 1, "bytes": 60}},
            }
        )
    )
    result = CliRunner().invoke(root, ["vnf", "status", "--name", "lab1"])
    assert result.exit_code == 0, result.output
    assert "fw1" in result.output and "running" in result.output and '"web"' in result.output
    missing = CliRunner().invoke(root, ["vnf", "status", "--name", "nolab"])
    assert missing.exit_code != 0 and "no lab named 'nolab'" in str(missing.exception)


def test_offload_flows_skip_bypassed_vnfs_and_do_the_nat_in_the_switch():
    from sdnlab.vnfs.chains.steering import offload_flows

    lb = {
        "action": "rewrite",
        "backend_ip": "10.0.0.2",
        "backend_port": 8080,
        "backend_mac": "02:00:00:00:00:02",
        "vip_mac": "02:00:00:00:00:64",
    }
    rules = offload_flows(
        1,
        2,
        [(10, 11, {"action": "bypass"}), (12, 13, None), (14, 15, lb)],
        (6, "10.0.0.1", 1000, "10.0.0.100", 80),
    )
    by_port = {r.split("in_port=")[1].split(",")[0]: r for r in rules}
    assert set(by_port) == {"1", "13", "2", "12"}  # the firewall (10/11) and the LB (14/15) are skipped
    assert by_port["1"].endswith("nw_dst=10.0.0.100,tp_src=1000,tp_dst=80,actions=output:12")
    assert "set_field:10.0.0.2->ip_dst,set_field:8080->tcp_dst,output:2" in by_port["13"]
    assert "nw_src=10.0.0.2,nw_dst=10.0.0.1,tp_src=8080" in by_port["2"]
    assert "set_field:10.0.0.100->ip_src,set_field:80->tcp_src,output:13" in by_port["2"]
    assert by_port["12"].endswith("nw_src=10.0.0.100,nw_dst=10.0.0.1,tp_src=80,tp_dst=1000,actions=output:1")
    assert all("idle_timeout=10" in r and "priority=400" in r for r in rules)


def test_vnfs_ask_for_offload_once_a_flow_is_decided():
    from sdnlab.vnfs.firewall.vnf import Firewall
    from sdnlab.vnfs.framework.testing import handshake, tcp
    from sdnlab.vnfs.lb.vnf import LoadBalancer
    from sdnlab.vnfs.packet import TCP_ACK, TCP_SYN

    fw = Firewall("default: accept\noffload: true\n")
    _syn, _synack, _ack = handshake(fw, "10.0.0.1", 1000, "10.0.0.2", 80)
    assert len(fw.offload_requests) == 1 and fw.offload_requests[0][1] == "bypass"  # after the handshake
    fw.process(tcp("10.0.0.1", 1000, "10.0.0.2", 80, TCP_ACK), "inside", 2.0)
    assert len(fw.offload_requests) == 1  # once per connection
    assert Firewall("default: accept\n").offload_requests == []

    lb = LoadBalancer("vip: 10.0.0.100\noffload: true\nbackends: [{name: a, ip: 10.0.0.2, port: 8080}]\n")
    lb.process(tcp("10.0.0.1", 1000, "10.0.0.100", 80, TCP_SYN), "inside", 1.0)
    lb.process(tcp("10.0.0.2", 8080, "10.0.0.1", 1000, TCP_SYN | TCP_ACK), "outside", 1.0)
    lb.process(tcp("10.0.0.1", 1000, "10.0.0.100", 80, TCP_ACK), "inside", 1.0)
    ((_key, action, params),) = lb.offload_requests
    assert action == "rewrite" and params["backend_ip"] == "10.0.0.2" and params["backend_port"] == 8080
