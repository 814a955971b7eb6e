"""rest_qos's queue settings: the book's body gives the book's reply; bad ones name their field."""

import pytest

from sdnlab.controller.ofctl_values import BadRequest
from sdnlab.controller.ovsdb_qos import check_ovsdb_addr
from sdnlab.controller.qos_queues import (
    Queue,
    ovsdb_qos_reply,
    parse_queue_setting,
    resolve_port,
    setting_details,
)

BOOK_BODY = {
    "port_name": "s1-eth1",
    "type": "linux-htb",
    "max_rate": "1000000",
    "queues": [{"max_rate": "500000"}, {"min_rate": "800000"}],
}


def test_the_books_queue_setting_and_its_reply():
    setting = parse_queue_setting(BOOK_BODY)
    assert setting.port_name == "s1-eth1" and setting.type == "linux-htb"
    assert setting.other_config() == {"max-rate": "1000000"}
    assert setting.queues == (Queue(max_rate=500000), Queue(min_rate=800000))
    assert setting_details(setting) == {
        "0": {"config": {"max-rate": "500000"}},
        "1": {"config": {"min-rate": "800000"}},
    }


def test_a_setting_without_port_or_type_means_every_port_with_htb():
    setting = parse_queue_setting({"queues": [{"max_rate": 1000}]})
    assert (setting.port_name, setting.type, setting.max_rate) == (None, "linux-htb", None)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"type": "linux-foo"}, "type: expected linux-htb or linux-hfsc, got 'linux-foo'"),
        ({"max_rate": "fast"}, "max_rate: expected an integer, got 'fast'"),
        ({"max_rate": 0}, "max_rate: 0 is out of range"),
        ({"queues": {"max_rate": 1}}, "queues: expected a list of queue objects"),
        ({"queues": [5]}, "queues[0]: expected an object"),
        ({"queues": [{"max_rate": 1}, {"rate": 1}]}, "queues[1].rate: unknown key"),
        ({"queues": [{"max_rate": 10, "min_rate": 20}]}, "queues[0].min_rate: 20 is above its max_rate 10"),
        (
            {"max_rate": 10, "queues": [{"min_rate": 20}]},
            "queues[0].min_rate: 20 is above the port's max_rate",
        ),
        ({"queues": [{}] * 65}, "queues: at most 64 queues"),
        ({"port_name": ""}, "port_name: expected a port name"),
        ({"port_name": 3}, "port_name: expected a port name"),
        ({"port": "s1-eth1"}, "port: unknown key"),
    ],
)
def test_a_bad_setting_is_refused_naming_its_field(body, message):
    with pytest.raises(BadRequest) as refused:
        parse_queue_setting(body)
    assert str(refused.value).startswith(message)


def test_the_books_port_name_reaches_the_labs_prefixed_port():
    assert resolve_port("s1-eth1", "s1", ["s1-eth1", "s1-eth2"]) == "s1-eth1"
    assert resolve_port("s1-eth1", "l3s1", ["l3s1-eth1", "l3s1-eth2"]) == "l3s1-eth1"
    assert resolve_port("l3s1-eth2", "l3s1", ["l3s1-eth1", "l3s1-eth2"]) == "l3s1-eth2"
    with pytest.raises(
        BadRequest, match=r"port_name: switch l3s1 has no port 's2-eth1' \(its ports: l3s1-eth1\)"
    ):
        resolve_port("s2-eth1", "l3s1", ["l3s1-eth1"])


def test_what_the_database_holds_is_shown_per_port():
    held = {
        "s1-eth1": {
            "type": "linux-htb",
            "other_config": {"max-rate": "1000000"},
            "queues": {1: {}, 0: {"max-rate": "5"}},
        }
    }
    assert ovsdb_qos_reply(held) == {
        "s1-eth1": {
            "type": "linux-htb",
            "max_rate": "1000000",
            "queues": {"0": {"config": {"max-rate": "5"}}, "1": {"config": {}}},
        }
    }


@pytest.mark.parametrize(
    "addr", ["tcp:127.0.0.1:6632", "tcp:[::1]:6640", "unix:/var/run/openvswitch/db.sock"]
)
def test_ovsdb_addresses_the_book_uses(addr):
    assert check_ovsdb_addr(addr) == addr


@pytest.mark.parametrize(
    "addr", ["tcp:127.0.0.1", "127.0.0.1:6632", "tcp:127.0.0.1:70000", "ssl:1.2.3.4:1", 6632]
)
def test_other_ovsdb_addresses_are_refused(addr):
    with pytest.raises(ValueError, match=r'expected an OVSDB address such as "tcp:127\.0\.0\.1:6632"'):
        check_ovsdb_addr(addr)
