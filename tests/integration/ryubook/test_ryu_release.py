"""Ryu 4.34's own sample apps, unmodified, on sdnlab's ``ryu-manager`` with real Mininet + OVS.

The Ryu book's chapters run Ryu's sample apps. Here they are the real ones: the released source
distribution ``ryu-4.34.tar.gz`` is downloaded from PyPI when the tests run (never stored in the
repository), checked against the sha256 that PyPI's JSON metadata gives (and that this file
pins), cached in ``~/.cache/sdnlab/`` and the app files needed are extracted, byte for byte, to a
temporary ``ryu-4.34/ryu/app/`` folder. Without PyPI (and without the cache) every test here
skips, saying why.

Each app is given to sdnlab by its file path, as a trainee who has the book and Ryu's tarball
does: ``ryu-manager ryu-4.34/ryu/app/simple_switch_13.py`` in one terminal and ``sdnlab up ...
--controller remote:127.0.0.1:PORT`` in the other (the first test), or in one step ``sdnlab up
... --controller app:ryu-4.34/ryu/app/rest_router.py`` (the others). Inside the app, ``from
ryu.app import simple_switch_13`` and ``from ryu.app.wsgi import ...`` reach sdnlab's ``ryu``
package (Ryu's own ``ryu`` package needs eventlet and does not run on Python 3.11), so the
sub-classing apps run on sdnlab's ``simple_switch_13`` and REST layer, and ``ryu.lib.stplib``,
``lacplib`` and ``ofctl_v1_3`` are os-ken's on sdnlab's hub.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import socket
import subprocess
import sys
import tarfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from waiting import wait_for

from sdnlab.controller import rest_client
from sdnlab.runtime import api, paths

pytestmark = pytest.mark.network

RELEASE = "4.34"
SDIST = f"ryu-{RELEASE}.tar.gz"
# PyPI's files never change once uploaded: this is the digest PyPI's metadata gives for the sdist.
SDIST_SHA256 = "a31041eb53aee0c36ca428645ad2607163ca5e1390f5a3d6ef2025b7829ce93e"
PYPI_JSON = ("https://pypi.org/pypi/ryu/{release}/json", "https://pypi.org/pypi/ryu/json")
APP_FILES = (
    "simple_switch_13",
    "ofctl_rest",
    "rest_topology",
    "simple_monitor_13",
    "simple_switch_rest_13",
    "simple_switch_websocket_13",
    "simple_switch_stp_13",
    "simple_switch",
    "simple_switch_12",
    "example_switch_13",
    "simple_switch_14",
    "simple_switch_15",
    "simple_switch_lacp_13",
    "rest_firewall",
    "rest_router",
    "ws_topology",
)
HERE = Path(__file__).parent
EVERY_VERSION = "OpenFlow10,OpenFlow12,OpenFlow13,OpenFlow14,OpenFlow15"


# -- the release, from PyPI ---------------------------------------------------------------------


def cache_dir() -> Path:
    """Where downloads are kept between runs: ``$XDG_CACHE_HOME/sdnlab`` or ``~/.cache/sdnlab``."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "sdnlab"


def fetch(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=30) as answer:
        return answer.read()


def sdist_on_pypi() -> tuple[str, str]:
    """(download URL, sha256) of the release's source distribution, from PyPI's JSON metadata."""
    for template in PYPI_JSON:
        try:
            meta = json.loads(fetch(template.format(release=RELEASE)))
        except urllib.error.HTTPError as exc:
            if exc.code == 404:
                continue  # the per-release document is not served everywhere; try the project's
            raise
        # the release's document lists its files under "urls", the project's under "releases"
        files = meta.get("releases", {}).get(RELEASE) or meta.get("urls") or []
        for entry in files:
            if entry.get("packagetype") == "sdist" and entry.get("filename") == SDIST:
                return entry["url"], entry["digests"]["sha256"]
    raise LookupError(f"PyPI's metadata lists no {SDIST}")


