"""``sdnlab up --ovsdb`` / topology ``ovsdb:``: which port, and which Manager rows count as taken."""

from __future__ import annotations

import pytest

from sdnlab.errors import LabError, TopologyError
from sdnlab.runtime.ovsdb import DEFAULT_PORT, listens_on, parse_port, target
from sdnlab.topologies.loader import load_topology_text

TOPOLOGY = """version: 1
ovsdb: {value}
nodes: [{{name: s1, kind: switch}}, {{name: h1}}]
links: [{{a: h1, b: s1}}]
"""


def test_the_manager_target_listens_on_loopback_only():
    assert target(6632) == "ptcp:6632:127.0.0.1"


def test_true_means_the_ryu_books_port_and_a_number_means_that_port():
    assert parse_port(True, "--ovsdb") == DEFAULT_PORT == 6632
    assert parse_port(7000, "--ovsdb") == 7000
    assert parse_port(None, "--ovsdb") is None and parse_port(False, "--ovsdb") is None
    for bad in (80, 70000, "6632"):
        with pytest.raises(LabError, match="--ovsdb: expected true or a TCP port"):
            parse_port(bad, "--ovsdb")


def test_a_manager_listening_on_the_port_in_any_form_takes_it():
    assert listens_on("ptcp:6632:127.0.0.1", 6632)
    assert listens_on("ptcp:6632", 6632)
    assert listens_on("pssl:6632:0.0.0.0", 6632)
    assert not listens_on("tcp:127.0.0.1:6632", 6632)  # an active connection listens nowhere
    assert not listens_on("ptcp:6640", 6632)


def test_a_topology_asks_for_the_ovsdb_with_true_or_a_port_and_a_bad_value_is_located():
    assert load_topology_text(TOPOLOGY.format(value="true"), "t.yaml").ovsdb == 6632
    assert load_topology_text(TOPOLOGY.format(value="6700"), "t.yaml").ovsdb == 6700
    assert load_topology_text(TOPOLOGY.format(value="false"), "t.yaml").ovsdb is None
    with pytest.raises(
        TopologyError, match=r"t.yaml:2: ovsdb: expected true, false or a TCP port 1024-65535"
    ):
        load_topology_text(TOPOLOGY.format(value="80"), "t.yaml")
