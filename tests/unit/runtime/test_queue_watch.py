"""The queue classifier inside the lab watcher: what OVSDB tells it, and that it never stops a lab."""

from __future__ import annotations

import pytest

from sdnlab.runtime import watcher
from sdnlab.runtime.queue_classifier import OvsdbReplica
from sdnlab.runtime.queues import HtbPort

# an OVSDB monitor reply (RFC 7047) as ovsdb-server 3.1 sends it: one bridge, two ports,
# one of them with a linux-htb QoS of queues 0 and 1
MONITOR_REPLY = {
    "Bridge": {"b1": {"new": {"name": "l1s1", "ports": ["set", [["uuid", "p1"], ["uuid", "p2"]]]}}},
    "Port": {
        "p1": {"new": {"name": "l1s1-eth1", "qos": ["set", []], "interfaces": ["uuid", "i1"]}},
        "p2": {"new": {"name": "l1s1-eth2", "qos": ["uuid", "q1"], "interfaces": ["uuid", "i2"]}},
    },
    "Interface": {
        "i1": {"new": {"name": "l1s1-eth1", "ofport": 1}},
        "i2": {"new": {"name": "l1s1-eth2", "ofport": 2}},
    },
    "QoS": {
        "q1": {"new": {"type": "linux-htb", "queues": ["map", [[0, ["uuid", "u0"]], [1, ["uuid", "u1"]]]]}}
    },
}


def test_the_replica_finds_the_ports_with_a_linux_htb_qos_and_their_queues():
    replica = OvsdbReplica("/nonexistent")
    replica._apply(MONITOR_REPLY)
    assert replica.htb_ports("l1s1") == {2: HtbPort("l1s1-eth2", 2, frozenset({0, 1}))}
    assert replica.htb_ports("other") == {}
    assert replica.qdisc_ids() == {"l1s1-eth2": "q1"}


def test_a_qos_removed_or_of_another_type_gives_no_queued_port():
    replica = OvsdbReplica("/nonexistent")
    replica._apply(MONITOR_REPLY)
    replica._apply({"QoS": {"q1": {"new": {"type": "linux-hfsc", "queues": ["map", []]}}}})
    assert replica.htb_ports("l1s1") == {}
    replica._apply({"QoS": {"q1": {"old": {}}}})  # deleted: no "new"
    assert replica.qdisc_ids() == {}


def test_messages_split_across_reads_are_joined():
    replica = OvsdbReplica("/nonexistent")
    text = '{"id":0,"result":{"Bridge":{"b1":{"new":{"name":"x","ports":["set",[]]}}}},"error":null}'
    replica.buffer = text[:30]
    replica._drain()
    assert replica.tables["Bridge"] == {}
    replica.buffer += text[30:]
    replica._drain()
    assert replica.tables["Bridge"]["b1"]["name"] == "x"


class Failing:
    def __init__(self, exc: BaseException):
        self.exc = exc

    def tick(self) -> None:
        raise self.exc


def test_a_failing_classifier_is_logged_and_the_watcher_goes_on(capsys):
    assert watcher._tick_classifier(Failing(ValueError("odd flow"))) == watcher.POLL_S
    assert "queue classifier: ValueError: odd flow" in capsys.readouterr().err


def test_a_stop_signal_during_a_classifier_round_still_stops_the_lab():
    with pytest.raises(watcher.Stop):
        watcher._tick_classifier(Failing(watcher.Stop("SIGTERM")))
