"""Ryu book, QoS chapter, as written: ``ryu-manager ryu.app.rest_qos ryu.app.qos_simple_switch_13
ryu.app.rest_conf_switch`` and the chapter's requests, on real Mininet hosts and Open vSwitch.

The controller is the ``ryu-manager`` console script, started as the book starts it; the lab's
switches connect to it (``--controller remote:...``). The lab opens the switches' OVSDB to it on
127.0.0.1 (``sdnlab up --ovsdb PORT``, the book's ``ovs-vsctl set-manager ptcp:6632``), each lab on
an unusual port of its own. For each example the book's requests must give the book's replies, the database
must hold the QoS and Queue rows, the flow table the rules, the switch the meters; bad requests
get 400s naming the field; deleting leaves no QoS or Queue row behind.

Rates: queue 1 (1 Mbit/s) must hold TCP to port 5002 (per-flow) and DSCP-marked traffic
(DiffServ) while other traffic runs faster. ``set_queue`` selects the HTB class on the userspace
datapath through sdnlab's queue classifier (``sdnlab.runtime.queue_classifier``).
"""

from __future__ import annotations

import contextlib
import json
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from throughput import iperf3_mbit

from sdnlab.controller.process import port_open
from sdnlab.runtime import api

pytestmark = pytest.mark.network

APPS = ["ryu.app.rest_qos", "ryu.app.qos_simple_switch_13", "ryu.app.rest_conf_switch"]
S1, S2 = "0000000000000001", "0000000000000002"


def vsctl(*args: str) -> str:
    return subprocess.run(
        ["ovs-vsctl", "--timeout=10", *args], capture_output=True, text=True, check=True
    ).stdout.strip()


def ofctl(*args: str) -> str:
    return subprocess.run(
        ["ovs-ofctl", "-O", "OpenFlow13", *args], capture_output=True, text=True, check=True
    ).stdout


class BookLab:
    """A running lab whose switches talk to the book's ``ryu-manager``; ``rest`` is the book's curl."""

    def __init__(self, name: str, state: dict, rest_port: int, ovsdb_port: int, log: Path) -> None:
        self.name, self.state, self.rest_port, self.log = name, state, rest_port, log
        self.ovsdb_addr = f'"tcp:127.0.0.1:{ovsdb_port}"'  # the PUT body, a JSON string
        self.bridges = {s["name"]: s["bridge"] for s in state["switches"]}

    def rest(self, method: str, path: str, body=None) -> tuple[int, object]:
        data = (
            body.encode()
            if isinstance(body, str)
            else json.dumps(body).encode()
            if body is not None
            else None
        )
        request = urllib.request.Request(f"http://127.0.0.1:{self.rest_port}{path}", data, method=method)
        try:
            with urllib.request.urlopen(request, timeout=20) as reply:
                status, raw = reply.status, reply.read()
        except urllib.error.HTTPError as exc:
            status, raw = exc.code, exc.read()
        return status, json.loads(raw) if raw else None

    def port(self, switch: str, number: int) -> str:
        return f"{self.bridges[switch]}-eth{number}"

    def flows(self, switch: str, table: int) -> str:
        return ofctl("dump-flows", self.bridges[switch], f"table={table}")

    def output(self) -> str:
        return self.log.read_text(errors="replace")