def sha256_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def ryu_sdist() -> bytes:
    """The verified bytes of ``ryu-4.34.tar.gz``: from the cache, else downloaded (skip if impossible)."""
    cached = cache_dir() / SDIST
    if cached.is_file():
        data = cached.read_bytes()
        if sha256_of(data) == SDIST_SHA256:
            return data
    try:
        url, pypi_sha256 = sdist_on_pypi()
        data = fetch(url)
    except (OSError, LookupError, ValueError) as exc:  # offline, no DNS, proxy refused, bad JSON
        pytest.skip(f"cannot download {SDIST} from PyPI: {exc}")
    assert pypi_sha256 == SDIST_SHA256, f"PyPI now gives sha256 {pypi_sha256} for {SDIST}"
    assert sha256_of(data) == pypi_sha256, f"the downloaded {SDIST} does not match PyPI's sha256"
    cached.parent.mkdir(parents=True, exist_ok=True)
    partial = cached.with_suffix(".part")
    partial.write_bytes(data)
    partial.replace(cached)
    return data


@pytest.fixture(scope="module")
def ryu_app_dir(tmp_path_factory) -> Path:
    """``.../ryu-4.34/ryu/app`` holding Ryu's app files exactly as released (one download per run)."""
    root = tmp_path_factory.mktemp("ryu-release")
    sdist = root / SDIST
    sdist.write_bytes(ryu_sdist())
    folder = root / f"ryu-{RELEASE}" / "ryu" / "app"
    folder.mkdir(parents=True)
    with tarfile.open(sdist) as tar:
        for name in APP_FILES:
            member = tar.extractfile(f"ryu-{RELEASE}/ryu/app/{name}.py")
            assert member is not None, name
            (folder / f"{name}.py").write_bytes(member.read())  # our own path: nothing else unpacked
    return folder


# -- helpers ------------------------------------------------------------------------------------


def ping(lab: str, src: str, dst_ip: str, tries: int = 3) -> bool:
    """True if ``src`` gets an echo reply from ``dst_ip`` within ``tries`` one-second pings."""
    for _ in range(tries):
        if api.run_in(lab, src, ["ping", "-c", "1", "-W", "1", dst_ip], timeout=10).returncode == 0:
            return True
    return False


def controller_log(lab: str) -> str:
    return (paths.lab_dir(lab) / "controller.log").read_text(errors="replace")


def assert_no_errors(log: str) -> None:
    """Nothing in the app or under it failed (sdnlab logs a failing handler and keeps going)."""
    bad = [line for line in log.splitlines() if "Traceback" in line or "ERROR" in line or "Error" in line]
    first = log.find(bad[0]) if bad else 0
    assert not bad, f"{len(bad)} error lines, the first with what follows it:\n" + log[first : first + 4000]


def dump_flows(bridge: str, version: str = "OpenFlow13") -> str:
    return subprocess.run(
        ["ovs-ofctl", "-O", version, "dump-flows", bridge], capture_output=True, text=True, check=True
    ).stdout


def rest(state: dict, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    """Call the lab controller's REST API with the lab's token: (status, decoded JSON or text)."""
    url = f"http://127.0.0.1:{state['controller']['rest_port']}{path}"
    return http(method, url, body, rest_client.auth_headers(paths.lab_dir(state["name"])))


def http(method: str, url: str, body: Any = None, headers: dict[str, str] | None = None) -> tuple[int, Any]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=15) as answer:
            status, text = answer.status, answer.read().decode()
    except urllib.error.HTTPError as exc:
        status, text = exc.code, exc.read().decode(errors="replace")
    except urllib.error.URLError as exc:  # nothing listening (yet)
        return 0, str(exc.reason)
    try:
        return status, json.loads(text)
    except ValueError:
        return status, text


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def app(folder: Path, *names: str) -> str:
    """``app:FILE[,FILE]`` for ``sdnlab up --controller``."""
    return "app:" + ",".join(str(folder / f"{name}.py") for name in names)


# -- switching hub (with Ryu's ofctl_rest and rest_topology), the book's two-terminal way --------


