"""DpidTable: the int dpid and Ryu's 16-digit dpid string name the same switch entry."""

import json

from sdnlab.controller.dpid_table import DpidTable, dpid_key, dpid_str


def test_both_key_forms_reach_one_entry():
    table = DpidTable()
    table.setdefault(10, {})["00:00:00:00:00:01"] = 1
    assert table[dpid_str(10)] == {"00:00:00:00:00:01": 1}
    assert "0000000000000010" in table and 10 in table and "10" in table
    assert table.get("0000000000000011") is None
    table["0000000000000010"]["00:00:00:00:00:02"] = 2
    assert table[10] == {"00:00:00:00:00:01": 1, "00:00:00:00:00:02": 2}
    assert len(table) == 1


def test_keys_come_out_as_the_app_last_wrote_them():
    table = DpidTable()
    table.for_switch(1)  # the base class's learning: leaves the form alone
    assert list(table) == [1]
    table.setdefault(dpid_str(1), {})
    assert list(table) == ["0000000000000001"]
    assert json.loads(json.dumps({str(k): v for k, v in table.items()})) == {"0000000000000001": {}}


def test_other_keys_and_removal_behave_as_a_dict():
    table = DpidTable({"s1": 1, 2: {}})
    assert table["s1"] == 1 and dpid_key("s1") == "s1" and dpid_key(True) is True
    assert table.pop("0000000000000002") == {}
    assert table.pop(2, "gone") == "gone"
    del table["s1"]
    assert table == {} and not table
