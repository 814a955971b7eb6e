"""The shared topology drawing (classroom/static/topology.js) marks a check's path, run in node:
links crossed, where the packets stopped, and the links the check cut (drawn cut, never crossed)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[3] / "classroom/static/topology.js"
RING = {  # playout - st1, a ring st1-st2-st3-st4, rx3 on st3
    "phase": "ready",
    "controller": "none",
    "hosts": [{"name": "playout"}, {"name": "rx3"}],
    "switches": [{"name": f"st{i}", "connected": True} for i in range(1, 5)],
    "links": [
        {"a": "playout", "b": "st1", "a_port": 0, "b_port": 1},
        {"a": "st1", "b": "st2", "a_port": 3, "b_port": 3},
        {"a": "st2", "b": "st3", "a_port": 4, "b_port": 4},
        {"a": "st3", "b": "st4", "a_port": 3, "b_port": 3},
        {"a": "st1", "b": "st4", "a_port": 4, "b_port": 4},
        {"a": "st3", "b": "rx3", "a_port": 1, "b_port": 0},
    ],
}


def drawn(path: dict) -> dict:
    """pathOn's marks for the path on RING, as names ("a-b" per link)."""
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed")
    program = (
        f"const {{ pathOn, renderTopology }} = require({json.dumps(str(SCRIPT))});"
        f"const topo = {json.dumps(RING)}, path = {json.dumps(path)};"
        "const on = pathOn(topo, path), name = (l) => `${l.a}-${l.b}`;"
        "const svg = renderTopology(topo, path, (k) => k);"
        "console.log(JSON.stringify({ links: [...on.links].map(name), cut: [...on.cut].map(name),"
        ' nodes: [...on.nodes], dropped: on.dropped, crosses: (svg.match(/class="cross"/g) || []).length,'
        " caption: svg.split('id=\"path-caption\"')[1] || '' }));"
    )
    done = subprocess.run([node, "-e", program], capture_output=True, text=True, timeout=30, check=True)
    return json.loads(done.stdout)


def test_a_path_lost_on_a_cut_link_stops_at_the_switch_and_shows_the_cut():
    on = drawn(
        {
            "src": "playout",
            "dst": "rx3",
            "hops": [{"switch": "st1", "in_port": 1, "out_port": 3}],
            "outcome": "lost (st1 port 3: link down)",
            "blame": {"switch": "st1", "where": "flows/st1.flows:9"},
            "down": [["st2", "st1"]],
        }
    )
    assert on["links"] == ["playout-st1"] and on["cut"] == ["st1-st2"]
    assert on["dropped"] == "st1" and on["crosses"] == 2  # the switch where it stopped, the cut link
    assert "cut st2-st1" in on["caption"]


def test_the_backup_path_around_a_cut_is_drawn_hop_by_hop_to_the_receiver():
    on = drawn(
        {
            "src": "playout",
            "dst": "rx3",
            "hops": [
                {"switch": "st1", "in_port": 1, "out_port": 4},
                {"switch": "st4", "in_port": 4, "out_port": 3},
                {"switch": "st3", "in_port": 3, "out_port": 1},
            ],
            "outcome": "delivered to rx3",
            "blame": None,
            "down": [["st1", "st2"]],
        }
    )
    assert sorted(on["links"]) == ["playout-st1", "st1-st4", "st3-rx3", "st3-st4"]
    assert on["cut"] == ["st1-st2"] and on["dropped"] is None and on["crosses"] == 1
    assert "rx3" in on["nodes"]