def test_switching_hub_with_ryus_rest_apps_in_its_own_ryu_manager(ryu_app_dir, lab_factory, tmp_path):
    """``ryu-manager simple_switch_13.py ofctl_rest.py rest_topology.py``, Mininet as a remote switch."""
    of_port, rest_port = free_port(), free_port()
    ryu_manager = Path(sys.executable).with_name("ryu-manager")
    output = (tmp_path / "ryu-manager.log").open("w+")
    argv = [str(ryu_manager), "--ofp-tcp-listen-port", str(of_port), "--wsapi-port", str(rest_port)]
    argv += [str(ryu_app_dir / f"{name}.py") for name in ("simple_switch_13", "ofctl_rest", "rest_topology")]
    controller = subprocess.Popen(argv, stdout=output, stderr=subprocess.STDOUT, cwd=tmp_path)
    try:
        base = f"http://127.0.0.1:{rest_port}"
        wait_for(lambda: http("GET", base + "/stats/switches")[0] == 200, 20, "serving REST")
        lab = "t-rr-hub"
        state = lab_factory(
            "linear",
            {"switches": 1, "hosts_per_switch": 3},
            name=lab,
            controller=f"remote:127.0.0.1:{of_port}",
        )
        ips = {h["name"]: h["ip"] for h in state["hosts"]}
        macs = {h["name"]: h["mac"] for h in state["hosts"]}
        assert wait_for(lambda: http("GET", base + "/stats/switches")[1] == [1], 20, "connected")
        # table-miss to the controller, as the chapter's switch_features_handler installs it
        bridge = state["switches"][0]["bridge"]
        wait_for(lambda: "priority=0 actions=CONTROLLER:65535" in dump_flows(bridge), 20, "table-miss set")
        for src, dst in (("h1", "h2"), ("h2", "h3"), ("h3", "h1")):
            assert ping(lab, src, ips[dst]), (src, dst)
        # the app learnt the MACs: "packet in" lines and priority-1 flows to each host's port
        output.seek(0)
        log = output.read()
        assert re.search(rf"packet in 1 {macs['h1']} {macs['h2']} 1", log), log[-3000:]
        flows = dump_flows(bridge)
        for port, host in enumerate(("h1", "h2", "h3"), start=1):
            assert f"dl_dst={macs[host]} actions=output:{port}" in flows, flows
        # Ryu's ofctl_rest shows the same flows; Ryu's rest_topology shows the switch and its ports
        status, stats = http("GET", base + "/stats/flow/1")
        assert status == 200
        learnt = [f for f in stats["1"] if f["priority"] == 1]
        assert {f["match"]["dl_dst"] for f in learnt} >= set(macs.values()), learnt
        assert sum(f["packet_count"] for f in learnt) >= 1, learnt  # later pings went by the flows
        status, switches = http("GET", base + "/v1.0/topology/switches")
        assert status == 200 and switches[0]["dpid"] == "0000000000000001", switches
        assert {p["port_no"] for p in switches[0]["ports"]} == {"00000001", "00000002", "00000003"}
        output.seek(0)
        assert_no_errors(output.read())
    finally:
        controller.terminate()
        controller.wait(timeout=10)
        output.close()


# -- traffic monitor ----------------------------------------------------------------------------

FLOW_ROW = re.compile(
    r"^.*\b([0-9a-f]{16}) +([0-9a-f]+) +([0-9a-f:]{17}) +([0-9a-f]+) +(\d+) +(\d+)\s*$", re.M
)
PORT_ROW = re.compile(r"^.*\b([0-9a-f]{16}) +([0-9a-f]+) +(\d+) +(\d+) +(\d+) +(\d+) +(\d+) +(\d+)\s*$", re.M)


def test_traffic_monitor_prints_flow_and_port_statistics(ryu_app_dir, lab_factory):
    """simple_monitor_13 asks every 10 s and logs the book's two tables with live counters."""
    lab = "t-rr-monitor"
    state = lab_factory("linear", {"switches": 2}, name=lab, controller=app(ryu_app_dir, "simple_monitor_13"))
    ips = {h["name"]: h["ip"] for h in state["hosts"]}
    assert ping(lab, "h1", ips["h2"])
    api.run_in(lab, "h1", ["ping", "-c", "5", "-i", "0.2", ips["h2"]], timeout=10)

    def counted() -> bool:
        log = controller_log(lab)
        flows = [row for row in FLOW_ROW.findall(log) if int(row[4]) > 0]
        ports = [row for row in PORT_ROW.findall(log) if int(row[2]) > 0]
        return bool(flows) and {int(r[0], 16) for r in ports} == {1, 2}

    wait_for(counted, 35, "counting", interval=1)  # the app asks every 10 s
    log = controller_log(lab)
    assert "datapath         in-port  eth-dst           out-port packets  bytes" in log
    assert "datapath         port     rx-pkts  rx-bytes rx-error tx-pkts  tx-bytes tx-error" in log
    macs = {h["mac"] for h in state["hosts"]}
    assert {row[2] for row in FLOW_ROW.findall(log)} <= macs
    assert_no_errors(controller_log(lab))


