"""rest_qos's port queues: a POST /qos/queue body -> a typed ``QueueSetting`` -> the book's reply.

A setting is what Open vSwitch keeps in its database for a port: one ``QoS`` row (``type``
``linux-htb`` or ``linux-hfsc``, optional ``max-rate`` for the port) whose ``queues`` map queue
ids 0, 1, ... to ``Queue`` rows (``max-rate`` and/or ``min-rate``, bit/s). Rates arrive as numbers
or decimal text, as in the book (``"max_rate": "1000000"``). Port names: the book names ports
``s1-eth1``; a lab in another slot names its bridge ``l3s1`` and the port ``l3s1-eth1``, so
``resolve_port`` accepts the book's name for the switch's own prefixed port. No I/O here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sdnlab.controller.ofctl_values import BadRequest, _show, to_int

QOS_TYPES = ("linux-htb", "linux-hfsc")
MAX_RATE_BPS = 10**12  # 1 Tbit/s: far above any lab link, below what HTB's 64-bit rates hold
MAX_QUEUES = 64
QUEUE_BODY_KEYS = ("port_name", "type", "max_rate", "queues")
_SLOT_PREFIX = re.compile(r"^(l\d+)")  # sdnlab.topologies.model.bridge_name: l<slot><switch>


@dataclass(frozen=True)
class Queue:
    """One queue's limits in bit/s (None: not set)."""

    max_rate: int | None = None
    min_rate: int | None = None

    def other_config(self) -> dict[str, str]:
        """The queue's OVSDB ``other_config`` (``max-rate``/``min-rate`` as text)."""
        config = {}
        if self.max_rate is not None:
            config["max-rate"] = str(self.max_rate)
        if self.min_rate is not None:
            config["min-rate"] = str(self.min_rate)
        return config


@dataclass(frozen=True)
class QueueSetting:
    """A port's QoS: type, optional port rate and queues 0.. in order (``port_name`` None: every port)."""

    port_name: str | None
    type: str
    max_rate: int | None
    queues: tuple[Queue, ...]

    def other_config(self) -> dict[str, str]:
        """The QoS row's ``other_config``."""
        return {} if self.max_rate is None else {"max-rate": str(self.max_rate)}


def _rate(value, where: str) -> int:
    return to_int(value, where, MAX_RATE_BPS, 1)


def parse_queue_setting(body: dict) -> QueueSetting:
    """POST /qos/queue's body checked field by field (``BadRequest`` names the field)."""
    for key in body:
        if key not in QUEUE_BODY_KEYS:
            raise BadRequest(f"{key}: unknown key (expected {', '.join(QUEUE_BODY_KEYS)})")
    port_name = body.get("port_name")
    if port_name is not None and (
        not isinstance(port_name, str) or not port_name.strip() or len(port_name) > 64
    ):
        raise BadRequest(f"port_name: expected a port name such as s1-eth1, got {_show(port_name)}")
    kind = body.get("type", "linux-htb")
    if kind not in QOS_TYPES:
        raise BadRequest(f"type: expected {' or '.join(QOS_TYPES)}, got {_show(kind)}")
    max_rate = _rate(body["max_rate"], "max_rate") if "max_rate" in body else None
    queues_in = body.get("queues", [])
    if not isinstance(queues_in, list):
        raise BadRequest(f"queues: expected a list of queue objects, got {_show(queues_in)}")
    if len(queues_in) > MAX_QUEUES:
        raise BadRequest(f"queues: at most {MAX_QUEUES} queues, got {len(queues_in)}")
    queues = tuple(_queue(queue, f"queues[{index}]", max_rate) for index, queue in enumerate(queues_in))
    return QueueSetting(port_name.strip() if port_name else None, kind, max_rate, queues)


def _queue(body, where: str, port_rate: int | None) -> Queue:
    if not isinstance(body, dict):
        raise BadRequest(f'{where}: expected an object such as {{"max_rate": "500000"}}, got {_show(body)}')
    for key in body:
        if key not in ("max_rate", "min_rate"):
            raise BadRequest(f"{where}.{key}: unknown key (expected max_rate, min_rate)")
    queue = Queue(
        _rate(body["max_rate"], f"{where}.max_rate") if "max_rate" in body else None,
        _rate(body["min_rate"], f"{where}.min_rate") if "min_rate" in body else None,
    )
    if queue.max_rate is not None and queue.min_rate is not None and queue.min_rate > queue.max_rate:
        raise BadRequest(f"{where}.min_rate: {queue.min_rate} is above its max_rate {queue.max_rate}")
    if port_rate is not None and queue.min_rate is not None and queue.min_rate > port_rate:
        raise BadRequest(f"{where}.min_rate: {queue.min_rate} is above the port's max_rate {port_rate}")
    return queue


def setting_details(setting: QueueSetting) -> dict[str, dict]:
    """The book's reply ``details``: ``{"0": {"config": {"max-rate": "500000"}}, ...}``."""
    return {str(queue_id): {"config": queue.other_config()} for queue_id, queue in enumerate(setting.queues)}


def resolve_port(name: str, bridge: str, port_names: list[str]) -> str:
    """The switch's port called ``name``, or its slot-prefixed twin (``s1-eth1`` -> ``l3s1-eth1``)."""
    if name in port_names:
        return name
    prefix = _SLOT_PREFIX.match(bridge)
    if prefix and prefix.group(1) + name in port_names:
        return prefix.group(1) + name
    shown = ", ".join(sorted(port_names)) or "none"
    raise BadRequest(f"port_name: switch {bridge} has no port {_show(name)} (its ports: {shown})")


def ovsdb_qos_reply(port_qos: dict[str, dict]) -> dict[str, dict]:
    """GET /qos/queue's details per port, from what the database holds (``ovsdb_qos.read_qos``)."""
    shown: dict[str, dict] = {}
    for port, qos in sorted(port_qos.items()):
        entry: dict = {"type": qos["type"]}
        if "max-rate" in qos["other_config"]:
            entry["max_rate"] = qos["other_config"]["max-rate"]
        entry["queues"] = {str(qid): {"config": config} for qid, config in sorted(qos["queues"].items())}
        shown[port] = entry
    return shown