@contextlib.contextmanager
def book_lab(name: str, switches: int, hosts: int, ports: tuple[int, int, int], tmp: Path):
    """``ryu-manager`` with the book's apps, then a linear lab whose switches connect to it.

    ``ports``: OpenFlow, REST and OVSDB ports (unusual ones: other labs run on this machine)."""
    of_port, rest_port, ovsdb_port = ports
    log = tmp / f"{name}-controller.log"
    ryu_manager = Path(sys.executable).with_name("ryu-manager")
    with log.open("wb") as out:
        controller = subprocess.Popen(
            [str(ryu_manager), "--ofp-tcp-listen-port", str(of_port), "--wsapi-port", str(rest_port), *APPS],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 20
        while not (port_open("127.0.0.1", of_port) and port_open("127.0.0.1", rest_port)):
            assert controller.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.1)
        state = api.up(
            "linear",
            {"switches": switches, "hosts_per_switch": hosts},
            name=name,
            controller=f"remote:127.0.0.1:{of_port}",
            ovsdb=ovsdb_port,
        )
        lab = BookLab(name, state, rest_port, ovsdb_port, log)
        deadline = time.monotonic() + 10
        while lab.output().count("Join qos switch.") < switches and time.monotonic() < deadline:
            time.sleep(0.1)
        yield lab
    finally:
        with contextlib.suppress(Exception):
            for bridge in (s["bridge"] for s in api.status(name)["switches"]):
                for port in vsctl("list-ports", bridge).split():
                    destroy_qos(port)  # never leave rows in the machine's shared database
        with contextlib.suppress(Exception):
            api.down(name)
        controller.terminate()
        controller.wait(10)


def destroy_qos(port: str) -> None:
    """Detach and destroy a port's QoS row and its Queue rows (the tests' safety net)."""
    qos = vsctl("get", "port", port, "qos").strip("[]")
    if not qos:
        return
    queues = re.findall(r"[0-9a-f-]{36}", vsctl("get", "qos", qos, "queues"))
    args = ["--", "clear", "port", port, "qos", "--", "destroy", "qos", qos]
    for queue in queues:
        args += ["--", "destroy", "queue", queue]
    vsctl(*args)


def port_qos(port: str) -> dict:
    """A port's QoS as the database holds it: type, other_config and queue id -> other_config."""
    qos = vsctl("get", "port", port, "qos").strip("[]")
    if not qos:
        return {}
    fields = json.loads(vsctl("--format=json", "--columns=type,other_config,queues", "list", "qos", qos))[
        "data"
    ][0]
    queues = {int(qid): uuid for qid, (_tag, uuid) in fields[2][1]}
    return {
        "uuid": qos,
        "type": fields[0],
        "other_config": dict(fields[1][1]),
        "queues": {
            qid: dict(
                json.loads(vsctl("--format=json", "--columns=other_config", "list", "queue", uuid))["data"][
                    0
                ][0][1]
            )
            for qid, uuid in sorted(queues.items())
        },
    }


def row_exists(table: str, uuid: str) -> bool:
    return (
        subprocess.run(["ovs-vsctl", "--timeout=10", "list", table, uuid], capture_output=True).returncode
        == 0
    )


def tcp_mbit(lab: BookLab, port: int, seconds: int = 2) -> float:
    """Receiver-side throughput of one iperf3 TCP run h2 -> h1 (10.0.0.1) to ``port``."""
    return iperf3_mbit(lab.name, port, seconds=seconds, client="h2", server="h1", server_ip="10.0.0.1")


def wait_for_queue_filter(lab: BookLab, port: str, queue: int, seconds: float = 15.0) -> None:
    """Wait until the queue classifier has a tc filter sending packets to ``queue``'s HTB class.

    It makes one for a queue flow once the packets it matches have a way out of ``port``: here
    when qos_simple_switch_13 has learnt the destination (a flow to the port in table 1)."""
    flowid = f"flowid 1:{queue + 1}"  # OVS's linux-htb: queue Q is class 1:(Q+1)
    deadline = time.monotonic() + seconds
    while True:
        shown = subprocess.run(["tc", "filter", "show", "dev", port], capture_output=True, text=True).stdout
        if flowid in shown:
            return
        assert time.monotonic() < deadline, f"no {flowid} filter on {port} after {seconds:g} s: {shown}"
        time.sleep(0.2)


def book_result(switch_id: str, command_result) -> list:
    return [{"switch_id": switch_id, "command_result": command_result}]


@pytest.fixture(scope="module")
def per_flow_lab(tmp_path_factory):
    with book_lab("t-rq-flow", 1, 2, (6794, 8194, 6796), tmp_path_factory.mktemp("rq")) as lab:
        yield lab
        assert "Traceback" not in lab.output(), lab.output()