# -- REST linkage -------------------------------------------------------------------------------


def test_rest_linkage_shows_and_sets_the_mac_table(ryu_app_dir, lab_factory):
    """simple_switch_rest_13: GET /simpleswitch/mactable/DPID lists what it learnt; PUT adds a host."""
    lab = "t-rr-rest"
    state = lab_factory(
        "linear",
        {"switches": 1, "hosts_per_switch": 3},
        name=lab,
        controller=app(ryu_app_dir, "simple_switch_rest_13"),
    )
    hosts = {h["name"]: h for h in state["hosts"]}
    path = "/simpleswitch/mactable/0000000000000001"
    # 404 until the app saw the switch's features (a moment after the lab is up), then empty
    assert wait_for(
        lambda: rest(state, "GET", path)[0] == 200,
        20,
        "the switch known",
        detail=lambda: controller_log(lab)[-5000:],
    )
    assert rest(state, "GET", path) == (200, {})
    assert ping(lab, "h1", hosts["h2"]["ip"])
    status, table = rest(state, "GET", path)
    assert status == 200 and table == {hosts["h1"]["mac"]: 1, hosts["h2"]["mac"]: 2}, table
    assert rest(state, "GET", "/simpleswitch/mactable/0000000000000009")[0] == 404

    # the book's PUT: h3 is announced before it sends anything; flows both ways go to the switch
    status, table = rest(state, "PUT", path, {"mac": hosts["h3"]["mac"], "port": 3})
    assert status == 200 and table[hosts["h3"]["mac"]] == 3, table
    wanted = (
        f"in_port=1,dl_dst={hosts['h3']['mac']} actions=output:3",
        f"in_port=3,dl_dst={hosts['h1']['mac']} actions=output:1",
    )
    bridge = state["switches"][0]["bridge"]
    wait_for(lambda: all(flow in dump_flows(bridge) for flow in wanted), 15, f"flows {wanted} on the switch")
    assert_no_errors(controller_log(lab))


def test_switching_hub_over_a_websocket_pushes_packets_and_answers_rpc(ryu_app_dir, lab_factory):
    """simple_switch_websocket_13: each packet-in is pushed to ws clients; get_arp_table over JSON-RPC."""
    from websockets.sync.client import connect

    lab = "t-rr-swws"
    state = lab_factory(
        "linear",
        {"switches": 1, "hosts_per_switch": 2},
        name=lab,
        controller=app(ryu_app_dir, "simple_switch_websocket_13"),
    )
    hosts = {h["name"]: h for h in state["hosts"]}
    url = f"ws://127.0.0.1:{state['controller']['rest_port']}/simpleswitch/ws"
    with connect(url, additional_headers=rest_client.auth_headers(paths.lab_dir(lab)), open_timeout=10) as ws:
        # the app registers the session a moment after the handshake (later on a loaded machine):
        # packet-ins before that are pushed to no one. h1 forgets h2's MAC and pings again until
        # a push arrives; its broadcast ARP request always goes to the controller.
        pushes: list[str] = []
        deadline = time.monotonic() + 15
        while not any("arp(" in push for push in pushes):
            assert time.monotonic() < deadline, f"no ARP packet-in pushed to the websocket in 15 s: {pushes}"
            api.run_in(lab, "h1", ["ip", "neigh", "flush", "all"], timeout=10)
            assert ping(lab, "h1", hosts["h2"]["ip"])
            try:
                while True:  # what this ping's packet-ins pushed
                    pushes.append(ws.recv(timeout=1))
            except TimeoutError:
                pass
        pushed = next(push for push in pushes if "arp(" in push)
        assert "ethernet(" in pushed, pushed
        ws.send(json.dumps({"jsonrpc": "2.0", "id": 1, "method": "get_arp_table", "params": {}}))
        while True:  # packets are pushed as text (str(packet)), the answer is JSON
            message = ws.recv(timeout=10)
            if message.startswith("{"):
                answer = json.loads(message)
                break
    assert answer["result"] == {"1": {hosts["h1"]["mac"]: 1, hosts["h2"]["mac"]: 2}}, answer
    assert_no_errors(controller_log(lab))


