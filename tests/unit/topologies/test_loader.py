"""Loading topology files: parameters, loops, addressing, ports, and fuzzed input."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sdnlab.errors import TopologyError
from sdnlab.topologies import load_topology_text, parse_params
from sdnlab.topologies.expr import ExprError, evaluate

BASE = """
version: 1
parameters:
  n: {default: 2, min: 1, max: 5}
addressing:
  subnet: 10.0.0.0/16
  pools: {edge: 10.0.9.0/24}
nodes:
  - {name: "s{i}", kind: switch, for: "i in 1..n"}
  - {name: "h{i}", roles: [meter], for: "i in 1..n"}
  - {name: srv, kind: server, roles: head_end, pool: edge}
  - {name: fw1, kind: vnf}
  - {name: fixed, ip: 10.0.0.1, mac: "02:aa:bb:cc:dd:ee"}
links:
  - {a: "h{i}", b: "s{i}", bw: 10Mbit, delay: 2ms, for: "i in 1..n"}
  - {a: "s{i}", b: "s{i + 1}", bw: 1Gbit, for: "i in 1..n - 1", if: "n > 1"}
  - {a: srv, b: s1}
  - {a: fw1, b: s1}
  - {a: fw1, b: s2}
  - {a: fixed, b: s2, loss: 1%}
"""


def test_parameters_expand_loops_and_allocate_addresses_around_explicit_ones():
    topo = load_topology_text(BASE, "t.yaml", {"n": "3"})
    assert [s.name for s in topo.switches()] == ["s1", "s2", "s3"]
    assert topo.nodes["h1"].ip == "10.0.0.2"  # 10.0.0.1 is taken explicitly by `fixed`
    assert topo.nodes["h1"].interfaces[0].prefixlen == 16
    assert topo.nodes["srv"].ip == "10.0.9.1" and topo.nodes["srv"].roles == ("head_end",)
    assert topo.nodes["fixed"].mac == "02:aa:bb:cc:dd:ee"
    assert topo.nodes["h2"].mac == "00:00:0a:00:00:03"


def test_switch_ports_follow_link_order_and_vnf_hosts_have_two_interfaces():
    topo = load_topology_text(BASE, "t.yaml")
    assert topo.port("s1", "h1") == 1 and topo.port("s1", "s2") == 2 and topo.port("s1", "srv") == 3
    fw = topo.nodes["fw1"]
    assert [i.name for i in fw.interfaces] == ["fw1-eth0", "fw1-eth1"]
    assert fw.interfaces[1].ip is None
    links = topo.links_of("fw1")
    assert {(lk.other("fw1"), lk.port_of("fw1")) for lk in links} == {("s1", 0), ("s2", 1)}


def test_link_quantities_are_normalised():
    topo = load_topology_text(BASE, "t.yaml")
    s1s2 = next(lk for lk in topo.links if {lk.a, lk.b} == {"s1", "s2"})
    assert s1s2.bw_mbit == 1000.0
    h1 = topo.links_of("h1")[0]
    assert (h1.bw_mbit, h1.delay_ms) == (10.0, 2.0)
    assert topo.links_of("fixed")[0].loss_pct == 1.0
    assert topo.path_latency_ms(["h1", "s1", "s2", "h2"]) == 4.0


@pytest.mark.parametrize(
    "given_params, message",
    [
        ({"n": "9"}, "'n': 9 is above the maximum 5"),
        ({"n": "zero"}, "'n': expected an integer"),
        ({"x": "1"}, "parameter 'x': unknown; this topology takes: n"),
    ],
)
def test_bad_parameters_are_named(given_params, message):
    with pytest.raises(TopologyError, match=message):
        load_topology_text(BASE, "t.yaml", given_params)


def test_parse_params_needs_name_equals_value():
    assert parse_params(["a=1", "b = 2"]) == {"a": "1", "b": "2"}
    with pytest.raises(TopologyError, match="expected NAME=VALUE"):
        parse_params(["novalue"])


def test_expressions_allow_arithmetic_only():
    assert evaluate("(i - 1) % 3 + 1", {"i": 5}) == 2
    assert evaluate("ceil_div(n, 4)", {"n": 9}) == 3
    for bad in ("__import__('os')", "open('x')", "a.b", "[1][0]", "2 ** 99"):
        with pytest.raises(ExprError):
            evaluate(bad, {"a": 1})


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=300))
def test_fuzzed_text_gives_only_topology_errors(text):
    try:
        load_topology_text(text, "fuzz.yaml")
    except TopologyError as exc:
        assert str(exc).startswith("fuzz.yaml")


_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-5, 3000),
    st.text(max_size=12),
    st.sampled_from(["s1", "h1", "switch", "host", "10.0.0.1", "1..3", "{n}", "i in 1..n"]),
)
_entries = st.dictionaries(
    st.sampled_from(
        [
            "name",
            "kind",
            "a",
            "b",
            "bw",
            "delay",
            "loss",
            "ip",
            "for",
            "if",
            "roles",
            "interfaces",
            "dpid",
            "mac",
            "pool",
        ]
    ),
    _scalars,
    max_size=6,
)


@settings(max_examples=300, deadline=None)
@given(
    nodes=st.lists(_entries, max_size=6),
    links=st.lists(_entries, max_size=6),
    version=st.sampled_from([1, 1, 2, "x"]),
)
def test_fuzzed_structures_give_only_topology_errors(nodes, links, version):
    import yaml

    text = yaml.safe_dump({"version": version, "parameters": {"n": 2}, "nodes": nodes, "links": links})
    try:
        load_topology_text(text, "fuzz.yaml")
    except TopologyError as exc:
        assert "fuzz.yaml" in str(exc)


def _star(switch: str, hosts: int) -> str:
    nodes = "".join(f"  - {{name: h{i}}}\n" for i in range(1, hosts + 1))
    links = "".join(f"  - {{a: {switch}, b: h{i}}}\n" for i in range(1, hosts + 1))
    return f"version: 1\nnodes:\n  - {{name: {switch}, kind: switch}}\n{nodes}links:\n{links}"


def test_a_switch_name_that_cannot_be_prefixed_by_a_lab_slot_is_refused():
    with pytest.raises(TopologyError, match=r"switch names are at most 7 characters"):
        load_topology_text(_star("abcdefgh", 2), "t.yaml")


def test_a_switch_port_whose_name_would_be_too_long_in_some_slot_is_refused_when_validating():
    load_topology_text(_star("abcdefg", 9), "t.yaml")  # l99abcdefg-eth9: 15 characters
    with pytest.raises(TopologyError) as info:
        load_topology_text(_star("abcdefg", 10), "t.yaml")
    assert str(info.value) == (
        "t.yaml:24: link 'abcdefg'-'h10': switch 'abcdefg' port 10 would be named 'l99abcdefg-eth10' "
        "in a lab slot (16 characters, Linux allows 15): use a shorter switch name"
    )


def test_an_explicit_address_outside_the_nodes_pool_is_refused():
    text = (
        "version: 1\naddressing:\n  subnet: 10.0.0.0/16\n  pools: {cams: 10.0.1.0/24}\n"
        "nodes:\n  - {name: s1, kind: switch}\n  - name: cam1\n    pool: cams\n    ip: 10.0.2.5\n"
        "links:\n  - {a: s1, b: cam1}\n"
    )
    with pytest.raises(TopologyError) as info:
        load_topology_text(text, "t.yaml")
    assert str(info.value) == "t.yaml:9: node 'cam1'.ip: 10.0.2.5 is outside its pool 'cams' (10.0.1.0/24)"