@pytest.fixture(scope="module")
def diffserv_lab(tmp_path_factory):
    with book_lab("t-rq-ds", 2, 1, (6797, 8197, 6798), tmp_path_factory.mktemp("rq")) as lab:
        yield lab
        assert "Traceback" not in lab.output(), lab.output()


def test_per_flow_qos_gives_the_books_replies_rows_and_flows(per_flow_lab):
    lab = per_flow_lab
    assert lab.rest("PUT", f"/v1.0/conf/switches/{S1}/ovsdb_addr", lab.ovsdb_addr) == (200, None)
    body = {"port_name": "s1-eth1", "type": "linux-htb", "max_rate": "1000000",
            "queues": [{"max_rate": "500000"}, {"min_rate": "800000"}]}  # fmt: skip
    assert lab.rest("POST", f"/qos/queue/{S1}", body) == (
        200,
        book_result(S1, {"result": "success", "details": {
            "0": {"config": {"max-rate": "500000"}}, "1": {"config": {"min-rate": "800000"}}}}),
    )  # fmt: skip
    held = port_qos(lab.port("s1", 1))  # the book's s1-eth1 is this lab's (slot-prefixed) port 1
    assert (held["type"], held["other_config"]) == ("linux-htb", {"max-rate": "1000000"})
    assert held["queues"] == {0: {"max-rate": "500000"}, 1: {"min-rate": "800000"}}
    classes = subprocess.run(
        ["tc", "class", "show", "dev", lab.port("s1", 1)], capture_output=True, text=True
    ).stdout
    assert "htb 1:1 " in classes and "htb 1:2 " in classes, classes  # OVS built the queues' HTB classes

    rule = {"match": {"nw_dst": "10.0.0.1", "nw_proto": "UDP", "tp_dst": "5002"}, "actions": {"queue": "1"}}
    assert lab.rest("POST", f"/qos/rules/{S1}", rule) == (
        200,
        book_result(S1, [{"result": "success", "details": "QoS added. : qos_id=1"}]),
    )
    assert lab.rest("GET", f"/qos/rules/{S1}") == (
        200,
        book_result(S1, [{"qos": [{"priority": 1, "dl_type": "IPv4", "nw_proto": "UDP", "tp_dst": 5002,
                                   "qos_id": 1, "nw_dst": "10.0.0.1", "actions": [{"queue": "1"}]}]}]),
    )  # fmt: skip
    table0 = lab.flows("s1", 0)
    assert re.search(
        r"cookie=0x1,.* priority=1,udp,nw_dst=10\.0\.0\.1,tp_dst=5002 actions=set_queue:1,goto_table:1",
        table0,
    ), table0
    assert re.search(r"priority=0 actions=goto_table:1", table0), table0
    assert "actions=CONTROLLER" in lab.flows("s1", 1)  # qos_simple_switch_13 forwards in table 1
    assert api.run_in(lab.name, "h2", ["ping", "-c", "2", "-W", "2", "10.0.0.1"]).returncode == 0

    status, queues = lab.rest("GET", f"/qos/queue/{S1}")
    assert status == 200
    assert queues[0]["command_result"]["details"][lab.port("s1", 1)]["queues"]["1"] == {
        "config": {"min-rate": "800000"}
    }
    status, stats = lab.rest("GET", f"/qos/queue/status/{S1}")
    assert status == 200
    assert {(s["port_no"], s["queue_id"]) for s in stats[0]["command_result"]} >= {(1, 0), (1, 1)}