# -- spanning tree ------------------------------------------------------------------------------


def port_configs(bridge: str) -> dict[int, str]:
    """OpenFlow port number -> its config flags as ``ovs-ofctl show`` prints them (``0`` = none)."""
    shown = subprocess.run(
        ["ovs-ofctl", "-O", "OpenFlow13", "show", bridge], capture_output=True, text=True, check=True
    ).stdout
    configs: dict[int, str] = {}
    for port, config in re.findall(r"^ (\d+)\(.*?\):.*?\n\s+config:\s+(.*)$", shown, re.M):
        configs[int(port)] = config.strip()
    return configs


def test_spanning_tree_breaks_the_ring_and_hosts_reach_each_other(ryu_app_dir, lab_factory):
    """simple_switch_stp_13 on the three-switch ring: one port BLOCKs (no forwarding), the rest FORWARD.

    The app's own file sets only the bridge priorities (s1 root, then s2); a companion module of
    ours, loaded first, shortens stplib's default timers so this takes seconds, not 30+.
    """
    lab = "t-rr-stp"
    timers = HERE / "apps" / "stp_short_timers.py"
    state = lab_factory(
        "ring", {}, name=lab, controller=f"app:{timers},{ryu_app_dir / 'simple_switch_stp_13.py'}"
    )
    bridges = {s["name"]: s["bridge"] for s in state["switches"]}
    ips = {h["name"]: h["ip"] for h in state["hosts"]}

    def settled() -> dict[str, dict[int, str]] | None:
        """Each switch's ring ports (2, 3) once every one is FORWARD (config 0) or BLOCK (NO_FWD)."""
        configs = {name: port_configs(bridge) for name, bridge in bridges.items()}
        ring = {name: {p: c for p, c in ports.items() if p in (2, 3)} for name, ports in configs.items()}
        states = [c for ports in ring.values() for c in ports.values()]
        if len(states) == 6 and all(c in ("0", "NO_FWD NO_PACKET_IN") for c in states):
            log = controller_log(lab)
            if log.count("/ FORWARD") >= 5 and "/ BLOCK" in log:
                return ring
        return None

    ring = wait_for(settled, 40, "converged", interval=0.5)
    blocked = [(name, port) for name, ports in ring.items() for port, c in ports.items() if c != "0"]
    assert blocked == [("s3", 2)], ring  # s1 is the root, s2 next: s3's port towards s2 blocks
    log = controller_log(lab)
    assert "Root bridge" in log and "Non root bridge" in log
    assert "NON_DESIGNATED_PORT / BLOCK" in log
    for src, dst in (("h1", "h2"), ("h2", "h3"), ("h3", "h1")):
        assert ping(lab, src, ips[dst], tries=5), (src, dst)
    assert_no_errors(controller_log(lab))


# -- the switching hub in every OpenFlow version ------------------------------------------------


@pytest.mark.parametrize(
    ("name", "ofctl", "miss"),
    [
        ("simple_switch", "OpenFlow10", None),  # OpenFlow 1.0 and 1.2: a miss goes to the controller
        ("simple_switch_12", "OpenFlow12", None),
        ("example_switch_13", "OpenFlow13", "priority=0 actions=CONTROLLER:65535"),
        ("simple_switch_14", "OpenFlow14", "priority=0 actions=CONTROLLER:65535"),
        ("simple_switch_15", "OpenFlow15", "priority=0 actions=CONTROLLER:65535"),
    ],
)
def test_switching_hub_in_each_openflow_version(ryu_app_dir, lab_factory, name, ofctl, miss):
    """Each app speaks only its version: switches offering 1.0-1.5 negotiate it, learn and forward."""
    lab = f"t-rr-of{ofctl[-2:]}"
    state = lab_factory(
        "linear", {"switches": 2}, name=lab, controller=app(ryu_app_dir, name), protocols=EVERY_VERSION
    )
    ips = {h["name"]: h["ip"] for h in state["hosts"]}
    macs = {h["name"]: h["mac"] for h in state["hosts"]}
    for src, dst in (("h1", "h2"), ("h2", "h1")):
        assert ping(lab, src, ips[dst]), (src, dst)
    for switch in state["switches"]:
        flows = dump_flows(switch["bridge"], ofctl)
        assert miss is None or miss in flows, flows
        assert f"dl_dst={macs['h1']}" in flows and f"dl_dst={macs['h2']}" in flows, flows
    assert "unsupported version" not in controller_log(lab)
    assert_no_errors(controller_log(lab))


