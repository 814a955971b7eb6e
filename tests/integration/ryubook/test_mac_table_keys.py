"""Ryu book, REST linkage: SimpleSwitch13 subclasses keyed either way share one MAC table.

Ryu 4.34 keys ``mac_to_port`` by the int dpid, Ryu's later ``simple_switch_13`` by the string
``format(dpid, "d").zfill(16)``. With sdnlab's ``ryu.app.simple_switch_13``, a subclass in either
style (apps/mac_table_rest_int.py, apps/mac_table_rest_str.py) sees the MACs the base class
learnt from real pings on a single-switch Mininet lab, and its REST ``PUT`` installs real flows.
"""

from __future__ import annotations

import json
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from sdnlab.controller import rest_client
from sdnlab.runtime import api, paths

pytestmark = pytest.mark.network

APPS = Path(__file__).parent / "apps"


def rest(lab: str, state: dict, method: str, path: str, body: dict | None = None):
    url = f"http://127.0.0.1:{state['controller']['rest_port']}{path}"
    data = json.dumps(body).encode() if body is not None else None
    headers = {"Content-Type": "application/json", **rest_client.auth_headers(paths.lab_dir(lab))}
    with urllib.request.urlopen(urllib.request.Request(url, data, headers, method=method), timeout=10) as r:
        return json.loads(r.read())


@pytest.mark.parametrize(
    ("app", "lab"), [("mac_table_rest_int.py", "t-rb-mac-int"), ("mac_table_rest_str.py", "t-rb-mac-str")]
)
def test_a_subclass_keyed_either_way_sees_and_extends_the_learnt_table(lab_factory, app, lab):
    state = lab_factory(
        "linear", {"switches": 1, "hosts_per_switch": 3}, name=lab, controller=f"app:{APPS / app}"
    )
    hosts = {h["name"]: h for h in state["hosts"]}
    table_path = "/simpleswitch/mactable/0000000000000001"
    deadline = time.monotonic() + 10
    while True:  # 404 until the app has seen the switch's features, a moment after the lab is up
        try:
            assert rest(lab, state, "GET", table_path) == {}
            break
        except urllib.error.HTTPError as exc:
            if exc.code != 404 or time.monotonic() > deadline:
                raise
            time.sleep(0.2)

    ping = api.run_in(lab, "h1", ["ping", "-c", "2", "-W", "1", hosts["h2"]["ip"]], timeout=15)
    assert ping.returncode == 0, ping.stdout
    learnt = rest(lab, state, "GET", table_path)
    assert learnt == {hosts["h1"]["mac"]: 1, hosts["h2"]["mac"]: 2}

    table = rest(lab, state, "PUT", table_path, {"mac": hosts["h3"]["mac"], "port": 3})
    assert table[hosts["h3"]["mac"]] == 3
    bridge = state["switches"][0]["bridge"]
    deadline = time.monotonic() + 5  # the reply leaves before the switch has applied the flow-mods
    while True:
        flows = subprocess.run(
            ["ovs-ofctl", "-O", "OpenFlow13", "dump-flows", bridge], capture_output=True, text=True
        ).stdout
        if f"dl_dst={hosts['h3']['mac']}" in flows and f"dl_src={hosts['h3']['mac']}" in flows:
            break
        assert time.monotonic() < deadline, flows
        time.sleep(0.1)

    with pytest.raises(urllib.error.HTTPError) as missing:
        rest(lab, state, "GET", "/simpleswitch/mactable/0000000000000009")
    assert missing.value.code == 404
