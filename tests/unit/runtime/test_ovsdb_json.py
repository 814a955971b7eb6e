"""OVSDB's JSON values as plain Python (``sdnlab.runtime.ovsdb_json``), as ovs-vsctl 3.1 prints
them and as a monitor sends them."""

import json

from sdnlab.runtime.ovsdb_json import one_uuid, ovs_map, uuids, vsctl_rows

A, B = "7d8e0c3a-0000-4000-8000-000000000001", "7d8e0c3a-0000-4000-8000-000000000002"


def test_references_from_a_uuid_a_set_and_a_maps_values():
    assert uuids(["uuid", A]) == [A]
    assert uuids(["set", [["uuid", A], ["uuid", B]]]) == [A, B]
    assert uuids(["map", [[0, ["uuid", A]], [1, ["uuid", B]]]]) == [A, B]  # QoS.queues
    assert uuids(["set", []]) == [] and uuids(None) == [] and uuids("br0") == []


def test_an_optional_reference_is_its_uuid_or_none():
    assert one_uuid(["uuid", A]) == A
    assert one_uuid(["set", [["uuid", B]]]) == B
    assert one_uuid(["set", []]) is None and one_uuid(None) is None


def test_a_map_is_a_dict_and_anything_else_an_empty_one():
    assert ovs_map(["map", [["sdnlab-lab", "demo"]]]) == {"sdnlab-lab": "demo"}
    assert ovs_map(["map", [[0, ["uuid", A]]]]) == {0: ["uuid", A]}
    assert ovs_map(["set", []]) == {} and ovs_map(None) == {}


def test_ovs_vsctl_json_output_is_one_dict_per_row():
    text = json.dumps({"data": [[["uuid", A], "br0"]], "headings": ["_uuid", "name"]})
    assert vsctl_rows(text) == [{"_uuid": ["uuid", A], "name": "br0"}]
    assert vsctl_rows("") == [] and vsctl_rows("not json") == [] and vsctl_rows("[1]") == []