# -- link aggregation ---------------------------------------------------------------------------

MEMBER_LINE = re.compile(r"slave state changed port: (\d+) enabled: (True|False)")


def member_states(lab: str) -> dict[int, list[bool]]:
    """s1 port -> the member states Ryu's app logged, in order."""
    states: dict[int, list[bool]] = {}
    for port, enabled in MEMBER_LINE.findall(controller_log(lab)):
        states.setdefault(int(port), []).append(enabled == "True")
    return states


def test_link_aggregation_brings_up_both_members_and_survives_a_cut(ryu_app_dir, lab_factory):
    """simple_switch_lacp_13 with h1's LACP bond on s1 ports 1 and 2 (the catalogue's topology)."""
    from sdnlab.topologies import load_topology
    from sdnlab.topologies.bond import bond_plans

    lab = "t-rr-lacp"
    state = lab_factory(
        "link_aggregation", {}, name=lab, controller=app(ryu_app_dir, "simple_switch_lacp_13")
    )
    ips = {h["name"]: h["ip"] for h in state["hosts"]}
    (plan,) = bond_plans(load_topology("link_aggregation"), state["slot"])
    wait_for(lambda: member_states(lab).get(1) == [True] and member_states(lab).get(2) == [True], 15, "up")
    in_sync = "partner state: timeout aggregation synchronized collecting distributing"

    def lacp_show() -> str:
        return subprocess.run(["ovs-appctl", "lacp/show", plan.port], capture_output=True, text=True).stdout

    wait_for(lambda: lacp_show().count(in_sync) == 2, 20, "in sync with the app")
    for host in ("h2", "h3", "h4"):
        assert ping(lab, "h1", ips[host]), host

    subprocess.run(["ip", "link", "set", plan.members[0], "down"], check=True)
    wait_for(lambda: member_states(lab).get(1, [])[-1:] == [False], 20, "timed out on port 1")
    assert member_states(lab)[2] == [True]
    for host in ("h2", "h3", "h4"):
        assert ping(lab, host, ips["h1"]), host
    assert_no_errors(controller_log(lab))


# -- firewall -----------------------------------------------------------------------------------


def test_firewall_denies_by_default_and_allows_what_its_rules_allow(ryu_app_dir, lab_factory):
    """rest_firewall, the book's session: enable, allow ICMP h1 <-> h2 only, see h3 blocked."""
    lab = "t-rr-fw"
    state = lab_factory(
        "linear",
        {"switches": 1, "hosts_per_switch": 3},
        name=lab,
        controller=app(ryu_app_dir, "rest_firewall"),
    )
    ips = {h["name"]: h["ip"] for h in state["hosts"]}
    switch = "0000000000000001"
    wait_for(lambda: "Join as firewall" in controller_log(lab), 20, "joined")
    assert rest(state, "GET", "/firewall/module/status") == (
        200,
        [{"status": "disable", "switch_id": switch}],
    )

    status, answer = rest(state, "PUT", f"/firewall/module/enable/{switch}")
    assert status == 200 and answer[0]["command_result"]["details"] == "firewall running.", answer
    assert rest(state, "GET", "/firewall/module/status")[1] == [{"status": "enable", "switch_id": switch}]
    assert not ping(lab, "h1", ips["h2"], tries=1)  # enabled with no rules: everything but ARP is denied

    for src, dst in (("h1", "h2"), ("h2", "h1")):
        rule = {"nw_src": f"{ips[src]}/32", "nw_dst": f"{ips[dst]}/32", "nw_proto": "ICMP"}
        status, answer = rest(state, "POST", f"/firewall/rules/{switch}", rule)
        assert status == 200 and answer[0]["command_result"][0]["result"] == "success", answer
    status, answer = rest(state, "GET", f"/firewall/rules/{switch}")
    rules = answer[0]["access_control_list"][0]["rules"]
    assert {(r["nw_src"], r["nw_dst"], r["actions"]) for r in rules} == {
        (ips["h1"], ips["h2"], "ALLOW"),  # a /32 is shown as the bare address, as in the book
        (ips["h2"], ips["h1"], "ALLOW"),
    }, answer

    assert ping(lab, "h1", ips["h2"]) and ping(lab, "h2", ips["h1"])
    assert not ping(lab, "h1", ips["h3"], tries=1)
    wait_for(lambda: "Blocked packet" in controller_log(lab), 15, "logged as blocked")
    assert_no_errors(controller_log(lab))


