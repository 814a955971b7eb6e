"""ofctl_rest input checks name the offending field."""

import pytest

from sdnlab.controller.rest_input import (
    BadRequest,
    NotFound,
    check_actions,
    check_command,
    check_flow_entry,
    check_match,
    parse_body,
    parse_dpid,
)


def test_dpids_in_decimal_or_hex():
    assert parse_dpid("257") == 257 and parse_dpid("0x101") == 257 and parse_dpid(257) == 257


@pytest.mark.parametrize("text", ["abc", "-1", str(2**64), True])
def test_bad_dpids(text):
    with pytest.raises(BadRequest, match="dpid"):
        parse_dpid(text)


@pytest.mark.parametrize(
    "body, words", [(b"", "empty body"), (b"{x", "malformed JSON"), (b"[1]", "JSON object")]
)
def test_bad_bodies(body, words):
    with pytest.raises(BadRequest, match=words):
        parse_body(body)


def test_unknown_match_field_and_action_type_are_named():
    with pytest.raises(BadRequest, match="unknown match field 'eth_colour'"):
        check_match({"eth_colour": 1})
    with pytest.raises(BadRequest, match=r"actions\[1\].type: unknown action type 'JUMP'"):
        check_actions([{"type": "OUTPUT", "port": 1}, {"type": "JUMP"}])
    with pytest.raises(BadRequest, match=r"actions\[0\].field"):
        check_actions([{"type": "SET_FIELD", "field": "nope", "value": 1}])


def test_flow_entry_needs_a_dpid_and_integer_fields():
    with pytest.raises(BadRequest, match="dpid: missing"):
        check_flow_entry({"match": {}})
    with pytest.raises(BadRequest, match="priority"):
        check_flow_entry({"dpid": 1, "priority": "high"})
    assert check_flow_entry(
        {"dpid": 1, "priority": "0x10", "match": {"in_port": 1}, "actions": [{"type": "OUTPUT", "port": 2}]}
    )


def test_unknown_command_is_not_found():
    with pytest.raises(NotFound, match="frob"):
        check_command("frob", ("add",), "flowentry")