def test_per_flow_queue_1_holds_tcp_to_port_5002_while_other_traffic_runs_faster(per_flow_lab):
    lab = per_flow_lab
    lab.rest("PUT", f"/v1.0/conf/switches/{S1}/ovsdb_addr", lab.ovsdb_addr)
    body = {
        "port_name": "s1-eth1",
        "max_rate": "100000000",
        "queues": [{"max_rate": "100000000"}, {"max_rate": "1000000"}],
    }
    assert lab.rest("POST", f"/qos/queue/{S1}", body)[0] == 200
    rule = {"match": {"nw_dst": "10.0.0.1", "nw_proto": "TCP", "tp_dst": "5002"}, "actions": {"queue": "1"}}
    status, added = lab.rest("POST", f"/qos/rules/{S1}", rule)
    assert status == 200, added
    assert api.run_in(lab.name, "h2", ["ping", "-c", "2", "-W", "2", "10.0.0.1"]).returncode == 0  # learn h1
    wait_for_queue_filter(lab, lab.port("s1", 1), 1)  # the classifier follows the flow tables
    # bounds leave room for a loaded machine (other labs running): measured 0.95 and 8-41
    queued, free = tcp_mbit(lab, 5002, seconds=3), tcp_mbit(lab, 5001)
    assert 0.1 < queued < 1.5, queued
    assert free > 5, free


def test_meter_rules_wait_for_their_meter_and_ovs_takes_drop_bands_only(per_flow_lab):
    lab = per_flow_lab
    status, added = lab.rest(
        "POST", f"/qos/rules/{S1}", {"match": {"ip_dscp": "10"}, "actions": {"meter": "1"}}
    )
    assert status == 200
    details = added[0]["command_result"][0]["details"]
    assert re.fullmatch(
        r"QoS added\. : qos_id=(\d+) \(waits for meter 1: POST it to /qos/meter/0+1\)", details
    ), details
    qos_id = int(details.split("=")[1].split()[0])
    assert "meter:1" not in lab.flows("s1", 0)  # the book adds the rule before the meter

    book_meter = {
        "meter_id": "1",
        "flags": "KBPS",
        "bands": [{"type": "DSCP_REMARK", "rate": "400", "prec_level": "1"}],
    }
    status, refused = lab.rest("POST", f"/qos/meter/{S1}", book_meter)
    assert status == 400
    assert refused["error"] == (
        f"switch {S1} rejected the meter: OFPET_METER_MOD_FAILED/OFPMMFC_BAD_BAND"
        " (Open vSwitch meters take DROP bands only)"
    )
    drop = {"meter_id": "1", "flags": "KBPS", "bands": [{"type": "DROP", "rate": "1000"}]}
    assert lab.rest("POST", f"/qos/meter/{S1}", drop) == (
        200,
        book_result(S1, [{"result": "success", "details": "Meter added. : Meter ID=1"}]),
    )
    assert "meter=1 kbps bands=\ntype=drop rate=1000" in ofctl("dump-meters", lab.bridges["s1"])
    assert re.search(rf"cookie={qos_id:#x},.*ip,nw_tos=40 actions=meter:1,goto_table:1", lab.flows("s1", 0))
    status, meters = lab.rest("GET", f"/qos/meter/{S1}")
    assert status == 200 and [m["meter_id"] for m in meters[0]["command_result"]] == [1]

    assert lab.rest("DELETE", f"/qos/rules/{S1}", {"qos_id": str(qos_id)}) == (
        200,
        book_result(S1, [{"result": "success", "details": f"QoS deleted. : qos_id={qos_id}"}]),
    )
    assert "meter:1" not in lab.flows("s1", 0)
    assert lab.rest("DELETE", f"/qos/meter/{S1}", {"meter_id": "1"})[0] == 200
    assert "meter=1" not in ofctl("dump-meters", lab.bridges["s1"])


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "message"),
    [
        ("POST", f"/qos/queue/{S1}", {"port_name": "s9-eth1"}, 400, "port_name: switch "),
        ("POST", f"/qos/queue/{S1}", {"type": "linux-foo"}, 400, "type: expected linux-htb or linux-hfsc"),
        ("POST", f"/qos/rules/{S1}", {"match": {"tp_dst": "5002"}, "actions": {"queue": "1"}}, 400,
         "match.tp_dst: needs match.nw_proto TCP or UDP"),
        ("POST", f"/qos/rules/{S1}", {"match": {"ip_dscp": "64"}, "actions": {"queue": "1"}}, 400,
         "match.ip_dscp: '64' is out of range (0..63)"),
        ("POST", f"/qos/rules/{S1}", "{bad", 400, "body: malformed JSON"),
        ("POST", "/qos/rules/0000000000000009", {"actions": {"queue": 1}}, 404, "switch_id: no QoS switch"),
        ("PUT", f"/v1.0/conf/switches/{S1}/ovsdb_addr", "tcp:127.0.0.1:6632", 400, "body: not JSON"),
    ],
)  # fmt: skip
def test_bad_requests_get_400s_naming_the_field(per_flow_lab, method, path, body, status, message):
    got, reply = per_flow_lab.rest(method, path, body)
    assert (got, reply["error"][: len(message)]) == (status, message), reply