# -- router -------------------------------------------------------------------------------------

# The three_routers topology's addressing (its description), set as the book does: every router's
# addresses first, then the routes (a route's gateway is resolved by ARP when the route is added).
ADDRESSES = {
    "0000000000000001": ["172.16.20.1/24", "10.10.10.1/24"],
    "0000000000000002": ["172.16.10.1/24", "10.10.10.2/24", "192.168.10.1/24"],
    "0000000000000003": ["192.168.30.1/24", "192.168.10.2/24"],
}
ROUTES = {
    "0000000000000001": [{"gateway": "10.10.10.2"}],
    "0000000000000002": [
        {"gateway": "10.10.10.1"},
        {"destination": "192.168.30.0/24", "gateway": "192.168.10.2"},
    ],
    "0000000000000003": [{"gateway": "192.168.10.1"}],
}


def test_router_routes_between_three_subnets_as_configured_over_rest(ryu_app_dir, lab_factory):
    """rest_router on three_routers: addresses, default and static routes by POST; hosts reach each other."""
    lab = "t-rr-router"
    state = lab_factory("three_routers", {}, name=lab, controller=app(ryu_app_dir, "rest_router"))
    ips = {h["name"]: h["ip"] for h in state["hosts"]}
    wait_for(lambda: controller_log(lab).count("Join as router") == 3, 20, "joined")  # the app's own signal
    settings = [(switch, {"address": a}) for switch, addresses in ADDRESSES.items() for a in addresses]
    settings += [(switch, route) for switch, routes in ROUTES.items() for route in routes]
    for switch, setting in settings:
        status, answer = rest(state, "POST", f"/router/{switch}", setting)
        assert status == 200 and answer[0]["command_result"][0]["result"] == "success", (setting, answer)

    def configs() -> dict[str, dict] | None:
        """Each router's addresses and routes once every route shows (its gateway answered ARP)."""
        status, answer = rest(state, "GET", "/router/all")
        shown = (
            {entry["switch_id"]: entry["internal_network"][0] for entry in answer} if status == 200 else {}
        )
        resolved = all(len(shown.get(s, {}).get("route", [])) == len(r) for s, r in ROUTES.items())
        return shown if resolved else None

    shown = wait_for(configs, 20, "every route resolved", detail=lambda: controller_log(lab)[-5000:])
    for switch, addresses in ADDRESSES.items():
        assert {a["address"] for a in shown[switch]["address"]} == set(addresses), shown
    assert {(r["destination"], r["gateway"]) for r in shown["0000000000000002"]["route"]} == {
        ("0.0.0.0/0", "10.10.10.1"),
        ("192.168.30.0/24", "192.168.10.2"),
    }, shown

    assert ping(lab, "h1", "172.16.20.1")  # the router answers for its own address
    for src, dst in (("h1", "h2"), ("h2", "h3"), ("h3", "h1")):
        assert ping(lab, src, ips[dst], tries=5), (src, dst, controller_log(lab)[-5000:])
    trace = api.run_in(lab, "h1", ["ping", "-c", "1", "-W", "2", ips["h3"]], timeout=10).stdout
    assert "ttl=61 " in trace, trace  # s1, s2 and s3 each decrement the reply's TTL
    assert_no_errors(controller_log(lab))


# -- topology over a websocket ------------------------------------------------------------------


