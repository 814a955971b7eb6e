"""Any JSON a client sends is accepted or refused with BadRequest naming a field, never another error."""

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sdnlab.controller.offload import parse_offload_request
from sdnlab.controller.quarantine import parse_quarantine_request
from sdnlab.controller.rest_input import (
    BadRequest,
    NotFound,
    check_flow_entry,
    check_flow_filter,
    check_group,
    check_meter,
    parse_body,
)

KEYS = st.sampled_from(
    [
        "dpid",
        "ip",
        "mac",
        "host",
        "reason",
        "match",
        "actions",
        "type",
        "port",
        "priority",
        "table_id",
        "field",
        "value",
        "buckets",
        "bands",
        "flags",
        "meter_id",
        "group_id",
        "in_port",
        "eth_dst",
        "tp_dst",
        "nw_proto",
        "ipv4_dst",
        "vnf",
        "proto",
        "src",
        "dst",
        "sport",
        "dport",
        "rate",
        "weight",
        "OUTPUT",
    ]
)
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False),
    st.text(max_size=20),
    st.sampled_from(["10.0.0.1", "aa:bb:cc:dd:ee:ff", "OUTPUT", "SET_FIELD", "ALL", "0x1"]),
)
JSON = st.recursive(
    SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(KEYS, inner, max_size=5)),
    max_leaves=20,
)
BODIES = st.dictionaries(KEYS, JSON, max_size=6)
CHECKS = [
    check_flow_entry,
    check_flow_filter,
    check_group,
    check_meter,
    parse_quarantine_request,
    parse_offload_request,
]


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(BODIES)
def test_every_body_check_refuses_only_with_bad_request(body):
    for check in CHECKS:
        try:
            check(body)
        except (BadRequest, NotFound) as exc:
            assert str(exc) and "Error" not in str(exc).split(":")[0]


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.binary(max_size=60), JSON.map(lambda v: json.dumps(v).encode())))
def test_parse_body_gives_a_dict_or_bad_request(raw):
    try:
        assert isinstance(parse_body(raw), dict)
    except BadRequest as exc:
        assert str(exc).startswith("body:")
