"""The shipped topologies are real models of their cases, valid at their defaults and bounds."""

import networkx as nx
import pytest

from sdnlab.errors import TopologyError
from sdnlab.topologies import catalogue, load_topology

EXPECTED = {"linear", "tree", "fat_tree", "connected_car", "camera_4k", "smart_meter", "broadcast_backbone"}


def test_catalogue_lists_every_model_case():
    assert set(catalogue()) >= EXPECTED


@pytest.mark.parametrize("name", catalogue())
def test_catalogue_topology_is_connected_with_unique_addresses(name):
    topo = load_topology(name)
    graph = topo.graph()
    assert nx.is_connected(nx.Graph(graph)), f"{name} is not connected"
    ips = [h.ip for h in topo.hosts()]
    macs = [i.mac for h in topo.hosts() for i in h.interfaces]
    assert len(set(ips)) == len(ips) and None not in ips
    assert len(set(macs)) == len(macs)
    dpids = [s.dpid for s in topo.switches()]
    assert len(set(dpids)) == len(dpids)
    for switch in topo.switches():
        ports = [lk.port_of(switch.name) for lk in topo.links_of(switch.name)]
        assert sorted(ports) == list(range(1, len(ports) + 1)), "switch ports are numbered 1..n"


def test_smart_meter_scales_to_a_thousand_meters_behind_concentrators():
    topo = load_topology("smart_meter", {"meters": "1000"})
    meters = topo.with_role("meter")
    assert len(meters) == 1000
    assert len(topo.with_role("concentrator")) == 10
    assert [n.name for n in topo.with_role("head_end")] == ["hes"]
    # every meter hangs off a concentrator, and all meters sit in the meters pool
    for meter in meters:
        (link,) = topo.links_of(meter.name)
        assert "concentrator" in topo.nodes[link.other(meter.name)].roles
        assert meter.ip.startswith("10.1.")


def test_smart_meter_rejects_meters_beyond_the_bound():
    with pytest.raises(TopologyError, match=r"meters.*above the maximum 2000"):
        load_topology("smart_meter", {"meters": "5000"})


def test_connected_car_edge_path_is_much_shorter_than_cloud_path():
    topo = load_topology("connected_car")
    graph = nx.Graph()
    for link in topo.links:
        graph.add_edge(link.a, link.b, delay=link.delay_ms or 0.0)
    to_edge = nx.shortest_path_length(graph, "v1", "mec1", weight="delay")
    to_cloud = nx.shortest_path_length(graph, "v1", "cloud1", weight="delay")
    assert to_edge < 5 and to_cloud > 20 and to_cloud > 5 * to_edge


def test_camera_streams_exceed_one_uplink_but_fit_two():
    topo = load_topology("camera_4k")
    cameras = topo.with_role("camera")
    per_access = len(cameras) / len(topo.with_role("access"))
    uplink = topo.params["uplink_mbit"]
    assert per_access * 25 > uplink  # one uplink cannot carry every stream of its access switch
    assert per_access * 25 <= 2 * uplink  # two can
    assert len(topo.with_role("analytics")) >= 2


def test_broadcast_backbone_survives_any_single_link_cut():
    topo = load_topology("broadcast_backbone", {"stations": "6", "mesh": "1"})
    switches = nx.Graph(
        (lk.a, lk.b) for lk in topo.links if topo.nodes[lk.a].is_switch and topo.nodes[lk.b].is_switch
    )
    assert nx.edge_connectivity(switches) >= 2
    assert switches.number_of_edges() == 6 + 3  # ring plus chords


def test_fat_tree_has_the_textbook_sizes():
    topo = load_topology("fat_tree", {"k": "4"})
    assert len(topo.with_role("core")) == 4
    assert len(topo.switches()) == 20
    assert len(topo.hosts()) == 16


def test_tree_depth_and_fanout():
    topo = load_topology("tree", {"depth": "3", "fanout": "2"})
    assert len(topo.switches()) == 7 and len(topo.hosts()) == 8
    assert nx.is_tree(nx.Graph((lk.a, lk.b) for lk in topo.links))


def _at_bounds(name):
    """The topology at its defaults, and at every parameter's maximum (when bounded)."""
    default = load_topology(name)
    yield default
    maxima = {p.name: str(p.maximum) for p in default.parameters if p.maximum is not None}
    if maxima:
        try:
            yield load_topology(name, maxima)
        except TopologyError:
            pass  # the maxima together may break a constraint; each bound is tested elsewhere


@pytest.mark.parametrize("name", catalogue())
def test_every_switch_port_name_fits_linux_in_every_lab_slot(name):
    from sdnlab.topologies.model import IFNAME_MAX, LAST_SLOT, bridge_name

    for topo in _at_bounds(name):
        for link in topo.links:
            for end, intf in ((link.a, link.a_intf), (link.b, link.b_intf)):
                if topo.nodes[end].is_switch:
                    built = bridge_name(end, LAST_SLOT) + intf[len(end) :]
                    assert len(built) <= IFNAME_MAX, built