def test_ws_topology_pushes_switch_and_link_events_to_a_client(ryu_app_dir, lab_factory):
    """ws_topology with --observe-links: a client answering its JSON-RPC calls hears a switch re-enter."""
    from websockets.sync.client import connect

    lab = "t-rr-wstopo"
    state = lab_factory(
        "linear", {"switches": 3}, name=lab, controller=app(ryu_app_dir, "ws_topology"), observe_links=True
    )
    url = f"ws://127.0.0.1:{state['controller']['rest_port']}/v1.0/topology/ws"
    calls: list[dict] = []
    s2 = api.bridge(lab, "s2")
    target = subprocess.run(["ovs-vsctl", "get-controller", s2], capture_output=True, text=True, check=True)

    def links() -> set[tuple[int, int]]:
        return {
            (int(c["params"][0]["src"]["dpid"], 16), int(c["params"][0]["dst"]["dpid"], 16))
            for c in calls
            if c["method"] == "event_link_add"
        }

    def reentered() -> bool:
        return (
            "event_switch_enter" in [c["method"] for c in calls]
            and {(1, 2), (2, 1), (2, 3), (3, 2)} <= links()
        )

    with connect(url, additional_headers=rest_client.auth_headers(paths.lab_dir(lab)), open_timeout=10) as ws:
        for _attempt in range(3):  # again if the app had not yet registered the session (a loaded machine)
            subprocess.run(["ovs-vsctl", "del-controller", s2], check=True)
            time.sleep(1.0)
            subprocess.run(["ovs-vsctl", "set-controller", s2, *target.stdout.split()], check=True)
            deadline = time.monotonic() + 15
            while not reentered() and time.monotonic() < deadline:
                try:
                    call = json.loads(ws.recv(timeout=max(0.1, deadline - time.monotonic())))
                except TimeoutError:
                    break
                calls.append(call)
                ws.send(json.dumps({"jsonrpc": "2.0", "id": call["id"], "result": ""}))  # as Ryu's clients do
            if reentered():
                break
    assert reentered(), calls
    methods = [c["method"] for c in calls]
    assert "event_switch_leave" in methods and "event_switch_enter" in methods, methods
    entered = next(c["params"][0] for c in calls if c["method"] == "event_switch_enter")
    assert entered["dpid"] == "0000000000000002", entered
    assert {p["port_no"] for p in entered["ports"]} >= {"00000002", "00000003"}, entered
    assert_no_errors(controller_log(lab))


# Sends ARP requests (2000, one every 2 ms) from a host: argv = interface, own MAC, own IP, target IP.
ARP_REQUESTS = """
import socket, sys, time
intf, mac, ip, target = sys.argv[1:5]
raw = lambda text: bytes.fromhex(text.replace(":", ""))
frame = (b"\\xff" * 6 + raw(mac) + b"\\x08\\x06" + b"\\x00\\x01\\x08\\x00\\x06\\x04\\x00\\x01"
         + raw(mac) + socket.inet_aton(ip) + b"\\x00" * 6 + socket.inet_aton(target))
with socket.socket(socket.AF_PACKET, socket.SOCK_RAW) as sock:
    sock.bind((intf, 0))
    for _ in range(2000):
        sock.send(frame)
        time.sleep(0.002)
"""


def test_router_rest_calls_and_packet_ins_take_turns_as_under_eventlet(ryu_app_dir, lab_factory):
    """REST calls changing rest_router's routing table while ARP packet-ins walk it: no race.

    Under eventlet one ran after the other; on plain threads the packet-in handler's loop over
    the table met a table changing under it (``dictionary changed size during iteration``) and
    lost the packet. sdnlab runs a Ryu-style app's handlers one at a time (sdnlab.controller.green).
    """
    lab = "t-rr-race"
    state = lab_factory("three_routers", {}, name=lab, controller=app(ryu_app_dir, "rest_router"))
    wait_for(lambda: controller_log(lab).count("Join as router") == 3, 20, "joined")
    for switch, addresses in ADDRESSES.items():
        for address in addresses:
            assert rest(state, "POST", f"/router/{switch}", {"address": address})[0] == 200
    h2 = next(h for h in state["hosts"] if h["name"] == "h2")
    arp = api.popen_in(
        lab, "h2", [sys.executable, "-c", ARP_REQUESTS, "h2-eth0", h2["mac"], h2["ip"], "172.16.10.1"]
    )
    try:  # the REST calls start once the ARP requests reach the app
        wait_for(lambda: "Receive ARP request from [172.16.10.10]" in controller_log(lab), 15, "ARP arriving")
        for i in range(200):
            route = {"destination": f"10.{100 + i // 200}.{i % 200}.0/24", "gateway": "10.10.10.1"}
            assert rest(state, "POST", "/router/0000000000000002", route)[0] == 200
    finally:
        arp.kill()
        arp.wait()
    assert "Receive ARP request from [172.16.10.10]" in controller_log(lab)
    assert_no_errors(controller_log(lab))
