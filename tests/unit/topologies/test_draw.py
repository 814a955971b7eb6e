"""Topology pictures stay readable: big fan-outs are folded, dense switches keep ports legible."""

import re
import shutil
import struct

import pytest

from sdnlab.topologies import load_topology
from sdnlab.topologies.draw import DENSE_LINKS, MAX_HOSTS_DRAWN, render, to_dot


def _drawn_hosts(dot: str, topology) -> list[str]:
    hosts = {n.name for n in topology.hosts()}
    return [name for name in re.findall(r'^  "([^"]+)" \[shape', dot, re.M) if name in hosts]


def test_500_meters_draw_a_few_meters_and_one_summary_per_concentrator():
    topology = load_topology("smart_meter", {"meters": 500})
    dot = to_dot(topology)
    meters = [h for h in _drawn_hosts(dot, topology) if h.startswith("m") and h[1:].isdigit()]
    assert len(meters) <= MAX_HOSTS_DRAWN
    assert dot.count("+99 more") == 5  # one folded node per concentrator, naming the range


def test_a_small_topology_is_drawn_whole_with_ports_at_the_link_ends():
    topology = load_topology("linear", {})
    dot = to_dot(topology)
    assert len(_drawn_hosts(dot, topology)) == len(topology.hosts())
    assert "more" not in dot and "taillabel" in dot


def test_links_of_a_dense_switch_carry_their_ports_in_the_label():
    topology = load_topology("smart_meter", {"meters": 500})
    dot = to_dot(topology)
    dense = [line for line in dot.splitlines() if '"wan"' in line and " -- " in line]
    assert len(dense) > DENSE_LINKS
    assert all("taillabel" not in line and "wan:" in line for line in dense)


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz (dot) is not installed")
@pytest.mark.parametrize(("name", "params"), [("smart_meter", {"meters": 500}), ("connected_car", {})])
def test_the_default_picture_fits_a_laptop_screen(tmp_path, name, params):
    png = render(load_topology(name, params), tmp_path / "picture.png")
    width, height = struct.unpack(">II", png.read_bytes()[16:24])
    assert width <= 2000 and height <= 1200, (width, height)