def test_an_unreachable_ovsdb_is_a_502_saying_so(per_flow_lab):
    lab = per_flow_lab
    assert lab.rest("PUT", f"/v1.0/conf/switches/{S1}/ovsdb_addr", '"tcp:127.0.0.1:1"')[0] == 200
    try:
        status, reply = lab.rest("POST", f"/qos/queue/{S1}", {"queues": [{"max_rate": "1000"}]})
        assert status == 502
        assert reply["error"].startswith("ovsdb_addr tcp:127.0.0.1:1: cannot connect (Connection refused)")
    finally:
        lab.rest("PUT", f"/v1.0/conf/switches/{S1}/ovsdb_addr", lab.ovsdb_addr)


def test_deleting_the_queues_leaves_no_rows_behind(per_flow_lab):
    lab = per_flow_lab
    lab.rest("PUT", f"/v1.0/conf/switches/{S1}/ovsdb_addr", lab.ovsdb_addr)
    lab.rest("POST", f"/qos/queue/{S1}", {"port_name": "s1-eth1", "queues": [{"max_rate": "500000"}]})
    held = port_qos(lab.port("s1", 1))
    replaced = lab.rest(
        "POST", f"/qos/queue/{S1}", {"port_name": "s1-eth1", "queues": [{"min_rate": "1000"}]}
    )
    assert replaced[0] == 200
    assert not row_exists("qos", held["uuid"])  # replacing destroys the old rows, not only detaches them
    again = port_qos(lab.port("s1", 1))
    assert again["queues"] == {0: {"min-rate": "1000"}}
    assert lab.rest("DELETE", f"/qos/queue/{S1}") == (
        200,
        book_result(S1, {"result": "success", "details": f"QoS deleted. : port_name={lab.port('s1', 1)}"}),
    )
    assert port_qos(lab.port("s1", 1)) == {}
    assert not row_exists("qos", again["uuid"])


def test_diffserv_marks_at_s2_and_queues_by_dscp_at_s1_as_in_the_book(diffserv_lab):
    lab = diffserv_lab
    assert lab.rest("PUT", f"/v1.0/conf/switches/{S1}/ovsdb_addr", lab.ovsdb_addr) == (200, None)
    body = {"port_name": "s1-eth1", "type": "linux-htb", "max_rate": "1000000",
            "queues": [{"max_rate": "1000000"}, {"min_rate": "200000"}, {"min_rate": "500000"}]}  # fmt: skip
    status, reply = lab.rest("POST", f"/qos/queue/{S1}", body)
    assert status == 200 and sorted(reply[0]["command_result"]["details"]) == ["0", "1", "2"]
    for dscp, queue, qos_id in (("26", "1", 1), ("34", "2", 2)):
        assert lab.rest(
            "POST", f"/qos/rules/{S1}", {"match": {"ip_dscp": dscp}, "actions": {"queue": queue}}
        ) == (
            200,
            book_result(S1, [{"result": "success", "details": f"QoS added. : qos_id={qos_id}"}]),
        )
    for port, dscp, qos_id in (("5002", "26", 1), ("5003", "34", 2)):
        rule = {"match": {"nw_dst": "10.0.0.1", "nw_proto": "UDP", "tp_dst": port}, "actions": {"mark": dscp}}
        assert lab.rest("POST", f"/qos/rules/{S2}", rule) == (
            200,
            book_result(S2, [{"result": "success", "details": f"QoS added. : qos_id={qos_id}"}]),
        )
    status, rules = lab.rest("GET", "/qos/rules/all")
    assert status == 200
    assert rules == [
        {"switch_id": S1, "command_result": [{"qos": [
            {"priority": 1, "dl_type": "IPv4", "ip_dscp": 26, "actions": [{"queue": "1"}], "qos_id": 1},
            {"priority": 1, "dl_type": "IPv4", "ip_dscp": 34, "actions": [{"queue": "2"}], "qos_id": 2}]}]},
        {"switch_id": S2, "command_result": [{"qos": [
            {"priority": 1, "dl_type": "IPv4", "nw_proto": "UDP", "tp_dst": 5002, "qos_id": 1,
             "nw_dst": "10.0.0.1", "actions": [{"mark": "26"}]},
            {"priority": 1, "dl_type": "IPv4", "nw_proto": "UDP", "tp_dst": 5003, "qos_id": 2,
             "nw_dst": "10.0.0.1", "actions": [{"mark": "34"}]}]}]},
    ]  # fmt: skip
    s1_flows, s2_flows = lab.flows("s1", 0), lab.flows("s2", 0)
    assert re.search(r"priority=1,ip,nw_tos=104 actions=set_queue:1,goto_table:1", s1_flows), s1_flows
    assert re.search(r"priority=1,ip,nw_tos=136 actions=set_queue:2,goto_table:1", s1_flows), s1_flows
    assert re.search(
        r"udp,nw_dst=10\.0\.0\.1,tp_dst=5002 actions=set_field:26->ip_dscp,goto_table:1", s2_flows
    ), s2_flows

    # UDP to 5002 from h2 is marked AF31 at s2 and so reaches s1's queue-1 rule
    api.run_in(lab.name, "h2", ["ping", "-c", "1", "-W", "2", "10.0.0.1"])
    send = "import socket; s = socket.socket(2, 2); [s.sendto(b'x', ('10.0.0.1', 5002)) for _ in range(20)]"
    api.run_in(lab.name, "h2", ["python3", "-c", send], timeout=20)
    counted = re.search(r"n_packets=(\d+),.*nw_tos=104 actions=set_queue:1", lab.flows("s1", 0))
    assert counted and int(counted.group(1)) > 0, lab.flows("s1", 0)


def test_diffserv_marked_traffic_is_held_by_its_queue(diffserv_lab):
    lab = diffserv_lab
    lab.rest("PUT", f"/v1.0/conf/switches/{S1}/ovsdb_addr", lab.ovsdb_addr)
    body = {
        "port_name": "s1-eth1",
        "max_rate": "100000000",
        "queues": [{"max_rate": "100000000"}, {"max_rate": "1000000"}],
    }
    assert lab.rest("POST", f"/qos/queue/{S1}", body)[0] == 200
    assert lab.rest("DELETE", "/qos/rules/all", {"qos_id": "all"})[0] == 200
    rule = {"match": {"nw_dst": "10.0.0.1", "nw_proto": "TCP", "tp_dst": "5002"}, "actions": {"mark": "26"}}
    assert lab.rest("POST", f"/qos/rules/{S2}", rule)[0] == 200
    assert (
        lab.rest("POST", f"/qos/rules/{S1}", {"match": {"ip_dscp": "26"}, "actions": {"queue": "1"}})[0]
        == 200
    )
    assert api.run_in(lab.name, "h2", ["ping", "-c", "2", "-W", "2", "10.0.0.1"]).returncode == 0  # learn h1
    wait_for_queue_filter(lab, lab.port("s1", 1), 1)
    queued, free = tcp_mbit(lab, 5002, seconds=3), tcp_mbit(lab, 5001)
    assert 0.1 < queued < 1.5, queued
    assert free > 5, free
